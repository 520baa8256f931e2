"""Test-only helpers: the belenios-tool runner, an in-process ``viche`` runner and the
archive edits of the mutation campaign (tests/property/test_verify_mutations.py,
bench/fuzz_verify)."""
