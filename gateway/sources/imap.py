"""One IMAP account: fetch new mail, store the bytes in the inbox, then mark it done.

The order is Postfix's: raw bytes committed to the inbox first, the server told "done"
(moved to the done folder, or flagged) only afterwards, never \\Deleted before commit.
A crash in between leaves the message on the server; the full re-scan after every
(re)connect finds it again and the inbox de-duplicates it, so it becomes one ticket.
Like the SMTP listener, the source only stores: the daemon's sweep reads and routes
(gateway/intake/sweep.py), so a slow fax never holds up the mailbox, and what the pipeline
quarantines is shown by `/health`, the metrics and the inbox, not by a mail folder.
"""
from __future__ import annotations

import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import structlog
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy.orm import Session, sessionmaker

from gateway.intake import inbox
from gateway.intake.ingest import batched
from gateway.settings import ImapAccount
from storage.db import transaction
from storage.models import ImapState

DONE_KEYWORD = "$HotlineDone"
FETCH_MAX_MESSAGES = 100
FETCH_MAX_BYTES = 32 * 1024 * 1024  # bounded memory: a backlog is fetched in slices
IDLE_RENEW_SECONDS = 25 * 60  # servers may drop an IDLE after 30 minutes (RFC 2177)
CONNECTION_ERRORS = (IMAPClientError, OSError, socket.error, ssl.SSLError, EOFError)


@dataclass
class Backoff:
    """Exponential backoff with full jitter, so many gateways do not reconnect in step."""

    base: float = 1.0
    cap: float = 300.0
    failures: int = 0
    since: float | None = None  # monotonic start of the current outage

    def next_delay(self) -> float:
        self.failures += 1
        self.since = self.since or time.monotonic()
        return random.uniform(self.base / 2, min(self.cap, self.base * 2 ** (self.failures - 1)))

    def reset(self) -> float | None:
        """Ends an outage; returns its length in seconds, or None when there was none."""
        length = None if self.since is None else time.monotonic() - self.since
        self.failures, self.since = 0, None
        return length


