"""Cost of CHVote shuffles (spec section 6) on RFC-3526-2048, the group of NH questions.

Usage: .venv/bin/python bench/bench_shuffle.py [--sizes 6,25,100] [--tool]

For each N: ``shuffle_and_prove`` (GenShuffle + GenShuffleProof) and ``check_shuffle_proof``
on N fresh NH ciphertexts, wall time and per-ciphertext. With ``--tool``, also
``belenios-tool election shuffle`` on the reference mixnet election (N = 6, 2 NH questions):
that command re-checks every ballot and every earlier shuffle first, so it is an upper bound
on the tool's shuffle cost, measured next to ``make_shuffle`` + ``check_shuffle_rows`` on the
same tally (both NH questions).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from viche.crypto.elgamal import PublicKey, encrypt_element, group_encode
from viche.crypto.group import RFC_3526_2048
from viche.crypto.rng import SeededRandom
from viche.crypto.shuffle import check_shuffle_proof, get_generators, shuffle_and_prove
from viche.protocol.election import Election
from viche.protocol.shuffle import check_shuffle_rows, make_shuffle
from viche.protocol.tally import EncryptedTally, nh_ciphertexts
from viche.record import read_archive, resolve_archive

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VICHE_SHARED", REPO.parent / "shared"))
REFERENCE = SHARED / "peers" / "belenios" / "reference" / "nh-mixnet-RFC"


def bench_sizes(sizes: list[int]) -> None:
    group = RFC_3526_2048
    rng = SeededRandom("bench-shuffle")
    pk = PublicKey(group, group.powg(rng.randbelow(int(group.q))))
    print("| N | shuffle+prove s | per ct ms | check s | per ct ms |")
    print("|---|---|---|---|---|")
    for n in sizes:
        cts = [encrypt_element(pk, group_encode(group, [i % 256, 1, 2]), rng)[0] for i in range(n)]
        get_generators(group, n)  # cached per process, as in a long-running verifier
        t0 = time.perf_counter()
        out, proof = shuffle_and_prove(pk, "bench", cts, rng)
        t1 = time.perf_counter()
        check_shuffle_proof(pk, "bench", cts, out, proof)
        t2 = time.perf_counter()
        print(
            f"| {n} | {t1 - t0:.2f} | {1000 * (t1 - t0) / n:.1f} | {t2 - t1:.2f} | "
            f"{1000 * (t2 - t1) / n:.1f} |"
        )


def bench_tool(tool: str) -> None:
    record = read_archive(resolve_archive(REFERENCE))
    election = Election.from_bytes(record.election)
    assert record.encrypted_tally is not None
    rows = nh_ciphertexts(election, EncryptedTally.from_bytes(record.encrypted_tally.tally_raw))
    t0 = time.perf_counter()
    made = make_shuffle(election, rows, SeededRandom("bench-tool"))
    t1 = time.perf_counter()
    check_shuffle_rows(election, rows, made)
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        bel = resolve_archive(REFERENCE)
        first = next(e for e in record.events if e.type.value == "Shuffle")
        (d / bel.name).write_bytes(bel.read_bytes()[: first.data[0].offset])
        t3 = time.perf_counter()
        subprocess.run(
            [tool, "election", "shuffle", "--dir", str(d), "--trustee-id=1"],
            check=True,
            capture_output=True,
        )
        t4 = time.perf_counter()
    print(f"reference nh-mixnet-RFC (2 NH questions x {len(rows[0])} ballots):")
    print(f"  viche make_shuffle {t1 - t0:.2f} s, check_shuffle_rows {t2 - t1:.2f} s")
    print(f"  belenios-tool election shuffle (re-checks the 6 ballots too) {t4 - t3:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="6,25,100")
    ap.add_argument("--tool", action="store_true")
    args = ap.parse_args()
    bench_sizes([int(s) for s in args.sizes.split(",")])
    if args.tool:
        tool = os.environ.get("BELENIOS_TOOL") or shutil.which("belenios-tool")
        if tool is None:
            raise SystemExit("belenios-tool not found")
        bench_tool(tool)


if __name__ == "__main__":
    main()
