"""Write the conformance vectors of the booth's JavaScript cryptography.

Usage: python tests/vectors/booth/make_vectors.py OUTDIR

Each vector is a JSON file made by Viche's Python protocol with seeded randomness: the
exact election text, a private credential and its public credential, the plaintext
choices, every random exponent ``make_ballot`` drew (in order, decimal) and the exact
ballot bytes and tracker that came out. The JavaScript must produce the same ballot byte for
byte from the same election, credential, choices and random values
(tests/booth/js/ballot.test.mjs). ``codec.json`` holds strings and their canonical JSON as
the Python codec writes them, ``groups.json`` the parameters of the groups. Deterministic:
the same files on every run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from viche.crypto.credentials import PrivateCredential, public_credential
from viche.crypto.elgamal import PublicKey
from viche.crypto.group import BELENIOS_2048, GROUPS, RFC_3526_2048, Group
from viche.crypto.rng import SeededRandom, random_zq
from viche.protocol.ballot import ballot_bytes, make_ballot, smart_ballot_tracker
from viche.protocol.codec import dumps
from viche.protocol.election import BASE58_ALPHABET, Election, ElectionTemplate
from viche.service import election_run


class RecordingRandom:
    """A seeded source that remembers every integer it gave (the ballot's exponents)."""

    def __init__(self, seed: str) -> None:
        self._inner = SeededRandom(seed)
        self.drawn: list[int] = []

    def randbelow(self, n: int) -> int:
        value = self._inner.randbelow(n)
        self.drawn.append(value)
        return value

    def token_bytes(self, n: int) -> bytes:
        raise AssertionError("make_ballot draws only exponents")


SIMPLE: dict[str, Any] = {
    "description": "Booth vectors: blank, min/max, a single answer",
    "name": "Booth simple",
    "questions": [
        {"answers": ["A", "B", "C", "D"], "blank": True, "min": 1, "max": 2, "question": "Q1"},
        {"answers": ["Yes", "No"], "min": 0, "max": 1, "question": "Q2"},
        {"answers": ["Один", "Два", "Три"], "min": 2, "max": 3, "question": "Питання 3"},
        {"answers": ["Only"], "blank": True, "min": 1, "max": 1, "question": "Q4"},
    ],
}
MIXED: dict[str, Any] = {
    "description": "Booth vectors: homomorphic and non-homomorphic questions",
    "name": "Booth mixed",
    "questions": [
        {"answers": ["A", "B", "C"], "blank": True, "min": 0, "max": 2, "question": "Q1"},
        {"type": "NonHomomorphic", "value": {"answers": ["X", "Y", "Z"], "question": "Rank"}},
    ],
}
# The harness's `large` template: 10 questions of 10 answers.
LARGE_RULES = [
    (0, 10, False), (1, 1, True), (1, 3, False), (2, 5, False), (1, 2, True),
    (1, 10, False), (3, 3, False), (1, 4, True), (0, 1, False), (1, 2, False),
]  # fmt: skip
LARGE: dict[str, Any] = {
    "description": "Harness large election: 10 questions x 10 candidates",
    "name": "Large reference election",
    "questions": [
        {
            "answers": [f"Q{i + 1} candidate {j + 1}" for j in range(10)],
            **({"blank": True} if blank else {}),
            "min": lo,
            "max": hi,
            "question": f"Question {i + 1} of 10",
        }
        for i, (lo, hi, blank) in enumerate(LARGE_RULES)
    ],
}

#: name, group, template, list of plaintext ballots (belenios-tool's --ballot convention).
CASES: list[tuple[str, Group, dict[str, Any], list[list[list[int]]]]] = [
    (
        "simple",
        BELENIOS_2048,
        SIMPLE,
        [
            [[0, 1, 0, 1, 0], [0, 0], [1, 1, 1], [0, 1]],
            [[1, 0, 0, 0, 0], [1, 0], [0, 1, 1], [1, 0]],  # blank votes
            [[0, 0, 0, 1, 0], [0, 1], [1, 0, 1], [0, 1]],
        ],
    ),
    (
        "mixed-rfc",
        RFC_3526_2048,
        MIXED,
        [[[0, 1, 0, 1], [1, 2, 3]], [[1, 0, 0, 0], [255, 0, 7]]],
    ),
    (
        "large",
        BELENIOS_2048,
        LARGE,
        [
            [
                [1, 1, 1, 1, 1, 0, 1, 1, 1, 1],
                [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
                [0, 0, 0, 1, 0, 0, 1, 0, 0, 0],
                [0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
                [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1],
                [0, 1, 1, 1, 0, 1, 1, 1, 0, 1],
                [0, 1, 0, 1, 1, 0, 0, 0, 0, 0],
                [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                [0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
            ]
        ],
    ),
]


def random_template(rng: SeededRandom, group: Group) -> dict[str, Any]:
    """1 to 3 homomorphic questions of random shape (1 to 6 answers, blank or not, any
    valid min/max); with RFC-3526-2048, a non-homomorphic question too."""
    questions: list[dict[str, Any]] = []
    for i in range(1 + rng.randbelow(3)):
        n = 1 + rng.randbelow(6)
        lo = rng.randbelow(n + 1)
        hi = lo + rng.randbelow(n - lo + 1)
        questions.append(
            {
                "answers": [f"answer {j}" for j in range(n)],
                **({"blank": True} if rng.randbelow(2) else {}),
                "min": lo,
                "max": hi,
                "question": f"question {i}",
            }
        )
    if group.embedding is not None:
        n = 1 + rng.randbelow(4)
        value = {"answers": [f"rank {j}" for j in range(n)], "question": "nh"}
        nh = {"type": "NonHomomorphic", "value": value}
        questions.insert(rng.randbelow(len(questions) + 1), nh)
    return {"description": "random shapes", "name": "Booth random", "questions": questions}


def random_choices(template: dict[str, Any], rng: SeededRandom, blank: bool) -> list[list[int]]:
    """A valid vote; a blank vote on questions that allow it when ``blank``."""
    rows: list[list[int]] = []
    for q in template["questions"]:
        if "type" in q:
            rows.append([rng.randbelow(256) for _ in q["value"]["answers"]])
            continue
        rows.extend(
            election_run.random_choices(
                ElectionTemplate.from_json({**template, "questions": [q]}), rng, blank=blank
            )
        )
    return rows


def random_cases() -> list[tuple[str, Group, dict[str, Any], list[list[list[int]]]]]:
    cases = []
    for k in range(8):
        rng = SeededRandom(f"booth-vectors|random|{k}")
        group = RFC_3526_2048 if k >= 6 else BELENIOS_2048
        template = random_template(rng, group)
        ballots = [random_choices(template, rng, blank=b) for b in (False, True)]
        cases.append((f"random{k}", group, template, ballots))
    return cases


CODEC_STRINGS = ["plain", 'quote " backslash \\ slash /', "\b\f\n\r\t\x00\x1f\x7f",
                 "Віче — вибори", "emoji \U0001f5f3 and \u2028\u2029", "é\u00e9"]  # fmt: skip


def make_election(name: str, group: Group, template: dict[str, Any]) -> Election:
    rng = SeededRandom(f"booth-vectors|election|{name}")
    y = group.powg(random_zq(rng, group.q))
    uuid = "".join(BASE58_ALPHABET[rng.randbelow(58)] for _ in range(14))
    return Election.from_template(ElectionTemplate.from_json(template), PublicKey(group, y), uuid)


def vectors() -> dict[str, Any]:
    """Every vector, by file name."""
    out: dict[str, Any] = {}
    for name, group, template, ballots in CASES + random_cases():
        election = make_election(name, group, template)
        for k, choices in enumerate(ballots):
            cred = PrivateCredential.generate(SeededRandom(f"booth-vectors|cred|{name}|{k}"))
            rng = RecordingRandom(f"booth-vectors|ballot|{name}|{k}")
            ballot = make_ballot(election, election.public_key, cred.text, choices, rng)
            raw = ballot_bytes(ballot)
            out[f"{name}-{k}.json"] = {
                "name": f"{name}-{k}",
                "election": election.raw.decode("utf-8"),
                "credential": cred.text,
                "public_credential": str(
                    public_credential(group, cred.secret(group, election.uuid))
                ),
                "choices": choices,
                "draws": [str(v) for v in rng.drawn],
                "ballot": raw.decode("ascii"),
                "tracker": smart_ballot_tracker(raw),
            }
    out["groups.json"] = {
        g.name: {
            "p": str(g.p),
            "q": str(g.q),
            "g": str(g.g),
            "embedding": None
            if g.embedding is None
            else {"padding": g.embedding.padding, "bitsPerInt": g.embedding.bits_per_int},
        }
        for g in GROUPS.values()
    }
    out["codec.json"] = {
        "values": [{"s": s} for s in CODEC_STRINGS] + [{"n": [0, 1, -5, 2**53 - 1]}],
        "dumps": [dumps({"s": s}) for s in CODEC_STRINGS] + [dumps({"n": [0, 1, -5, 2**53 - 1]})],
    }
    return out


def write_vectors(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, value in vectors().items():
        path = out / name
        path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    for path in write_vectors(Path(argv[1])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
