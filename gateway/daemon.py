"""`hotline run`: every source, the routing worker and the scheduler in one process.

Start: the SMTP listener, one thread per IMAP account, and APScheduler jobs (the sweep
that routes whatever is stored but unrouted, the metrics refresh); READY=1 once every
source has had its first go. The main loop pings the systemd watchdog, but only while
the sweep is seen finishing: a hung worker gets the daemon restarted. SIGTERM: the listener stops taking mail,
the sources finish the slice in flight, the scheduler lets running jobs end; then exit 0,
within `daemon.grace_seconds`. Nothing acknowledged is ever uncommitted, so an exit at
any point loses nothing. SIGHUP: the config is read again; what can change on the fly
(logging) does, and anything else is named in a clear "restart needed" message.
"""
from __future__ import annotations

import signal
import ssl
import sys
import threading
import time
from dataclasses import asdict
from datetime import datetime, timezone
from types import FrameType
from typing import Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gateway import delivery, logs, metrics, promises, sdnotify
from gateway.ingest import process_backlog
from gateway.parsing import Parser
from gateway.pipeline import Outcome
from gateway.settings import ConfigError, Settings, SmtpServerSection, load
from gateway.sources import smtp
from gateway.sources.imap import ImapSource
from gateway.transport import open_transport

log = structlog.get_logger("hotline.daemon")
READY_WAIT_SECONDS = 30.0  # how long READY=1 waits for IMAP accounts that are down
RELOADABLE = {"logging"}


