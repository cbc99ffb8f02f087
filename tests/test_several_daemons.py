"""Several `hotline run` on one PostgreSQL (issue 17): each mailbox polled by one daemon at a
time by lease, a paused daemon that lost its lease touches nothing, a database restart
stops no source thread for good. Real Dovecot (behind a counting proxy per daemon), real
PostgreSQL, real daemons."""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.cli.commands import IDLE_IN_TRANSACTION_FLOOR
from storage import db
from storage.models import Message, Ticket
from tests import mailfactory as mf
from tests.conftest import PgServer
from tests.imapproxy import Command, ImapProxy, imap_proxy
from tests.relay import Relay, RelayHandler, relay  # noqa: F401  (fixture)
from tests.support import DaemonProcess, Hotline, PgCluster, consultants_config, free_port, postgres_cluster, store_backlog, wait_for, write_config
from tests.test_daemon import get

LEASE = 3  # seconds: short, so that take-overs in the tests are quick
IDLE_LIMIT = IDLE_IN_TRANSACTION_FLOOR  # above 2 x LEASE: how long a paused daemon's transaction lasts
MAILBOX_VERBS = ("SELECT", "EXAMINE", "UID SEARCH", "UID FETCH", "UID MOVE", "UID STORE", "UID COPY", "UID EXPUNGE",
                 "EXPUNGE")  # fmt: skip


def several_config(folder: Path, url: str, imap_ports: dict[str, int], dovecot: Any, metrics_port: int,
                   extra: str = "", outbound: str | None = None) -> Path:  # fmt: skip
    """A daemon's config: one account per folder (name -> port, the port of its proxy or of
    Dovecot), a short lease, /health and /metrics on `metrics_port`."""
    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / "imap-password"
    secret.write_text(dovecot.password if imap_ports else "")
    accounts = "".join(
        f'[[imap]]\nname = "{name}"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f'username = "{dovecot.user}"\npassword_file = "{secret}"\nfolder = "{name}"\ndone = "move:Done-{name}"\n'
        for name, port in imap_ports.items()
    )
    return write_config(folder / "c.toml", url, f"{accounts}[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n"
                        f"[daemon]\nsweep_seconds = 0.5\ngrace_seconds = 5\nlease_seconds = {LEASE}\n{extra}",
                        outbound)  # fmt: skip


