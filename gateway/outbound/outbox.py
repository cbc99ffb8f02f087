"""The outbox: outgoing mail as a queue of durable states, as Postfix keeps its queue.

A row is written in the transaction of the change that causes it (pending), claimed by a
worker with a lease, and moves forward only: pending -> sent | failed. Temporary
failures put it back to pending with a later `next_try_at` (exponential backoff); a row
older than `give_up_hours` that still fails is marked failed.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, cast

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from gateway import lifecycle
from gateway.outbound.compose import Attachment as FileTuple
from gateway.outbound.drafts import Draft
from gateway.register import log
from storage.models import (
    Attachment,
    Blob,
    Direction,
    Event,
    Message,
    MessageKind,
    LogKind,
    OutboxEntry,
    OutboxKind,
    OutboxState,
    Ticket,
    table,
)

LEASE = timedelta(seconds=60)  # a claim's default length; the worker renews it while it sends


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to queue, finished or a draft the worker renders: what, to whom, and not
    before when."""

    kind: OutboxKind
    channel: str  # how it reaches its reader: email, or fax through the e-mail-to-fax gateway
    sender: str  # envelope MAIL FROM
    to: tuple[str, ...]
    message: EmailMessage | Draft
    key: str  # idempotency: the same key is never queued twice
    not_before: datetime

    @property
    def message_id(self) -> str:
        if isinstance(self.message, Draft):
            return self.message.message_id
        return str(self.message["Message-ID"]).strip().strip("<>")

    def row(self, now: datetime) -> dict[str, Any]:
        return {
            "idempotency_key": self.key,
            "kind": self.kind,
            "channel": self.channel,
            "sender": self.sender,
            "to_addr": ", ".join(self.to),
            "message_id": self.message_id,
            "payload": None if isinstance(self.message, Draft) else self.message.as_bytes(),
            "draft": self.message.to_json() if isinstance(self.message, Draft) else None,
            "state": OutboxState.PENDING,
            "attempts": 0,
            "created_at": now,
            "next_try_at": max(now, self.not_before),
        }


MESSAGE_KINDS = {OutboxKind.ACK: MessageKind.ACK, OutboxKind.ANSWER: MessageKind.ANSWER,
                 OutboxKind.NOTICE: MessageKind.NOTIFICATION, OutboxKind.REMINDER: MessageKind.NOTIFICATION,
                 OutboxKind.ESCALATION: MessageKind.NOTIFICATION}  # fmt: skip


def queue(session: Session, items: list[tuple[int | None, Outgoing, int | None]], now: datetime) -> None:
    """Store outgoing messages: (ticket id, message, the ticket message it sends or None).
    Without one, the outgoing message becomes an outbound message on its ticket (what the
    ticket shows); then the outbox row (what the worker sends). In the caller's transaction."""
    if not items:
        return
    messages = table(Message)
    new = [(t, o) for t, o, pk in items if t is not None and pk is None]
    made = iter(())
    if new:
        stmt = insert(messages).returning(messages.c.id, sort_by_parameter_order=True)
        made = iter(session.scalars(stmt, [_message_row(t, o, now) for t, o in new]).all())
    rows = []
    for ticket_id, out, pk in items:
        if ticket_id is not None and pk is None:
            pk = next(made)
        rows.append({**out.row(now), "ticket_id": ticket_id, "message_pk": pk})
    session.execute(insert(table(OutboxEntry)), rows)


def _message_row(ticket_id: int, out: Outgoing, now: datetime) -> dict[str, Any]:
    """The ticket's record of the message; a draft's subject and text come when it is rendered."""
    shown = {"from_addr": out.message.envelope.from_, "subject": "", "text": ""} if isinstance(out.message, Draft) \
        else shown_of(out.message)  # fmt: skip
    return {"ticket_id": ticket_id, "direction": Direction.OUT, "kind": MESSAGE_KINDS[out.kind], "channel": out.channel,
            "message_id": out.message_id, "sent_at": None, "at": now, "to_addrs": list(out.to), "headers": {}, **shown}  # fmt: skip


