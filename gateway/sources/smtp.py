"""The SMTP listener: an aiosmtpd handler as thin as a source can be, bytes in, inbox row out.

250 is said only after the raw bytes are committed; 451 when the store cannot take them,
so the sending MTA keeps the message and retries. Messages whose DATA ends while another
group is being committed (or within GROUP_WINDOW) are committed together, one
transaction and one fsync for all (group commit, as databases do for their log); each
gets its 250 after that commit, and every one of them 451 if it fails. Only configured recipients are
accepted (550 otherwise): never an open relay. STARTTLS is offered when a TLS context
is given. `stop()` lets stores already under way answer before the port closes, so a
restart does not make senders re-send what was committed.

Connections are capped in total and per peer (421 and closed above the cap) and an idle
one is dropped after `idle_seconds`, so that idle connections cannot take every file
descriptor; what is refused is logged at most once per LOG_EVERY seconds, with a count.
"""
from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from sqlalchemy.orm import Session, sessionmaker

from gateway.intake import inbox
from gateway.senders import covering_entry
from gateway.settings import SmtpServerSection
from storage.db import transaction

log = structlog.get_logger("hotline.smtp")
LOG_EVERY = 10.0  # seconds between two log lines about refused connections
TOO_MANY = b"421 4.7.0 too many connections, try again later\r\n"
GROUP_WINDOW = 0.002  # seconds the first message of a group waits for others to join it
GROUP_MAX = 100  # messages in one commit
GROUP_MAX_BYTES = 32 * 1024 * 1024  # raw bytes in one commit (one message alone may be larger)


class GroupCommit:
    """Stores deliveries in groups: one committer at a time, in a thread; what arrives
    meanwhile forms the next group. Only the listener's event loop calls `submit`."""

    def __init__(self, store: Callable[[list[inbox.Delivery]], list[inbox.Accepted]]) -> None:
        self.store = store
        self.waiting: list[tuple[inbox.Delivery, asyncio.Future[inbox.Accepted]]] = []
        self.running = False

    async def submit(self, delivery: inbox.Delivery) -> inbox.Accepted:
        """The delivery's inbox row once committed; raises what the commit of its group raised."""
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((delivery, done))
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._commit_all())
        return await done

    async def _commit_all(self) -> None:
        try:
            await asyncio.sleep(GROUP_WINDOW)
            while self.waiting:
                group = self._next_group()
                try:  # in a thread: a slow commit must not stall the SMTP sessions
                    accepted = await asyncio.get_running_loop().run_in_executor(None, self.store, [d for d, _ in group])
                except Exception as exc:
                    for _, done in group:
                        done.set_exception(exc)
                else:
                    for (_, done), result in zip(group, accepted, strict=True):
                        done.set_result(result)
        finally:
            self.running = False

    def _next_group(self) -> list[tuple[inbox.Delivery, asyncio.Future[inbox.Accepted]]]:
        size, taken = 0, 0
        for delivery, _ in self.waiting[:GROUP_MAX]:
            if taken and size + len(delivery.raw) > GROUP_MAX_BYTES:
                break
            size, taken = size + len(delivery.raw), taken + 1
        group, self.waiting = self.waiting[:taken], self.waiting[taken:]
        return group


class InboxHandler:
    """aiosmtpd hooks: RCPT checks the recipient, DATA stores the message in the inbox."""

    def __init__(
        self, factory: sessionmaker[Session], config: SmtpServerSection, on_stored: Callable[[], None]
    ) -> None:
        self.factory = factory
        self.recipients = frozenset(r.lower() for r in config.recipients)
        self.channels: Mapping[str, str] = {k.lower(): v for k, v in config.channel_by_recipient.items()}
        self.on_stored = on_stored
        self.groups = GroupCommit(self.store)
        self._state = threading.Condition()
        self._in_flight = 0
        self._closing = False

    def accepts(self, address: str) -> bool:
        return covering_entry(address, self.recipients, plus_detail=True) is not None

    def channel_for(self, recipients: Iterable[str]) -> str | None:
        """The channel of the first recipient with one (exact address before `@domain`)."""
        for address in recipients:
            if (entry := covering_entry(address, self.channels, plus_detail=True)) is not None:
                return self.channels[entry]
        return None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if not self.accepts(address):
            log.info("recipient refused", rcpt=address, peer=str(session.peer))
            return f"550 5.7.1 <{address}>: recipient not accepted here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self._enter():
            return "421 4.3.2 shutting down, try again later"
        try:
            return await self._store_and_answer(session, envelope)
        finally:
            self._leave()

    async def _store_and_answer(self, session: Any, envelope: Any) -> str:
        delivery = inbox.Delivery(
            envelope.original_content, "smtp", self.channel_for(envelope.rcpt_tos), datetime.now(timezone.utc)
        )
        try:
            accepted = await self.groups.submit(delivery)
        except Exception as exc:  # the store is down or full: the sender must keep the message
            log.error("cannot store message", error=f"{type(exc).__name__}: {exc}".splitlines()[0], peer=str(session.peer))
            return "451 4.3.0 cannot store the message now, try again later"
        self.on_stored()
        log.info(
            "message stored", inbox_id=accepted.inbox_id, duplicate=accepted.duplicate,
            size=len(delivery.raw), channel=delivery.channel, peer=str(session.peer),
        )  # fmt: skip
        return f"250 2.0.0 queued as inbox #{accepted.inbox_id}"

    def store(self, deliveries: list[inbox.Delivery]) -> list[inbox.Accepted]:
        """Commit a group's raw bytes; returning normally means they are durable."""
        with transaction(self.factory) as session:
            return inbox.accept_many(session, deliveries)

    def _enter(self) -> bool:
        with self._state:
            if self._closing:
                return False
            self._in_flight += 1
            return True

    def _leave(self) -> None:
        with self._state:
            self._in_flight -= 1
            self._state.notify_all()

    def drain(self, timeout: float) -> bool:
        """Refuse new messages (421) and wait for stores under way; True if none is left."""
        deadline = time.monotonic() + timeout
        with self._state:
            self._closing = True
            while self._in_flight and (left := deadline - time.monotonic()) > 0:
                self._state.wait(left)
            return self._in_flight == 0