class Daemon:
    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.settings, self.factory = settings, factory
        self.stop = threading.Event()
        self.reload = threading.Event()
        self.parser = Parser(settings, pool_threshold=1)  # OCR never runs in a source thread
        self.metrics = metrics.Metrics()
        self.transport = open_transport(settings.outbound)
        self.scheduler = BackgroundScheduler(timezone=timezone.utc)
        self.sources = [ImapSource(a, settings, factory, self.parser, self.record) for a in settings.imap]
        self.threads: list[threading.Thread] = []
        self.listener: Any = None
        self.http: Any = None
        self.watchdog = sdnotify.Watchdog.from_env()
        self.last_sweep = time.monotonic()
        self.sweep_deadline = max(30.0, 10 * settings.daemon.sweep_seconds)

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
            if time.monotonic() - self.last_sweep < self.sweep_deadline:
                self.watchdog.ping()  # only while the worker is seen making progress
        self.shutdown()
        return 0

    def start(self) -> None:
        cfg = self.settings
        if cfg.smtp_server is not None:
            self.listener = smtp.start(self.factory, cfg.smtp_server, self.wake_sweep, tls_context(cfg.smtp_server))
        for source in self.sources:
            thread = threading.Thread(target=source.run, args=(self.stop,), name=source.name, daemon=True)
            thread.start()
            self.threads.append(thread)
        self.scheduler.add_job(self.sweep, "interval", seconds=cfg.daemon.sweep_seconds, id="sweep",
                               max_instances=1, coalesce=True, next_run_time=_now())  # fmt: skip
        self.scheduler.add_job(self.send_outbox, "interval", seconds=cfg.daemon.sweep_seconds, id="outbox",
                               max_instances=1, coalesce=True, next_run_time=_now())  # fmt: skip
        self.scheduler.add_job(self.refresh_metrics, "interval", seconds=5, id="metrics", next_run_time=_now())
        self.scheduler.add_job(self.keep_promises, "interval", seconds=cfg.daemon.sweep_seconds, id="promises",
                               max_instances=1, coalesce=True, next_run_time=_now())  # fmt: skip
        self.scheduler.start()
        if cfg.metrics is not None:
            self.http = metrics.serve(self.metrics, self.health, *cfg.metrics.host_port)
        self._wait_for_sources()
        log.info(
            "started",
            smtp=cfg.smtp_server.listen if cfg.smtp_server else None,
            imap=[s.name for s in self.sources],
            metrics=cfg.metrics.listen if cfg.metrics else None,
            store=make_url(cfg.storage.url).render_as_string(hide_password=True),
        )

    def shutdown(self) -> None:
        deadline = time.monotonic() + self.settings.daemon.grace_seconds
        sdnotify.stopping("stopping")
        log.info("stopping", grace_seconds=self.settings.daemon.grace_seconds)
        if self.listener is not None:  # new mail gets 421 (try later); mail being stored still gets its 250
            smtp.stop(self.listener, timeout=min(10.0, self.settings.daemon.grace_seconds))
        self.stop.set()
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.scheduler.shutdown(wait=True)  # a sweep in flight finishes its batch
        if self.http is not None:
            self.http.shutdown()
        self.parser.close()
        late = [t.name for t in self.threads if t.is_alive()]
        if late:
            log.error("sources still busy after the grace time; their uncommitted work will be redone", sources=late)
        log.info("stopped")

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
            source.connected.wait(max(0.0, deadline - time.monotonic()))

    # -- jobs -------------------------------------------------------------------------

    def sweep(self) -> None:
        """Route what sources stored but did not route (the SMTP listener, a crashed run)."""
        try:
            while not self.stop.is_set() and (routed := process_backlog(self.factory, self.settings, self.parser)):
                for source, outcome in routed:
                    self.record(source, outcome)
                self.wake("outbox")  # acknowledgements go out at once
            self.last_sweep = time.monotonic()
        except Exception:
            self.metrics.errors.labels("worker").inc()
            log.exception("sweep failed; will retry")

    def send_outbox(self) -> None:
        """Send what is due; a relay that is down only defers (the rows keep their state)."""
        try:
            while not self.stop.is_set() and (sent := delivery.send_due(self.factory, self.settings, self.transport)):
                for result in sent:
                    self.metrics.outbox.labels(result.outcome).inc()
                if any(r.outcome != "sent" for r in sent):
                    break  # the rest waits for its next try
        except Exception:
            self.metrics.errors.labels("outbox").inc()
            log.exception("outbox round failed; will retry")

    def keep_promises(self) -> None:
        """Acknowledgements and notifications owed after a failure (gateway/promises.py)."""
        try:
            if any(kept.kept for kept in promises.keep_due(self.factory, self.settings, self.parser)):
                self.wake("outbox")
        except Exception:
            self.metrics.errors.labels("promises").inc()
            log.exception("retrying owed steps failed; will retry")

    def wake_sweep(self) -> None:
        self.wake("sweep")

    def wake(self, job_id: str) -> None:
        job = self.scheduler.get_job(job_id)
        if job is not None:
            job.modify(next_run_time=_now())

    def record(self, source: str, outcome: Outcome) -> None:
        self.metrics.messages.labels(source, outcome.action).inc()
        log.info("message routed", source=source, **asdict(outcome))

    def refresh_metrics(self) -> None:
        try:
            self.metrics.refresh(self.factory)
        except Exception as exc:
            self.metrics.errors.labels("store").inc()
            log.warning("store unreachable for metrics", error=str(exc).splitlines()[0])
        now = time.monotonic()
        for source in self.sources:
            if source.last_sync is not None:
                self.metrics.since_sync.labels(source.account.name).set(now - source.last_sync)
        sdnotify.status(self.status())

    def health(self) -> tuple[bool, dict[str, Any]]:
        down = [s.name for s in self.sources if not s.connected.is_set()]
        try:
            problems = self.metrics.refresh(self.factory)
        except Exception:
            problems = None
        detail: dict[str, Any] = {"store": problems is not None, "imap_down": down, "backlog": self.metrics.backlog_count}
        if problems is not None:
            due = problems.oldest_owed_due
            detail.update(problems=problems.at_risk, owed_steps=problems.owed, oldest_owed_due=due and due.isoformat(),
                          outbox_failed=problems.outbox_failed, outbox_overdue=problems.outbox_overdue,
                          quarantined=problems.quarantined, ocr_timeouts=problems.ocr_timeouts)  # fmt: skip
        return problems is not None and not down and not problems.at_risk, detail

    def status(self) -> str:
        up = sum(s.connected.is_set() for s in self.sources)
        parts = [f"imap {up}/{len(self.sources)} up"]
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


def tls_context(config: SmtpServerSection) -> ssl.SSLContext | None:
    """STARTTLS for the listener when a certificate is configured."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


def _now() -> datetime:
    return datetime.now(timezone.utc)


def run(settings: Settings, factory: sessionmaker[Session]) -> int:
    return Daemon(settings, factory).run()
