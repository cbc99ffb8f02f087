"""`hotline run`: every source, the routing worker and the scheduler in one process.

Start: the SMTP listener, one thread per IMAP account, and APScheduler jobs (the sweep
that routes whatever is stored but unrouted, the outbox, the metrics refresh); READY=1
once every source has had its first go. The main loop pings the systemd watchdog while
the work is seen moving: every message and page read, every routed batch and every idle
sweep is progress, so a long OCR backlog is busy, not hung, and a hung worker gets the
daemon restarted. SIGTERM: the listener stops taking mail, the sources and jobs finish
the slice in flight; what is still being read after three quarters of
`daemon.grace_seconds` is abandoned, and the process exits 0 within the grace time.
Nothing acknowledged is ever uncommitted, so an exit at any point loses nothing. SIGHUP: the config is read again; what can change on the fly
(logging) does, and anything else is named in a clear "restart needed" message.
"""
from __future__ import annotations

import os
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from types import FrameType
from typing import Any, TypeVar

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gateway import logs
from gateway.knowledge import build
from gateway.outbound import delivery
from gateway.service import metrics
from gateway.service.jobs import JOBS, Job
from gateway.service.supervise import Supervised
from gateway.pipeline import promises
from gateway.service import sdnotify
from gateway.service import register, sla
from gateway.register import mirror
from gateway.intake.workers import Parser, Stopped
from gateway.pipeline.work import Outcome
from gateway.settings import ConfigError, Settings, SmtpServerSection, load
from gateway.sources import smtp
from gateway.sources import leases
from gateway.sources.imap import ImapSource, SourceState
from gateway.sources.leases import LeaseChange, instance_name
from gateway.intake.sweep import Sweeper
from storage.db import transaction
from gateway.outbound.transport import open_transport

