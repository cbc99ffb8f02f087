"""Mailbox leases: one daemon polls an IMAP account at a time, however many share the store.

A lease row per account names its owner and when it expires, by the database's clock (the
daemons' own clocks may disagree). The holder renews it while it is healthy; when it dies,
the lease expires and another daemon takes it, with a generation one higher. Fencing: the
holder renews in the same transaction that commits what it fetched, and that renewal
requires its own generation and an unexpired lease, so a daemon paused past its lease
commits nothing. It also keeps a local deadline (monotonic, which runs on while a process
is stopped) and touches the mailbox only before it.

The accounts are spread over the daemons alive (each heartbeats in the `daemons` table): a
daemon that holds more than its fair share gives one lease back at a renewal and leaves it
to the others for a lease's time.
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storage.db import insert_ignoring_conflicts
from storage.models import DaemonInstance, MailboxLease, iso, table

RELEASED = datetime(1970, 1, 1, tzinfo=timezone.utc)  # the expiry of a lease given back
FORGET_AFTER = timedelta(days=1)  # a daemon not seen for this long leaves `hotline status`


class LeaseChange(StrEnum):
    ACQUIRED = "acquired"
    LOST = "lost"
    RELEASED = "released"  # at a stop, or given to another daemon to share the mailboxes


class LeaseLost(Exception):
    """The lease expired or went to another daemon: stop before touching the mailbox again."""


@dataclass(frozen=True, slots=True)
class Lease:
    account: str
    owner: str
    generation: int
    valid_until: float  # monotonic; a renewal may be in flight, so the store's expiry is never earlier
    renew_after: float  # monotonic; a third of the way through

    def check(self) -> None:
        """Raise LeaseLost when the lease may have expired (a pause, a store that did not answer)."""
        if time.monotonic() >= self.valid_until:
            raise LeaseLost(f"lease on {self.account} (generation {self.generation}) ran out")


@dataclass(frozen=True, slots=True)
class Holding:
    """A lease as `hotline status` and /health show it."""

    account: str
    owner: str
    generation: int
    acquired_at: datetime | None
    expires_at: datetime | None
    live: bool

    def as_json(self) -> dict[str, Any]:
        """/health's and `hotline status --json`'s object: who polls the account since when."""
        return {"account": self.account, "owner": self.owner if self.live else None, "generation": self.generation,
                "since": iso(self.acquired_at) if self.live else None, "expires_at": iso(self.expires_at) if self.live else None}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Seen:
    """A daemon as `hotline status` lists it."""

    instance: str
    started_at: datetime
    seen_at: datetime
    live: bool


def instance_name() -> str:
    """This daemon, as other daemons and the admin see it in the lease table."""
    return f"{socket.gethostname()}:{os.getpid()}"


def acquire(session: Session, account: str, owner: str, seconds: float) -> Lease | None:
    """Take the account's lease when it is free, expired or already ours; None when another
    daemon holds it, or is committing under it right now (its row is locked: skipped, not
    waited for; a holder stopped mid-transaction keeps it until the server ends its
    session, `hotline run`'s idle-in-transaction limit)."""
    started = time.monotonic()
    row = _locked(session, account)
    if row is None and session.scalar(select(MailboxLease.account).where(MailboxLease.account == account)) is None:
        # the account's first lease (an INSERT would wait for a holder committing under the row)
        insert_ignoring_conflicts(session, table(MailboxLease), [{"account": account, "owner": "", "generation": 0}])
        row = _locked(session, account)
    now = database_now(session)
    if row is None or (row.owner != owner and row.expires_at is not None and row.expires_at > now):
        return None
    row.owner, row.generation = owner, row.generation + 1
    row.acquired_at, row.expires_at = now, now + timedelta(seconds=seconds)
    session.flush()
    return _local(account, owner, row.generation, started, seconds)


def _locked(session: Session, account: str) -> MailboxLease | None:
    """The account's lease row, locked; None when it is missing or another daemon holds its lock."""
    return session.scalars(select(MailboxLease).where(MailboxLease.account == account)
                           .with_for_update(skip_locked=True)).one_or_none()  # fmt: skip


def renew(session: Session, lease: Lease, seconds: float) -> Lease:
    """Extend the lease, in the caller's transaction; LeaseLost (the caller rolls back) when
    it is no longer ours. In the transaction that stores fetched mail, this is the fence."""
    started = time.monotonic()
    now = database_now(session)
    renewed = session.scalar(
        update(MailboxLease)
        .where(MailboxLease.account == lease.account, MailboxLease.owner == lease.owner,
               MailboxLease.generation == lease.generation, MailboxLease.expires_at > now)
        .values(expires_at=now + timedelta(seconds=seconds)).returning(MailboxLease.generation)
    )  # fmt: skip
    if renewed is None:
        raise LeaseLost(f"lease on {lease.account} (generation {lease.generation}) taken over or expired")
    return _local(lease.account, lease.owner, lease.generation, started, seconds)


def release(session: Session, lease: Lease) -> None:
    """Give the lease back at a clean stop, so another daemon takes the mailbox at once."""
    session.execute(update(MailboxLease).where(MailboxLease.account == lease.account, MailboxLease.owner == lease.owner,
                                               MailboxLease.generation == lease.generation)
                    .values(expires_at=RELEASED))  # fmt: skip


def holdings(session: Session) -> list[Holding]:
    """Every account's lease, live or not, by account."""
    now = database_now(session)
    rows = session.scalars(select(MailboxLease).order_by(MailboxLease.account))
    return [Holding(r.account, r.owner, r.generation, r.acquired_at, r.expires_at,
                    r.expires_at is not None and r.expires_at > now) for r in rows]  # fmt: skip


def heartbeat(session: Session, instance: str, started_at: datetime, seconds: float) -> int:
    """Record this daemon as alive; returns how many are (seen within `seconds`, itself
    included). Daemons not seen for a day are forgotten."""
    now = database_now(session)
    row = session.get(DaemonInstance, instance)
    if row is None:
        session.add(DaemonInstance(instance=instance, started_at=started_at, seen_at=now))
    else:
        row.seen_at = now
    session.execute(delete(DaemonInstance).where(DaemonInstance.seen_at < now - FORGET_AFTER))
    session.flush()
    alive = select(func.count()).where(DaemonInstance.seen_at > now - timedelta(seconds=seconds))
    return int(session.scalar(alive) or 1)


def leave(session: Session, instance: str) -> None:
    """A clean stop: the others need not wait for the heartbeat to go stale."""
    session.execute(delete(DaemonInstance).where(DaemonInstance.instance == instance))


def fair_share(accounts: int, alive: int) -> int:
    """How many accounts one daemon should poll: all of them spread evenly, rounded up."""
    return -(-accounts // max(1, alive))


def daemons(session: Session, seconds: float) -> list[Seen]:
    """The daemons that heartbeat recently, newest start first."""
    now = database_now(session)
    rows = session.scalars(select(DaemonInstance).order_by(DaemonInstance.started_at.desc()))
    return [Seen(r.instance, r.started_at, r.seen_at, r.seen_at > now - timedelta(seconds=seconds)) for r in rows]


def database_now(session: Session) -> datetime:
    """The time by the database's clock on PostgreSQL (shared by every daemon; the actual
    time, not the transaction's start); SQLite is on this machine, so its clock is ours."""
    if session.get_bind().dialect.name == "postgresql":
        return session.scalars(select(func.clock_timestamp())).one().astimezone(timezone.utc)
    return datetime.now(timezone.utc)


def _local(account: str, owner: str, generation: int, started: float, seconds: float) -> Lease:
    """The local view of a lease granted for `seconds` by a request sent at `started`: the
    store's expiry counts from later than that, so the local deadline comes first."""
    return Lease(account, owner, generation, started + seconds, started + seconds / 3)
