"""Prometheus metrics and a health check, served on a loopback port.

/metrics is Prometheus' text format; /health answers 200 with a JSON summary when the
store is reachable, every IMAP account is polled (here, or by the daemon holding its lease),
every source thread runs, every job's last round succeeded and no promise is at risk (no
acknowledgement or notification owed, no outbox row overdue), 503 otherwise; it names the
lease holders. The counts
of what went wrong (failed outbox rows, quarantined messages, OCR timeouts) come from the
store, so they include what `hotline ingest` did outside the daemon; so do the open tickets
per severity and the SLA breaches per clock (each escalation the SLA job recorded).
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.settings import SEVERITIES
from gateway.sla.clocks import Clock

from storage.models import (
    Event,
    InboxEntry,
    InboxState,
    OutboxEntry,
    OutboxKind,
    OutboxState,
    PendingStep,
    PromiseStep,
    Ticket,
    TicketStatus,
)

OVERDUE_AFTER = timedelta(minutes=15)  # a due outbox row not sent for this long: the worker is stuck
OCR_TIMEOUT_MARK = "timed out in OCR"  # in a needs_review event's reasons (parsers/reading.py)


@dataclass(frozen=True, slots=True)
class Problems:
    """What the store says went wrong, as /health shows it."""

    owed: dict[str, int]  # acknowledge/notify steps that failed and are not yet kept
    oldest_owed_due: datetime | None  # the earliest deadline among owed acknowledgements
    outbox_failed: int
    outbox_overdue: int  # pending, and past its ticket's ack deadline, long past its next try, or unrenderable
    quarantined: int
    ocr_timeouts: int  # events of tickets with a page whose OCR timed out

    @property
    def at_risk(self) -> list[str]:
        """Why /health is not ok: promises to users that are not being kept."""
        reasons = [f"{count} {step} step(s) failed, retried until they succeed" for step, count in self.owed.items() if count]
        if self.outbox_overdue:
            reasons.append(f"{self.outbox_overdue} outbox row(s) overdue")
        return reasons

Health = Callable[[], tuple[bool, dict[str, Any]]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.backlog_count = 0
        self.messages = Counter(
            "hotline_messages", "Messages taken in, by source and action", ["source", "action"], registry=self.registry
        )
        self.outbox = Counter(
            "hotline_outbox_deliveries", "Outgoing messages handed over, by outcome", ["outcome"], registry=self.registry
        )
        self.errors = Counter("hotline_errors", "Errors, by component", ["component"], registry=self.registry)
        self.backlog = Gauge("hotline_inbox_backlog", "Stored messages not yet routed", registry=self.registry)
        self.oldest = Gauge(
            "hotline_inbox_oldest_age_seconds", "Age of the oldest unrouted message", registry=self.registry
        )
        self.since_sync = Gauge(
            "hotline_imap_seconds_since_sync", "Seconds since each account's last successful sync", ["account"],
            registry=self.registry,
        )  # fmt: skip

        self.lease_changes = Counter("hotline_mailbox_lease_changes", "Mailbox leases acquired, lost or released here",
                                     ["account", "change"], registry=self.registry)  # fmt: skip
        self.lease_held = Gauge("hotline_mailbox_lease_held", "1 while this daemon polls the account", ["account"],
                                registry=self.registry)  # fmt: skip
        self.thread_restarts = Counter("hotline_thread_restarts", "Source threads that failed and were started again",
                                       ["thread"], registry=self.registry)  # fmt: skip
        self.owed = Gauge("hotline_pending_steps", "Acknowledge/notify steps that failed and are owed, by step", ["step"],
                          registry=self.registry)  # fmt: skip
        self.outbox_problems = Gauge("hotline_outbox_problem_rows", "Outbox rows failed, or overdue", ["state"],
                                     registry=self.registry)  # fmt: skip
        self.quarantined = Gauge("hotline_quarantined_messages", "Messages quarantined (raw bytes kept)",
                                 registry=self.registry)  # fmt: skip
        self.ocr_timeouts = Gauge("hotline_ocr_timeouts", "Tickets flagged because an OCR page timed out",
                                  registry=self.registry)  # fmt: skip
        self.open_tickets = Gauge("hotline_open_tickets", "Open tickets (not closed, not merged), by severity",
                                  ["severity"], registry=self.registry)  # fmt: skip
        self.sla_breaches = Gauge("hotline_sla_breaches", "SLA breaches escalated, by clock", ["clock"],
                                  registry=self.registry)  # fmt: skip
        self.problems: Problems | None = None

    def refresh(self, factory: sessionmaker[Session]) -> Problems:
        """Read the backlog and the problem counts from the store into the gauges."""
        now = datetime.now(timezone.utc)
        with factory() as session:
            count, oldest = read_backlog(session)
            problems = read_problems(session, now)
            severities, breaches = read_sla(session)
        self.backlog_count = count
        self.backlog.set(count)
        self.oldest.set(0 if oldest is None else (now - oldest).total_seconds())
        for step in PromiseStep:
            self.owed.labels(step.value).set(problems.owed.get(step, 0))
        self.outbox_problems.labels("failed").set(problems.outbox_failed)
        self.outbox_problems.labels("overdue").set(problems.outbox_overdue)
        self.quarantined.set(problems.quarantined)
        self.ocr_timeouts.set(problems.ocr_timeouts)
        for severity in SEVERITIES:
            self.open_tickets.labels(severity).set(severities.get(int(severity), 0))
        for clock in Clock:
            self.sla_breaches.labels(clock.value).set(breaches.get(clock.value, 0))
        self.problems = problems
        return problems


def read_backlog(session: Session) -> tuple[int, datetime | None]:
    """Stored messages not yet routed, and when the oldest of them came in (UTC)."""
    count, oldest = session.execute(
        select(func.count(), func.min(InboxEntry.received_at)).where(InboxEntry.state == InboxState.NEW)
    ).one()
    if oldest is not None and oldest.tzinfo is None:  # an aggregate skips the column's type
        oldest = oldest.replace(tzinfo=timezone.utc)
    return count, oldest


def read_problems(session: Session, now: datetime) -> Problems:
    owed = dict(session.execute(select(PendingStep.step, func.count()).where(PendingStep.done_at.is_(None))
                                .group_by(PendingStep.step)).tuples().all())  # fmt: skip
    oldest_due = session.scalar(select(func.min(PendingStep.due_at)).where(PendingStep.done_at.is_(None)))
    failed = session.scalar(select(func.count()).where(OutboxEntry.state == OutboxState.FAILED)) or 0
    late_ack = (OutboxEntry.kind == OutboxKind.ACK) & (Ticket.ack_due_at < now)
    unrenderable = OutboxEntry.payload.is_(None) & (OutboxEntry.attempts > 0)  # a draft whose template fails
    overdue = session.scalar(
        select(func.count()).select_from(OutboxEntry).outerjoin(Ticket, Ticket.id == OutboxEntry.ticket_id)
        .where(OutboxEntry.state == OutboxState.PENDING, or_(late_ack, unrenderable, OutboxEntry.next_try_at < now - OVERDUE_AFTER))
    ) or 0  # fmt: skip
    quarantined = session.scalar(select(func.count()).where(InboxEntry.state == InboxState.QUARANTINED)) or 0
    ocr = session.scalar(select(func.count()).where(Event.kind == "needs_review",
                                                    cast(Event.data, Text).like(f"%{OCR_TIMEOUT_MARK}%"))) or 0  # fmt: skip
    return Problems(owed, oldest_due, failed, overdue, quarantined, ocr)


def read_sla(session: Session) -> tuple[dict[int, int], dict[str, int]]:
    """Open tickets per severity, and breaches per clock as the escalation events the SLA job
    wrote (one per ticket, clock and cycle): counted in the store, so two daemons agree."""
    severities = dict(session.execute(
        select(Ticket.severity, func.count()).where(Ticket.merged_into_id.is_(None), Ticket.status != TicketStatus.CLOSED)
        .group_by(Ticket.severity)).tuples().all())  # fmt: skip
    clock = Event.data["clock"].as_string()
    breaches: dict[str, int] = dict(session.execute(select(clock, func.count()).where(Event.kind == "escalation")
                                    .group_by(clock)).tuples().all())  # fmt: skip
    return severities, breaches


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """Scrapes every few seconds would flood the journal."""


def serve(metrics: Metrics, health: Health, host: str, port: int) -> WSGIServer:
    """Start the endpoint in a daemon thread; call .shutdown() to stop it."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/health":
            ok, detail = health()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [json.dumps({"ok": ok, **detail}).encode()]
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [generate_latest(metrics.registry)]

    server = make_server(host, port, app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
