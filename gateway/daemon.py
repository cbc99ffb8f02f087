"""`hotline run`: the SMTP listener and the pipeline worker in one process.

SIGTERM or SIGINT stops taking work, lets the current batch finish and exits 0.
"""
from __future__ import annotations

import signal
import threading
from dataclasses import asdict

import structlog
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gateway.ingest import process_backlog
from gateway.pipeline import Parser
from gateway.settings import Settings
from gateway.sources import smtp

log = structlog.get_logger("hotline.daemon")
IDLE_SECONDS = 1.0


def run(settings: Settings, factory: sessionmaker[Session]) -> int:
    stop, wake = threading.Event(), threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    listener = smtp.start(factory, settings.smtp_server, wake.set) if settings.smtp_server else None
    log.info("started", smtp=settings.smtp_server.listen if settings.smtp_server else None, store=make_url(settings.storage.url).render_as_string(hide_password=True))
    parser = Parser(settings)
    try:
        while not stop.is_set():
            outcomes = process_backlog(factory, settings, parser)
            for outcome in outcomes:
                log.info("message routed", **asdict(outcome))
            if not outcomes:
                wake.wait(IDLE_SECONDS)
                wake.clear()
    finally:
        if listener is not None:
            listener.stop()
        parser.close()
    log.info("stopped")
    return 0
