"""Voters authenticate with a one-time code sent by mail to their address on the roll.

:class:`OneTimeCodes` is a :class:`~viche.service.hosting.VoterAuthenticator` and a
:class:`~viche.service.hosting.CodeSender`:

* :meth:`~OneTimeCodes.send_code` puts the request in a bounded queue and answers at once;
  a background thread of the worker (:meth:`~OneTimeCodes.mail_code`) looks the login up,
  draws an 8-digit code, stores only its hash (argon2id, as every secret of the server)
  with its expiry, and mails the code through a :class:`Mailer` (:class:`SmtpMailer` in
  production); a new code replaces the previous one, and is not sent again before
  ``resend_after`` seconds;
* :meth:`~OneTimeCodes.authenticate` counts a check before making it (at most
  ``max_attempts`` per code, even when checks arrive at once), compares in constant time
  (argon2's verification), and deletes the code it accepts: each code opens one ballot.

The code request does not tell who is on the roll: its answer is the same, and as quick,
for a login that is not on it (the audit of 2026-12-05 found the mail server's conversation
in the time of the answer). A mail that fails is logged without its code or address and
counted (``report``, the server's metrics); the voter asks again.
"""

from __future__ import annotations

import ipaddress
import logging
import queue
import secrets
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

from viche.errors import (
    AuthenticationError,
    DeliveryError,
    Location,
    MailSecurityError,
    VicheError,
)
from viche.record.sql import SqlBoard
from viche.record.sql.accounts import (
    VoterAccount,
    code_issued_at,
    consume_code,
    put_code,
    reserve_attempt,
    voter,
)
from viche.service.secrets import check_secret, hash_secret

DIGITS = 8
#: code requests a worker holds before it refuses more (503: ask again shortly)
QUEUE = 256

log = logging.getLogger("viche.codes")


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


#: how the mail server is reached: ``starttls`` (plain, then STARTTLS, required), ``tls``
#: (TLS from the first byte: SMTPS, port 465), ``none`` (plain SMTP), or ``auto``:
#: ``tls`` on port 465, ``none`` to a relay on this machine (a loopback address or
#: ``localhost``), ``starttls`` to any other
SECURITY = ("auto", "starttls", "tls", "none")