def shown_of(msg: EmailMessage) -> dict[str, str]:
    """What a ticket shows of a message we send: sender, subject and the plain text."""
    body = msg.get_body(("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    return {"from_addr": str(msg["From"] or ""), "subject": str(msg["Subject"] or ""), "text": text.rstrip()}


@dataclass(frozen=True, slots=True)
class Claim:
    """A row this worker holds until it records what happened; `payload` is None until its
    draft is rendered (gateway/outbound/drafts.py)."""

    id: int
    ticket_id: int | None
    message_pk: int | None
    kind: str
    channel: str
    sender: str
    to: str
    payload: bytes | None
    draft: dict[str, Any] | None
    attempts: int
    created_at: datetime

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in self.to.split(",") if a.strip()]


def claim_due(session: Session, now: datetime, limit: int = 50, lease: timedelta = LEASE) -> list[Claim]:
    """Due rows nobody holds, oldest due first; the lease is committed with the caller's
    transaction. PostgreSQL skips rows another instance is claiming; SQLite's BEGIN
    IMMEDIATE makes the whole claim exclusive."""
    free = or_(OutboxEntry.claimed_until.is_(None), OutboxEntry.claimed_until < now)
    rows = table(OutboxEntry)
    stmt = (
        select(rows.c.id, rows.c.ticket_id, rows.c.message_pk, rows.c.kind, rows.c.channel, rows.c.sender,
               rows.c.to_addr, rows.c.payload, rows.c.draft, rows.c.attempts, rows.c.created_at)
        .where(OutboxEntry.state == OutboxState.PENDING, OutboxEntry.next_try_at <= now, free)
        .order_by(OutboxEntry.next_try_at, OutboxEntry.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )  # fmt: skip
    claims = [Claim(*row) for row in session.execute(stmt)]
    if claims:
        ids = [c.id for c in claims]
        session.execute(update(OutboxEntry).where(OutboxEntry.id.in_(ids)).values(claimed_until=now + lease))
    return claims


def attachments_of(session: Session, inbox_ids: list[int]) -> dict[int, list[FileTuple]]:
    """The stored attachments of the messages received as these inbox rows, in their order:
    what a notification about them carries."""
    if not inbox_ids:
        return {}
    stmt = (select(Message.inbox_id, Attachment.filename, Attachment.content_type, Blob.data)
            .join(Attachment, Attachment.message_pk == Message.id).join(Blob, Blob.sha256 == Attachment.blob_sha256)
            .where(Message.inbox_id.in_(inbox_ids), Message.direction == Direction.IN).order_by(Attachment.id))  # fmt: skip
    found: dict[int, list[FileTuple]] = {i: [] for i in inbox_ids}
    for inbox_id, name, content_type, data in session.execute(stmt):
        found[cast(int, inbox_id)].append((name, content_type, data))  # the IN list made it an id
    return found


def store_rendered(session: Session, rendered: list[tuple[Claim, bytes, dict[str, str]]]) -> list[Claim]:
    """Keep each rendered draft's bytes (and what its ticket shows of it) unless bytes are
    stored already; returns the claims with the stored bytes, which every send of the row
    uses from now on."""
    rows, messages = table(OutboxEntry), table(Message)
    for claim, payload, shown in rendered:
        done = session.execute(update(rows).where(rows.c.id == claim.id, rows.c.payload.is_(None))
                               .values(payload=payload, draft=None).returning(rows.c.id)).first()  # fmt: skip
        if done and claim.message_pk is not None:
            session.execute(update(messages).where(messages.c.id == claim.message_pk).values(**shown))
    ids = [claim.id for claim, _, _ in rendered]
    stored = dict(session.execute(select(rows.c.id, rows.c.payload).where(rows.c.id.in_(ids))).all())
    return [replace(claim, payload=stored[claim.id], draft=None) for claim, _, _ in rendered]


def extend(session: Session, claims: list[Claim], until: datetime) -> None:
    """Renew the claims a worker still holds (rows not yet finished), so a worker that dies
    leaves them to another within one short lease, however long its round is."""
    ids = [c.id for c in claims]
    session.execute(update(OutboxEntry).where(OutboxEntry.id.in_(ids), OutboxEntry.state == OutboxState.PENDING,
                                              OutboxEntry.claimed_until.is_not(None)).values(claimed_until=until))  # fmt: skip


def record_sent(session: Session, claim: Claim, now: datetime) -> None:
    """Sent: the row is done; a message we wrote is dated when it left (an answer keeps
    the time the consultant gave it), and an acknowledgement acknowledges the ticket."""
    _finish(session, claim, state=OutboxState.SENT, sent_at=now, last_error=None)
    if claim.message_pk is not None and claim.kind != OutboxKind.ANSWER:
        session.execute(update(Message).where(Message.id == claim.message_pk).values(at=now))
    if claim.kind == OutboxKind.ACK and claim.ticket_id is not None:
        tickets = table(Ticket)
        status, acked_at = session.execute(
            select(tickets.c.status, tickets.c.acked_at).where(tickets.c.id == claim.ticket_id).with_for_update()
        ).one()
        if changes := lifecycle.acknowledged(lifecycle.Life(status, acked_at), now):
            session.execute(update(tickets).where(tickets.c.id == claim.ticket_id).values(**changes))
    _event(session, claim, now, "sent", to=claim.to, outbox_id=claim.id, kind=claim.kind)
    _log_sent(session, claim, now)


LOGGED = {OutboxKind.ACK: LogKind.ACK, OutboxKind.ANSWER: LogKind.ANSWER}


def _log_sent(session: Session, claim: Claim, now: datetime) -> None:
    """An acknowledgement or answer that left enters the reply log with the sha256 of the
    bytes sent, last in the transaction (log.append takes the log head's lock)."""
    if claim.kind not in LOGGED:
        return
    assert claim.payload is not None, "a draft is rendered before it is sent"
    number = None if claim.ticket_id is None else session.scalar(select(Ticket.number).where(Ticket.id == claim.ticket_id))
    facts = {"sha256": hashlib.sha256(claim.payload).hexdigest(), "to": claim.to, "outbox_id": claim.id}
    log.append(session, [log.Record(claim.ticket_id, number, LOGGED[OutboxKind(claim.kind)], now, facts)])


def record_retry(session: Session, claim: Claim, now: datetime, error: str, delay: timedelta) -> None:
    _finish(session, claim, next_try_at=now + delay, last_error=error)
    _event(session, claim, now, "delivery_deferred", to=claim.to, outbox_id=claim.id, error=error,
           retry_at=(now + delay).isoformat())  # fmt: skip


def record_failed(session: Session, claim: Claim, now: datetime, error: str) -> None:
    _finish(session, claim, state=OutboxState.FAILED, last_error=error)
    _event(session, claim, now, "delivery_failed", to=claim.to, outbox_id=claim.id, kind=claim.kind, error=error)


def _finish(session: Session, claim: Claim, **values: Any) -> None:
    session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.id == claim.id)
        .values(attempts=OutboxEntry.attempts + 1, claimed_until=None, **values)
    )