class ImapSource:
    def __init__(
        self,
        account: ImapAccount,
        factory: sessionmaker[Session],
        on_stored: Callable[[], None],
    ) -> None:
        self.account, self.factory, self.on_stored = account, factory, on_stored
        self.name = f"imap:{account.name}"
        self.log = structlog.get_logger("hotline.imap").bind(account=account.name)
        self.backoff = Backoff()
        self.connected = threading.Event()
        self.last_sync: float | None = None  # monotonic time of the last successful sync

    # -- the loop ---------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Thread body: connect, sync, wait for news (IDLE or polling), until stopped."""
        while not stop.is_set():
            try:
                with self.connect() as client:
                    self.sync(client)
                    self._connected()  # up: logged in and caught up
                    self.wait_and_sync(client, stop)
            except CONNECTION_ERRORS as exc:
                self.connected.clear()
                delay = self.backoff.next_delay()
                if self.backoff.failures == 1:  # once per outage, not once per try
                    self.log.warning("imap connection lost, retrying", error=f"{type(exc).__name__}: {exc}")
                stop.wait(delay)
        self.connected.clear()

    def _connected(self) -> None:
        outage = self.backoff.reset()
        if outage is not None:
            self.log.info("imap reconnected", outage_seconds=round(outage, 1))
        self.connected.set()

    def connect(self) -> IMAPClient:
        account = self.account
        tls = account.tls_context()
        client = IMAPClient(account.host, port=account.port, ssl=account.security == "tls", ssl_context=tls, timeout=30)
        if account.security == "starttls":
            client.starttls(tls)
        client.login(account.username, account.password())
        return client

    def wait_and_sync(self, client: IMAPClient, stop: threading.Event) -> None:
        idle = b"IDLE" in client.capabilities()
        while not stop.is_set():
            if idle:
                news = self._idle(client, stop)
            else:
                stop.wait(self.account.poll_seconds)
                news = True
            if news and not stop.is_set():
                self.sync(client, full=False)

    def _idle(self, client: IMAPClient, stop: threading.Event) -> bool:
        """Wait in IDLE until the server reports something, we are stopped, or it is time to renew.

        imapclient's idle_check returns at once with nothing when the server has closed the
        connection; leaving IDLE then makes the dead socket raise, and the loop reconnects."""
        client.idle()
        started, news = time.monotonic(), False
        try:
            while not stop.is_set() and time.monotonic() - started < IDLE_RENEW_SECONDS:
                checked = time.monotonic()
                if client.idle_check(timeout=1):
                    news = True
                    break
                if time.monotonic() - checked < 0.5:
                    break  # woke with nothing: the connection may be gone
        finally:
            _, late = client.idle_done()
        return news or bool(late)

    # -- one sync ---------------------------------------------------------------------

    def sync(self, client: IMAPClient, full: bool = True) -> int:
        """Fetch what is not yet done, in slices; returns how many messages were taken in.

        A full sync (after every connect) looks at the whole folder; an incremental one,
        after IDLE or a poll, only above the last UID taken."""
        info = client.select_folder(self.account.folder)
        last_uid = self._remember(int(info[b"UIDVALIDITY"]))
        criteria: list[str] = ["NOT", "DELETED"] if self.account.done.startswith("move:") else ["NOT", "KEYWORD", DONE_KEYWORD]
        if not full:
            criteria = ["UID", f"{last_uid + 1}:*", *criteria]
        uids = sorted(uid for uid in client.search(criteria) if full or uid > last_uid)
        taken = sum(self._take(client, group) for group in self._slices(client, uids))
        self.last_sync = time.monotonic()
        return taken

    def _remember(self, uidvalidity: int) -> int:
        """Record the folder's UIDVALIDITY; returns the last UID taken under it."""
        with transaction(self.factory) as session:
            state = session.get(ImapState, self.name)
            if state is None:
                session.add(ImapState(account=self.name, uidvalidity=uidvalidity, last_uid=0))
            elif state.uidvalidity != uidvalidity:
                # The mailbox was recreated: UIDs mean nothing now. The full scan and the
                # inbox's de-duplication make sure nothing is lost or taken twice.
                self.log.warning("imap UIDVALIDITY changed", old=state.uidvalidity, new=uidvalidity)
                state.uidvalidity, state.last_uid = uidvalidity, 0
            if state is not None:
                state.last_sync_at = datetime.now(timezone.utc)
                return state.last_uid
            return 0

    def _slices(self, client: IMAPClient, uids: list[int]) -> Iterator[list[int]]:
        """UIDs in groups small enough, by count and by size, to hold in memory at once."""
        for start in range(0, len(uids), FETCH_MAX_MESSAGES):
            chunk = uids[start : start + FETCH_MAX_MESSAGES]
            sizes = client.fetch(chunk, ["RFC822.SIZE"])
            size_of = lambda uid: int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))  # noqa: E731
            yield from batched(chunk, FETCH_MAX_MESSAGES, FETCH_MAX_BYTES, size_of)

    def _take(self, client: IMAPClient, uids: list[int]) -> int:
        fetched = client.fetch(uids, ["BODY.PEEK[]"])  # PEEK: \\Seen is ours to set, after commit
        present = [uid for uid in uids if uid in fetched]
        now = datetime.now(timezone.utc)
        deliveries = [inbox.Delivery(fetched[uid][b"BODY[]"], self.name, self.account.channel, now) for uid in present]
        with transaction(self.factory) as session:
            inbox.accept_many(session, deliveries)
        # committed: only now is the server told
        self._mark_done(client, present)
        self._advance(max(present, default=0))
        if present:
            self.on_stored()
        return len(present)

    def _mark_done(self, client: IMAPClient, uids: list[int]) -> None:
        if not uids:
            return
        if self.account.done.startswith("move:"):
            self._move(client, uids, self.account.done.removeprefix("move:"))
        else:
            client.add_flags(uids, [b"\\Seen", DONE_KEYWORD.encode()])

    def _move(self, client: IMAPClient, uids: list[int], folder: str) -> None:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        if b"MOVE" in client.capabilities():
            client.move(uids, folder)
            return
        client.copy(uids, folder)  # no MOVE: copy, then delete the originals (after commit)
        client.delete_messages(uids)
        if b"UIDPLUS" in client.capabilities():
            client.uid_expunge(uids)
        else:
            client.expunge()

    def _advance(self, last_uid: int) -> None:
        with transaction(self.factory) as session:
            state = session.get(ImapState, self.name)
            if state is not None and last_uid > state.last_uid:
                state.last_uid = last_uid