def is_loopback(host: str) -> bool:
    """``host`` is this machine: a loopback address, or ``localhost``."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SmtpMailer:
    """SMTP to the operator's post office (``viche serve --smtp-host``): under TLS
    (:data:`SECURITY`), its certificate verified against the system's CAs or ``ca_file``
    (a private CA), then a login when ``user`` is set. The password is never shown
    (``repr``, errors, logs)."""

    host: str
    port: int
    sender: str
    timeout: float = 10.0
    security: str = "auto"
    ca_file: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.security not in SECURITY:
            raise ValueError(f"security is one of {', '.join(SECURITY)}")

    @property
    def mode(self) -> str:
        """The security in effect (``auto`` resolved): ``starttls``, ``tls`` or ``none``."""
        if self.security != "auto":
            return self.security
        if self.port == 465:
            return "tls"
        return "none" if is_loopback(self.host) else "starttls"

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        self._talk(lambda smtp: smtp.send_message(message))

    def check(self) -> None:
        """The conversation of a mail up to the login, then goodbye (``viche serve`` at
        start): raises what :meth:`send` would."""
        self._talk(lambda smtp: smtp.noop())

    def _talk(self, act: Callable[[smtplib.SMTP], object]) -> None:
        where = Location(path=("smtp",))
        mode = self.mode
        server = f"{self.host}:{self.port}"
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
            smtp = (
                smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
                if mode == "tls"
                else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            )
            with smtp:
                if mode == "starttls":
                    smtp.ehlo()
                    if not smtp.has_extn("starttls"):
                        raise MailSecurityError(
                            f"the mail server {server} does not offer STARTTLS: no code is "
                            "sent to it in clear (--smtp-tls)",
                            where=where,
                        )
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if self.user is not None:
                    smtp.login(self.user, self.password or "")
                act(smtp)
        except ssl.SSLCertVerificationError as exc:
            raise MailSecurityError(
                f"the certificate of the mail server {server} could not be verified "
                f"({exc.verify_message}); a private CA is named with --smtp-ca-file",
                where=where,
            ) from None
        except smtplib.SMTPAuthenticationError:
            raise DeliveryError(
                f"the mail server {server} refused the login (--smtp-user and its password)",
                where=where,
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(
                f"the mail server {server} offers no login (AUTH) on this connection",
                where=where,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"the mail server refused or did not answer ({type(exc).__name__})",
                where=where,
            ) from None


class OneTimeCodes:
    def __init__(
        self,
        board: SqlBoard,
        mailer: Mailer,
        *,
        ttl: int = 600,
        max_attempts: int = 5,
        resend_after: int = 30,
        queue_size: int = QUEUE,
    ) -> None:
        self.board = board
        self.mailer = mailer
        self.ttl = ttl
        self.max_attempts = max_attempts
        self.resend_after = resend_after
        #: told of each failed mail (``"code_mail_failed"``) and each request refused for a
        #: full queue (``"code_queue_full"``): the server's metrics
        self.report: Callable[[str], None] = lambda _event: None
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._started = threading.Lock()
        self._closing = threading.Event()

    def __repr__(self) -> str:
        return f"OneTimeCodes(ttl={self.ttl}, max_attempts={self.max_attempts})"

    def send_code(self, uuid: str, login: str) -> int:
        """Queue a code for ``login``'s address, whether or not ``login`` is on the roll
        (the mail is sent after the answer); returns the code's lifetime in seconds."""
        self._start()
        try:
            self._queue.put_nowait((uuid, login))
        except queue.Full:
            self.report("code_queue_full")
            raise DeliveryError(
                "too many codes are waiting to be mailed: ask again in a minute",
                where=Location(path=("smtp",)),
            ) from None
        return self.ttl

    def mail_code(self, uuid: str, login: str) -> str:
        """Mail a fresh code to ``login``'s address (the background sender's work); returns
        what was done: ``sent``, ``unknown`` (not on the roll: nothing) or ``too_soon`` (a
        code was sent less than ``resend_after`` seconds ago: nothing). Raises
        :class:`~viche.errors.DeliveryError` when the mail server did not take it."""
        now = int(time.time())
        account = voter(self.board, uuid, login)
        if account is None:
            return "unknown"
        issued = code_issued_at(self.board, uuid, login)
        if issued is not None and now < issued + self.resend_after:
            return "too_soon"
        code = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
        stored = hash_secret(code)
        put_code(self.board, uuid, login, stored, issued_at=now, expires_at=now + self.ttl)
        try:
            self.mailer.send(
                account.address,
                "Your voting code",
                f"Your one-time code to vote in election {uuid} is:\n\n    {code}\n\n"
                f"It can be used once, within {self.ttl // 60} minutes. If you did not ask "
                "for it, ignore this message.\n",
            )
        except DeliveryError:
            consume_code(self.board, uuid, login, stored)  # never delivered: ask again freely
            raise
        return "sent"

    def wait_idle(self) -> None:
        """Until every queued request is done (tests; :meth:`close`)."""
        self._queue.join()

    def close(self) -> None:
        """Stop the background sender (the server stops): the mail under way is finished,
        the requests still queued are dropped (logged with their number)."""
        self._closing.set()
        thread = self._thread
        if thread is not None:
            with suppress(queue.Full):  # full: it sees the flag at its next request
                self._queue.put_nowait(None)  # wakes it
            thread.join(timeout=60)

    def _start(self) -> None:
        with self._started:
            if self._thread is None and not self._closing.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="viche-code-mailer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if self._closing.is_set():
                    self._drop(0 if item is None else 1)
                    return
                if item is not None:
                    self._mail(*item)
            finally:
                self._queue.task_done()

    def _mail(self, uuid: str, login: str) -> None:
        try:
            self.mail_code(uuid, login)
        except VicheError as exc:
            self.report("code_mail_failed")
            # never the code, the address or the login: the election and the reason
            log.warning("a one-time code was not mailed (election %s): %s %s", uuid, exc.code, exc)
        except Exception as exc:  # the sender outlives any one mail (a database error)
            self.report("code_mail_failed")
            log.error("a one-time code was not mailed (election %s): %s", uuid,
                      type(exc).__name__)  # fmt: skip

    def _drop(self, dropped: int) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            self._queue.task_done()
            dropped += 0 if item is None else 1
        if dropped:
            log.warning("%d code request(s) not mailed: the server stopped", dropped)

    def authenticate(self, uuid: str, account: VoterAccount | None, proof: str) -> VoterAccount:
        refused = AuthenticationError(
            "unknown voter, or a wrong, used or expired code",
            where=Location(path=("authorization",)),
        )
        stored = None
        if account is not None:
            stored = reserve_attempt(
                self.board, uuid, account.login, int(time.time()), self.max_attempts
            )
        if not check_secret(stored, proof) or account is None or stored is None:
            raise refused
        if not consume_code(self.board, uuid, account.login, stored):
            raise refused  # used at the same moment by another request
        return account
