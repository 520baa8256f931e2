"""CHVote shuffles (spec section 6): generators, hashing helpers, shuffle and proof, and
the check of every proof component with a failure twin for each; the election-level
``make_shuffle`` / ``check_shuffle_rows`` and the ``shuffle`` codec."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import shutil
from collections import Counter
from pathlib import Path

import pytest
from gmpy2 import mpz

from support.cli import run_cli
from viche.crypto.elgamal import (
    Ciphertext,
    PublicKey,
    decrypt_element,
    encrypt_element,
    group_encode,
)
from viche.crypto.group import RFC_3526_2048
from viche.crypto.rng import SeededRandom
from viche.crypto.shuffle import (
    ShuffleProof,
    ShuffleWitness,
    check_shuffle_proof,
    encode_ciphertexts,
    encode_elements,
    gen_permutation,
    gen_reencryption,
    gen_shuffle,
    gen_shuffle_proof,
    get_generator,
    get_generators,
    nizkp_challenge,
    nizkp_challenges,
    secondary_generator,
    shuffle_and_prove,
)
from viche.crypto.trustee import generate_trustee_key
from viche.errors import (
    GroupMembershipError,
    JsonFormatError,
    Location,
    NumberFormatError,
    ProofError,
    ProtocolError,
    TallyError,
)
from viche.protocol.codec import dumps, loads
from viche.protocol.election import (
    Election,
    ElectionTemplate,
    HomomorphicQuestion,
    NonHomomorphicQuestion,
)
from viche.protocol.shuffle import (
    Shuffle,
    check_shuffle_rows,
    make_shuffle,
    shuffle_proof_from_json,
    shuffle_proof_to_json,
)
from viche.service import archive as arch
from viche.service.election_run import ElectionRun, Stop, Vote
from viche.testing.factories import make_election, plan_for

G = RFC_3526_2048
RNG = SeededRandom("shuffle-unit")
X, X_PUB = generate_trustee_key(G, RNG)
PK = PublicKey(G, X_PUB.public_key)
PHI = "shuffle-unit-fingerprint"
VOTES = [[1, 2], [2, 1], [1, 1], [3, 3]]
CTS = tuple(encrypt_element(PK, group_encode(G, v), RNG)[0] for v in VOTES)


def _plain(cts: tuple[Ciphertext, ...] | list[Ciphertext]) -> list[mpz]:
    return [decrypt_element(G, X.value, c) for c in cts]


@pytest.fixture(scope="module")
def shuffled() -> tuple[tuple[Ciphertext, ...], ShuffleProof]:
    return shuffle_and_prove(PK, PHI, CTS, SeededRandom("shuffle-unit|proof"))


# ---------------------------------------------------------------------- generators, hashing


def test_generators_follow_table_8() -> None:
    for i in (-1, 0, 1, 7):
        x = int.from_bytes(hashlib.sha256(f"ggen|{i}".encode()).digest(), "big")
        assert get_generator(G, i) == pow(x, 2, int(G.p))
        assert G.is_element(get_generator(G, i))
    hs = get_generators(G, 5)
    assert hs == tuple(get_generator(G, i) for i in range(5))
    assert len({*hs, secondary_generator(G), G.g}) == 7


def test_generators_differ_from_unrelated_values() -> None:
    x = int.from_bytes(hashlib.sha256(b"ggen|0").digest(), "big")
    assert get_generator(G, 1) != pow(x, 2, int(G.p))
    assert secondary_generator(G) != get_generator(G, 1)
    assert get_generators(G, 0) == ()


def test_string_encodings_table_10() -> None:
    cts = [Ciphertext(mpz(1), mpz(22)), Ciphertext(mpz(333), mpz(4))]
    assert encode_ciphertexts(cts) == "1,22,333,4,"
    assert encode_elements([mpz(5), mpz(60)]) == "5,60,"
    assert encode_ciphertexts([]) == encode_elements([]) == ""
    assert encode_elements([mpz(5), mpz(60)]) != encode_elements([mpz(56), mpz(0)])


def test_challenges_tables_11_and_13() -> None:
    big_h = hashlib.sha256(b"abc").hexdigest()
    u = nizkp_challenges(G, 3, "abc")
    for i, ui in enumerate(u):
        t = hashlib.sha256(str(i).encode()).hexdigest()
        assert ui == int.from_bytes(hashlib.sha256((big_h + t).encode()).digest(), "big") % G.q
    assert len(set(u)) == 3
    assert nizkp_challenges(G, 2, "abd") != u[:2]
    assert nizkp_challenge(G, "abc") == int(hashlib.sha256(b"abc").hexdigest(), 16) % G.q
    assert nizkp_challenge(G, "abc") != nizkp_challenge(G, "abd")


# ---------------------------------------------------------------------- shuffle


def test_gen_permutation_is_uniform_over_small_sets() -> None:
    rng = SeededRandom("perm")
    seen = Counter(gen_permutation(3, rng) for _ in range(600))
    assert set(seen) == set(itertools.permutations(range(3)))
    assert min(seen.values()) > 60  # 100 expected per permutation
    assert gen_permutation(0, rng) == ()


def test_reencryption_keeps_plaintext() -> None:
    ct2, r = gen_reencryption(PK, CTS[0], SeededRandom("re"))
    assert ct2 != CTS[0] and 0 <= r < G.q
    assert _plain([ct2]) == _plain([CTS[0]])
    assert _plain([ct2]) != _plain([CTS[1]])


def test_gen_shuffle_permutes_plaintexts() -> None:
    out, witness = gen_shuffle(PK, CTS, SeededRandom("gs"))
    assert _plain(out) == [_plain(CTS)[j] for j in witness.permutation]
    assert set(out).isdisjoint(CTS)
    assert "secret" in repr(witness) and str(witness.reencryption[0]) not in repr(witness)


def test_shuffle_proof_verifies(shuffled: tuple[tuple[Ciphertext, ...], ShuffleProof]) -> None:
    out, proof = shuffled
    check_shuffle_proof(PK, PHI, CTS, out, proof)
    assert sorted(_plain(out)) == sorted(_plain(CTS))
    assert len(proof.t_hat) == len(proof.commitments) == len(CTS)


def test_empty_shuffle_verifies_but_not_with_a_wrong_response() -> None:
    # with N = 0 every product is 1, so the equations hold for any challenge
    out, proof = shuffle_and_prove(PK, PHI, [], SeededRandom("empty"))
    check_shuffle_proof(PK, PHI, [], out, proof)
    check_shuffle_proof(PK, PHI + "x", [], out, proof)
    bad = dataclasses.replace(proof, s=(proof.s[0], (proof.s[1] + 1) % G.q, *proof.s[2:]))
    with pytest.raises(ProofError) as err:
        check_shuffle_proof(PK, PHI, [], out, bad)
    assert str(err.value.where) == "shuffle / t2"


def test_proof_with_a_wrong_witness_fails() -> None:
    out, witness = gen_shuffle(PK, CTS, SeededRandom("ww"))
    perm = witness.permutation
    wrong = ShuffleWitness((perm[1], perm[0], *perm[2:]), witness.reencryption)
    proof = gen_shuffle_proof(PK, PHI, CTS, out, witness=wrong, rng=SeededRandom("ww2"))
    with pytest.raises(ProofError, match="t4"):
        check_shuffle_proof(PK, PHI, CTS, out, proof)
    with pytest.raises(ProtocolError, match="witness"):
        gen_shuffle_proof(
            PK,
            PHI,
            CTS,
            out,
            witness=ShuffleWitness((0, 0, 1, 2), witness.reencryption),
            rng=SeededRandom("ww3"),
        )


def _replace(proof: ShuffleProof, field: str, index: int, value: mpz) -> ShuffleProof:
    items = list(getattr(proof, field))
    items[index] = value
    return dataclasses.replace(proof, **{field: tuple(items)})


@pytest.mark.parametrize(
    ("field", "index", "component"),
    [
        ("t", 0, "challenge"),
        ("t", 2, "challenge"),
        ("t4", 1, "challenge"),
        ("t_hat", 2, "challenge"),
        ("commitments", 1, "challenge"),
        ("chained", 3, "challenge"),
        ("s", 0, "t1"),
        ("s", 1, "t2"),
        ("s", 2, "t3"),
        ("s", 3, "t4,1"),
        ("s_hat", 2, "t̂[3]"),
        ("s_prime", 0, "t3"),
    ],
)
def test_altered_component_is_named(
    shuffled: tuple[tuple[Ciphertext, ...], ShuffleProof], field: str, index: int, component: str
) -> None:
    out, proof = shuffled
    old = getattr(proof, field)[index]
    new = G.mul(old, G.g) if field not in ("s", "s_hat", "s_prime") else (old + 1) % G.q
    bad = _replace(proof, field, index, new)
    with pytest.raises(ProofError) as err:
        check_shuffle_proof(PK, PHI, CTS, out, bad, where=Location(path=("q2",)))
    assert str(err.value.where) == f"q2 / {component}"


def test_swapped_or_replaced_ciphertexts_fail(
    shuffled: tuple[tuple[Ciphertext, ...], ShuffleProof],
) -> None:
    out, proof = shuffled
    swapped = (out[1], out[0], *out[2:])
    with pytest.raises(ProofError, match="challenge"):
        check_shuffle_proof(PK, PHI, CTS, swapped, proof)
    with pytest.raises(ProofError, match="challenge"):
        check_shuffle_proof(PK, PHI, (CTS[1], CTS[0], *CTS[2:]), out, proof)
    other = PublicKey(G, G.powg(12345))
    with pytest.raises(ProofError, match="challenge"):
        check_shuffle_proof(other, PHI, CTS, out, proof)
    with pytest.raises(ProofError, match="shuffled ciphertexts"):
        check_shuffle_proof(PK, PHI, CTS, out[:-1], proof)


def test_membership_and_lengths_are_checked(
    shuffled: tuple[tuple[Ciphertext, ...], ShuffleProof],
) -> None:
    out, proof = shuffled
    with pytest.raises(GroupMembershipError) as e1:
        check_shuffle_proof(PK, PHI, CTS, out, _replace(proof, "chained", 1, G.p - 1))
    assert str(e1.value.where) == "shuffle / ĉ[2]"
    with pytest.raises(GroupMembershipError) as e2:
        check_shuffle_proof(PK, PHI, CTS, out, _replace(proof, "s", 3, G.q))
    assert str(e2.value.where) == "shuffle / s4"
    bad_ct = (Ciphertext(mpz(0), out[0].beta), *out[1:])
    with pytest.raises(GroupMembershipError) as e3:
        check_shuffle_proof(PK, PHI, CTS, bad_ct, proof)
    assert str(e3.value.where) == "shuffle / ciphertext 1 / alpha"
    short = dataclasses.replace(proof, t_hat=proof.t_hat[:-1])
    with pytest.raises(ProofError) as e4:
        check_shuffle_proof(PK, PHI, CTS, out, short)
    assert str(e4.value.where) == "shuffle / t̂"


# ---------------------------------------------------------------------- protocol level

ELECTION = Election(
    1,
    "",
    "",
    G,
    PK,
    (
        NonHomomorphicQuestion(("x", "y"), "rank"),
        HomomorphicQuestion(("a", "b"), False, 0, 1, "h"),
        NonHomomorphicQuestion(("u", "v"), "grade"),
    ),
    "ShuffeUnitTest2",
)
ROWS = (CTS[:3], CTS[1:])


@pytest.fixture(scope="module")
def election_shuffle() -> Shuffle:
    return make_shuffle(ELECTION, ROWS, SeededRandom("shuffle-unit|election"))


def test_election_shuffle_checks_and_round_trips(election_shuffle: Shuffle) -> None:
    check_shuffle_rows(ELECTION, ROWS, election_shuffle, where=Location(event=9, path=("shuffle",)))
    raw = election_shuffle.to_bytes()
    assert Shuffle.from_bytes(raw) == election_shuffle
    assert dumps(Shuffle.from_bytes(raw).to_json()).encode() == raw
    for row, before in zip(election_shuffle.ciphertexts, ROWS, strict=True):
        assert sorted(_plain(row)) == sorted(_plain(before))


def test_election_shuffle_failures_name_the_question(election_shuffle: Shuffle) -> None:
    second = election_shuffle.proofs[1]
    bad = dataclasses.replace(
        election_shuffle,
        proofs=(election_shuffle.proofs[0], _replace(second, "s", 0, (second.s[0] + 1) % G.q)),
    )
    with pytest.raises(ProofError) as err:
        check_shuffle_rows(ELECTION, ROWS, bad, where=Location(event=9, path=("shuffle",)))
    assert err.value.where == Location(event=9, question=3, path=("shuffle", "t1"))
    assert str(err.value.where) == "event 9 / question 3 / shuffle / t1"
    with pytest.raises(ProofError) as err2:
        check_shuffle_rows(ELECTION, (ROWS[0], CTS[:3]), election_shuffle)
    assert err2.value.where == Location(question=3, path=("shuffle", "challenge"))
    with pytest.raises(TallyError, match="non-homomorphic"):
        check_shuffle_rows(ELECTION, ROWS[:1], election_shuffle)
    with pytest.raises(TallyError, match="non-homomorphic"):
        make_shuffle(ELECTION, ROWS[:1], SeededRandom("x"))
    one_proof = dataclasses.replace(election_shuffle, proofs=election_shuffle.proofs[:1])
    with pytest.raises(TallyError, match="1 proofs"):
        check_shuffle_rows(ELECTION, ROWS, one_proof)


def test_proof_codec_shape(election_shuffle: Shuffle) -> None:
    proof = election_shuffle.proofs[0]
    js = shuffle_proof_to_json(proof)
    assert len(js) == 4 and len(js[0]) == 5 and len(js[1]) == 6 and len(js[0][3]) == 2
    assert js[0][0] == str(proof.t[0]) and js[1][5] == [str(x) for x in proof.s_prime]
    assert shuffle_proof_from_json(loads(dumps(js)), Location(path=("p",))) == proof


def test_proof_codec_rejects_bad_shapes(election_shuffle: Shuffle) -> None:
    js = shuffle_proof_to_json(election_shuffle.proofs[0])
    bad_t4 = [[*js[0][:3], js[0][3][:1], js[0][4]], *js[1:]]
    with pytest.raises(JsonFormatError) as e1:
        shuffle_proof_from_json(bad_t4, Location(path=("proofs[0]",)))
    assert str(e1.value.where) == "proofs[0][0][3]"
    leading_zero = [js[0], [("0" + js[1][0]), *js[1][1:]], *js[2:]]
    with pytest.raises(NumberFormatError) as e2:
        shuffle_proof_from_json(leading_zero, Location(path=("proofs[0]",)))
    assert str(e2.value.where) == "proofs[0][1][0]"
    with pytest.raises(JsonFormatError):
        shuffle_proof_from_json(js[:3], Location(path=("proofs[0]",)))
    doc = election_shuffle.to_json()
    with pytest.raises(JsonFormatError, match="2 ciphertext lists but 1 proofs"):
        Shuffle.from_json({"ciphertexts": doc["ciphertexts"], "proofs": doc["proofs"][:1]})
    with pytest.raises(JsonFormatError, match="unexpected"):
        Shuffle.from_json({**doc, "extra": 1})


# ---------------------------------------------------------------------- service and CLI

NH_TEMPLATE = {
    "description": "shuffle unit",
    "name": "NH unit election",
    "questions": [
        {"answers": ["Yes", "No"], "min": 0, "max": 1, "question": "h"},
        {"type": "NonHomomorphic", "value": {"answers": ["A", "B", "C"], "question": "rank"}},
    ],
}
NH_VOTES = [[[1, 0], [1, 2, 3]], [[0, 1], [3, 2, 1]], [[1, 0], [2, 2, 0]]]


@pytest.fixture(scope="module")
def nh_closed(tmp_path_factory: pytest.TempPathFactory) -> ElectionRun:
    plan = plan_for(
        template=ElectionTemplate.from_json(NH_TEMPLATE),
        group=G,
        votes=[Vote(i, v) for i, v in enumerate(NH_VOTES)],
        voters=len(NH_VOTES),
        singles=2,
        stop=Stop.CLOSED,
    )
    run, _ = make_election(tmp_path_factory.mktemp("nh") / "e", plan, seed="shuffle-unit")
    return run


def _copy(run: ElectionRun, tmp_path: Path) -> Path:
    target = tmp_path / "archive"
    shutil.copytree(run.archive.parent, target)
    return target


def _bel(directory: Path) -> bytes:
    (bel,) = directory.glob("*.bel")
    return bel.read_bytes()


def test_cli_shuffle_decrypt_result(nh_closed: ElectionRun, tmp_path: Path) -> None:
    d = _copy(nh_closed, tmp_path)
    for tid in (2, 1):
        made = run_cli("tally", "shuffle", "--dir", str(d), "--trustee-id", str(tid))
        assert made.code == 0, made.stderr
        assert len(made.stdout.splitlines()) == 2
        f = tmp_path / f"s{tid}"
        f.write_text(made.stdout)
        assert run_cli("tally", "add-shuffle", str(f), "--dir", str(d)).code == 0
    ended = run_cli("tally", "end-shuffles", "--dir", str(d))
    assert ended.code == 0 and "2 shuffle" in ended.stdout
    for key in nh_closed.single_keys:
        pd = run_cli("tally", "decrypt", "--dir", str(d), "--privkey", str(key))
        assert pd.code == 0, pd.stderr
        (tmp_path / "pd").write_text(pd.stdout)
        assert run_cli("tally", "add-decryption", str(tmp_path / "pd"), "--dir", str(d)).code == 0
    res = run_cli("tally", "result", "--dir", str(d))
    assert res.code == 0, res.stderr
    with arch.open_record(d) as state:
        record = state.record
    assert record.result is not None
    published = loads(record.result.raw)["result"]
    assert published[0] == [2, 1]
    assert sorted(published[1]) == sorted(v[1] for v in NH_VOTES)
    assert [s.owner for s in record.shuffles] == [2, 1]


def test_cli_shuffle_refusals_leave_the_archive_unchanged(
    nh_closed: ElectionRun, tmp_path: Path
) -> None:
    d = _copy(nh_closed, tmp_path)
    before = _bel(d)
    bad_id = run_cli("tally", "shuffle", "--dir", str(d), "--trustee-id", "9")
    assert bad_id.code == 2 and "out of range" in bad_id.stderr
    made = run_cli("tally", "shuffle", "--dir", str(d), "--trustee-id", "1")
    shuffle_line, _ = made.stdout.splitlines()
    # wrong owned payload
    wrong = dumps({"owner": 1, "payload": "0" * 64})
    (tmp_path / "a").write_text(f"{shuffle_line}\n{wrong}\n")
    wrong_owned = run_cli("tally", "add-shuffle", str(tmp_path / "a"), "--dir", str(d))
    assert wrong_owned.code == 2 and "not the hash" in wrong_owned.stderr
    # altered proof: s1 of the only NH question (question 2)
    shuffle = Shuffle.from_bytes(shuffle_line.encode())
    p0 = shuffle.proofs[0]
    bad = Shuffle(shuffle.ciphertexts, (_replace(p0, "s", 0, (p0.s[0] + 1) % G.q),))
    raw = bad.to_bytes()
    owned = dumps({"owner": 1, "payload": hashlib.sha256(raw).hexdigest()})
    (tmp_path / "b").write_text(f"{raw.decode()}\n{owned}\n")
    wrong_proof = run_cli("tally", "add-shuffle", str(tmp_path / "b"), "--dir", str(d))
    assert wrong_proof.code == 2 and "question 2 / shuffle / t1" in wrong_proof.stderr
    # non-canonical shuffle line (a space), with a matching owned hash
    spaced = shuffle_line.replace('{"ciphertexts":', '{"ciphertexts": ', 1)
    owned = dumps({"owner": 1, "payload": hashlib.sha256(spaced.encode()).hexdigest()})
    (tmp_path / "c").write_text(f"{spaced}\n{owned}\n")
    not_canonical = run_cli("tally", "add-shuffle", str(tmp_path / "c"), "--dir", str(d))
    assert not_canonical.code == 2 and "canonical" in not_canonical.stderr
    no_shuffle = run_cli("tally", "end-shuffles", "--dir", str(d))
    assert no_shuffle.code == 2 and "no shuffle yet" in no_shuffle.stderr
    assert _bel(d) == before
    # twin: the untouched lines are accepted
    (tmp_path / "ok").write_text(made.stdout)
    assert run_cli("tally", "add-shuffle", str(tmp_path / "ok"), "--dir", str(d)).code == 0
    assert run_cli("tally", "end-shuffles", "--dir", str(d)).code == 0
    twice = run_cli("tally", "end-shuffles", "--dir", str(d))
    assert twice.code == 2 and "already closed" in twice.stderr


def test_nothing_to_shuffle_without_nh_questions(tmp_path: Path) -> None:
    run, _ = make_election(tmp_path / "h", plan_for(voters=1, stop=Stop.CLOSED))
    refused = run_cli("tally", "shuffle", "--dir", str(run.archive.parent), "--trustee-id", "1")
    assert refused.code == 2 and "nothing to shuffle" in refused.stderr
    # twin: the homomorphic election decrypts without any shuffle
    key = run.single_keys[0]
    assert (
        run_cli("tally", "decrypt", "--dir", str(run.archive.parent), "--privkey", str(key)).code
        == 0
    )
