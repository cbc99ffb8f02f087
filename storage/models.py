"""The durable state of the gateway: typed SQLAlchemy 2.0 models.

Every time column stores UTC; the inbox and the outbox are queues of durable states,
as in Postfix: a row only ever moves forward (new -> processed | quarantined,
pending -> sent | failed).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.kinds import (  # noqa: F401  (re-exported: the models' vocabulary)
    Channel, Direction, InboxState, KbKind, LogKind, MessageKind, OutboxKind, OutboxState, PromiseStep, TicketStatus,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as naive UTC; gives them back aware, whatever the backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} refused: times are stored in UTC")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(value: datetime | date | None) -> str | None:
    """A stored time as the JSON contracts write it: ISO 8601 in UTC with "Z" (a date as is)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return value.isoformat()


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class Blob(Base):
    """Content-addressed bytes: a raw message or an attachment, stored once."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class InboxEntry(Base):
    """One received message: its raw bytes are committed before the source is told "done"."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("message_id", "content_hash", name="uq_inbox_dedupe"),
        Index("ix_inbox_state", "state", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    size: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str] = mapped_column(String(998))
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(10))
    received_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(12), default=InboxState.NEW)
    action: Mapped[str | None] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # routings begun, see 0006

    raw: Mapped[Blob] = relationship()
    ticket: Mapped[Ticket | None] = relationship()


class TicketCounter(Base):
    """Per-year sequence for ticket numbers; the row lock serialises concurrent instances."""

    __tablename__ = "ticket_counters"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_sla_next", "sla_next_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=TicketStatus.NEW)
    channel: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[int] = mapped_column(Integer, default=4)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    assignee: Mapped[str | None] = mapped_column(Text)  # a consultant's address (#assign)
    language: Mapped[str] = mapped_column(String(5), default="pl")
    user_name: Mapped[str | None] = mapped_column(Text)
    office: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)
    form_date: Mapped[date | None] = mapped_column(Date)
    return_emails: Mapped[list[str]] = mapped_column(default=list)
    return_faxes: Mapped[list[str]] = mapped_column(default=list)
    return_phones: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime]
    effective_received_at: Mapped[datetime | None]
    ack_due_at: Mapped[datetime | None]
    acked_at: Mapped[datetime | None]
    first_answer_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    plan: Mapped[str | None] = mapped_column(String(100))
    sla_terms: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the plan as it stood at receipt (gateway/sla)
    sla_sent: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # clock -> [cycle, stage]: the last reminder queued
    sla_next_at: Mapped[datetime | None]  # when the SLA job must look again (NULL: nothing can come due)

    messages: Mapped[list[Message]] = relationship(
        back_populates="ticket", order_by="Message.id", foreign_keys="Message.ticket_id"
    )


class Message(Base):
    """A message on a ticket, in or out; its text is what the register and consultants read."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id"))
    direction: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(12))
    channel: Mapped[str] = mapped_column(String(10))
    message_id: Mapped[str] = mapped_column(String(998), index=True)
    sent_at: Mapped[datetime | None]  # the Date header
    at: Mapped[datetime]  # when we received or sent it
    from_addr: Mapped[str] = mapped_column(Text, default="")
    to_addrs: Mapped[list[str]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="messages", foreign_keys=[ticket_id])
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.id")


class MessageRef(Base):
    """An id a message names in In-Reply-To/References: lets a parent find its early child."""

    __tablename__ = "message_refs"
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    ref: Mapped[str] = mapped_column(String(998), primary_key=True, index=True)


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    filename: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)


class Event(Base):
    """Append-only audit trail: who did what to which ticket, when."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutboxEntry(Base):
    """A message waiting to go out; written in the transaction that causes it.

    `payload` is the finished message, Message-ID included, so a re-send after a crash
    between sending and committing is the same message. Routing stores a `draft` instead
    (gateway/outbound/drafts.py): the worker renders it at its first claim into `payload`.
    A worker claims a row by setting `claimed_until` (a lease): a worker that dies
    mid-send frees it when the lease ends.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_try_at"),
        Index("ix_outbox_recent", "to_addr", "kind", "created_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    kind: Mapped[str] = mapped_column(String(10), default=OutboxKind.ACK)
    channel: Mapped[str] = mapped_column(String(10))
    sender: Mapped[str] = mapped_column(Text, default="")  # the envelope MAIL FROM
    to_addr: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(998), default="", index=True)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    draft: Mapped[dict[str, Any] | None] = mapped_column(deferred=True)
    state: Mapped[str] = mapped_column(String(10), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_try_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class PendingStep(Base):
    """An acknowledgement or notification owed: its step failed when the message was routed
    (a template error, a bug), so it is tried again until it succeeds (`done_at`). The
    ticket stands meanwhile; `due_at` is the deadline the promise still has to meet."""

    __tablename__ = "pending_steps"
    __table_args__ = (
        UniqueConstraint("inbox_id", "step", name="uq_pending_step"),
        Index("ix_pending_due", "done_at", "next_try_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inbox.id"))
    step: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    next_try_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None]


class ImapState(Base):
    """Where each IMAP account's sync stands; a new UIDVALIDITY restarts it from the top."""

    __tablename__ = "imap_state"
    account: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_sync_at: Mapped[datetime | None]


