"""The outbox worker: claim what is due, hand it to the transport, record what happened.

At most once per row in normal operation: a row is claimed (leased) in one transaction
and marked sent in the next. A crash between the relay's 250 and that commit leaves the
row claimed; when the lease ends it is sent again, the same bytes with the same
Message-ID, so the receiver's duplicate suppression can spot it.

A row routing stored as a draft is rendered after its claim, outside any transaction,
and its bytes are committed before the first send (gateway/outbound/drafts.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.outbound import drafts
from gateway.outbound import outbox
from gateway.outbound import outgoing
from gateway.outbound.drafts import Draft
from gateway.outbound.outbox import Claim
from gateway.register import log as reply_log
from gateway.register import mirror
from gateway.settings import Settings
from gateway.outbound.transport import DeliveryError, PermanentFailure, TemporaryFailure, Transport
from storage.db import snapshot, transaction
from storage.models import OutboxKind, Ticket

log = structlog.get_logger("hotline.delivery")


@dataclass(frozen=True, slots=True)
class Result:
    outbox_id: int
    to: str
    outcome: str  # sent | deferred | failed
    error: str | None = None


def send_due(factory: sessionmaker[Session], settings: Settings, transport: Transport, limit: int = 50) -> list[Result]:
    """One round: everything due now, each recorded in its own transaction. The claims are
    short (`daemon.lease_seconds` plus one send's timeout) and renewed while the round
    goes on; a round that finds its claims may have lapsed (a paused process) stops, and
    the rest is sent by whoever claims it next."""
    lease = timedelta(seconds=settings.daemon.lease_seconds + settings.outbound.timeout_seconds)
    claimed = time.monotonic()
    with transaction(factory) as session:
        claims = outbox.claim_due(session, _now(), limit, lease)
    try:
        ready, results = rendered(factory, settings, claims)  # results: the drafts that failed to render
        for index, claim in enumerate(ready):
            held = time.monotonic() - claimed
            if held >= settings.daemon.lease_seconds:  # less than one send's timeout left
                log.warning("outbox claims held too long; the rest is left to the next round", left=len(ready) - index)
                break
            if held >= settings.daemon.lease_seconds / 3:
                claimed = time.monotonic()
                with transaction(factory) as session:
                    outbox.extend(session, ready[index:], _now() + lease)
            results.append(deliver(factory, settings, transport, claim))
        return results
    finally:
        transport.close()


def rendered(factory: sessionmaker[Session], settings: Settings, claims: list[Claim]) -> tuple[list[Claim], list[Result]]:
    """The claims with their bytes: drafts rendered with the log's latest checkpoint and
    their files, read without taking the write lock, and stored in one short transaction.
    A draft that cannot be rendered (a template error) is deferred like a 4xx: retried
    with backoff, shown by /health, fixed by the admin."""
    todo = [(claim, Draft.from_json(claim.draft)) for claim in claims if claim.payload is None and claim.draft]
    if not todo:
        return claims, []
    with snapshot(factory) as session:
        checkpoint = reply_log.witness(session, settings.register_.origin, settings.register_.key_file)
        files = outbox.attachments_of(session, [d.attachments_of for _, d in todo if d.attachments_of is not None])
    made, failed = [], []
    for claim, draft in todo:
        try:
            message = drafts.render(draft, checkpoint, files.get(draft.attachments_of or 0, []),
                                    settings.templates.language, outgoing.library(settings))  # fmt: skip
            made.append((claim, message.as_bytes(), outbox.shown_of(message)))
        except Exception as exc:
            log.exception("rendering failed", outbox_id=claim.id)
            failed.append(_failed(factory, settings, claim, TemporaryFailure(f"rendering failed: {type(exc).__name__}: {exc}")))
    stored = {}
    if made:
        with transaction(factory) as session:
            stored = {c.id: c for c in outbox.store_rendered(session, made)}
    drafted = {claim.id for claim, _ in todo}
    return [stored.get(c.id, c) for c in claims if c.id in stored or c.id not in drafted], failed


def deliver(factory: sessionmaker[Session], settings: Settings, transport: Transport, claim: Claim) -> Result:
    assert claim.payload is not None, "a draft is rendered (`rendered`) before it is sent"
    try:
        transport.send(claim.sender, claim.recipients, claim.payload)
    except DeliveryError as exc:
        return _failed(factory, settings, claim, exc)
    except Exception as exc:  # a bug, not the relay: retried (and given up) like a 4xx, never a stuck round
        log.exception("sending raised", outbox_id=claim.id)
        return _failed(factory, settings, claim, TemporaryFailure(f"{type(exc).__name__}: {exc}"))
    with transaction(factory) as session:
        outbox.record_sent(session, claim, _now())
    mirror.after_commit(factory, settings.register_.log)
    log.info("sent", outbox_id=claim.id, to=claim.to, kind=claim.kind)
    return Result(claim.id, claim.to, "sent")


def _failed(factory: sessionmaker[Session], settings: Settings, claim: Claim, exc: DeliveryError) -> Result:
    cfg, now, error = settings.outbound, _now(), str(exc)
    too_old = now - claim.created_at > timedelta(hours=cfg.give_up_hours)
    with transaction(factory) as session:
        if isinstance(exc, PermanentFailure) or too_old:
            error = error if isinstance(exc, PermanentFailure) else f"gave up after {cfg.give_up_hours} h: {error}"
            outbox.record_failed(session, claim, now, error)
            _notify_consultants(session, settings, claim, error, now)
            log.warning("delivery failed", outbox_id=claim.id, to=claim.to, error=error)
            return Result(claim.id, claim.to, "failed", error)
        delay = backoff(claim.attempts, cfg.retry_seconds, cfg.max_retry_seconds)
        outbox.record_retry(session, claim, now, error, delay)
    log.info("delivery deferred", outbox_id=claim.id, to=claim.to, error=error, retry_in=delay.total_seconds())
    return Result(claim.id, claim.to, "deferred", error)


def backoff(attempts: int, first: float, cap: float) -> timedelta:
    """first, 2 x first, 4 x first ... up to cap, by how many tries went before."""
    return timedelta(seconds=min(cap, first * 2 ** min(attempts, 30)))


def _notify_consultants(session: Session, settings: Settings, claim: Claim, error: str, now: datetime) -> None:
    """A person must know that a user was not reached; a failed notice only gets its event
    (notifying about a notice could loop)."""
    if claim.kind == OutboxKind.NOTICE or not settings.consultants.notify or claim.ticket_id is None:
        return
    number = session.scalar(select(Ticket.number).where(Ticket.id == claim.ticket_id))
    if number is None:
        return
    notice = outgoing.failure_notice(settings, number, claim.id, claim.to, error, now)
    outbox.queue(session, [(claim.ticket_id, notice, None)], now)


def _now() -> datetime:
    return datetime.now(timezone.utc)
