"""Small shared codecs: ciphertext, proof, homomorphic and non-homomorphic answers.

Each ``*_to_json`` builds a dict in the key order of the specification (FORMAT.md §5);
each ``*_from_json`` checks the exact set of keys and the number syntax, naming the
offending field through ``where``. Each ``*_text`` writes the same value directly as its
canonical text, ``dumps(*_to_json(x))`` (what a ballot check compares the bytes received
with, without building the dicts and without escaping the digits of the numbers: the
decimal form of an integer never holds a character that JSON escapes). Group membership
and proof validity are *not* checked here: that is the job of
:func:`viche.protocol.ballot.check_ballot` and the verifier.
"""

from __future__ import annotations

from typing import Any, cast

from viche.crypto.answers import HAnswer, NHAnswer
from viche.crypto.elgamal import Ciphertext
from viche.crypto.group import canonical_number
from viche.crypto.schnorr import Proof
from viche.errors import Location
from viche.protocol.codec import JsonObject, expect_list, expect_object, get_number, sub

Answer = HAnswer | NHAnswer


# ---------------------------------------------------------------------- ciphertext


def ciphertext_to_json(ct: Ciphertext) -> JsonObject:
    return {"alpha": ct.alpha_text, "beta": ct.beta_text}


def ciphertext_text(ct: Ciphertext) -> str:
    """``dumps(ciphertext_to_json(ct))``."""
    return f'{{"alpha":"{ct.alpha_text}","beta":"{ct.beta_text}"}}'


def _ciphertext_or_none(value: object) -> Ciphertext | None:
    """The ciphertext of a well-formed ``value`` (exactly the keys alpha and beta, canonical
    numbers), else None: the parsers' fast path, which builds no location."""
    if type(value) is dict and len(value) == 2:
        alpha_text, beta_text = value.get("alpha"), value.get("beta")
        alpha, beta = canonical_number(alpha_text), canonical_number(beta_text)
        if alpha is not None and beta is not None:
            return Ciphertext.read(alpha, beta, cast(str, alpha_text), cast(str, beta_text))
    return None


def ciphertext_from_json(value: object, where: Location) -> Ciphertext:
    fast = _ciphertext_or_none(value)
    if fast is not None:
        return fast
    obj = expect_object(value, where, ("alpha", "beta"))
    alpha, beta = get_number(obj, "alpha", where), get_number(obj, "beta", where)
    return Ciphertext.read(alpha, beta, obj["alpha"], obj["beta"])  # canonical: keep the digits


def ciphertexts_to_json(cts: tuple[Ciphertext, ...] | list[Ciphertext]) -> list[JsonObject]:
    return [ciphertext_to_json(c) for c in cts]


def ciphertexts_from_json(value: object, where: Location) -> tuple[Ciphertext, ...]:
    items = expect_list(value, where)
    fast = [_ciphertext_or_none(v) for v in items]
    if None not in fast:
        return cast(tuple[Ciphertext, ...], tuple(fast))
    return tuple(ciphertext_from_json(v, sub(where, i)) for i, v in enumerate(items))


# ---------------------------------------------------------------------- proof


def proof_to_json(proof: Proof) -> JsonObject:
    return {"challenge": str(proof.challenge), "response": str(proof.response)}


def proof_text(proof: Proof) -> str:
    """``dumps(proof_to_json(proof))``."""
    # str(), not an f-string: gmpy2's __format__ is twice as slow
    return '{"challenge":"' + str(proof.challenge) + '","response":"' + str(proof.response) + '"}'


def proofs_text(proofs: tuple[Proof, ...]) -> str:
    """``dumps(proofs_to_json(proofs))``."""
    return "[" + ",".join([proof_text(p) for p in proofs]) + "]"


def _proof_or_none(value: object) -> Proof | None:
    """The proof of a well-formed ``value`` (exactly the keys challenge and response,
    canonical numbers), else None: the parsers' fast path, which builds no location."""
    if type(value) is dict and len(value) == 2:
        challenge = canonical_number(value.get("challenge"))
        response = canonical_number(value.get("response"))
        if challenge is not None and response is not None:
            return Proof(challenge, response)
    return None


def proof_from_json(value: object, where: Location) -> Proof:
    fast = _proof_or_none(value)
    if fast is not None:
        return fast
    obj = expect_object(value, where, ("challenge", "response"))
    return Proof(get_number(obj, "challenge", where), get_number(obj, "response", where))