class MailboxLease(Base):
    """Which daemon polls an IMAP account (gateway/sources/leases.py): one row per account,
    held until `expires_at` and renewed while the poller is healthy. `generation` grows at
    every take-over; the holder checks it in the transaction that commits what it fetched."""

    __tablename__ = "mailbox_leases"
    account: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), default="")
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    acquired_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class DaemonInstance(Base):
    """A running `hotline run`, seen by the others: its heartbeat (by the database's clock)
    tells how many share the mailboxes, and `hotline status` lists them."""

    __tablename__ = "daemons"
    instance: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime]


class LogEntry(Base):
    """One reply-log entry, a leaf of the Merkle tree (gateway/register): written in the
    transaction of the change it records, never changed afterwards. `index` counts from 0
    in commit order (the log head's row lock hands them out)."""

    __tablename__ = "reply_log"
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime]
    entry: Mapped[dict[str, Any]] = mapped_column(JSON)
    leaf_hash: Mapped[str] = mapped_column(String(64))


class LogHead(Base):
    """The one row that orders the reply log: its size and the Merkle frontier (hex subtree
    roots, largest first), so a checkpoint costs no read of the log. Writers lock it last
    in their transaction, so two daemons append in commit order and never deadlock."""

    __tablename__ = "reply_log_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[list[str]] = mapped_column(JSON)


class KbDoc(Base):
    """One entry of the knowledge base (gateway/knowledge): a documentation section (from a
    file, `source` and `stamp` tell when it must be read again) or an answered ticket's
    question and answer (`message_pk`: the answer; a #nokb answer is a `private` marker)."""

    __tablename__ = "kb_docs"
    __table_args__ = (Index("ix_kb_docs_source", "source"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    ref: Mapped[str] = mapped_column(String(300))  # "user-guide#3", "admin-guide#kopie", "HOT-2026-000123"
    document: Mapped[str] = mapped_column(Text, default="")  # the document's title, or the ticket's subject
    title: Mapped[str] = mapped_column(Text, default="")  # the section's heading
    location: Mapped[str] = mapped_column(String(200), default="")  # "page=3", an anchor, or ""
    url: Mapped[str | None] = mapped_column(Text)
    excerpt: Mapped[str] = mapped_column(Text, default="")  # the first lines, shown to consultants
    source: Mapped[str | None] = mapped_column(Text)  # the file it was read from
    stamp: Mapped[str | None] = mapped_column(String(60))  # the file's size and mtime when read
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), unique=True)
    at: Mapped[datetime | None]  # when the ticket was answered
    length: Mapped[int] = mapped_column(Integer, default=0)  # number of terms (BM25's document length)


class KbTerm(Base):
    """The inverted index: a term (gateway/knowledge/terms.py), an entry holding it and how
    often, with the entry's kind and length copied in so that ranking reads the primary key
    alone: one range of it per query term, no join (the table is the key on SQLite, WITHOUT
    ROWID; the key INCLUDEs tf and length on PostgreSQL, an index-only scan: said in the
    migration only, since naming a postgresql_ option here loads that dialect into every
    SQLite `hotline ingest -`)."""

    __tablename__ = "kb_terms"
    __table_args__ = (PrimaryKeyConstraint("kind", "term", "doc_id"),
                      Index("ix_kb_terms_doc", "doc_id"), {"sqlite_with_rowid": False})  # fmt: skip
    kind: Mapped[str] = mapped_column(String(10))
    term: Mapped[str] = mapped_column(String(40))
    doc_id: Mapped[int] = mapped_column(ForeignKey("kb_docs.id", ondelete="CASCADE"))
    tf: Mapped[int] = mapped_column(Integer)
    length: Mapped[int] = mapped_column(Integer)  # the entry's number of terms (BM25's document length)


class KbStats(Base):
    """BM25's collection statistics per kind (entries and their total length), kept by
    gateway/knowledge/index.py as entries come and go: counting 100,000 entries for each
    suggestion cost more than the ranking itself."""

    __tablename__ = "kb_stats"
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    docs: Mapped[int] = mapped_column(Integer, default=0)
    length: Mapped[int] = mapped_column(BigInteger, default=0)


def table(model: type[Base]) -> Table:
    """The Core table of a model, for multi-row statements without ORM bookkeeping."""
    return cast(Table, model.__table__)