class Throttled:
    """A warning logged at most once per `every` seconds, with how often it happened since:
    a flood of refused connections must not flood the journal too."""

    def __init__(self, event: str, every: float = LOG_EVERY) -> None:
        self.event, self.every = event, every
        self.count, self.last = 0, float("-inf")

    def __call__(self, **fields: Any) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.last >= self.every:
            log.warning(self.event, times=self.count, seconds=self.every, **fields)
            self.count, self.last = 0, now


class ConnectionGate:
    """Open connections in total and per peer address; only the listener's event loop
    thread uses it, so it needs no lock."""

    def __init__(self, total: int, per_peer: int) -> None:
        self.total, self.per_peer = total, per_peer
        self.open: Counter[str] = Counter()
        self.refused = Throttled("SMTP connections refused: too many")

    def enter(self, peer: str) -> bool:
        if sum(self.open.values()) >= self.total or self.open[peer] >= self.per_peer:
            self.refused(peer=peer, open=sum(self.open.values()), from_peer=self.open[peer])
            return False
        self.open[peer] += 1
        return True

    def leave(self, peer: str) -> None:
        self.open[peer] -= 1
        if self.open[peer] <= 0:
            del self.open[peer]


class CappedSMTP(SMTP):
    """aiosmtpd's SMTP session, turned away with 421 when the gate is full."""

    def __init__(self, handler: Any, gate: ConnectionGate, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.gate, self.peer_host = gate, ""
        self.admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self.peer_host = str(peer[0]) if peer else "?"
        self.admitted = self.gate.enter(self.peer_host)
        if not self.admitted:
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(TOO_MANY)
            transport.close()
            return
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self.admitted:
            self.gate.leave(self.peer_host)
            super().connection_lost(error)


class Listener(Controller):
    """The aiosmtpd controller with capped sessions and a throttled accept error."""

    def __init__(self, handler: InboxHandler, gate: ConnectionGate, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.gate = gate
        self.out_of_fds = Throttled("SMTP listener cannot accept: out of file descriptors")
        self.loop.set_exception_handler(self._loop_error)

    def factory(self) -> SMTP:
        return CappedSMTP(self.handler, self.gate, **self.SMTP_kwargs)

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio reports a failing accept() (EMFILE) on every try: tens of thousands of
        lines a minute. Those are throttled; anything else is reported as asyncio would."""
        if str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            self.out_of_fds(error=str(context.get("exception")))
        else:
            loop.default_exception_handler(context)


def start(
    factory: sessionmaker[Session],
    config: SmtpServerSection,
    on_stored: Callable[[], None],
    tls_context: ssl.SSLContext | None = None,
) -> Controller:
    """Listen on config.listen in a thread of its own; returns once connections are taken.

    tls_context (a server-side context with the certificate loaded) offers STARTTLS;
    TLS stays optional for senders, as for any MX.
    """
    host, port = config.host_port
    controller = Listener(
        InboxHandler(factory, config, on_stored),
        ConnectionGate(config.max_connections, config.max_connections_per_peer),
        hostname=host,
        port=port,
        data_size_limit=config.max_message_bytes,
        decode_data=False,
        server_hostname=socket.getfqdn(),  # once, not a DNS lookup per connection
        tls_context=tls_context,
        require_starttls=False,
        timeout=config.idle_seconds,
    )
    controller.start()
    return controller


def stop(controller: Controller, timeout: float = 10.0) -> None:
    """Close the listener without cutting short a store under way: new messages get 421
    (the sender retries later), messages being committed still get their 250."""
    handler = controller.handler
    if isinstance(handler, InboxHandler) and not handler.drain(timeout):
        log.warning("stopping with stores still under way", timeout=timeout)
    controller.stop()
