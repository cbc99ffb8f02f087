"""The daemon's jobs, in one table: what each is called, which method of the daemon does
it, and how often APScheduler runs it. New jobs (the register's daily checkpoint, ...)
are a line here. Each round runs guarded: a failure is logged, counted under the job's
component and shown by /health until a round of that job succeeds.

A job in rounds (`rounds=True`) loops while its round finds work (the round returns True)
and is woken for one more round when work arrives, instead of being started twice."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    method: str  # the daemon's method: one round (rounds=True) or the whole job
    every: Callable[[Settings], float]  # seconds between runs
    component: str  # its failures' label in hotline_errors
    rounds: bool = True


JOBS: tuple[Job, ...] = (
    Job("sweep", "sweep", lambda s: s.daemon.sweep_seconds, "worker"),  # route what the sources stored
    Job("outbox", "send_outbox", lambda s: s.daemon.sweep_seconds, "outbox"),  # send what is due
    Job("promises", "keep_promises", lambda s: s.daemon.sweep_seconds, "promises"),  # owed acks and notifications
    Job("sla", "sla_reminders", lambda s: s.sla.check_seconds, "sla"),  # reminders and escalations
    Job("knowledge", "index_knowledge", lambda s: s.knowledge.index_seconds, "knowledge"),  # new answers, changed docs
    Job("metrics", "refresh_metrics", lambda _s: 5.0, "store", rounds=False),  # gauges and systemd's status line
    Job("checkpoint", "daily_checkpoint", lambda _s: 3600.0, "checkpoint", rounds=False),  # the auditors' one a day
    Job("heartbeat", "heartbeat", lambda s: s.daemon.lease_seconds / 3, "store", rounds=False),  # mailboxes shared
)
