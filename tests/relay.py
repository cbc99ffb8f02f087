"""A real SMTP peer on a loopback port (aiosmtpd) for the gateway's outgoing mail: a relay
that answers as scripted (451, 550, then 250) and keeps what it accepted, and an
auto-responder that answers every message it gets, as a badly made one would."""
from __future__ import annotations

import email
import email.policy
import smtplib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.support import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


class RelayHandler:
    """Replies to DATA from `script` in turn (then 250); keeps what it accepted."""

    def __init__(self) -> None:
        self.script: list[str] = []
        self.received: list[Received] = []
        self.attempts = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.attempts += 1
            reply = self.script.pop(0) if self.script else "250 2.0.0 OK"
            if reply.startswith("250"):
                data = envelope.original_content or envelope.content
                self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(data)))
            return reply


class Relay:
    def __init__(self, handler: RelayHandler) -> None:
        self.handler = handler
        self.port = free_port()
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port)

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def config(self, extra: str = "", security: str = "none") -> str:
        """The [outbound] section that sends through this relay."""
        return (f'[outbound]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {self.port}\nsecurity = "{security}"\n'
                f'from = "Hot-line <hotline@example.org>"\nretry_seconds = 0.05\n{extra}\n')  # fmt: skip


@pytest.fixture
def relay() -> Iterator[Relay]:
    server = Relay(RelayHandler())
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()


class Responder(RelayHandler):
    """Answers everything it accepts with a fresh message, no Auto-Submitted, no X-Loop,
    no threading headers, to the daemon's listener at `reply_to_port`; from the address
    written to, or with `rotating`, from a new one each time (`ticket+N@...`, as a
    ticketing system does)."""

    def __init__(self, reply_to_port: int, rotating: bool = False) -> None:
        super().__init__()
        self.port, self.rotating = reply_to_port, rotating
        self.replies = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        threading.Thread(target=self._answer, args=(envelope.mail_from, envelope.rcpt_tos[0]), daemon=True).start()
        return reply

    def _answer(self, to: str, me: str) -> None:
        if self.rotating:
            with self.lock:
                me = f"ticket+{len(self.received)}@responder.example.pl"
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = me, to, "Potwierdzenie otrzymania wiadomości"
        msg["Message-ID"] = email.utils.make_msgid(domain="responder.example.pl")
        msg.set_content("Dziękujemy za wiadomość. Odpowiemy wkrótce.\n")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
            smtp.send_message(msg)
        with self.lock:
            self.replies += 1
