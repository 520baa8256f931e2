"""The IFMA kernel's variants side by side in one process (CPU µs per 2048-bit product).

Usage (from the repository root, with the extension built in the tree)::

    PYTHONPATH=src /work/main/.venv/bin/python bench/check_speed/kernels.py [--rounds 4]

For each variant of ``Modulus(p, kernel)`` ("ifma-zen4": the kernels measured on Zen 4;
"ifma-intel": the variant of the kernel7 branch), rounds alternating between them, best
round printed: chains of 4095 squarings of 1, 2 and 3 bases (``pow_many_batch`` with the
exponent 2^4095: 1, 2 or 3 products per pass), the products of two 8-bit ``g``/``y``-like
tables on 300 exponents of 256 bits (``FixedBaseTable.pow_many``, conversions included),
and one ``pow_many_batch`` of 23 bases with 3 exponents of 256 bits each (a ballot's
variable bases). Every result is checked against ``gmpy2.powmod`` once.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path

from gmpy2 import mpz, powmod

from viche.crypto import _fastexp
from viche.crypto.group import BELENIOS_2048

VARIANTS = ["ifma-zen4", "ifma-intel"]


def _cpu(f: Callable[..., object], *args: object) -> float:
    t = time.process_time()
    f(*args)
    return time.process_time() - t


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _tables(t1: _fastexp.FixedBaseTable, t2: _fastexp.FixedBaseTable, exps: list[int]) -> None:
    t1.pow_many(exps)
    t2.pow_many(exps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    if not _fastexp.HAVE_IFMA:
        raise SystemExit("this CPU (or build) has no AVX-512 IFMA")
    p, g = mpz(BELENIOS_2048.p), mpz(BELENIOS_2048.g)
    rnd = random.Random(7)
    bases = [mpz(rnd.randrange(2, int(p))) for _ in range(3)]
    top = 1 << 4095
    exps = [rnd.getrandbits(256) for _ in range(300)]
    table_products = 2 * sum(sum(1 for x in e.to_bytes(32, "little") if x) - 1 for e in exps)
    batch = [
        (mpz(rnd.randrange(2, int(p))), [rnd.getrandbits(256) for _ in range(3)]) for _ in range(23)
    ]
    print(f"load average at the start: {_load()}")
    print(f"variant chosen at import here: {_fastexp.IFMA_VARIANT}")
    best: dict[tuple[str, str], float] = {}
    mods = {v: _fastexp.Modulus(p, v) for v in VARIANTS}
    tables = {v: (m.table(g, 256), m.table(powmod(g, 12345, p), 256)) for v, m in mods.items()}
    for v, m in mods.items():
        assert m.pow_many_batch([(bases[0], [top])]) == [[powmod(bases[0], top, p)]]
        assert tables[v][0].pow_many(exps[:3]) == [powmod(g, e, p) for e in exps[:3]]
        assert m.pow_many_batch(batch[:2]) == [[powmod(b, e, p) for e in es] for b, es in batch[:2]]
    for _ in range(args.rounds):
        for v, m in mods.items():
            for k in (1, 2, 3):
                reqs = [(b, [top]) for b in bases[:k]]
                t = _cpu(m.pow_many_batch, reqs) / (4095 * k) * 1e6
                best[(v, f"squaring, {k} per pass")] = min(
                    best.get((v, f"squaring, {k} per pass"), 1e9), t
                )
            t1, t2 = tables[v]
            t = _cpu(_tables, t1, t2, exps) / table_products * 1e6
            best[(v, "table product, 3 per pass")] = min(
                best.get((v, "table product, 3 per pass"), 1e9), t
            )
            t = _cpu(m.pow_many_batch, batch) * 1e3
            best[(v, "batch 23 bases x 3 (ms)")] = min(
                best.get((v, "batch 23 bases x 3 (ms)"), 1e9), t
            )
    rows = sorted({what for _, what in best}, key=list(dict.fromkeys(w for _, w in best)).index)
    print(
        f"{'CPU µs per product (best of ' + str(args.rounds) + ')':40s}"
        + "".join(f"{v:>12s}" for v in VARIANTS)
    )
    for what in rows:
        print(f"{what:40s}" + "".join(f"{best[(v, what)]:12.3f}" for v in VARIANTS))
    print(f"load average at the end: {_load()}")


if __name__ == "__main__":
    main()
