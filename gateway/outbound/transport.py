"""Handing a finished message to the world: an SMTP relay, or a local Maildir.

A transport only says how the hand-over went: it returns, or raises TemporaryFailure
(try again later: 4xx, connection refused, time-out) or PermanentFailure (5xx: the
relay will never take it). Retrying and bookkeeping are the outbox worker's job.
"""
from __future__ import annotations

import mailbox
import smtplib
import socket
import ssl
from pathlib import Path
from typing import Protocol

import structlog

from gateway.settings import OutboundSection

log = structlog.get_logger("hotline.transport")


class DeliveryError(Exception):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TemporaryFailure(DeliveryError):
    """The relay may take the message later."""


class PermanentFailure(DeliveryError):
    """The relay refused the message for good."""


class Transport(Protocol):
    def send(self, sender: str, recipients: list[str], data: bytes) -> None: ...

    def close(self) -> None: ...


class MaildirDrop:
    """The embedded default: each message a file in a Maildir's new/, written atomically
    (tmp/, then rename), so a newcomer can read what the gateway would have sent."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def send(self, sender: str, recipients: list[str], data: bytes) -> None:
        try:
            mailbox.Maildir(self.path, create=True).add(data)
        except OSError as exc:  # a full disk heals; the message waits
            raise TemporaryFailure(f"cannot write to Maildir {self.path}: {exc}") from exc

    def close(self) -> None:
        pass


class SmtpRelay:
    """One connection, opened on first use and kept for a run of messages."""

    def __init__(self, config: OutboundSection) -> None:
        self.config = config
        self.conn: smtplib.SMTP | None = None

    def send(self, sender: str, recipients: list[str], data: bytes) -> None:
        """All recipients or none: a message refused for some is retried (or failed) whole,
        since the outbox keeps one state per message."""
        try:
            conn = self.conn or self._connect()
            refused = conn.sendmail(sender, recipients, data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = min(exc.recipients.values(), default=(450, b"refused"))
            raise _by_code(code, f"refused: {code} {_text(reply)}") from exc
        except smtplib.SMTPAuthenticationError as exc:  # our config, not the message: keep it
            self._drop()
            raise TemporaryFailure(f"relay refused our login: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise _by_code(exc.smtp_code, f"relay said {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, time-out, TLS trouble
            self._drop()
            raise TemporaryFailure(f"relay {self.config.host}:{self.config.port} unreachable: {exc}") from exc
        if refused:  # the others have it: sending again would give them a second copy
            log.warning("some recipients refused", refused={k: v[0] for k, v in refused.items()})

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        timeout = cfg.timeout_seconds
        conn: smtplib.SMTP
        if cfg.security == "tls":
            conn = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=timeout, context=cfg.tls_context())
        else:
            conn = smtplib.SMTP(cfg.host, cfg.port, timeout=timeout, local_hostname=_helo_name())
            if cfg.security == "starttls":
                conn.starttls(context=cfg.tls_context())
        password = cfg.password()
        if cfg.username is not None and password is not None:
            conn.login(cfg.username, password)
        self.conn = conn
        return conn

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (smtplib.SMTPException, OSError, ssl.SSLError):
                pass
            self._drop()


def open_transport(config: OutboundSection) -> Transport:
    return SmtpRelay(config) if config.transport == "smtp" else MaildirDrop(config.maildir)


def _by_code(code: int, message: str) -> DeliveryError:
    return PermanentFailure(message, code) if 500 <= code < 600 else TemporaryFailure(message, code)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _helo_name() -> str:
    return socket.getfqdn() or "localhost"
