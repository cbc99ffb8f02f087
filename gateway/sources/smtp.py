"""The SMTP listener: an aiosmtpd handler as thin as a source can be, bytes in, inbox row out.

250 is said only after the raw bytes are committed; 451 when the store cannot take them,
so the sending MTA keeps the message and retries. Only configured recipients are
accepted (550 otherwise): never an open relay.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import structlog
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from gateway import inbox
from gateway.settings import SmtpServerSection
from storage.db import transaction

log = structlog.get_logger("hotline.smtp")


class InboxHandler:
    def __init__(
        self, factory: sessionmaker[Session], config: SmtpServerSection, on_stored: Callable[[], None]
    ) -> None:
        self.factory = factory
        self.recipients = {r.lower() for r in config.recipients}
        self.channels = {k.lower(): v for k, v in config.channel_by_recipient.items()}
        self.on_stored = on_stored

    def accepts(self, address: str) -> bool:
        address = address.lower()
        return address in self.recipients or "@" + address.rpartition("@")[2] in self.recipients

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if not self.accepts(address):
            log.info("recipient refused", rcpt=address, peer=str(session.peer))
            return f"550 5.7.1 <{address}>: recipient not accepted here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        channel = next((self.channels[r.lower()] for r in envelope.rcpt_tos if r.lower() in self.channels), None)
        delivery = inbox.Delivery(envelope.original_content, "smtp", channel, datetime.now(timezone.utc))
        try:
            accepted = await asyncio.get_running_loop().run_in_executor(None, self.store, delivery)
        except Exception as exc:  # the store is down or full: the sender must keep the message
            log.error("cannot store message", error=f"{type(exc).__name__}: {exc}")
            return "451 4.3.0 cannot store the message now, try again later"
        self.on_stored()
        log.info("message stored", inbox_id=accepted.inbox_id, duplicate=accepted.duplicate)
        return f"250 2.0.0 queued as inbox #{accepted.inbox_id}"

    def store(self, delivery: inbox.Delivery) -> inbox.Accepted:
        with transaction(self.factory) as session:
            return inbox.accept(session, delivery)


def start(factory: sessionmaker[Session], config: SmtpServerSection, on_stored: Callable[[], None]) -> Controller:
    host, port = config.host_port
    controller = Controller(
        InboxHandler(factory, config, on_stored),
        hostname=host,
        port=port,
        data_size_limit=config.max_message_bytes,
        decode_data=False,
    )
    controller.start()
    return controller
