"""Voters authenticate with a one-time code sent by mail to their address on the roll.

:class:`OneTimeCodes` is a :class:`~viche.service.hosting.VoterAuthenticator` and a
:class:`~viche.service.hosting.CodeSender`:

* :meth:`~OneTimeCodes.send_code` draws an 8-digit code, stores only its hash (argon2id, as
  every secret of the server) with its expiry, and mails the code through a :class:`Mailer`
  (:class:`SmtpMailer` in production); a new code replaces the previous one, and is not
  sent again before ``resend_after`` seconds;
* :meth:`~OneTimeCodes.authenticate` counts a check before making it (at most
  ``max_attempts`` per code, even when checks arrive at once), compares in constant time
  (argon2's verification), and deletes the code it accepts: each code opens one ballot.

An unknown login gets the same answer as a known one (no mail is sent), so that the code
request does not tell who is on the roll.
"""

from __future__ import annotations

import secrets
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from viche.errors import AuthenticationError, DeliveryError, Location, RateLimitedError
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


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


@dataclass(frozen=True)
class SmtpMailer:
    """Plain SMTP to a relay the operator runs (``viche serve --smtp-host``)."""

    host: str
    port: int
    sender: str
    timeout: float = 10.0

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"the mail server refused or did not answer ({type(exc).__name__})",
                where=Location(path=("smtp",)),
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
    ) -> None:
        self.board = board
        self.mailer = mailer
        self.ttl = ttl
        self.max_attempts = max_attempts
        self.resend_after = resend_after

    def __repr__(self) -> str:
        return f"OneTimeCodes(ttl={self.ttl}, max_attempts={self.max_attempts})"

    def send_code(self, uuid: str, login: str) -> int:
        """Mail a fresh code to ``login``'s address; returns its lifetime in seconds."""
        now = int(time.time())
        account = voter(self.board, uuid, login) if len(login) <= 255 else None
        if account is None:
            return self.ttl
        issued = code_issued_at(self.board, uuid, login)
        if issued is not None and now < issued + self.resend_after:
            raise RateLimitedError(
                f"a code was sent less than {self.resend_after} s ago",
                where=Location(path=("login",)),
            )
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
        return self.ttl

    def authenticate(self, uuid: str, login: str, proof: str) -> VoterAccount:
        refused = AuthenticationError(
            "unknown voter, or a wrong, used or expired code",
            where=Location(path=("authorization",)),
        )
        account = voter(self.board, uuid, login) if len(login) <= 255 else None
        stored = None
        if account is not None:
            stored = reserve_attempt(self.board, uuid, login, int(time.time()), self.max_attempts)
        if not check_secret(stored, proof) or account is None or stored is None:
            raise refused
        if not consume_code(self.board, uuid, login, stored):
            raise refused  # used at the same moment by another request
        return account
