"""The Pedersen t-of-n key ceremony of a draft election on the server, step by step.

The trustees run the steps of ``viche setup threshold`` (or ``belenios-tool setup
generate-trustee-key-threshold``) on their own machines; the server plays the server's steps
and checks every message before keeping it (:mod:`viche.protocol.threshold`):

1. each trustee uploads its certificate (:func:`upload_cert`; :func:`check_cert`); once all
   are in, the server checks them together (step 2) and publishes ``certs.jsons``;
3. each trustee uploads its polynomial (:func:`upload_polynomial`; signatures, shapes and
   the threshold checked); once all are in, the server computes one vinput per trustee
   (step 4, :func:`vinput`);
5. each trustee uploads its voutput (:func:`upload_voutput`; its verification key against
   the coefexps, its proof of knowledge); once all are in, the server assembles and checks
   the threshold parameters (step 6), which the Setup event will carry.

A message for another step than the current one is a :class:`~viche.errors.PhaseError`; a
message that fails its check is refused (nothing stored) with the protocol's error.
"""

from __future__ import annotations

from dataclasses import dataclass

from viche.crypto.group import Group, group_by_name
from viche.errors import KeyCeremonyError, Location, PhaseError
from viche.protocol import codec
from viche.protocol.threshold import (
    check_cert,
    check_certs,
    check_polynomial,
    check_threshold_parameters,
    check_voutput,
    compute_vinputs,
    make_threshold_parameters,
)
from viche.protocol.trustees import Cert, Polynomial, ThresholdParameters, VOutput
from viche.record.sql import SqlBoard
from viche.service.admin import Draft, change_draft, check_trustee_number, load_draft

#: the steps in which the trustees upload, then the end of the ceremony
CERTS, POLYNOMIALS, VOUTPUTS, DONE = 1, 3, 5, 7


@dataclass(frozen=True)
class CeremonyState:
    threshold: int
    trustees: int
    step: int
    certs: tuple[int, ...]
    polynomials: tuple[int, ...]
    voutputs: tuple[int, ...]


def _step(d: Draft) -> int:
    if len(d.certs) < d.trustees:
        return CERTS
    if len(d.polynomials) < d.trustees:
        return POLYNOMIALS
    if d.parameters is None:
        return VOUTPUTS
    return DONE


def _ceremony(board: SqlBoard, uuid: str) -> Draft:
    d = load_draft(board, uuid)
    if d.threshold is None:
        raise PhaseError(
            "this election's trustees are Single trustees: there is no key ceremony",
            where=Location(member=uuid),
        )
    return d


def _numbers(values: dict[str, str]) -> tuple[int, ...]:
    return tuple(sorted(int(k) for k in values))


def state(board: SqlBoard, uuid: str) -> CeremonyState:
    d = _ceremony(board, uuid)
    assert d.threshold is not None
    return CeremonyState(
        d.threshold,
        d.trustees,
        _step(d),
        _numbers(d.certs),
        _numbers(d.polynomials),
        _numbers(d.voutputs),
    )


def _in_step(d: Draft, step: int, n: int) -> None:
    check_trustee_number(d, n)
    now = _step(d)
    if now != step:
        raise PhaseError(
            f"the ceremony is at step {now}, this message belongs to step {step}",
            where=Location(trustee=n, path=(f"step {step}",)),
        )


def _certs(d: Draft) -> list[Cert]:
    return [
        Cert.from_json(codec.loads(d.certs[str(j)]), Location(trustee=j, path=("cert",)))
        for j in range(1, d.trustees + 1)
    ]


def _polynomials(d: Draft) -> list[Polynomial]:
    return [
        Polynomial.from_json(
            codec.loads(d.polynomials[str(j)]), Location(trustee=j, path=("polynomial",))
        )
        for j in range(1, d.trustees + 1)
    ]


def _parse(raw: bytes, where: Location) -> object:
    return codec.loads(raw.strip(), where)


