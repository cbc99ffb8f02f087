"""Threads that are started again when they fail, instead of dying silently.

A source thread that raises (the database restarted under it: "terminating connection due
to administrator command", or a bug) is logged with its traceback, counted, marked down
for /health, and run again after a backoff; the daemon never runs on without it.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from gateway.sources.imap import Backoff

log = structlog.get_logger("hotline.supervise")
HEALTHY_SECONDS = 60.0  # a thread that ran this long before failing starts again from the first delay


class Supervised:
    def __init__(self, name: str, body: Callable[[threading.Event], None], stop: threading.Event,
                 on_failure: Callable[[str], None]) -> None:  # fmt: skip
        self.name, self.body, self.stop, self.on_failure = name, body, stop, on_failure
        self.backoff = Backoff(base=1.0, cap=30.0)
        self.down = threading.Event()  # failed, waiting to be started again
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        """The thread: the body until it returns (the stop), again after each failure."""
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                self.body(self.stop)
                return
            except Exception as exc:
                if time.monotonic() - began >= HEALTHY_SECONDS:
                    self.backoff.reset()
                self.down.set()
                self.on_failure(self.name)
                delay = self.backoff.next_delay()
                log.exception("thread failed; starting it again", thread=self.name, retry_in=round(delay, 1),
                              error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)  # fmt: skip
                self.stop.wait(delay)
                self.down.clear()
