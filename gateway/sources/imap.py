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
from enum import StrEnum

import structlog
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy.orm import Session, sessionmaker

from gateway.intake import inbox
from gateway.intake.ingest import batched
from gateway.settings import ImapAccount
from gateway.sources import leases
from gateway.sources.leases import LeaseChange
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


class SourceState(StrEnum):
    STARTING = "starting"
    POLLING = "polling"  # holds the mailbox's lease, connected and caught up
    STANDBY = "standby"  # another daemon holds the lease; this one takes over when it expires
    DOWN = "down"  # the server or the store cannot be reached, or the thread failed


class ImapSource:
    def __init__(
        self,
        account: ImapAccount,
        factory: sessionmaker[Session],
        on_stored: Callable[[], None],
        lease_seconds: float = 30.0,
        on_lease: Callable[[str, LeaseChange], None] = lambda _account, _change: None,
        crowded: Callable[[str], bool] = lambda _account: False,
    ) -> None:
        self.account, self.factory, self.on_stored = account, factory, on_stored
        self.lease_seconds, self.on_lease, self.crowded = lease_seconds, on_lease, crowded
        self.name = f"imap:{account.name}"
        self.owner = leases.instance_name()
        self.log = structlog.get_logger("hotline.imap").bind(account=account.name)
        self.backoff = Backoff()
        self.state = SourceState.STARTING
        self.settled = threading.Event()  # polling, or standing by for another daemon: not down
        self.lease: leases.Lease | None = None
        self.resting_until = 0.0  # monotonic; a lease given away is not taken back before it
        self.last_sync: float | None = None  # monotonic time of the last successful sync

    # -- the loop ---------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Thread body: take the lease, connect, sync, wait for news (IDLE or polling) while
        renewing it, until stopped. Without the lease it stands by and tries again. A store
        error is not caught here: the daemon's supervisor logs it and starts this again."""
        try:
            while not stop.is_set():
                if not self._hold():
                    self._set(SourceState.STANDBY)
                    stop.wait(self.lease_seconds / 3)
                    continue
                self._poll(stop)
            self._release()
        finally:
            self._set(SourceState.DOWN)

    def _poll(self, stop: threading.Event) -> None:
        """One session with the server, while the lease is ours."""
        try:
            with self.connect() as client:
                self.sync(client)
                self._connected()  # up: logged in and caught up
                self.wait_and_sync(client, stop)
        except leases.LeaseLost as exc:  # the session is closed: IDLE follows the lease
            self._lost(exc)
        except CONNECTION_ERRORS as exc:
            self._set(SourceState.DOWN)
            delay = self.backoff.next_delay()
            if self.backoff.failures == 1:  # once per outage, not once per try
                self.log.warning("imap connection lost, retrying", error=f"{type(exc).__name__}: {exc}")
            stop.wait(delay)

    def _set(self, state: SourceState) -> None:
        self.state = state
        if state in (SourceState.POLLING, SourceState.STANDBY):
            self.settled.set()
        else:
            self.settled.clear()

    def _connected(self) -> None:
        outage = self.backoff.reset()
        if outage is not None:
            self.log.info("imap reconnected", outage_seconds=round(outage, 1))
        self._set(SourceState.POLLING)

    # -- the lease --------------------------------------------------------------------

    def _hold(self) -> bool:
        """Whether this daemon may poll the mailbox now: the lease renewed when a third of
        it has passed, or taken when it is free."""
        if self.lease is not None:
            try:
                self._keep()
                return True
            except leases.LeaseLost as exc:  # ran out while the server was unreachable
                self._lost(exc)
        if time.monotonic() < self.resting_until:
            return False
        with transaction(self.factory) as session:
            self.lease = leases.acquire(session, self.name, self.owner, self.lease_seconds)
        if self.lease is not None:
            self.on_lease(self.account.name, LeaseChange.ACQUIRED)
            self.log.info("mailbox lease acquired", owner=self.owner, generation=self.lease.generation)
        return self.lease is not None

    def _keep(self) -> None:
        """Renew the lease when due; LeaseLost when it is gone (expired while paused, taken)
        or given to another daemon because this one polls more than its share."""
        lease = self._lease()
        if time.monotonic() < lease.renew_after:
            return
        if self.crowded(self.account.name):
            self._release()
            self.resting_until = time.monotonic() + self.lease_seconds
            raise leases.LeaseLost(f"{self.name} given to another daemon: this one polls more than its share")
        with transaction(self.factory) as session:
            self.lease = leases.renew(session, lease, self.lease_seconds)

    def _lease(self) -> leases.Lease:
        """The lease, checked against its local deadline: the mailbox is touched only within it."""
        if self.lease is None:
            raise leases.LeaseLost(f"no lease on {self.name}")
        self.lease.check()
        return self.lease

    def _lost(self, exc: leases.LeaseLost) -> None:
        if self.lease is not None:
            self.on_lease(self.account.name, LeaseChange.LOST)
            self.log.warning("mailbox lease lost; standing by", error=str(exc))
        self.lease = None

    def _release(self) -> None:
        if self.lease is None:
            return
        with transaction(self.factory) as session:
            leases.release(session, self.lease)
        self.lease = None
        self.on_lease(self.account.name, LeaseChange.RELEASED)
        self.log.info("mailbox lease released")

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
                self._wait_renewing(stop, self.account.poll_seconds)
                news = True
            if news and not stop.is_set():
                self.sync(client, full=False)

    def _wait_renewing(self, stop: threading.Event, seconds: float) -> None:
        """Wait for the next poll, renewing the lease meanwhile (polls may be longer than it)."""
        until = time.monotonic() + seconds
        while not stop.is_set() and (left := until - time.monotonic()) > 0:
            self._keep()
            stop.wait(min(left, 1.0))

    def _idle(self, client: IMAPClient, stop: threading.Event) -> bool:
        """Wait in IDLE until the server reports something, we are stopped, or it is time to renew.

        imapclient's idle_check returns at once with nothing when the server has closed the
        connection; leaving IDLE then makes the dead socket raise, and the loop reconnects."""
        client.idle()
        started, news = time.monotonic(), False
        try:
            while not stop.is_set() and time.monotonic() - started < IDLE_RENEW_SECONDS:
                self._keep()  # lost: IDLE ends and the session closes
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
        after IDLE or a poll, only above the last UID taken. It takes the lease when it has
        none (a sync outside the loop), and stops at the first slice it no longer holds."""
        if self.lease is None and not self._hold():
            raise leases.LeaseLost(f"another daemon polls {self.name}")
        self._keep()
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
        self._lease()
        fetched = client.fetch(uids, ["BODY.PEEK[]"])  # PEEK: \\Seen is ours to set, after commit
        present = [uid for uid in uids if uid in fetched]
        now = datetime.now(timezone.utc)
        deliveries = [inbox.Delivery(fetched[uid][b"BODY[]"], self.name, self.account.channel, now) for uid in present]
        with transaction(self.factory) as session:
            inbox.accept_many(session, deliveries)
            self.lease = leases.renew(session, self._lease(), self.lease_seconds)  # the fence: ours, or nothing stored
        # committed: only now is the server told, and only while the lease is surely ours
        self._lease()
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
