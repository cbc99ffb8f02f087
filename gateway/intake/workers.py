"""Reading raw messages in worker processes, and surviving a worker that dies.

Parsing and OCR are CPU-bound (and OCR runs tesseract's C library inside the worker), so
they run in a pool of processes forked before the daemon starts any thread. A message or
page that kills its worker (a crash in a native decoder) must not stop the others, nor be
retried forever: the pool is replaced, the batch is read again one item at a time, and
the item that kills a worker again is quarantined (a message) or kept unread (a page).
"""
from __future__ import annotations

import ctypes
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, CancelledError, Executor, Future
from typing import Any, TypeVar

import structlog

from gateway import logs
from parsers import reading as read
from parsers.reading import FirstPass, Parsed, ReadConfig, Reading, Rejected, first_pass
from gateway.settings import Settings
from parsers.documents import FaxLimits, PageImage, PageText
from parsers.mime import ParseLimits

log = structlog.get_logger("hotline.parsing")
T = TypeVar("T")
CRASHED = "the message killed the process reading it (a crash in a native decoder); kept unread"


class Stopped(Exception):
    """The parser was closed while it was reading (the daemon is stopping). What was read
    is dropped; the raw bytes are already stored and are read again at the next start."""


def _no_progress() -> None:
    """The default progress callback: nobody is watching."""