def tickets(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def questions(factory: sessionmaker[Session]) -> list[str]:
    """The Message-IDs taken in, one per stored message (duplicates show as repeats)."""
    with factory() as session:
        return list(session.scalars(select(Message.message_id).where(Message.direction == "in")))


def owners(hotline: Hotline) -> dict[str, str | None]:
    """`hotline status --json`: who holds each mailbox's lease now."""
    (status,) = hotline.json("status", "--json")
    return {m["account"]: m["owner"] for m in status["mailboxes"]}


def deliver(dovecot: Any, folder: str, prefix: str, count: int) -> list[str]:
    ids = [f"{prefix}{i}@several" for i in range(count)]  # as stored: without the brackets
    dovecot.deliver_many([mf.make_message(subject=f"{prefix} {i}", message_id=f"<{mid}>", body=f"Pytanie {prefix} {i}\n")
                          for i, mid in enumerate(ids)], folder=folder)  # fmt: skip
    return ids


def create_folders(dovecot: Any, *names: str) -> None:
    with dovecot.client() as client:
        for name in names:
            if not client.folder_exists(name):
                client.create_folder(name)


@pytest.fixture
def factory(pg_url: str) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(pg_url)
    yield sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def own_cluster() -> Iterator[tuple[PgCluster, str]]:
    """A PostgreSQL of the test's own, to stop and start (the session's is shared), with a
    migrated database; its URL."""
    with postgres_cluster() as cluster:
        with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE hotline")
        url = f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/hotline"
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        yield cluster, url


def test_a_database_restart_stops_no_mailbox_and_loses_nothing(tmp_path: Path, dovecot: Any,
                                                               own_cluster: tuple[PgCluster, str]) -> None:  # fmt: skip
    """PostgreSQL stopped (fast: "terminating connection due to administrator command") while
    mail arrives, then started: the same daemon process takes everything in, once; /health
    says 503 while the store or the source thread is down, 200 after; the failure is counted."""
    create_folders(dovecot, "desk")
    cluster, url = own_cluster
    engine = db.make_engine(url)
    store = sessionmaker(engine)
    metrics_port = free_port()
    daemon = DaemonProcess(several_config(tmp_path, url, {"desk": dovecot.port}, dovecot, metrics_port), tmp_path)
    try:
        first = deliver(dovecot, "desk", "before", 10)
        daemon.start()
        wait_for(lambda: tickets(store) == 10 and dovecot.count("desk") == 0, timeout=30)
        cluster.stop()
        engine.dispose()
        during = deliver(dovecot, "desk", "during", 10)  # IDLE wakes the source; the store is gone
        assert wait_for(lambda: get(metrics_port, "/health")[0] == 503, timeout=10)
        wait_for(lambda: "thread failed; starting it again" in daemon.log_path.read_text(), timeout=10)
        cluster.start()
        after = deliver(dovecot, "desk", "after", 10)
        wait_for(lambda: tickets(store) == 30 and dovecot.count("desk") == 0, timeout=60, step=0.5)
        assert daemon.proc is not None and daemon.proc.poll() is None  # carried on, not restarted
        status, body = wait_for(lambda: (r := get(metrics_port, "/health"))[0] == 200 and r, timeout=20)
        assert json.loads(body)["leases"][0]["owner"].endswith(f":{daemon.proc.pid}")
        restarts = re.search(r'hotline_thread_restarts_total\{thread="imap:desk"\} (\S+)',
                             get(metrics_port, "/metrics")[1].decode())  # fmt: skip
        assert restarts is not None and float(restarts.group(1)) >= 1
        assert sorted(questions(store)) == sorted(first + during + after)  # each once
        assert dovecot.count("Done-desk") == 30
    finally:
        daemon.close()
        engine.dispose()


def test_one_poller_per_mailbox_and_a_paused_daemon_touches_nothing(tmp_path: Path, dovecot: Any, pg_url: str,
                                                                    factory: sessionmaker[Session]) -> None:  # fmt: skip
    """Two daemons, each behind its own proxy: only the lease holder talks to the mailbox.
    Paused (SIGSTOP) in the middle of a sync, past its lease, it loses the mailbox to the
    other, which takes in the rest; woken (SIGCONT), it sends the mailbox nothing more
    (no fetch, move or flag), stores nothing twice, and stands by."""
    create_folders(dovecot, "desk")
    with ExitStack() as stack:
        proxies: list[ImapProxy] = [stack.enter_context(imap_proxy(dovecot.port)) for _ in range(2)]
        ports = [free_port(), free_port()]
        daemons = [DaemonProcess(several_config(tmp_path / f"d{i}", pg_url, {"desk": proxies[i].port}, dovecot, ports[i]),
                                 tmp_path) for i in range(2)]  # fmt: skip
        for daemon in daemons:
            stack.callback(daemon.close)
        first, second = daemons
        hotline = Hotline(first.config)
        first.start()
        second.start()
        assert first.proc is not None and second.proc is not None
        assert owners(hotline)["imap:desk"] == f"{os.uname().nodename}:{first.proc.pid}"
        sent = deliver(dovecot, "desk", "one", 20)
        wait_for(lambda: tickets(factory) == 20 and dovecot.count("desk") == 0, timeout=30)
        assert proxies[1].seen() == []  # standing by: not even connected
        assert get(ports[1], "/health")[0] == 200  # standing by is healthy

        sent += deliver(dovecot, "desk", "two", 150)
        wait_for(lambda: tickets(factory) >= 40, timeout=30, step=0.05)
        first.proc.send_signal(signal.SIGSTOP)  # mid-way through the slices of a sync
        paused = time.monotonic()
        try:
            wait_for(lambda: owners(hotline)["imap:desk"] == f"{os.uname().nodename}:{second.proc.pid}",  # type: ignore[union-attr]
                     timeout=IDLE_LIMIT + LEASE * 2 + 5, step=0.3)  # fmt: skip
            took_over = time.monotonic() - paused
            wait_for(lambda: tickets(factory) == 170 and dovecot.count("desk") == 0, timeout=60)
        finally:
            woken = time.monotonic()
            first.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: "mailbox lease lost" in first.log_path.read_text(), timeout=10)
        sent += deliver(dovecot, "desk", "three", 5)
        wait_for(lambda: tickets(factory) == 175 and dovecot.count("desk") == 0, timeout=30)
        time.sleep(LEASE)  # the woken daemon's next renewal or IDLE round has come and gone
        assert proxies[0].seen(*MAILBOX_VERBS, since=woken) == []  # nothing moved, flagged, fetched
        # the lease and a standby round; paused mid-transaction, it keeps the lease's row
        # locked until the server ends that session (hotline run's idle-in-transaction limit)
        assert took_over < IDLE_LIMIT + LEASE + 3
        assert sorted(questions(factory)) == sorted(sent)  # each once
        first_b = min(c.at for c in proxies[1].seen(*MAILBOX_VERBS))
        assert max(c.at for c in proxies[0].seen(*MAILBOX_VERBS)) < first_b  # no overlapping sessions
        assert 'hotline_mailbox_lease_changes_total{account="desk",change="lost"} 1.0' in get(ports[0], "/metrics")[1].decode()
        assert get(ports[0], "/health")[0] == 200  # standing by again
        assert first.terminate() == 0 and second.terminate() == 0


