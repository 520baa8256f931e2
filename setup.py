"""The optional C extension ``viche.crypto._fastexp`` (Montgomery exponentiation on GMP's mpn
layer). Everything else is configured in pyproject.toml.

``optional=True``: without a C compiler or GMP's headers (Debian: libgmp-dev) the build goes
on without it and :mod:`viche.crypto.fastexp` runs its pure-gmpy2 code instead.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "viche.crypto._fastexp",
            sources=["src/viche/crypto/_fastexp.c"],
            libraries=["gmp"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
