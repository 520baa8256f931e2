"""The Pedersen key ceremony as files, like ``setup generate-trustee-key-threshold --step N``.

1. trustee: ``NAME.key`` (secret seed, 0600) and ``NAME.cert``, NAME = sha256hex(cert message);
2. server: checks ``certs.jsons`` (the certs, one per line);
3. trustee: prints its polynomial (one line, appended to ``polynomials.jsons`` by the server);
4. server: writes ``NAME.vinput`` for each trustee;
5. trustee: reads its vinput, prints its voutput and writes ``NAME.dkey`` (its encrypted share);
6. server: reads the voutputs, prints ``threshold.json`` (the threshold parameters).
"""

from __future__ import annotations

from pathlib import Path

from viche.crypto.group import Group
from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import RandomSource
from viche.errors import Location, UsageError
from viche.protocol import codec
from viche.protocol.threshold import (
    check_certs,
    compute_vinputs,
    generate_cert,
    make_polynomial,
    make_threshold_parameters,
    make_voutput,
)
from viche.protocol.trustees import Cert, Polynomial, ThresholdParameters, VInput, VOutput
from viche.service.files import read_json, read_json_lines, read_text, write_text


def cert_name(cert: Cert) -> str:
    return sha256_hex(cert.message.encode("utf-8"))


def line(value: object) -> str:
    return codec.dumps(value) + "\n"


def step1(group: Group, directory: Path, rng: RandomSource) -> tuple[Path, Path]:
    """A fresh seed and its certificate; returns (key file, cert file)."""
    seed, cert = generate_cert(group, rng)
    name = cert_name(cert)
    key, cert_path = directory / f"{name}.key", directory / f"{name}.cert"
    write_text(cert_path, line(cert.to_json()))
    write_text(key, seed + "\n", secret=True)
    return key, cert_path


def read_certs(path: Path) -> list[Cert]:
    values = read_json_lines(path, "certificates (.jsons)")
    if not values:
        raise UsageError("no certificate in the file", where=Location(file=str(path)))
    return [
        Cert.from_json(v, Location(file=str(path), line=n)) for n, v in enumerate(values, start=1)
    ]


def step2(group: Group, certs_path: Path) -> int:
    certs = read_certs(certs_path)
    check_certs(group, certs, step=2)
    return len(certs)


def read_seed(path: Path) -> str:
    return read_text(path, "trustee seed (.key)").strip()


def step3(group: Group, certs_path: Path, key_path: Path, threshold: int, rng: RandomSource) -> str:
    """The trustee's polynomial, one line."""
    poly = make_polynomial(group, read_certs(certs_path), read_seed(key_path), threshold, rng)
    return line(poly.to_json())


def read_polynomials(path: Path) -> list[Polynomial]:
    return [
        Polynomial.from_json(v, Location(file=str(path), line=n))
        for n, v in enumerate(read_json_lines(path, "polynomials (.jsons)"), start=1)
    ]


def step4(group: Group, certs_path: Path, polynomials_path: Path, directory: Path) -> list[Path]:
    certs = read_certs(certs_path)
    vinputs = compute_vinputs(group, certs, read_polynomials(polynomials_path))
    paths = []
    for cert, vi in zip(certs, vinputs, strict=True):
        p = directory / f"{cert_name(cert)}.vinput"
        write_text(p, line(vi.to_json()))
        paths.append(p)
    return paths


def step5(
    group: Group,
    certs_path: Path,
    key_path: Path,
    vinput_path: Path,
    *,
    rng: RandomSource,
    directory: Path,
) -> tuple[str, Path]:
    """The trustee's voutput (one line) and its ``.dkey`` file."""
    vinput = VInput.from_json(read_json(vinput_path, "vinput"), Location(file=str(vinput_path)))
    vo = make_voutput(group, read_certs(certs_path), read_seed(key_path), vinput, rng)
    dkey = directory / f"{key_path.name.removesuffix('.key')}.dkey"
    write_text(dkey, vo.private_key + "\n", secret=True)
    return line(vo.to_json()), dkey


def step6(
    group: Group, certs_path: Path, polynomials_path: Path, voutputs_path: Path
) -> ThresholdParameters:
    voutputs = [
        VOutput.from_json(v, Location(file=str(voutputs_path), line=n))
        for n, v in enumerate(read_json_lines(voutputs_path, "voutputs (.jsons)"), start=1)
    ]
    return make_threshold_parameters(
        group, read_certs(certs_path), read_polynomials(polynomials_path), voutputs
    )


def run_ceremony(
    group: Group, n: int, threshold: int, directory: Path, rng: RandomSource
) -> list[tuple[Path, Path]]:
    """Every step for ``n`` trustees in one directory (demos and tests); writes the files
    of every role and ``threshold.json``; returns each trustee's (.key, .dkey)."""
    directory.mkdir(parents=True, exist_ok=True)
    keys = [step1(group, directory, rng) for _ in range(n)]
    certs_path = directory / "certs.jsons"
    write_text(certs_path, "".join(read_text(c, "cert") for _, c in keys))
    step2(group, certs_path)
    polys = directory / "polynomials.jsons"
    write_text(polys, "".join(step3(group, certs_path, k, threshold, rng) for k, _ in keys))
    vinputs = step4(group, certs_path, polys, directory)
    outputs: list[str] = []
    pairs: list[tuple[Path, Path]] = []
    for (k, _), vi in zip(keys, vinputs, strict=True):
        vo, dkey = step5(group, certs_path, k, vi, rng=rng, directory=directory)
        outputs.append(vo)
        pairs.append((k, dkey))
    vout = directory / "voutputs.jsons"
    write_text(vout, "".join(outputs))
    params = step6(group, certs_path, polys, vout)
    write_text(directory / "threshold.json", line(params.to_json()))
    return pairs