def upload_cert(board: SqlBoard, uuid: str, n: int, raw: bytes) -> CeremonyState:
    """Step 1: trustee ``n``'s certificate (it may replace its own until all are in)."""
    d = _ceremony(board, uuid)
    _in_step(d, CERTS, n)
    where = Location(trustee=n, path=("step 1", "cert"))
    group = group_by_name(d.group)
    cert = Cert.from_json(_parse(raw, where), where)
    check_cert(group, cert, where)
    line = codec.dumps(cert.to_json())

    def change(d: Draft) -> None:
        _in_step(d, CERTS, n)
        others = {v for k, v in d.certs.items() if k != str(n)}
        if line in others:
            raise KeyCeremonyError("another trustee uploaded this certificate", where=where)
        d.certs[str(n)] = line
        if len(d.certs) == d.trustees:
            check_certs(group, _certs(d), step=2)

    change_draft(board, uuid, change)
    return state(board, uuid)


def certs_jsons(board: SqlBoard, uuid: str) -> str:
    """``certs.jsons`` (one cert a line, trustee 1 first), once every trustee's is in."""
    d = _ceremony(board, uuid)
    if _step(d) == CERTS:
        raise PhaseError(
            f"{len(d.certs)} of {d.trustees} certificates uploaded",
            where=Location(path=("step 2",)),
        )
    return "".join(d.certs[str(j)] + "\n" for j in range(1, d.trustees + 1))


def upload_polynomial(board: SqlBoard, uuid: str, n: int, raw: bytes) -> CeremonyState:
    """Step 3: trustee ``n``'s polynomial; the last one makes the vinputs (step 4)."""
    d = _ceremony(board, uuid)
    _in_step(d, POLYNOMIALS, n)
    where = Location(trustee=n, path=("step 3", "polynomial"))
    group = group_by_name(d.group)
    polynomial = Polynomial.from_json(_parse(raw, where), where)
    check_polynomial(group, _certs(d), polynomial, n, threshold=d.threshold, where=where)
    line = codec.dumps(polynomial.to_json())

    def change(d: Draft) -> None:
        _in_step(d, POLYNOMIALS, n)
        d.polynomials[str(n)] = line
        if len(d.polynomials) == d.trustees:
            vinputs = compute_vinputs(group, _certs(d), _polynomials(d))
            d.vinputs = [codec.dumps(v.to_json()) for v in vinputs]

    change_draft(board, uuid, change)
    return state(board, uuid)


def vinput(board: SqlBoard, uuid: str, n: int) -> str:
    """Trustee ``n``'s vinput (one line), once every polynomial is in."""
    d = _ceremony(board, uuid)
    check_trustee_number(d, n)
    if not d.vinputs:
        raise PhaseError(
            f"{len(d.polynomials)} of {d.trustees} polynomials uploaded",
            where=Location(trustee=n, path=("step 4",)),
        )
    return d.vinputs[n - 1] + "\n"


def upload_voutput(board: SqlBoard, uuid: str, n: int, raw: bytes) -> CeremonyState:
    """Step 5: trustee ``n``'s voutput; the last one makes the threshold parameters (step 6)."""
    d = _ceremony(board, uuid)
    _in_step(d, VOUTPUTS, n)
    where = Location(trustee=n, path=("step 5", "voutput"))
    group = group_by_name(d.group)
    voutput = VOutput.from_json(_parse(raw, where), where)
    coefexps = [p.coefexps for p in _polynomials(d)]
    check_voutput(group, coefexps, voutput, n, where)
    line = codec.dumps(voutput.to_json())

    def change(d: Draft) -> None:
        _in_step(d, VOUTPUTS, n)
        d.voutputs[str(n)] = line
        if len(d.voutputs) == d.trustees:
            d.parameters = codec.dumps(_parameters(group, d).to_json())

    change_draft(board, uuid, change)
    return state(board, uuid)


def _parameters(group: Group, d: Draft) -> ThresholdParameters:
    voutputs = [
        VOutput.from_json(codec.loads(d.voutputs[str(j)]), Location(trustee=j, path=("voutput",)))
        for j in range(1, d.trustees + 1)
    ]
    params = make_threshold_parameters(group, _certs(d), _polynomials(d), voutputs)
    check_threshold_parameters(group, params)
    return params


def threshold_json(board: SqlBoard, uuid: str) -> str:
    """The threshold parameters (``threshold.json``), once the ceremony is over."""
    d = _ceremony(board, uuid)
    if d.parameters is None:
        raise PhaseError(f"the ceremony is at step {_step(d)}", where=Location(path=("step 6",)))
    return d.parameters + "\n"
