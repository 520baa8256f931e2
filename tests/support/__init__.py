"""Test-only helpers: the belenios-tool runner and an in-process ``viche`` runner."""
