"""The daemon's router: what the sources stored is read and routed; e-mail never waits for OCR.

Sources only store (the SMTP listener, IMAP), as Postfix's queue manager takes what
`smtpd` and `pickup` put in the queue. Each sweep
1. routes the faxes whose pages are all read, and those whose reading has taken longer
   than `fax.ocr_seconds_per_document` (the pages not read are named on the ticket,
   which is flagged for review);
2. reads the next stored rows in the workers (the first pass: MIME, channel, documents
   split into pages) and routes at once everything that needs no OCR. The pages of the
   others go to the workers, a few documents at a time, and their rows stay stored
   (state new) until the pages are read.
So a 10-page fax ahead of a hundred e-mails costs them nothing, and a daemon that stops
mid-page loses nothing: the rows are still new and are read again at the next start.

A batch is bounded by count and by `limits.max_batch_bytes`. Each reading is counted on
its row first, in a committed transaction, so that a message that kills the daemon while
it is read or routed (out of memory) is not taken up forever: a new row whose reading
was begun before is read alone, and one begun `limits.max_attempts` times is quarantined
unread. A
stop or an unreachable store is not the message's fault: its attempt is given back.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gateway.intake.ingest import BATCH, batched, route
from gateway.intake.workers import Parsed, Parser
from gateway.pipeline.work import Outcome
from parsers.reading import FirstPass, Rejected, finish
from gateway.settings import Settings
from parsers.documents import PageImage, PageText
from storage import blobs
from storage.db import transaction
from storage.models import InboxEntry, InboxState

log = structlog.get_logger("hotline.sweep")
PAGES_PER_WORKER = 4  # pages handed to the workers at once: enough to keep them busy
SUSPECT_AFTER = 1  # readings begun that never finished, after which a row is read alone
Key = tuple[int, int]  # (document index, page number)


@dataclass(frozen=True, slots=True)
class Row:
    """A stored message as the sweep needs it: one query finds it and says how to read it."""

    id: int
    source: str
    size: int
    attempts: int  # readings begun before this one
    raw_sha256: str
    channel: str | None


@dataclass(frozen=True, slots=True)
class Reading:
    """A fax whose pages are being read."""

    row: Row
    first: FirstPass
    pages: tuple[tuple[Key, PageImage, Future[PageText]], ...]
    deadline: float  # monotonic

    def done(self) -> bool:
        return all(future.done() for _, _, future in self.pages)


class Sweeper:
    """One per daemon; its state (the pages in the workers) lives only in memory, and
    the inbox rows stay new until routed, so nothing depends on it surviving."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, parser: Parser,
                 page_done: Callable[[], None] = lambda: None) -> None:  # fmt: skip
        self.factory, self.settings, self.parser, self.page_done = factory, settings, parser, page_done
        self.reading: dict[int, Reading] = {}
        self.waiting: dict[int, Row] = {}  # faxes whose pages wait for room in the workers
        self.counted: set[int] = set()  # rows whose reading is counted and not yet routed
        self.max_pages = PAGES_PER_WORKER * parser.workers

    def sweep(self) -> list[tuple[str, Outcome]]:
        """Route what is ready; (source, outcome) pairs."""
        ready = self._read_faxes()
        ready.update(self._start_waiting())
        rows, most = self._next_rows(), self.settings.limits.max_attempts
        ready.update({row.id: (row, Rejected(_poisoned(row.attempts, most))) for row in rows if row.attempts >= most})
        rows = [row for row in rows if row.id not in ready]
        self._count([row.id for row in rows], 1)
        for row, first in zip(rows, self._first_passes(rows)):
            pages = _pages(first) if isinstance(first, FirstPass) else []
            if isinstance(first, Rejected):
                ready[row.id] = (row, first)
            elif not pages:
                ready[row.id] = (row, finish(first, {}))
            elif self._room():
                self._start(row, first, pages)
            else:
                self.waiting[row.id] = row
        try:
            outcomes = route(self.factory, self.settings, {i: parsed for i, (_, parsed) in ready.items()})
        except (OperationalError, InterfaceError):  # the store, not the messages
            self._count([i for i in ready if i in self.counted], -1)
            raise
        self.counted -= set(ready)
        return [(row.source, outcomes[i]) for i, (row, _) in ready.items() if i in outcomes]

    def abandon(self) -> None:
        """The daemon stops: the readings under way are dropped and given back (the rows
        stay new), so a stop never counts against a message."""
        for reading in self.reading.values():
            for _, _, future in reading.pages:
                future.cancel()
        self.reading.clear()
        self.waiting.clear()
        self._count(sorted(self.counted), -1)

    def _count(self, ids: list[int], step: int) -> None:
        """Committed before the reading begins: the next daemon sees it even after a SIGKILL."""
        if not ids:
            return
        with transaction(self.factory) as session:
            session.execute(update(InboxEntry).where(InboxEntry.id.in_(ids)).values(attempts=InboxEntry.attempts + step))
        if step > 0:
            self.counted.update(ids)
        else:
            self.counted.difference_update(ids)

    def _next_rows(self) -> list[Row]:
        """The oldest new rows not in hand, up to BATCH and limits.max_batch_bytes (at least
        one). A row read before and still new was being read when its process died, with the
        rest of its batch: it is read alone, so that only the guilty one reaches the limit
        (a batch cut by a SIGKILL costs its rows a slower, one-by-one reading, never a ticket)."""
        held = [*self.reading, *self.waiting]
        with self.factory() as session:
            stmt = select(InboxEntry.id, InboxEntry.source, InboxEntry.size, InboxEntry.attempts,
                          InboxEntry.raw_sha256, InboxEntry.channel).where(InboxEntry.state == InboxState.NEW)  # fmt: skip
            if held:
                stmt = stmt.where(InboxEntry.id.not_in(held))
            rows = [Row(*row) for row in session.execute(stmt.order_by(InboxEntry.id).limit(BATCH))]
        if suspect := next((row for row in rows if row.attempts >= SUSPECT_AFTER), None):
            return [suspect]
        return next(batched(rows, BATCH, self.settings.limits.max_batch_bytes, lambda row: row.size), [])

    def _first_passes(self, rows: list[Row]) -> list[FirstPass | Rejected]:
        if not rows:
            return []
        with self.factory() as session:
            raws = blobs.get_many(session, [r.raw_sha256 for r in rows])
        return self.parser.first_passes([raws[r.raw_sha256] for r in rows], [r.channel for r in rows])

    def _room(self) -> bool:
        return sum(len(r.pages) for r in self.reading.values() if not r.done()) < self.max_pages

    def _start(self, row: Row, first: FirstPass, pages: list[tuple[Key, PageImage]]) -> None:
        futures = self.parser.read_pages([page for _, page in pages], self.page_done)
        deadline = time.monotonic() + self.settings.fax.ocr_seconds_per_document
        self.reading[row.id] = Reading(row, first, tuple((k, p, f) for (k, p), f in zip(pages, futures)), deadline)

    def _start_waiting(self) -> dict[int, tuple[Row, Parsed]]:
        """Faxes that waited for room, oldest first, read again (a waiting fax holds no
        pages in memory); one bigger than the room starts when the workers are idle."""
        ready: dict[int, tuple[Row, Parsed]] = {}
        while self.waiting and self._room():
            row = self.waiting.pop(next(iter(self.waiting)))
            (first,) = self._first_passes([row])
            if isinstance(first, Rejected):
                ready[row.id] = (row, first)
            elif pages := _pages(first):
                self._start(row, first, pages)
            else:
                ready[row.id] = (row, finish(first, {}))
        return ready

    def _read_faxes(self) -> dict[int, tuple[Row, Parsed]]:
        """The faxes whose pages are all read, or whose time is up."""
        ready: dict[int, tuple[Row, Parsed]] = {}
        now = time.monotonic()
        for row_id, reading in list(self.reading.items()):
            if reading.done() or now > reading.deadline:
                del self.reading[row_id]
                texts = {key: self._text(page, future) for key, page, future in reading.pages}
                ready[row_id] = (reading.row, finish(reading.first, texts))
        return ready

    def _text(self, page: PageImage, future: Future[PageText]) -> PageText:
        if future.done():
            return self.parser.settle(page, future)
        future.cancel()
        seconds = self.settings.fax.ocr_seconds_per_document
        return PageText(page.number, "", 0.0, "ocr", timed_out=True,
                        problem=f"page {page.number}: not read within fax.ocr_seconds_per_document={seconds:g}")  # fmt: skip


def _pages(first: FirstPass) -> list[tuple[Key, PageImage]]:
    return [((d, page.number), page) for d, doc in enumerate(first.documents) for page in doc.images]


def _poisoned(attempts: int, most: int) -> str:
    return (f"reading it was begun {attempts} times and never finished: the process reading it died "
            f"(out of memory, a crash); over limits.max_attempts={most}, the raw message is kept")  # fmt: skip