class SlowRelay(RelayHandler):
    """A relay that takes `seconds` over each message before its 250: a daemon can be
    killed in the middle of a round of sends."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.seconds)
        return await super().handle_DATA(server, session, envelope)


def asker(i: int) -> str:
    """Senders spread over addresses and domains: no ack limit (5 an address, 100 a domain) is reached."""
    return f"Pytający {i} <user{i}@office{i % 20}.example.pl>"


def ack_ids(relay: Relay) -> list[str]:
    return [str(r.message["Message-ID"]) for r in relay.received if r.message["X-Hotline-Kind"] == "ack"]


def test_a_killed_daemons_outbox_claims_go_to_another_within_seconds(tmp_path: Path, pg_url: str) -> None:
    """A daemon SIGKILLed while it sends a round of acknowledgements leaves its claims; the
    other daemon sends them once those short claims lapse (the lease plus one send's
    timeout), not after minutes; each acknowledgement reaches the relay once (the one being
    sent at the kill may come twice, with the same Message-ID)."""
    total = 12
    store_backlog(pg_url, [mf.make_message(subject=f"Zwłoka {i}", sender=asker(i), message_id=f"<slow{i}@several>")
                           for i in range(total)])  # fmt: skip
    slow = Relay(SlowRelay(0.4))
    slow.controller.start()
    outbound = slow.config("timeout_seconds = 2")
    daemons = [DaemonProcess(several_config(tmp_path / f"d{i}", pg_url, {}, None, free_port(), outbound=outbound),
                             tmp_path) for i in range(2)]  # fmt: skip
    try:
        first, second = daemons
        first.start()
        wait_for(lambda: len(slow.received) >= 2, timeout=30)
        first.kill()  # holding the claims of the acks not yet sent
        killed, sent_before = time.monotonic(), len(ack_ids(slow))
        assert sent_before < total
        second.start()
        wait_for(lambda: len(set(ack_ids(slow))) == total, timeout=60, step=0.2)
        assert time.monotonic() - killed < LEASE + 2 + 15  # the claims (lease + timeout), start-up and sends
        ids = ack_ids(slow)
        assert len(ids) - len(set(ids)) <= 1  # at most the one in flight at the kill
    finally:
        for daemon in daemons:
            daemon.close()
        slow.controller.stop()


def sessions_by_folder(proxies: list[ImapProxy]) -> dict[str, list[tuple[float, float, str]]]:
    """Each IMAP session's span, from its SELECT to its last command, by the folder it
    selected; (start, end, "proxy/session")."""
    spans: dict[str, list[tuple[float, float, str]]] = {}
    for number, proxy in enumerate(proxies):
        by_session: dict[int, list[Command]] = {}
        for command in proxy.seen():
            by_session.setdefault(command.session, []).append(command)
        for session, commands in by_session.items():
            selects = [c for c in commands if c.verb == "SELECT"]
            if selects:
                folder = selects[0].line.split()[-1].strip('"')
                spans.setdefault(folder, []).append((selects[0].at, commands[-1].at, f"{number}/{session}"))
    return spans


def test_two_daemons_two_mailboxes_kills_and_a_database_restart(tmp_path: Path, dovecot: Any, relay: Relay,
                                                                 own_cluster: tuple[PgCluster, str]) -> None:  # fmt: skip
    """Issue 17's proof: two `hotline run` on one PostgreSQL, two mailboxes (one polled by
    each, once they have seen each other), 300 messages in three waves; the first daemon SIGKILLed mid-way and restarted twice, the second killed
    once, PostgreSQL stopped and started while both run. 300 tickets, none twice, nothing
    left in either mailbox, each moved once, each acknowledgement at the relay once (the
    one being sent at a kill may come twice, same Message-ID), and each mailbox in one
    session at a time."""
    cluster, url = own_cluster
    folders = ("north", "south")
    create_folders(dovecot, *folders)
    engine = db.make_engine(url)
    store = sessionmaker(engine)
    sent: list[str] = []

    def wave(name: str, count: int) -> None:
        for half, folder in enumerate(folders):
            ids = [f"{name}{half}-{i}@several" for i in range(count // 2)]
            dovecot.deliver_many([mf.make_message(subject=f"{name} {folder} {i}", sender=asker(len(sent) + i),
                                                  message_id=f"<{mid}>", body=f"Pytanie {mid}\n")
                                  for i, mid in enumerate(ids)], folder=folder)  # fmt: skip
            sent.extend(ids)

    def routed_at_least(count: int) -> None:
        wait_for(lambda: tickets(store) >= count, timeout=60, step=0.05)

    with ExitStack() as stack:
        proxies = [stack.enter_context(imap_proxy(dovecot.port)) for _ in range(2)]
        outbound = relay.config()
        daemons = [DaemonProcess(several_config(tmp_path / f"d{i}", url, {f: proxies[i].port for f in folders}, dovecot,
                                                free_port(), consultants_config(tmp_path), outbound), tmp_path)
                   for i in range(2)]  # fmt: skip
        for daemon in daemons:
            stack.callback(daemon.close)
        for daemon in daemons:  # the lease changes in the logs, should this fail
            daemon.config.write_text(daemon.config.read_text().replace('level = "warning"', 'level = "info"'))
        first, second = daemons
        kills = 0
        first.start()
        second.start()
        hotline = Hotline(first.config)  # the mailboxes shared out: one each, within a few leases
        assert wait_for(lambda: len(set(owners(hotline).values()) - {None}) == 2, timeout=LEASE * 4 + 5, step=0.3)
        wave("a", 100)
        routed_at_least(20)
        first.kill()  # 1: mid-way through the first wave
        kills += 1
        first.spawn()
        routed_at_least(100)
        wave("b", 100)
        routed_at_least(130)
        second.kill()  # the other, once
        kills += 1
        cluster.stop()  # the database goes away under the survivor, mail keeps coming
        engine.dispose()
        wave("c", 100)
        time.sleep(1)
        cluster.start()
        second.spawn()
        routed_at_least(230)
        first.kill()  # 2: and back again
        kills += 1
        first.spawn()
        wait_for(lambda: tickets(store) == 300 and sum(dovecot.count(f) for f in folders) == 0, timeout=120, step=0.5)
        wait_for(lambda: len(set(ack_ids(relay))) == 300, timeout=60, step=0.5)
        assert sorted(questions(store)) == sorted(sent)  # 300 tickets from 300 messages, none twice
        assert sum(dovecot.count(f"Done-{f}") for f in folders) == 300  # each moved once
        ids = ack_ids(relay)
        assert len(ids) - len(set(ids)) <= kills, f"{len(ids) - len(set(ids))} acknowledgements sent twice"
        for folder, spans in sessions_by_folder(proxies).items():
            spans.sort()
            overlapping = [(a[2], b[2]) for a, b in zip(spans, spans[1:]) if b[0] < a[1]]
            assert not overlapping, f"{folder}: sessions at the same time: {overlapping}"
        assert all(d.terminate() == 0 for d in daemons)
    engine.dispose()
