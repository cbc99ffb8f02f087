"""The writes one batch of routed messages makes, collected and then stored in a few statements.

Routing decides in memory; `apply` writes tickets, messages, references, attachments,
events and inbox states with one multi-row statement per table, all in the caller's
transaction. This is where storing is batched: a row per message costs microseconds,
a round trip per row would cost a millisecond.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from gateway import lifecycle
from gateway.outbound import outbox
from gateway.outbound.outbox import Outgoing
from gateway.pipeline.threads import TicketRef
from gateway.register import log
from gateway.register.log import Record
from parsers.mime import Attachment as ParsedAttachment
from storage import blobs
from storage.models import (
    Attachment,
    Event,
    InboxEntry,
    Message,
    MessageRef,
    Direction,
    LogKind,
    MessageKind,
    PendingStep,
    Ticket,
    TicketStatus,
    table,
)

RECEIVED = {MessageKind.QUESTION: LogKind.QUESTION, MessageKind.FOLLOWUP: LogKind.FOLLOWUP}


@dataclass
class NewMessage:
    ticket: TicketRef
    row: dict[str, Any]
    refs: list[str]
    attachments: tuple[ParsedAttachment, ...]
    sends: Outgoing | None = None  # a consultant's answer: the outgoing mail that carries it


@dataclass
class ChangeSet:
    tickets: list[tuple[TicketRef, dict[str, Any]]] = field(default_factory=list)
    messages: list[NewMessage] = field(default_factory=list)
    events: list[tuple[TicketRef | None, dict[str, Any]]] = field(default_factory=list)
    status: dict[TicketRef, dict[str, Any]] = field(default_factory=dict)  # updates of stored tickets
    merges: list[tuple[TicketRef, TicketRef]] = field(default_factory=list)
    threads_grown: set[TicketRef] = field(default_factory=set)  # whose question may have changed
    inbox: list[tuple[int, dict[str, Any], TicketRef | None]] = field(default_factory=list)
    outgoing: list[tuple[TicketRef | None, Outgoing]] = field(default_factory=list)
    bounced: list[tuple[TicketRef | None, list[str], str, datetime]] = field(default_factory=list)
    owed: list[tuple[TicketRef, dict[str, Any]]] = field(default_factory=list)  # failed steps (gateway/pipeline/promises.py)
    logged: list[tuple[TicketRef, LogKind, datetime, dict[str, Any]]] = field(default_factory=list)  # reply log

    def mark(self) -> tuple[int, ...]:
        """A point to roll back to when routing one message fails halfway."""
        return tuple(len(x) for x in self._undoable())

    def rollback(self, mark: tuple[int, ...]) -> None:
        for rows, length in zip(self._undoable(), mark, strict=True):
            del rows[length:]

    def _undoable(self) -> tuple[list[Any], ...]:
        return (self.tickets, self.messages, self.events, self.merges, self.outgoing, self.bounced, self.owed,
                self.logged)

    def add(self, message: NewMessage) -> None:
        """A message for the ticket; one received from the user enters the reply log where it
        arrived among the batch's changes (its follow-up before the reopening it causes)."""
        self.messages.append(message)
        row = message.row
        if row["direction"] == Direction.IN and row["kind"] in RECEIVED:
            facts = {"inbox_id": row["inbox_id"], "message_id": row["message_id"]}  # inbox_id: see _log
            self.logged.append((message.ticket, RECEIVED[row["kind"]], row["at"], facts))

    def update(self, ticket: TicketRef, **values: Any) -> None:
        """Change a stored ticket's columns (merged with earlier changes in this batch); the
        batch sees a new status at once. Status and times come from gateway/lifecycle.py."""
        self.status.setdefault(ticket, {}).update(values)
        self._log_update(ticket, values)
        if "status" in values:
            ticket.status = values["status"]

    def _log_update(self, ticket: TicketRef, values: dict[str, Any]) -> None:
        """What the reply log must hold of a change: a close, a reopen (back to acknowledged
        from a later state), a new severity."""
        now = datetime.now(timezone.utc)
        new, old = values.get("status"), ticket.status
        if new == TicketStatus.CLOSED and old != TicketStatus.CLOSED:
            self.logged.append((ticket, LogKind.CLOSE, values.get("closed_at") or now, {}))
        elif new == TicketStatus.ACKNOWLEDGED and old not in (TicketStatus.NEW, TicketStatus.ACKNOWLEDGED):
            self.logged.append((ticket, LogKind.REOPEN, now, {"from": old}))
        if "severity" in values:
            self.logged.append((ticket, LogKind.SEVERITY, now, {"severity": values["severity"]}))

    def event(self, ticket: TicketRef | None, actor: str, kind: str, at: datetime, **data: Any) -> None:
        self.events.append((ticket, {"actor": actor, "kind": kind, "at": at, "data": data}))

    def apply(self, session: Session) -> None:
        self._insert_tickets(session)
        self._insert_messages(session)
        now = datetime.now(timezone.utc)
        for ticket, values in self.status.items():
            if ticket.id is not None:
                session.execute(update(Ticket).where(Ticket.id == ticket.id).values(**values, **_sla_look(values, now)))
        self._merge(session)
        self._outbox(session)
        if self.owed:
            session.execute(insert(table(PendingStep)), [{**row, "ticket_id": t.live().id} for t, row in self.owed])
        if self.events:
            rows = [{**e, "ticket_id": None if t is None else t.id} for t, e in self.events]  # history stays put
            session.execute(insert(table(Event)), rows)
        if self.inbox:
            rows = [{"id": i, **v, "ticket_id": None if t is None else t.live().id} for i, v, t in self.inbox]
            session.execute(update(InboxEntry), rows)  # by primary key, one statement

    def grown(self) -> set[int]:
        """Stored ids of the tickets whose thread gained messages: their question may have changed."""
        return {t.live().id for t in self.threads_grown if t.live().id is not None}  # type: ignore[misc]

    def _insert_tickets(self, session: Session) -> None:
        if not self.tickets:
            return
        tickets = table(Ticket)  # Core, not ORM, inserts: a tenth of the overhead per row
        stmt = insert(tickets).returning(tickets.c.id, sort_by_parameter_order=True)
        ids = session.scalars(stmt, [row for _, row in self.tickets]).all()
        for (ticket, _), new_id in zip(self.tickets, ids, strict=True):
            ticket.id = new_id

    def _insert_messages(self, session: Session) -> None:
        if not self.messages:
            return
        rows = [{**m.row, "ticket_id": m.ticket.id} for m in self.messages]
        messages = table(Message)
        stmt = insert(messages).returning(messages.c.id, sort_by_parameter_order=True)
        ids = list(session.scalars(stmt, rows))
        refs = [{"message_pk": pk, "ref": r} for m, pk in zip(self.messages, ids) for r in m.refs]
        if refs:
            session.execute(insert(table(MessageRef)), refs)
        data: dict[str, bytes] = {}
        attachments = []
        for m, pk in zip(self.messages, ids):
            for att in m.attachments:
                data[att.sha256] = att.data
                attachments.append(
                    {
                        "message_pk": pk,
                        "blob_sha256": att.sha256,
                        "filename": att.filename,
                        "content_type": att.content_type[:255],
                        "size": len(att.data),
                    }
                )
        if attachments:
            blobs.put(session, data)
            session.execute(insert(table(Attachment)), attachments)
        sends = [(m.ticket.id, m.sends, pk) for m, pk in zip(self.messages, ids) if m.sends is not None]
        outbox.queue(session, sends, datetime.now(timezone.utc))

    def _outbox(self, session: Session) -> None:
        """Outgoing mail joins the change that causes it; a bounce of ours fails its row."""
        now = datetime.now(timezone.utc)
        outbox.queue(session, [(None if t is None else t.live().id, o, None) for t, o in self.outgoing], now)
        for ticket, ids, reason, at in self.bounced:
            for outbox_id, _, to in outbox.mark_bounced(session, ids, reason, now):
                self.event(ticket, "outbox", "delivery_failed", at, outbox_id=outbox_id, to=to, error=reason)

    def _merge(self, session: Session) -> None:
        for other, target in self.merges:
            session.execute(update(Message).where(Message.ticket_id == other.id).values(ticket_id=target.live().id))
            ended = lifecycle.merged(lifecycle.Life(other.status))
            session.execute(update(Ticket).where(Ticket.id == other.id).values(merged_into_id=target.id, **ended))
            if other.status != TicketStatus.CLOSED:
                self.logged.append((other, LogKind.CLOSE, datetime.now(timezone.utc), {"merged_into": target.number}))
            self.threads_grown.add(target)


    def closed(self) -> list[TicketRef]:
        """The stored tickets this batch closed (not by a merge): their SLA results freeze."""
        return [t for t, kind, _, facts in self.logged if kind == LogKind.CLOSE and "merged_into" not in facts]

    def log(self, session: Session, more: Sequence[Record] = ()) -> None:
        """The reply log's entries (and `more`), after `apply` and last in the transaction:
        `log.append` takes the log head's lock, held to the commit. A message received is
        logged with the sha256 of its raw bytes as stored, on the ticket it ended in (a
        merge moves it)."""
        inbox_ids = {facts["inbox_id"] for _, kind, _, facts in self.logged if kind in RECEIVED.values()}
        stmt = select(InboxEntry.id, InboxEntry.raw_sha256).where(InboxEntry.id.in_(inbox_ids))
        raw = dict(session.execute(stmt).all()) if inbox_ids else {}
        records = []
        for ticket, kind, at, facts in self.logged:
            if kind in RECEIVED.values():
                ticket, facts = ticket.live(), {"sha256": raw[facts["inbox_id"]], "message_id": facts["message_id"]}
            records.append(Record(ticket.id, ticket.number, kind, at, facts))
        log.append(session, [*records, *more])


def _sla_look(values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A new status or severity may bring an SLA stage nearer (a resumed clock, a reopened
    cycle, a higher severity): the SLA job looks at the ticket again at once."""
    return {"sla_next_at": now} if {"status", "severity"} & values.keys() else {}
