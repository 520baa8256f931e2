"""One-time codes cross the network to the operator's post office under TLS (the audit of
2026-12-05 found plain SMTP only): STARTTLS, or SMTPS on 465, the certificate verified
(against a CA file for a private CA), a login whose password comes from a file or the
environment; a server that does not offer STARTTLS is refused with its own code (V9017).
The local SMTP servers (aiosmtpd) present a certificate made here by a CA made here."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support.cli import run_cli
from viche.errors import DeliveryError, MailSecurityError
from viche.service.onetime import SmtpMailer

USER, PASSWORD = "commission", "s3cret-pa55word-for-the-relay"


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA's certificate (what --smtp-ca-file names)
    server: ssl.SSLContext  # the mail server's side: its certificate and key


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


_CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Viche test CA"))
        .issuer_name(_name("Viche test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "server.pem", folder / "server.key")
    return Pki(folder / "ca.pem", server)


@dataclass
class PostOffice:
    """A local mail server: what it received and who logged in."""

    port: int
    mails: list[Message] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.mails.append(message_from_bytes(envelope.original_content or b""))
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        pair = (data.login.decode(), data.password.decode())
        self.logins.append(pair)
        return AuthResult(success=pair == (USER, PASSWORD), handled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _office(**options: Any) -> Iterator[PostOffice]:
    box = PostOffice(_free_port())
    login = options.pop("login", None)  # None, "offered" or "required"
    if login is not None:
        options.update(authenticator=box.authenticate, auth_required=login == "required")
    controller = Controller(box, hostname="127.0.0.1", port=box.port, **options)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture()
def starttls(pki: Pki) -> Iterator[PostOffice]:
    """A post office that requires STARTTLS, then a login."""
    yield from _office(tls_context=pki.server, require_starttls=True, login="required")


@pytest.fixture()
def smtps(pki: Pki) -> Iterator[PostOffice]:
    """A post office that speaks TLS from the first byte (SMTPS, port 465's way)."""
    # aiosmtpd counts only STARTTLS as TLS when it decides to offer AUTH: here the whole
    # connection is TLS, so it is told to offer it (and not to require it: it warns)
    yield from _office(ssl_context=pki.server, login="offered", auth_require_tls=False)


@pytest.fixture()
def plain() -> Iterator[PostOffice]:
    """A post office that offers no STARTTLS."""
    yield from _office()


def _mailer(box: PostOffice, **options: Any) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", box.port, "commission@viche.test", timeout=10, **options)


def test_starttls_with_a_private_ca_and_a_login(starttls: PostOffice, pki: Pki) -> None:
    mailer = _mailer(
        starttls, security="starttls", ca_file=str(pki.ca), user=USER, password=PASSWORD
    )
    mailer.send("voter@demo.invalid", "Your voting code", "12345678")
    (mail,) = starttls.mails
    assert mail["To"] == "voter@demo.invalid"
    assert starttls.logins == [(USER, PASSWORD)]
    assert PASSWORD not in repr(mailer) and PASSWORD not in str(mailer)
    mailer.check()  # what viche serve does at start: the same conversation, no mail
    assert len(starttls.mails) == 1


def test_smtps(smtps: PostOffice, pki: Pki) -> None:
    _mailer(smtps, security="tls", ca_file=str(pki.ca), user=USER, password=PASSWORD).send(
        "voter@demo.invalid", "Your voting code", "12345678"
    )
    assert len(smtps.mails) == 1 and smtps.logins == [(USER, PASSWORD)]


def test_a_server_without_starttls_is_refused(plain: PostOffice, pki: Pki) -> None:
    mailer = _mailer(plain, security="starttls", ca_file=str(pki.ca), user=USER, password=PASSWORD)
    for attempt in (mailer.check, lambda: mailer.send("v@demo.invalid", "code", "12345678")):
        with pytest.raises(MailSecurityError) as refused:
            attempt()
        assert refused.value.code == "V9017"
        assert "STARTTLS" in str(refused.value) and PASSWORD not in str(refused.value)
    assert plain.mails == []


def test_a_certificate_not_from_a_trusted_ca_is_refused(starttls: PostOffice) -> None:
    mailer = _mailer(starttls, security="starttls", user=USER, password=PASSWORD)  # system CAs
    with pytest.raises(MailSecurityError) as refused:
        mailer.send("v@demo.invalid", "code", "12345678")
    assert refused.value.code == "V9017" and "certificate" in str(refused.value)
    assert "--smtp-ca-file" in str(refused.value)
    assert starttls.mails == [] and starttls.logins == []  # no password sent


def test_a_wrong_password_is_a_delivery_error(starttls: PostOffice, pki: Pki) -> None:
    mailer = _mailer(starttls, security="starttls", ca_file=str(pki.ca), user=USER,
                     password="wrong-password")  # fmt: skip
    with pytest.raises(DeliveryError) as refused:
        mailer.send("v@demo.invalid", "code", "12345678")
    assert refused.value.code == "V9015" and "login" in str(refused.value)
    assert "wrong-password" not in str(refused.value)


def test_tls_is_required_by_default_beyond_this_machine() -> None:
    def mode(host: str, port: int) -> str:
        return SmtpMailer(host, port, "x@viche.test").mode

    assert mode("mail.example.org", 587) == "starttls"
    assert mode("mail.example.org", 25) == "starttls"
    assert mode("192.0.2.7", 25) == "starttls"
    assert mode("mail.example.org", 465) == "tls"
    assert mode("127.0.0.1", 25) == "none"  # a relay on this machine (postfix's way)
    assert mode("localhost", 2525) == "none"
    assert mode("::1", 25) == "none"
    assert SmtpMailer("127.0.0.1", 25, "x@viche.test", security="starttls").mode == "starttls"


def test_serve_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, plain: PostOffice, pki: Pki
) -> None:
    """``viche serve``: the password from a file or the environment, never the command
    line; a login never in clear beyond this machine; a mail server that does not offer
    STARTTLS stops the server before it starts (V9017)."""
    from viche.service.hosting import Host
    from viche.service.onetime import OneTimeCodes
    from viche.web.serve import ENV_DATABASE, ENV_KEYS, ENV_SMTP, build_app

    secret = tmp_path / "smtp.password"
    secret.write_text(PASSWORD + "\n")
    data = str(tmp_path / "data")
    base = ("serve", "--data", data, "--smtp-host")
    no_password = run_cli(*base, "mail.example.org", "--smtp-user", USER)
    assert no_password.code == 2 and "--smtp-password-file" in no_password.stderr
    on_the_line = run_cli(*base, "mail.example.org", "--smtp-password", PASSWORD)
    assert on_the_line.code == 2  # no such option
    in_clear = run_cli(*base, "mail.example.org", "--smtp-tls", "none", "--smtp-user", USER,
                       "--smtp-password-file", str(secret))  # fmt: skip
    assert in_clear.code == 2 and "--smtp-tls" in in_clear.stderr
    no_ca = run_cli(*base, "mail.example.org", "--smtp-ca-file", str(tmp_path / "nope.pem"))
    assert no_ca.code == 2 and "nope.pem" in no_ca.stderr
    refused = run_cli(*base, "127.0.0.1", "--smtp-port", str(plain.port), "--smtp-tls",
                      "starttls", "--smtp-ca-file", str(pki.ca))  # fmt: skip
    assert refused.code == 2 and "V9017" in refused.stderr and "STARTTLS" in refused.stderr
    for run in (no_password, on_the_line, in_clear, no_ca, refused):
        assert PASSWORD not in run.stdout + run.stderr

    # the workers build the same mailer from the environment viche serve sets
    monkeypatch.setenv(ENV_DATABASE, f"sqlite:///{tmp_path / 'board.sqlite'}")
    monkeypatch.setenv(ENV_KEYS, str(tmp_path / "keys"))
    monkeypatch.setenv(ENV_SMTP, "mail.example.org|587|commission@example.org")
    monkeypatch.setenv("VICHE_SMTP_TLS", "starttls")
    monkeypatch.setenv("VICHE_SMTP_CA_FILE", str(pki.ca))
    monkeypatch.setenv("VICHE_SMTP_USER", USER)
    monkeypatch.setenv("VICHE_SMTP_PASSWORD_FILE", str(secret))
    host = build_app().state.host
    assert isinstance(host, Host) and isinstance(host.authenticator, OneTimeCodes)
    mailer = host.authenticator.mailer
    assert isinstance(mailer, SmtpMailer)
    assert (mailer.host, mailer.port, mailer.mode, mailer.ca_file, mailer.user) == (
        "mail.example.org", 587, "starttls", str(pki.ca), USER,
    )  # fmt: skip
    assert mailer.password == PASSWORD and PASSWORD not in repr(mailer)
    host.board.close()
    monkeypatch.delenv("VICHE_SMTP_PASSWORD_FILE")
    monkeypatch.setenv("VICHE_SMTP_PASSWORD", PASSWORD)
    host = build_app().state.host
    assert isinstance(host.authenticator, OneTimeCodes)
    assert host.authenticator.mailer == mailer
    host.board.close()


def test_serve_starts_while_the_mail_server_is_down(tmp_path: Path) -> None:
    """A mail server that does not answer at start is a warning, not a stop: a restart
    during a mail outage must not keep out voters who sign in otherwise. (The data folder
    given here is a file, so the command stops at the next step, after the warning.)"""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens there once the socket is closed
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file\n")
    run = run_cli("serve", "--data", str(not_a_folder), "--smtp-host", "127.0.0.1",
                  "--smtp-port", str(closed))  # fmt: skip
    assert "warning" in run.stderr and "V9015" in run.stderr and "serving anyway" in run.stderr
    assert run.code == 2 and "data folder" in run.stderr  # it went on past the mail check
