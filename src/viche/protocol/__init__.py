"""Belenios 2.0 messages as frozen dataclasses with exact JSON codecs, and the rules that
relate them (ballots, tally, decryption, result)."""
