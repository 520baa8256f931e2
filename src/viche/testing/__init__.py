"""Test helpers: strategies, factories, seeded randomness, tampering."""
