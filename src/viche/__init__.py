"""Viche: verifiable elections (Belenios 2.0) and influence-campaign monitoring."""

__version__ = "0.1.0"
