"""The outbox worker: claim what is due, hand it to the transport, record what happened.

At most once per row in normal operation: a row is claimed (leased) in one transaction
and marked sent in the next. A crash between the relay's 250 and that commit leaves the
row claimed; when the lease ends it is sent again, the same bytes with the same
Message-ID, so the receiver's duplicate suppression can spot it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.outbound import outbox
from gateway.outbound import outgoing
from gateway.outbound.outbox import Claim
from gateway.register import mirror
from gateway.settings import Settings
from gateway.outbound.transport import DeliveryError, PermanentFailure, TemporaryFailure, Transport
from storage.db import transaction
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
    results: list[Result] = []
    try:
        for index, claim in enumerate(claims):
            held = time.monotonic() - claimed
            if held >= settings.daemon.lease_seconds:  # less than one send's timeout left
                log.warning("outbox claims held too long; the rest is left to the next round", left=len(claims) - index)
                break
            if held >= settings.daemon.lease_seconds / 3:
                claimed = time.monotonic()
                with transaction(factory) as session:
                    outbox.extend(session, claims[index:], _now() + lease)
            results.append(deliver(factory, settings, transport, claim))
        return results
    finally:
        transport.close()


def deliver(factory: sessionmaker[Session], settings: Settings, transport: Transport, claim: Claim) -> Result:
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