def proofs_to_json(proofs: tuple[Proof, ...] | list[Proof]) -> list[JsonObject]:
    return [proof_to_json(p) for p in proofs]


def proofs_from_json(value: object, where: Location) -> tuple[Proof, ...]:
    items = expect_list(value, where)
    fast = [_proof_or_none(v) for v in items]
    if None not in fast:
        return cast(tuple[Proof, ...], tuple(fast))
    return tuple(proof_from_json(v, sub(where, i)) for i, v in enumerate(items))


# ---------------------------------------------------------------------- answers


def h_answer_to_json(answer: HAnswer) -> JsonObject:
    """``{"choices","individual_proofs","overall_proof"[,"blank_proof"]}``."""
    out: JsonObject = {
        "choices": ciphertexts_to_json(list(answer.choices)),
        "individual_proofs": [proofs_to_json(list(ps)) for ps in answer.individual_proofs],
        "overall_proof": proofs_to_json(list(answer.overall_proof)),
    }
    if answer.blank_proof is not None:
        out["blank_proof"] = proofs_to_json(list(answer.blank_proof))
    return out


def h_answer_text(answer: HAnswer) -> str:
    """``dumps(h_answer_to_json(answer))``."""
    text = (
        '{"choices":['
        + ",".join([ciphertext_text(c) for c in answer.choices])
        + '],"individual_proofs":['
        + ",".join([proofs_text(ps) for ps in answer.individual_proofs])
        + '],"overall_proof":'
        + proofs_text(answer.overall_proof)
    )
    if answer.blank_proof is not None:
        text += ',"blank_proof":' + proofs_text(answer.blank_proof)
    return text + "}"


def h_answer_from_json(value: object, where: Location) -> HAnswer:
    obj = expect_object(
        value, where, ("choices", "individual_proofs", "overall_proof"), ("blank_proof",)
    )
    choices = ciphertexts_from_json(obj["choices"], sub(where, "choices"))
    ip_where = sub(where, "individual_proofs")
    # Lengths are not checked here (check_h_answer does, naming the proof): the casts
    # only restate the types that a well-formed answer has.
    individual = cast(
        tuple[tuple[Proof, Proof], ...],
        tuple(
            proofs_from_json(v, sub(ip_where, i))
            for i, v in enumerate(expect_list(obj["individual_proofs"], ip_where))
        ),
    )
    overall = proofs_from_json(obj["overall_proof"], sub(where, "overall_proof"))
    blank = (
        cast(tuple[Proof, Proof], proofs_from_json(obj["blank_proof"], sub(where, "blank_proof")))
        if "blank_proof" in obj
        else None
    )
    return HAnswer(choices, individual, overall, blank)


def nh_answer_to_json(answer: NHAnswer) -> JsonObject:
    """``{"choices": ciphertext, "proof": proof}``."""
    return {"choices": ciphertext_to_json(answer.choices), "proof": proof_to_json(answer.proof)}


def nh_answer_text(answer: NHAnswer) -> str:
    """``dumps(nh_answer_to_json(answer))``."""
    return f'{{"choices":{ciphertext_text(answer.choices)},"proof":{proof_text(answer.proof)}}}'


def nh_answer_from_json(value: object, where: Location) -> NHAnswer:
    obj = expect_object(value, where, ("choices", "proof"))
    return NHAnswer(
        ciphertext_from_json(obj["choices"], sub(where, "choices")),
        proof_from_json(obj["proof"], sub(where, "proof")),
    )


def answer_to_json(answer: Answer) -> JsonObject:
    if isinstance(answer, NHAnswer):
        return nh_answer_to_json(answer)
    return h_answer_to_json(answer)


def answer_text(answer: Answer) -> str:
    """``dumps(answer_to_json(answer))``."""
    if isinstance(answer, NHAnswer):
        return nh_answer_text(answer)
    return h_answer_text(answer)


def answer_from_json(value: Any, where: Location) -> Answer:
    """Either kind, told apart by shape: an NH answer has a ``proof`` and one ciphertext."""
    if isinstance(value, dict) and "proof" in value:
        return nh_answer_from_json(value, where)
    return h_answer_from_json(value, where)
