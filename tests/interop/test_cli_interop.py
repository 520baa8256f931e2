"""Mixed elections: belenios-tool and ``viche`` commands used side by side on one election.

* Viche keeps the archive: setup files from both tools, ballots made by belenios-tool are
  accepted by ``viche archive add-ballot``, partial decryptions from both tools are combined
  by ``viche tally result``; belenios-tool verifies the result.
* belenios-tool keeps the archive: credentials and trustee keys from Viche, ballots and a
  partial decryption made by ``viche`` are appended with ``archive add-event``; the tool
  computes and verifies the result and ``viche verify`` agrees.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support.belenios import add_event, tool, tool_verifies
from support.cli import CliRun, run_cli
from viche.crypto.group import BELENIOS_2048
from viche.crypto.rng import SeededRandom
from viche.service import threshold as pedersen

pytestmark = pytest.mark.interop

SIMPLE = "simple.json"


def ok(run: CliRun) -> str:
    assert run.code == 0, run.stderr
    return run.stdout


def _ballot(bt: str, who: str, pub: Path, cred: Path, choices: Path) -> bytes:
    """A ballot made by belenios-tool (``who == "tool"``) or by ``viche ballot generate``."""
    if who == "tool":
        args = ["--dir", str(pub), "--privcred", str(cred), "--ballot", str(choices)]
        return tool(bt, "election", "generate-ballot", *args).stdout
    return ok(run_cli("ballot", "generate", "--dir", str(pub), "--privcred", str(cred),
                      "--ballot", str(choices))).encode()  # fmt: skip


def _cred(privcreds: Path, n: int) -> str:
    return privcreds.read_text().splitlines()[n].rsplit(" ", 1)[1]


def test_viche_archive_with_belenios_setup_ballots_and_decryptions(
    belenios_tool: str, templates_dir: Path, tmp_path: Path
) -> None:
    bt = belenios_tool
    setup, pub, work = tmp_path / "setup", tmp_path / "public", tmp_path / "work"
    for d in (setup, pub, work):
        d.mkdir()
    uuid = tool(bt, "setup", "generate-token").stdout.decode().strip()
    # credentials and one Single key by belenios-tool
    tool(bt, "setup", "generate-credentials", "--uuid", uuid, "--group", "BELENIOS-2048",
         "--count", "3", cwd=setup)  # fmt: skip
    tool(bt, "setup", "generate-trustee-key", "--group", "BELENIOS-2048", cwd=setup)
    (single_priv,) = setup.glob("*.privkey")
    (setup / "public_keys.jsons").write_text(next(setup.glob("*.pubkey")).read_text())
    # a Pedersen 2-of-3 ceremony by Viche
    keys = pedersen.run_ceremony(BELENIOS_2048, 3, 2, tmp_path / "pedersen", SeededRandom("p"))
    shutil.copy(tmp_path / "pedersen" / "threshold.json", setup / "threshold.json")
    ok(run_cli("setup", "make-trustees", "--dir", str(setup)))
    template = templates_dir / SIMPLE
    ok(run_cli("setup", "make-election", "--uuid", uuid, "--template", str(template),
               "--dir", str(setup)))  # fmt: skip
    (pubcreds,) = setup.glob("*.pubcreds")
    (privcreds,) = setup.glob("*.privcreds")
    ok(run_cli("archive", "init", "--dir", str(pub), "--election",
               str(setup / "election.json"), "--trustees", str(setup / "trustees.json"),
               "--public-creds", str(pubcreds)))  # fmt: skip
    votes = [
        ("tool", 0, [[1, 1, 0, 0, 0], [0, 1, 0, 0]]),
        ("viche", 1, [[0, 0, 1, 0, 0], [0, 0, 1, 0]]),
        ("tool", 2, [[0, 0, 0, 0, 1], [1, 0, 0, 0]]),  # blank on question 2
        ("viche", 0, [[0, 1, 1, 1, 0], [0, 0, 0, 1]]),  # voter 0 changes her mind
    ]
    for k, (who, voter, choices) in enumerate(votes):
        (work / f"{k}.cred").write_text(_cred(privcreds, voter) + "\n")
        (work / f"{k}.json").write_text(json.dumps(choices))
        ballot = _ballot(bt, who, pub, work / f"{k}.cred", work / f"{k}.json")
        (work / f"{k}.ballot").write_bytes(ballot)
        ok(run_cli("archive", "add-ballot", "--dir", str(pub), str(work / f"{k}.ballot")))
    ok(run_cli("archive", "close", "--dir", str(pub)))
    # Single trustee 1 by belenios-tool; Pedersen trustee 2 (id 3) by belenios-tool and
    # Pedersen trustee 3 (id 4) by Viche; Pedersen trustee 1 (id 2) is absent
    decryptions = [
        tool(bt, "election", "decrypt", "--dir", str(pub), "--privkey", str(single_priv),
             "--trustee-id", "1").stdout,
        tool(bt, "election", "decrypt-threshold", "--dir", str(pub), "--key", str(keys[1][0]),
             "--decryption-key", str(keys[1][1]), "--trustee-id", "3").stdout,
        ok(run_cli("tally", "decrypt", "--dir", str(pub), "--key", str(keys[2][0]),
                   "--decryption-key", str(keys[2][1]), "--trustee-id", "4")).encode(),
    ]  # fmt: skip
    for n, pd in enumerate(decryptions):
        (work / f"pd{n}").write_bytes(pd)
        ok(run_cli("tally", "add-decryption", "--dir", str(pub), str(work / f"pd{n}")))
    ok(run_cli("tally", "result", "--dir", str(pub)))
    passed, err = tool_verifies(bt, pub)
    assert passed, err
    data = json.loads(ok(run_cli("verify", "--json", str(pub))))
    # counted: voter 0's second ballot, voters 1 and 2
    assert data["result"] == [[0, 1, 2, 1, 1], [1, 0, 1, 1]]


def test_viche_refuses_a_belenios_ballot_for_another_election(
    belenios_tool: str, reference_dir: Path, tmp_path: Path
) -> None:
    """Failure twin: a ballot that belenios-tool made for a reference election is refused by
    ``viche archive add-ballot`` on a fresh copy of another election; nothing is written."""
    src = reference_dir / "simple-plain-BELENIOS"
    other = reference_dir / "threshold-noserver-2of3"
    target = tmp_path / "a"
    target.mkdir()
    ok(run_cli("archive", "init", "--dir", str(target), "--election",
               str(other / "setup" / "election.json"), "--trustees",
               str(other / "setup" / "trustees.json"), "--public-creds",
               str(other / "setup" / "public_creds.json")))  # fmt: skip
    (bel,) = target.glob("*.bel")
    before = bel.read_bytes()
    res = run_cli(
        "archive", "add-ballot", "--dir", str(target), str(src / "ballots" / "000001.json")
    )
    assert res.code == 2 and "election" in res.stderr
    assert bel.read_bytes() == before
    passed, _ = tool_verifies(belenios_tool, target)
    assert passed


def test_belenios_archive_with_viche_credentials_ballots_and_decryption(
    belenios_tool: str, templates_dir: Path, tmp_path: Path
) -> None:
    bt = belenios_tool
    setup, pub, work = tmp_path / "setup", tmp_path / "public", tmp_path / "work"
    for d in (setup, pub, work):
        d.mkdir()
    uuid = ok(run_cli("setup", "generate-token")).strip()
    (setup / "voters.txt").write_text("a@x.org,alice,2\nb@x.org,bob,1\nc@x.org,carol,3\n")
    out = ok(run_cli("setup", "generate-credentials", "--uuid", uuid, "--file",
                     str(setup / "voters.txt"), "--dir", str(setup)))  # fmt: skip
    fingerprint = out.strip().rsplit(" ", 1)[1]
    ok(run_cli("setup", "generate-trustee-key", "--dir", str(setup)))
    tool(bt, "setup", "generate-trustee-key", "--group", "BELENIOS-2048", cwd=setup)
    pubkeys = sorted(setup.glob("*.pubkey"))
    (setup / "public_keys.jsons").write_text("".join(p.read_text() for p in pubkeys))
    tool(bt, "setup", "make-trustees", "--dir", str(setup))
    template = templates_dir / SIMPLE
    tool(bt, "setup", "make-election", "--dir", str(setup), "--uuid", uuid, "--group",
         "BELENIOS-2048", "--template", str(template))  # fmt: skip
    (pubcreds,) = setup.glob("*.pubcreds")
    (privcreds,) = setup.glob("*.privcreds")
    tool(bt, "archive", "init", "--dir", str(pub), "--election", str(setup / "election.json"),
         "--trustees", str(setup / "trustees.json"), "--public-creds", str(pubcreds))  # fmt: skip
    (bel,) = pub.glob("*.bel")
    assert fingerprint in tool(bt, "sha256-b64", stdin=_member(bel, 3)).stdout.decode()
    votes = [
        ("viche", 0, [[1, 0, 0, 0, 0], [0, 1, 0, 0]]),
        ("tool", 1, [[0, 1, 1, 0, 0], [0, 0, 1, 0]]),
        ("viche", 2, [[0, 0, 0, 0, 1], [1, 0, 0, 0]]),
        ("viche", 1, [[0, 1, 0, 0, 0], [0, 0, 0, 1]]),  # bob's re-vote
    ]
    for k, (who, voter, choices) in enumerate(votes):
        (work / f"{k}.cred").write_text(_cred(privcreds, voter) + "\n")
        (work / f"{k}.json").write_text(json.dumps(choices))
        ballot = _ballot(bt, who, pub, work / f"{k}.cred", work / f"{k}.json")
        add_event(bt, pub, "Ballot", ballot)
    passed, err = tool_verifies(bt, pub)
    assert passed, err
    add_event(bt, pub, "EndBallots")
    tally = tool(bt, "election", "compute-encrypted-tally", "--dir", str(pub)).stdout
    add_event(bt, pub, "EncryptedTally", tally)
    # one key was made by each tool; the first (sorted) decrypts with viche, the other with
    # belenios-tool
    viche_key = sorted(setup.glob("*.privkey"))[0]
    ids = {p.stem: n for n, p in enumerate(pubkeys, start=1)}
    for key in sorted(setup.glob("*.privkey")):
        tid = str(ids[key.stem])
        if key == viche_key:
            pd = ok(run_cli("tally", "decrypt", "--dir", str(pub), "--privkey", str(key),
                            "--trustee-id", tid)).encode()  # fmt: skip
        else:
            pd = tool(bt, "election", "decrypt", "--dir", str(pub), "--privkey", str(key),
                      "--trustee-id", tid).stdout  # fmt: skip
        add_event(bt, pub, "PartialDecryption", pd)
    result = tool(bt, "election", "compute-result", "--dir", str(pub)).stdout
    add_event(bt, pub, "Result", result)
    passed, err = tool_verifies(bt, pub)
    assert passed, err
    data = json.loads(ok(run_cli("verify", "--json", str(pub))))
    assert data["ok"] is True
    # alice (weight 2): Alice, Yes; bob (1, his re-vote): Bob, Abstain; carol (3): Eve, blank
    assert data["result"] == json.loads(result)["result"] == [[2, 1, 0, 0, 3], [3, 2, 0, 1]]


def _member(bel: Path, n: int) -> bytes:
    """The content of the n-th member (0-based) of a tar archive."""
    import tarfile

    with tarfile.open(bel) as tar:
        member = tar.getmembers()[n]
        f = tar.extractfile(member)
        assert f is not None
        return f.read()


def test_mixed_threshold_ceremony(belenios_tool: str, tmp_path: Path) -> None:
    """Trustee 1 uses belenios-tool, trustee 2 uses ``viche setup threshold``; the server
    steps run with both tools and step 6 gives byte-identical threshold parameters."""
    bt = belenios_tool
    grp = ["--group", "BELENIOS-2048"]
    t1, t2, srv = tmp_path / "t1", tmp_path / "t2", tmp_path / "server"
    for d in (t1, t2, srv):
        d.mkdir()
    tool(bt, "setup", "generate-trustee-key-threshold", *grp, "--step", "1", cwd=t1)
    ok(run_cli("setup", "threshold", "step1", "--dir", str(t2)))
    (k1,), (k2,) = t1.glob("*.key"), t2.glob("*.key")
    certs = srv / "certs.jsons"
    certs.write_text(next(t1.glob("*.cert")).read_text() + next(t2.glob("*.cert")).read_text())
    tool(bt, "setup", "generate-trustee-key-threshold", *grp, "--certs", str(certs), "--step", "2",
         cwd=srv)  # fmt: skip
    assert "2 certificates are valid" in ok(
        run_cli("setup", "threshold", "step2", "--certs", str(certs))
    )
    p1 = tool(bt, "setup", "generate-trustee-key-threshold", *grp, "--certs", str(certs),
              "--key", str(k1), "--step", "3", "--threshold", "2").stdout  # fmt: skip
    p2 = ok(run_cli("setup", "threshold", "step3", "--certs", str(certs), "--key", str(k2),
                    "--threshold", "2")).encode()  # fmt: skip
    polys = srv / "polynomials.jsons"
    polys.write_bytes(p1 + p2)
    ok(run_cli("setup", "threshold", "step4", "--certs", str(certs), "--polynomials",
               str(polys), "--dir", str(srv)))  # fmt: skip
    v1 = (srv / f"{k1.stem}.vinput").read_bytes()
    v2 = (srv / f"{k2.stem}.vinput").read_bytes()
    o1 = tool(bt, "setup", "generate-trustee-key-threshold", *grp, "--certs", str(certs),
              "--key", str(k1), "--step", "5", cwd=t1, stdin=v1).stdout  # fmt: skip
    (t2 / "in.vinput").write_bytes(v2)
    o2 = ok(run_cli("setup", "threshold", "step5", "--certs", str(certs), "--key", str(k2),
                    "--vinput", str(t2 / "in.vinput"), "--dir", str(t2))).encode()  # fmt: skip
    vouts = srv / "voutputs.jsons"
    vouts.write_bytes(o1 + o2)
    ours = ok(run_cli("setup", "threshold", "step6", "--certs", str(certs), "--polynomials",
                      str(polys), "--voutputs", str(vouts)))  # fmt: skip
    theirs = tool(bt, "setup", "generate-trustee-key-threshold", *grp, "--certs", str(certs),
                  "--step", "6", "--polynomials", str(polys), stdin=o1 + o2,
                  cwd=srv).stdout  # fmt: skip
    assert ours.encode() == theirs
    assert json.loads(ours)["threshold"] == 2
    # failure twin: a voutput from the wrong trustee order is refused by step 6
    vouts.write_bytes(o2 + o1)
    res = run_cli("setup", "threshold", "step6", "--certs", str(certs), "--polynomials",
                  str(polys), "--voutputs", str(vouts))  # fmt: skip
    assert res.code == 2 and "trustee 1 / step 6" in res.stderr
