"""The reply log in the database: entries appended in the caller's transaction, read back
in index order, and the tree state checkpoints are made of.

`append` locks the log head's row and must be the last lock a transaction takes: each
writer (routing, the outbox worker) holds it from its append to its commit, so indexes
follow commit order across daemons, and since a holder waits for nothing more, no two
writers can deadlock on it.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import structlog

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from gateway.register.checkpoint import Checkpoint, load_key, sign
from gateway.register.merkle import Frontier, leaf_data, leaf_hash
from storage.kinds import LogKind
from storage.models import LogEntry, LogHead, Ticket, table

HEAD = 1  # the id of the one log-head row (created by migration 0009)


@dataclass(frozen=True, slots=True)
class Record:
    """One event to log: which ticket (number for readers, id for joins), what, when, and its facts."""

    ticket_id: int | None
    ticket: str | None
    kind: LogKind
    at: datetime
    facts: dict[str, Any]

    def entry(self) -> dict[str, Any]:
        """The entry as JSON values: times in UTC, ISO 8601 with Z."""
        data = {**self.facts, "kind": str(self.kind), "ticket": self.ticket, "at": self.at}
        return json.loads(json.dumps(data, default=_utc_iso))


def _utc_iso(value: object) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"{type(value).__name__} is no JSON value")
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Line:
    """An entry as the log file and `register verify` see it."""

    index: int
    leaf_hash: str
    entry: dict[str, Any]


def append(session: Session, records: Sequence[Record]) -> None:
    if not records:
        return
    size, roots = session.execute(select(LogHead.size, LogHead.frontier).where(LogHead.id == HEAD).with_for_update()).one()
    frontier = Frontier(size, tuple(bytes.fromhex(r) for r in roots))
    rows = []
    for index, record in enumerate(records, start=size):
        entry = record.entry()
        leaf = leaf_hash(leaf_data(entry))
        frontier = frontier.append(leaf)
        rows.append({"index": index, "ticket_id": record.ticket_id, "kind": record.kind, "at": record.at,
                     "entry": entry, "leaf_hash": leaf.hex()})  # fmt: skip
    session.execute(insert(table(LogEntry)), rows)
    session.execute(update(LogHead).where(LogHead.id == HEAD)
                    .values(size=frontier.size, frontier=[r.hex() for r in frontier.roots]))  # fmt: skip


def snapshot(session: Session) -> None:
    """Read the log as of one instant, however long the reading takes: REPEATABLE READ on
    PostgreSQL (SQLite's transaction already is one). Call it before the first statement."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def head(session: Session) -> Frontier:
    """The committed tree state (no lock: a checkpoint of what others already see)."""
    size, roots = session.execute(select(LogHead.size, LogHead.frontier).where(LogHead.id == HEAD)).one()
    return Frontier(size, tuple(bytes.fromhex(r) for r in roots))


def signed_head(session: Session, origin: str, key: Ed25519PrivateKey) -> str:
    """The latest checkpoint, signed: what users receive and `register checkpoint` prints."""
    tree = head(session)
    return sign(Checkpoint(origin, tree.size, tree.root()), key)


def witness(session: Session, origin: str, key_file: str) -> str | None:
    """The checkpoint the mail composed now carries; None without a key file (no signed
    log configured). A key that cannot be used is logged, and the mail goes without."""
    if not Path(key_file).exists():
        return None
    try:
        return signed_head(session, origin, load_key(key_file))
    except ValueError as exc:
        structlog.get_logger("hotline.register").error("no checkpoint in outgoing mail", error=str(exc))
        return None


def lines(session: Session, after: int = -1, batch: int = 10_000) -> Iterator[Line]:
    """Every entry after index `after`, in index order, read a batch at a time."""
    while True:
        rows = session.execute(select(LogEntry.index, LogEntry.leaf_hash, LogEntry.entry)
                               .where(LogEntry.index > after).order_by(LogEntry.index).limit(batch)).all()  # fmt: skip
        yield from (Line(*row) for row in rows)
        if len(rows) < batch:
            return
        after = rows[-1][0]


def of_ticket(session: Session, number: str, size: int) -> list[Line]:
    """One ticket's entries among the first `size` (merged tickets keep theirs)."""
    stmt = (select(LogEntry.index, LogEntry.leaf_hash, LogEntry.entry).join(Ticket, Ticket.id == LogEntry.ticket_id)
            .where(Ticket.number == number, LogEntry.index < size).order_by(LogEntry.index))  # fmt: skip
    return [Line(*row) for row in session.execute(stmt)]


def leaves(session: Session, size: int) -> Iterator[bytes]:
    """The first `size` leaf hashes, in index order, streamed (through the Core connection:
    the ORM's per-row bookkeeping doubled the time for a million)."""
    stmt = select(LogEntry.leaf_hash).where(LogEntry.index < size).order_by(LogEntry.index)
    return map(bytes.fromhex, session.connection().execute(stmt.execution_options(yield_per=10_000)).scalars())
