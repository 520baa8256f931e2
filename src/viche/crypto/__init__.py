"""Pure mathematics of Belenios 2.0: groups, ElGamal, proofs, credentials, key ceremonies.

No I/O and no global state here: groups and randomness are explicit arguments.
"""