class Parser:
    """Reads raw messages (parsers/reading.py) in worker processes when there are enough of
    them to pay off; the pages of fax documents are OCR'd in parallel across the workers."""

    POOL_THRESHOLD = 64

    def __init__(self, settings: Settings, workers: int | None = None, pool_threshold: int = POOL_THRESHOLD,
                 progress: Callable[[], None] = _no_progress) -> None:  # fmt: skip
        fax, lim = settings.fax, settings.limits
        self.config = ReadConfig(
            limits=ParseLimits(lim.max_attachments, lim.max_mime_depth, lim.max_text_chars),
            max_bytes=lim.max_message_bytes,
            gateway_senders=frozenset(s.lower() for s in fax.gateway_senders),
            caller_patterns=tuple(fax.caller_id_patterns),
            fax_limits=FaxLimits(fax.max_pages, fax.max_pixels, fax.max_document_bytes, fax.ocr_seconds_per_page,
                                 fax.max_document_pixels),
        )
        self.workers = workers or settings.daemon.workers or os.cpu_count() or 1
        self.pool_threshold = pool_threshold
        self._pool: Executor | None = None
        self._context = "fork"  # "spawn" once the daemon's threads run: see replace()
        self._lock = threading.Lock()  # the daemon's sources share one pool
        self._closed = threading.Event()
        self.progress = progress  # called for every message and page read: the watchdog's proof of life

    def first_passes(self, raws: list[bytes], channels: list[str | None]) -> list[FirstPass | Rejected]:
        """The first pass only (MIME, channel, documents split into pages), in the workers:
        the daemon's sweep reads the pages on its own schedule (`read_pages`)."""
        jobs = list(zip(raws, channels, [self.config] * len(raws)))
        if not jobs:
            return []
        chunk = max(1, len(jobs) // (self.workers * 4))
        pending = self.start().map(first_pass, *zip(*jobs), chunksize=chunk)
        return self._collect(pending, first_pass, jobs, lambda *_: Rejected(CRASHED))

    def read_pages(self, pages: list[PageImage], done: Callable[[], None]) -> list[Future[PageText]]:
        """Each page OCR'd in a worker; `done` is called (in a pool thread) as each ends."""
        seconds = self.config.fax_limits.seconds_per_page
        futures = [self.start().submit(ocr_page, page, seconds) for page in pages]

        def page_done(_future: Future[PageText]) -> None:
            self.progress()
            done()

        for future in futures:
            future.add_done_callback(page_done)
        return futures

    def settle(self, page: PageImage, future: Future[PageText]) -> PageText:
        """The text of a page `read_pages` finished. A page whose worker died is read
        again by a tesseract process, in a healthy pool."""
        try:
            return future.result()
        except (BrokenExecutor, CancelledError):
            if self._closed.is_set():
                raise Stopped("stopped while reading pages") from None
        log.error("a worker process died while reading a page; reading it again by a tesseract process")
        self._heal()
        return self._one(ocr_page, (page, self.config.fax_limits.seconds_per_page, "cli"), _unread_page)

    def _heal(self) -> None:
        """Replace the pool if it is broken (several pages may report the same death)."""
        try:
            self.start().submit(int).result()
        except BrokenExecutor:
            self.replace()

    def map(self, raws: list[bytes], channels: list[str | None] | None = None) -> Iterator[Parsed]:
        """Results in order; `channels` are what the sources know (None: decide). The first
        pass is submitted at once; the caller may do other work (route the previous batch)
        before it consumes the iterator."""
        n = len(raws)
        jobs = list(zip(raws, channels or [None] * n, [self.config] * n))
        if n < self.pool_threshold or self.workers < 2:
            return self._finish(lambda: [first_pass(*job) for job in jobs])
        chunk = max(1, n // (self.workers * 4))
        pending = self.start().map(first_pass, *zip(*jobs), chunksize=chunk)
        return self._finish(lambda: self._collect(pending, first_pass, jobs, lambda *_: Rejected(CRASHED)))

    def _finish(self, first: Callable[[], list[FirstPass | Rejected]]) -> Iterator[Parsed]:
        done = first()
        jobs = [
            ((i, d), page)
            for i, item in enumerate(done) if isinstance(item, FirstPass)
            for d, doc in enumerate(item.documents)
            for page in doc.images
        ]  # fmt: skip
        texts = self.ocr([page for _, page in jobs])
        ocr: dict[int, dict[tuple[int, int], PageText]] = {}
        for ((i, d), page), text in zip(jobs, texts):
            ocr.setdefault(i, {})[(d, page.number)] = text
        for i, item in enumerate(done):
            yield read.finish(item, ocr.get(i, {})) if isinstance(item, FirstPass) else item

    def ocr(self, pages: list[PageImage]) -> list[PageText]:
        """Always in the workers, even one page: tesseract's library runs in the process
        that reads, and a crash there must not take the daemon with it. After a crash the
        pages are read with a tesseract process each (slower, and isolated)."""
        if not pages:
            return []
        seconds = [self.config.fax_limits.seconds_per_page] * len(pages)
        jobs = list(zip(pages, seconds, ["cli"] * len(pages)))
        pending = self.start().map(ocr_page, pages, seconds)
        return self._collect(pending, ocr_page, jobs, _unread_page)

    def _collect(self, pending: Iterator[T], fn: Callable[..., T], jobs: list[tuple[Any, ...]],
                 crashed: Callable[..., T]) -> list[T]:  # fmt: skip
        results: list[T] = []
        try:
            for result in pending:
                results.append(result)
                self.progress()
            return results
        except (BrokenExecutor, CancelledError):
            if self._closed.is_set():
                raise Stopped(f"stopped after {len(results)} of {len(jobs)} items") from None
            log.error("a worker process died; reading the batch again one by one", items=len(jobs))
            self.replace()
            return [self._one(fn, job, crashed) for job in jobs]

    def _one(self, fn: Callable[..., T], job: tuple[Any, ...], crashed: Callable[..., T]) -> T:
        try:
            return self.start().submit(fn, *job).result()
        except (BrokenExecutor, CancelledError):
            if self._closed.is_set():
                raise Stopped("stopped while reading one item") from None
            log.error("an item killed its worker again; set aside", function=fn.__name__)
            self.replace()
            return crashed(*job)

    def start(self) -> Executor:
        """Fork the workers now. The daemon calls this before it starts any thread: forking a
        process that runs threads could copy a held lock into the worker. multiprocessing is
        imported here: a one-message `hotline ingest -` of a plain e-mail reads it in-process
        and need not pay for it."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with self._lock:
            if self._closed.is_set():
                raise Stopped("the parser is closed")
            if self._pool is None:
                context = multiprocessing.get_context(self._context)
                self._pool = ProcessPoolExecutor(
                    self.workers, mp_context=context, initializer=_worker_setup, initargs=(logs.active(),)
                )
                self._pool.submit(int).result()  # all workers are forked on the first task
            return self._pool

    def replace(self) -> None:
        """A broken pool is dropped; its successor is spawned, not forked, since by now
        other threads may hold locks a fork would copy."""
        with self._lock:
            broken, self._pool, self._context = self._pool, None, "spawn"
        if broken is not None:
            broken.shutdown(wait=False, cancel_futures=True)

    def close(self, wait: bool = True) -> None:
        """Shut the workers down. `wait=False` (a daemon stopping): nothing new is started,
        what is queued is cancelled, and readers waiting for it get `Stopped`; the items
        being read finish in the workers, which die with the daemon."""
        with self._lock:
            self._closed.set()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=not wait)


def ocr_page(page: PageImage, seconds: float, engine: str = "api") -> PageText:
    """Runs in a worker: the page read by parsers/fax.py, which (with OpenCV and tesseract)
    is loaded there on first use, never in a command that reads no page."""
    from parsers.fax import ocr_page as read

    return read(page, seconds, engine)


def _unread_page(page: PageImage, *_: Any) -> PageText:
    return PageText(page.number, "", 0.0, "ocr", problem=f"page {page.number}: OCR crashed; the page is kept as an image")


def _worker_setup(setup: logs.Setup) -> None:
    """A worker logs as the daemon does (a spawned one inherits nothing), and must not
    outlive a daemon killed with SIGKILL (Linux: PR_SET_PDEATHSIG)."""
    logs.configure_like(setup)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: systemd's KillMode still reaps the workers