log = structlog.get_logger("hotline.daemon")
READY_WAIT_SECONDS = 30.0  # how long READY=1 waits for IMAP accounts that are down
RELOADABLE = {"logging"}
FINISH_SHARE = 0.75  # of the grace time: in-flight work may finish; after it, reading is abandoned
T = TypeVar("T")
class Daemon:
    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.settings, self.factory = settings, factory
        self.stop = threading.Event()
        self.reload = threading.Event()
        self.last_progress = time.monotonic()
        # OCR never runs in a source thread; every item read proves the daemon alive
        self.parser = Parser(settings, pool_threshold=1, progress=self.progressed)
        self.metrics = metrics.Metrics()
        self.transport = open_transport(settings.outbound)
        self.scheduler = BackgroundScheduler(timezone=timezone.utc)
        self.sweeper = Sweeper(factory, settings, self.parser, page_done=self.wake_sweep)
        self.instance, self.started_at, self.alive = instance_name(), _now(), 1  # alive: daemons on the store
        self.sources = [ImapSource(a, factory, self.wake_sweep, settings.daemon.lease_seconds, self.lease_changed,
                                   self.crowded) for a in settings.imap]  # fmt: skip
        self.holding = threading.Lock()  # one source at a time decides to give its lease away
        self.threads = [Supervised(s.name, s.run, self.stop, self.thread_failed) for s in self.sources]
        self.failing: set[str] = set()  # jobs whose last round failed
        self.listener: Any = None
        self.http: Any = None
        self.watchdog = sdnotify.Watchdog.from_env()
        # longer than this without progress while work waits is a hang; one page may take its OCR limit
        self.stall_seconds = max(30.0, 10 * settings.daemon.sweep_seconds,
                                 settings.fax.ocr_seconds_per_page + settings.daemon.sweep_seconds)  # fmt: skip
        self.running: set[str] = set()  # jobs in a round now, guarded by `idle`
        self.idle = threading.Condition()
        self.woken = {job.name: threading.Event() for job in JOBS if job.rounds}
        self.doc_problems: set[build.Problem] = set()  # warned of; again only when the file changes

    # -- lifecycle --------------------------------------------------------------------

    def run(self) -> int:
        self._install_signals()
        self.parser.start()  # fork the parser workers before any thread exists
        self.start()
        sdnotify.ready(self.status())
        log.info("ready", status=self.status())
        while not self.stop.wait(1.0):
            if self.reload.is_set():
                self.reload.clear()
                self.reload_config()
            if time.monotonic() - self.last_progress < self.stall_seconds:
                self.watchdog.ping()  # only while the work is seen moving
        self.shutdown()
        return 0

    def start(self) -> None:
        cfg = self.settings
        try:  # both sockets first: a port taken stops the start before anything else runs
            if (server := cfg.smtp_server) is not None:
                tls = tls_context(server)
                self.listener = bind("smtp_server.listen", server.listen,
                                     lambda: smtp.start(self.factory, server, self.wake_sweep, tls))  # fmt: skip
            if (endpoint := cfg.metrics) is not None:
                self.http = bind("metrics.listen", endpoint.listen,
                                 lambda: metrics.serve(self.metrics, self.health, *endpoint.host_port))  # fmt: skip
        except ListenError:
            if self.listener is not None:
                smtp.stop(self.listener, timeout=1.0)
            self.parser.close()
            raise
        for thread in self.threads:
            thread.start()
        mirror.after_commit(self.factory, cfg.register_.log)  # a crash may have left the file behind
        for job in JOBS:
            func = self.rounds if job.rounds else self.guarded
            self.scheduler.add_job(func, "interval", args=(job, getattr(self, job.method)), seconds=job.every(cfg), id=job.name,
                                   max_instances=1, coalesce=True, next_run_time=_now())  # fmt: skip
        self.scheduler.start()
        self._wait_for_sources()
        log.info(
            "started",
            config=str(cfg.source.resolve()),
            smtp=cfg.smtp_server.listen if cfg.smtp_server else None,
            imap=[s.name for s in self.sources],
            metrics=cfg.metrics.listen if cfg.metrics else None,
            store=make_url(cfg.storage.url).render_as_string(hide_password=True),
        )

    def shutdown(self) -> None:
        """Stop within the grace time, whatever is running. APScheduler's own
        `shutdown(wait=True)` is not used: it holds the job-store lock while it joins the
        jobs, and a job that wakes another (the sweep wakes the outbox) waits for that lock."""
        grace = self.settings.daemon.grace_seconds
        began = time.monotonic()
        sdnotify.stopping("stopping")
        log.info("stopping", grace_seconds=grace)
        if self.listener is not None:  # new mail gets 421 (try later); mail being stored still gets its 250
            smtp.stop(self.listener, timeout=min(10.0, grace * FINISH_SHARE))
        self.stop.set()
        self.scheduler.shutdown(wait=False)  # no new runs; the rounds in flight see `stop`
        if not self._finished(began + grace * FINISH_SHARE):
            log.warning("still busy; the reading in progress is abandoned, its messages stay stored",
                        jobs=sorted(self.running), sources=self._busy_sources())  # fmt: skip
        self.parser.close(wait=False)
        if self.http is not None:
            self.http.shutdown()
        if not self._finished(began + grace):
            log.error("still busy after the grace time; exiting, the unfinished work is redone at the next start",
                      jobs=sorted(self.running), sources=self._busy_sources())  # fmt: skip
            _exit_now()
        try:
            with transaction(self.factory) as session:
                leases.leave(session, self.instance)
            self.sweeper.abandon()
        except Exception as exc:  # the store is down: the attempts stay counted (a reading alone), the heartbeat goes stale
            log.warning("store unreachable at the stop: the readings under way are not given back",
                        error=str(exc).splitlines()[0])  # fmt: skip
        log.info("stopped", seconds=round(time.monotonic() - began, 2))

    def _finished(self, until: float) -> bool:
        """Wait until the source threads and the jobs are done, or `until` (monotonic)."""
        for supervised in self.threads:
            supervised.thread.join(max(0.0, until - time.monotonic()))
        with self.idle:
            jobs_done = self.idle.wait_for(lambda: not self.running, timeout=max(0.0, until - time.monotonic()))
        return jobs_done and not self._busy_sources()

    def _busy_sources(self) -> list[str]:
        return [t.name for t in self.threads if t.thread.is_alive()]

    def _install_signals(self) -> None:
        def on_stop(signum: int, _frame: FrameType | None) -> None:
            log.info("signal received", signal=signal.Signals(signum).name)
            self.stop.set()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, lambda _s, _f: self.reload.set())

    def _wait_for_sources(self) -> None:
        deadline = time.monotonic() + READY_WAIT_SECONDS
        for source in self.sources:
            source.settled.wait(max(0.0, deadline - time.monotonic()))

    # -- jobs -------------------------------------------------------------------------

    def rounds(self, job: Job, round_: Callable[[], bool]) -> None:
        """A job's run: rounds until one finds nothing to do and nobody woke the job
        meanwhile. A wake while it runs only asks for one more round, so the scheduler
        never has to skip a run (and log it) for a job that is already running."""
        with self._running(job.name):
            self.progressed()  # an idle round is a sign of life too
            while not self.stop.is_set():
                self.woken[job.name].clear()
                if not self.guarded(job, round_) and not self.woken[job.name].is_set():
                    break

    def guarded(self, job: Job, work: Callable[[], bool | None]) -> bool:
        """One round of a job; a failure (the store restarting, a bug) is counted, logged
        with its traceback when a streak of failures begins (a store that is down for a
        minute must not write a traceback a round), and shown by /health until a round of
        the job succeeds; the job runs on."""
        try:
            done = bool(work())
        except Exception:
            self.metrics.errors.labels(job.component).inc()
            if job.name not in self.failing:
                log.exception("job failed; will retry", job=job.name)
            self.failing.add(job.name)
            return False
        if job.name in self.failing:
            self.failing.discard(job.name)
            log.info("job recovered", job=job.name)
        return done

    @contextmanager
    def _running(self, name: str) -> Iterator[None]:
        with self.idle:
            self.running.add(name)
        try:
            yield
        finally:
            with self.idle:
                self.running.discard(name)
                self.idle.notify_all()

    def sweep(self) -> bool:
        """Route what the sources stored (gateway/intake/sweep.py); True when something was routed."""
        try:
            routed = self.sweeper.sweep()
        except Stopped:
            log.info("routing interrupted by the stop; the messages stay stored and are routed at the next start")
            return False
        self.progressed()
        for source, outcome in routed:
            self.record(source, outcome)
        if routed:
            self.wake("outbox")  # acknowledgements go out at once
        if any(outcome.action == "answered" for _, outcome in routed):
            self.wake("knowledge")  # the answer is suggested for the next similar question
        return bool(routed)

    def send_outbox(self) -> bool:
        """Send what is due; a relay that is down only defers (the rows keep their state).
        True when everything handed over was sent (more may be due)."""
        sent = delivery.send_due(self.factory, self.settings, self.transport)
        for result in sent:
            self.metrics.outbox.labels(result.outcome).inc()
        return bool(sent) and all(r.outcome == "sent" for r in sent)  # after a deferral the rest waits

    def progressed(self) -> None:
        self.last_progress = time.monotonic()

    def keep_promises(self) -> bool:
        """Acknowledgements and notifications owed after a failure (gateway/pipeline/promises.py);
        True when one was kept."""
        try:
            tried = promises.keep_due(self.factory, self.settings, self.parser.map)
        except Stopped:
            return False
        if kept := any(t.kept for t in tried):
            self.wake("outbox")
        return kept

    def sla_reminders(self) -> bool:
        """SLA reminders and escalations that came due (gateway/service/sla.py); True when
        one was queued, and the outbox is woken to send it."""
        queued = sla.run_due(self.factory, self.settings, _now())
        if queued:
            self.wake("outbox")
        return bool(queued)

    def daily_checkpoint(self) -> bool:
        """The auditors' checkpoint of the day (gateway/service/register.py), once a day."""
        if queued := register.mail_checkpoint(self.factory, self.settings, _now()):
            self.wake("outbox")
        return bool(queued)

    def index_knowledge(self) -> bool:
        """New answers into the knowledge base, and the documentation folders when their
        files changed (gateway/knowledge/build.py), outside any routing transaction;
        True when more answers wait."""
        knowledge = self.settings.knowledge
        report = build.Report()
        try:
            more = build.index_answers(self.factory, report)
            if not more:
                build.sync_docs(self.factory, knowledge.docs, knowledge.doc_url, report)
        except Exception:
            self.metrics.errors.labels("knowledge").inc()
            log.exception("knowledge base round failed; will retry")
            return False
        if not more:  # the documentation was looked at: what is still wrong and unchanged was said
            for problem in set(report.errors) - self.doc_problems:
                log.warning("documentation not indexed", error=problem.message)
            self.doc_problems = set(report.errors)
        if report.answers or report.files_read or report.files_removed:
            log.info("knowledge base indexed", answers=report.answers, private=report.private,
                     files=report.files_read, sections=report.sections, removed=report.files_removed)  # fmt: skip
        return more

    def wake_sweep(self) -> None:
        self.wake("sweep")

    def wake(self, job_id: str) -> None:
        """Run a job now: one more round if it is running, else its next run moved to now."""
        if self.stop.is_set():
            return
        self.woken[job_id].set()
        with self.idle:
            if job_id in self.running:
                return
        job = self.scheduler.get_job(job_id)
        if job is not None:
            job.modify(next_run_time=_now())

    def record(self, source: str, outcome: Outcome) -> None:
        self.metrics.messages.labels(source, outcome.action).inc()
        log.info("message routed", source=source, **asdict(outcome))

    def refresh_metrics(self) -> bool:
        try:
            self.metrics.refresh(self.factory)
        except Exception as exc:
            self.metrics.errors.labels("store").inc()
            log.warning("store unreachable for metrics", error=str(exc).splitlines()[0])
        now = time.monotonic()
        for source in self.sources:
            if source.last_sync is not None:
                self.metrics.since_sync.labels(source.account.name).set(now - source.last_sync)
            self.metrics.lease_held.labels(source.account.name).set(source.lease is not None)
        sdnotify.status(self.status())
        return False

    def heartbeat(self) -> bool:
        """Tell the other daemons this one is alive, and learn how many are: the mailboxes
        are shared among them (`crowded`)."""
        with transaction(self.factory) as session:
            self.alive = leases.heartbeat(session, self.instance, self.started_at, self.settings.daemon.lease_seconds)
        return False

    def crowded(self, account: str) -> bool:
        """Whether `account` is the one lease this daemon should give away now: it polls more
        accounts than its fair share among the daemons alive (the last it holds goes)."""
        with self.holding:
            held = [s.account.name for s in self.sources if s.lease is not None]
            return len(held) > leases.fair_share(len(self.sources), self.alive) and held[-1] == account

    def lease_changed(self, account: str, change: LeaseChange) -> None:
        self.metrics.lease_changes.labels(account, change.value).inc()

    def thread_failed(self, name: str) -> None:
        self.metrics.errors.labels("thread").inc()
        self.metrics.thread_restarts.labels(name).inc()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Not ok while a source is down (server or store unreachable, thread failed and
        waiting to start again), a job's last round failed, or a promise is at risk."""
        down = [s.name for s in self.sources if not s.settled.is_set()]
        down += [t.name for t in self.threads if t.down.is_set() and t.name not in down]
        try:
            problems = self.metrics.refresh(self.factory)
            holdings = self._leases()
        except Exception:
            problems, holdings = None, []
        failing = sorted(self.failing)
        detail: dict[str, Any] = {"store": problems is not None, "imap_down": down, "jobs_failing": failing,
                                  "backlog": self.metrics.backlog_count, "instance": self.instance,
                                  "leases": holdings}  # fmt: skip
        if problems is not None:
            due = problems.oldest_owed_due
            detail.update(problems=problems.at_risk, owed_steps=problems.owed, oldest_owed_due=due and due.isoformat(),
                          outbox_failed=problems.outbox_failed, outbox_overdue=problems.outbox_overdue,
                          quarantined=problems.quarantined, ocr_timeouts=problems.ocr_timeouts)  # fmt: skip
        return problems is not None and not down and not failing and not problems.at_risk, detail

    def _leases(self) -> list[dict[str, Any]]:
        with self.factory() as session:
            return [h.as_json() for h in leases.holdings(session)]

    def status(self) -> str:
        polling = sum(s.state == SourceState.POLLING for s in self.sources)
        standby = sum(s.state == SourceState.STANDBY for s in self.sources)
        parts = [f"imap {polling}/{len(self.sources)} polled here, {standby} by another daemon"]
        if self.settings.smtp_server:
            parts.append(f"smtp on {self.settings.smtp_server.listen}")
        parts.append(f"backlog {self.metrics.backlog_count}")
        return ", ".join(parts)

    # -- SIGHUP -----------------------------------------------------------------------

    def reload_config(self) -> None:
        sdnotify.reloading()
        try:
            fresh = load(self.settings.source)
        except ConfigError as exc:
            log.error("config reload refused, keeping the running config", problems=exc.problems)
            sdnotify.ready(self.status())
            return
        changed = {name for name in type(fresh).model_fields if getattr(fresh, name) != getattr(self.settings, name)}
        if "logging" in changed:
            logs.configure(fresh.logging.format, fresh.logging.level, sys.stdout)
        if needs_restart := sorted(changed - RELOADABLE - {"source"}):
            log.warning("config changed in sections that need a restart", sections=needs_restart)
        log.info("config reloaded", applied=sorted(changed & RELOADABLE), restart_needed=needs_restart)
        sdnotify.ready(self.status())


class ListenError(Exception):
    """A configured address cannot be listened on (taken, not ours, a privileged port)."""


def bind(key: str, address: str, start: Callable[[], T]) -> T:
    """Start a listener; a socket that cannot be bound is a config problem named by its key."""
    try:
        return start()
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ListenError(f"{key}: cannot listen on {address}: {reason}") from exc


def tls_context(config: SmtpServerSection) -> ssl.SSLContext | None:
    """STARTTLS for the listener when a certificate is configured."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _exit_now() -> None:
    """Leave without joining the threads still at work: everything acknowledged is
    committed, and a thread stuck past the grace time must not turn a stop into a kill."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run(settings: Settings, factory: sessionmaker[Session]) -> int:
    return Daemon(settings, factory).run()