def _event(session: Session, claim: Claim, now: datetime, event: str, **data: Any) -> None:
    session.add(Event(ticket_id=claim.ticket_id, at=now, actor="outbox", kind=event, data=data))


def mark_bounced(session: Session, message_ids: list[str], reason: str, now: datetime) -> list[tuple[int, int | None, str]]:
    """A bounce names one of our messages: its delivery failed after all. Returns the
    (outbox id, ticket id, recipient) of the rows it marked."""
    if not message_ids:
        return []
    rows = session.execute(
        select(OutboxEntry.id, OutboxEntry.ticket_id, OutboxEntry.to_addr).where(
            OutboxEntry.message_id.in_(message_ids), OutboxEntry.state != OutboxState.FAILED
        )
    ).all()
    if rows:
        ids = [r.id for r in rows]
        session.execute(
            update(OutboxEntry).where(OutboxEntry.id.in_(ids)).values(state=OutboxState.FAILED, last_error=reason)
        )
    return [(r.id, r.ticket_id, r.to_addr) for r in rows]


def recent_by_address(session: Session, kind: OutboxKind, since: datetime) -> dict[str, int]:
    """How many messages of a kind were queued to each address since a time (loop
    protection): one query a batch, where counting per address and domain took one each."""
    stmt = (select(OutboxEntry.to_addr, func.count()).where(OutboxEntry.kind == kind, OutboxEntry.created_at >= since)
            .group_by(OutboxEntry.to_addr))  # fmt: skip
    return {to: int(n) for to, n in session.execute(stmt)}


@dataclass(frozen=True, slots=True)
class Waiting:
    id: int
    ticket: str | None
    kind: str
    channel: str
    to: str
    state: str
    attempts: int
    next_try_at: datetime
    last_error: str | None
    sent_at: datetime | None


def waiting(session: Session, everything: bool = False) -> list[Waiting]:
    """What waits to go out (pending), or every row with `everything`; oldest first."""
    stmt = (
        select(OutboxEntry, Ticket.number)
        .outerjoin(Ticket, Ticket.id == OutboxEntry.ticket_id)
        .order_by(OutboxEntry.next_try_at, OutboxEntry.id)
    )
    if not everything:
        stmt = stmt.where(OutboxEntry.state == OutboxState.PENDING)
    return [Waiting(r.id, number, r.kind, r.channel, r.to_addr, r.state, r.attempts, r.next_try_at, r.last_error,
                    r.sent_at)
            for r, number in session.execute(stmt)]  # fmt: skip
