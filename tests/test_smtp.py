"""The SMTP listener with a real client (smtplib) against the aiosmtpd controller on a loopback
port and a real store on both backends: 250 only once the bytes are committed, 451 with
nothing half-written when the store fails, never an open relay, size limits, channels and
STARTTLS."""
from __future__ import annotations

import hashlib
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gateway.settings import SmtpServerSection
from gateway.sources import smtp
from storage import db
from storage.models import Blob, InboxEntry
from tests.support import free_port

RECIPIENTS = ["hotline@example.org", "fax@example.org", "@fax.example.org"]
CHANNELS = {"fax@example.org": "fax", "@fax.example.org": "fax"}
LIMIT = 4096

RAW = (
    b"From: Jan Kowalski <jan@example.pl>\n"
    b"To: hotline@example.org\n"
    b"Subject: =?utf-8?q?Pytanie_o_wydruk?=\n"
    b"Message-ID: <smtp-test-1@example.pl>\n"
    b"Date: Mon, 02 Mar 2026 10:00:00 +0100\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"Content-Transfer-Encoding: 8bit\n"
    b"\n"
    b"Dzie\xc5\x84 dobry,\n"
    b".a line that starts with a dot (dot-stuffed on the wire)\n"
    b"mam pytanie.\n"
).replace(b"\n", b"\r\n")  # as an MTA sends it: smtplib does not fix line ends of bytes


def on_the_wire(raw: bytes) -> bytes:
    """What the listener receives from smtplib: the message with a final CRLF (smtplib adds
    one when missing), dots un-stuffed again by the server."""
    return raw if raw.endswith(b"\r\n") else raw + b"\r\n"


def message(message_id: str = "smtp-test-1@example.pl", to: str = "hotline@example.org") -> bytes:
    return RAW.replace(b"<smtp-test-1@example.pl>", f"<{message_id}>".encode()).replace(
        b"To: hotline@example.org", f"To: {to}".encode()
    )


@dataclass
class Listener:
    controller: Controller
    port: int
    stored: threading.Event

    @property
    def handler(self) -> smtp.InboxHandler:
        handler = self.controller.handler
        assert isinstance(handler, smtp.InboxHandler)
        return handler

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.port, timeout=10)


Serve = Callable[..., Listener]


@pytest.fixture
def store(db_url: str) -> Iterator[sessionmaker[Session]]:
    factory = db.open_store(db_url)
    yield factory
    factory.kw["bind"].dispose()


@pytest.fixture
def serve(store: sessionmaker[Session]) -> Iterator[Serve]:
    """Starts listeners on free loopback ports; every one is stopped at teardown."""
    started: list[Controller] = []

    def start(factory: sessionmaker[Session] | None = None, tls_context: ssl.SSLContext | None = None, **config: Any) -> Listener:
        port, stored = free_port(), threading.Event()
        section = SmtpServerSection(
            listen=f"127.0.0.1:{port}",
            recipients=config.pop("recipients", RECIPIENTS),
            channel_by_recipient=config.pop("channel_by_recipient", CHANNELS),
            max_message_bytes=config.pop("max_message_bytes", LIMIT),
            **config,
        )
        controller = smtp.start(factory or store, section, stored.set, tls_context=tls_context)
        started.append(controller)
        return Listener(controller, port, stored)

    yield start
    for controller in started:
        if controller._thread is not None:  # not already stopped by the test
            controller.stop()


def read_back(db_url: str) -> list[tuple[InboxEntry, bytes]]:
    """Inbox rows and their raw bytes, through a connection of its own: what is there is
    committed, not merely visible to the listener's session."""
    factory = db.open_store(db_url)
    try:
        with factory() as session:
            rows = session.scalars(select(InboxEntry).order_by(InboxEntry.id)).all()
            return [(row, session.get_one(Blob, row.raw_sha256).data) for row in rows]
    finally:
        factory.kw["bind"].dispose()


def count_blobs(db_url: str) -> int:
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Blob)) or 0)
    finally:
        engine.dispose()


# --- 250 only after commit --------------------------------------------------------------


def test_250_comes_after_the_raw_bytes_are_committed(serve: Serve, db_url: str) -> None:
    listener = serve()
    with listener.client() as client:
        refused = client.sendmail("jan@example.pl", ["hotline@example.org"], RAW)
    assert refused == {}
    [(row, raw)] = read_back(db_url)  # no waiting: the 250 promised it is there
    assert raw == on_the_wire(RAW)
    assert (row.source, row.channel, row.size, row.message_id) == ("smtp", None, len(raw), "smtp-test-1@example.pl")
    assert row.raw_sha256 == hashlib.sha256(raw).hexdigest()
    assert listener.stored.is_set()


def test_the_reply_names_the_inbox_row(serve: Serve, db_url: str) -> None:
    with serve().client() as client:
        client.ehlo()
        client.mail("jan@example.pl")
        client.rcpt("hotline@example.org")
        code, reply = client.data(RAW)
    [(row, _)] = read_back(db_url)
    assert code == 250 and f"inbox #{row.id}".encode() in reply


def test_a_resent_message_is_stored_once(serve: Serve, db_url: str) -> None:
    """The sender re-sends when our 250 was lost: it gets 250 again, naming the same row."""
    replies = []
    with serve().client() as client:
        client.ehlo()
        for _ in range(2):
            client.mail("jan@example.pl")
            client.rcpt("hotline@example.org")
            replies.append(client.data(RAW))
    [(row, _)] = read_back(db_url)
    assert replies == [(250, f"2.0.0 queued as inbox #{row.id}".encode())] * 2


# --- 451 with nothing half-written ------------------------------------------------------


def refuse_inbox_inserts(engine: Engine) -> Callable[[], None]:
    """A trigger that fails every insert into the inbox *after* the blob is written in the
    same transaction: the rollback must take the blob with it. Returns the undo."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(
                "CREATE TRIGGER refuse_inbox BEFORE INSERT ON inbox "
                "BEGIN SELECT RAISE(ABORT, 'inbox refuses writes'); END"
            ))  # fmt: skip
        else:
            conn.execute(text(
                "CREATE FUNCTION refuse_inbox() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'inbox refuses writes'; END $$"
            ))  # fmt: skip
            conn.execute(text("CREATE TRIGGER refuse_inbox BEFORE INSERT ON inbox FOR EACH ROW EXECUTE FUNCTION refuse_inbox()"))

    def undo() -> None:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_inbox" + ("" if engine.dialect.name == "sqlite" else " ON inbox")))

    return undo


def read_only_engine(db_url: str) -> Engine:
    """The same database, opened so that it refuses every write (works as root too, where
    chmod 0444 would not stop anything)."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        return create_engine(f"sqlite:///file:{url.database}?mode=ro&uri=true")
    return create_engine(db_url, connect_args={"options": "-c default_transaction_read_only=on"})


def unreachable_engine(_db_url: str) -> Engine:
    """A server that is down: nothing listens on this port."""
    return create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/hotline", connect_args={"connect_timeout": 5})


@pytest.mark.parametrize("failure", ["insert-fails-after-blob", "read-only", "unreachable"])
def test_451_when_the_store_fails_and_nothing_is_half_written(
    serve: Serve, store: sessionmaker[Session], db_url: str, failure: str
) -> None:
    undo: Callable[[], None] | None = None
    if failure == "insert-fails-after-blob":
        factory, undo = store, refuse_inbox_inserts(store.kw["bind"])
    else:
        make = read_only_engine if failure == "read-only" else unreachable_engine
        factory = sessionmaker(make(db_url), expire_on_commit=False)
    listener = serve(factory)
    try:
        with listener.client() as client, pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("jan@example.pl", ["hotline@example.org"], RAW)
        assert refused.value.smtp_code == 451
        assert read_back(db_url) == [] and count_blobs(db_url) == 0
        assert not listener.stored.is_set()
        if undo is not None:  # the store is back: the sender's retry goes through
            undo()
            with listener.client() as client:
                assert client.sendmail("jan@example.pl", ["hotline@example.org"], RAW) == {}
            [(_, raw)] = read_back(db_url)
            assert raw == on_the_wire(RAW)
    finally:
        if factory is not store:
            factory.kw["bind"].dispose()


def refuse_one_message(engine: Engine, message_id: str) -> None:
    """A trigger that fails the insert of one message's inbox row: the commit of the group
    that holds it fails as a whole."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(
                f"CREATE TRIGGER refuse_one BEFORE INSERT ON inbox WHEN NEW.message_id = '{message_id}' "
                "BEGIN SELECT RAISE(ABORT, 'this one is refused'); END"
            ))  # fmt: skip
        else:
            conn.execute(text(
                "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.message_id = '{message_id}' THEN RAISE EXCEPTION 'this one is refused'; END IF; "
                "RETURN NEW; END $$"
            ))  # fmt: skip
            conn.execute(text("CREATE TRIGGER refuse_one BEFORE INSERT ON inbox FOR EACH ROW EXECUTE FUNCTION refuse_one()"))


def test_concurrent_messages_are_committed_in_groups_and_answered_after_their_commit(
    serve: Serve, store: sessionmaker[Session], db_url: str
) -> None:
    """50 senders end DATA 10 ms apart while each commit takes 0.2 s (a slow disk): what
    arrives during a commit is committed together after it (fewer commits than messages);
    each 250 comes when its row is readable from another connection; the group whose
    commit fails (one of its rows is refused) gets 451 for every message, and none of that
    group is stored, not even its blobs."""
    refuse_one_message(store.kw["bind"], "group-7@example.pl")
    count = 50
    listener = serve(max_connections_per_peer=count)
    commits: list[int] = []
    store_group = listener.handler.store


    def slow_store(deliveries: list[Any]) -> list[Any]:
        commits.append(len(deliveries))
        time.sleep(0.2)
        return store_group(deliveries)

    listener.handler.groups.store = slow_store
    ready = threading.Barrier(count, timeout=30)
    answers: dict[int, tuple[int, bool]] = {}

    def send(n: int) -> None:
        with listener.client() as client:
            client.ehlo()
            client.mail("jan@example.pl")
            client.rcpt("hotline@example.org")
            ready.wait()
            time.sleep(n * 0.01)
            code, _ = client.data(message(f"group-{n}@example.pl"))
            answers[n] = (code, stored(db_url, f"group-{n}@example.pl"))  # read at once, as the sender would trust it

    senders = [threading.Thread(target=send, args=(n,)) for n in range(count)]
    for t in senders:
        t.start()
    for t in senders:
        t.join(timeout=60)
    assert len(answers) == count and {code for code, _ in answers.values()} == {250, 451}
    assert all(there == (code == 250) for code, there in answers.values()), answers  # 250: committed; 451: absent
    refused = sorted(n for n, (code, _) in answers.items() if code == 451)
    assert 7 in refused and len(refused) > 1 and len(refused) in commits  # its whole group, and only that one
    assert len(commits) < count and sum(commits) == count  # grouped: fewer commits than messages
    assert len(read_back(db_url)) == count - len(refused) == count_blobs(db_url)  # nothing of the group half-written


def stored(db_url: str, message_id: str) -> bool:
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).where(InboxEntry.message_id == message_id)) == 1
    finally:
        engine.dispose()


# --- recipients: never an open relay ----------------------------------------------------


RECIPIENT_CASES = [
    ("hotline@example.org", 250),
    ("HotLine@Example.ORG", 250),  # case-insensitive
    ("fax@example.org", 250),
    ("12345@fax.example.org", 250),  # by the @domain entry
    ("Anyone@FAX.example.org", 250),
    ("someone@elsewhere.example", 550),
    ("victim@gmail.com", 550),
    ("other@example.org", 550),  # hotline@example.org is an address, not the domain
    ("x@sub.fax.example.org", 550),  # @domain covers that domain only
    ("hotline@example.org.evil.example", 550),
    ("fax.example.org", 550),
    ("hotline+HOT-2026-000123.k3j9x2ab@example.org", 250),  # a ticket's reply address (subaddress)
    ("other+hotline@example.org", 550),
    ("+@example.org", 550),
]


def test_recipients(serve: Serve) -> None:
    """One session, every case: RCPT does not touch the store, so no database per case."""
    with serve().client() as client:
        client.ehlo()
        answers = []
        for address, _ in RECIPIENT_CASES:
            client.rset()
            client.mail("jan@example.pl")
            answers.append((address, client.rcpt(address)[0]))
    assert answers == RECIPIENT_CASES


def test_a_foreign_recipient_is_refused_and_the_others_still_get_the_message(serve: Serve, db_url: str) -> None:
    with serve().client() as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("spammer@example.net", ["victim@elsewhere.example"], RAW)
        assert refused.value.recipients["victim@elsewhere.example"][0] == 550
        partly = client.sendmail("jan@example.pl", ["victim@elsewhere.example", "hotline@example.org"], RAW)
    assert partly["victim@elsewhere.example"][0] == 550
    assert len(read_back(db_url)) == 1


# --- size ---------------------------------------------------------------------------------


def big_message() -> bytes:
    return RAW + (b"y" * 70 + b"\r\n") * (LIMIT // 70)


def test_ehlo_advertises_the_configured_size(serve: Serve) -> None:
    with serve().client() as client:
        assert client.ehlo()[0] == 250
        assert client.has_extn("size") and client.esmtp_features["size"] == str(LIMIT)


def test_552_when_the_sender_declares_an_oversized_message(serve: Serve, db_url: str) -> None:
    with serve().client() as client, pytest.raises(smtplib.SMTPSenderRefused) as refused:
        client.sendmail("jan@example.pl", ["hotline@example.org"], big_message())  # MAIL FROM ... SIZE=
    assert refused.value.smtp_code == 552
    assert read_back(db_url) == []


def test_552_when_the_data_is_larger_than_declared(serve: Serve, db_url: str) -> None:
    with serve().client() as client:
        client.ehlo()
        client.mail("jan@example.pl")  # no SIZE= parameter
        client.rcpt("hotline@example.org")
        assert client.data(big_message())[0] == 552
        assert client.sendmail("jan@example.pl", ["hotline@example.org"], RAW) == {}  # the session goes on
    assert len(read_back(db_url)) == 1


# --- channels -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rcpts", "channel"),
    [
        (["fax@example.org"], "fax"),
        (["FAX@Example.org"], "fax"),
        (["4822123456@fax.example.org"], "fax"),
        (["hotline@example.org"], None),  # decided later, by the parser
        (["hotline@example.org", "fax@example.org"], "fax"),
    ],
)
def test_channel_by_recipient(serve: Serve, db_url: str, rcpts: list[str], channel: str | None) -> None:
    with serve().client() as client:
        client.sendmail("faxserver@example.org", rcpts, message(to=rcpts[0]))
    [(row, _)] = read_back(db_url)
    assert row.channel == channel


# --- STARTTLS -----------------------------------------------------------------------------


@pytest.fixture
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def test_starttls(serve: Serve, server_tls: ssl.SSLContext, db_url: str) -> None:
    unverified = ssl._create_unverified_context()  # self-signed: trust is not what is tested
    with serve(tls_context=server_tls).client() as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert client.starttls(context=unverified)[0] == 220
        assert isinstance(client.sock, ssl.SSLSocket) and client.sock.version() is not None
        client.ehlo()
        assert not client.has_extn("starttls") and client.esmtp_features["size"] == str(LIMIT)
        assert client.sendmail("jan@example.pl", ["hotline@example.org"], RAW) == {}
    [(_, raw)] = read_back(db_url)
    assert raw == on_the_wire(RAW)


def test_no_starttls_without_a_certificate(serve: Serve) -> None:
    with serve().client() as client:
        client.ehlo()
        assert not client.has_extn("starttls")


# --- stopping -----------------------------------------------------------------------------


def test_stop_lets_a_store_under_way_answer_and_refuses_new_messages(serve: Serve, db_url: str) -> None:
    listener = serve()
    groups, started = listener.handler.groups, threading.Event()
    real_store = groups.store

    def slow_store(deliveries: Any) -> Any:
        started.set()
        time.sleep(1.0)  # long enough for the late client below to send while it runs
        return real_store(deliveries)

    groups.store = slow_store  # the group committer's store: what DATA waits for
    replies: list[dict[str, Any] | BaseException] = []

    def send() -> None:
        try:
            with listener.client() as client:
                replies.append(client.sendmail("jan@example.pl", ["hotline@example.org"], RAW))
        except smtplib.SMTPException as exc:
            replies.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    assert started.wait(10)
    with listener.client() as late:  # connected before the stop, sends after it began
        late.ehlo()
        stopper = threading.Thread(target=smtp.stop, args=(listener.controller, 10.0))
        stopper.start()
        time.sleep(0.1)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            late.sendmail("jan@example.pl", ["hotline@example.org"], message("late@example.pl"))
        assert refused.value.smtp_code == 421
    stopper.join(15)
    sender.join(15)
    assert replies == [{}]  # the message under way got its 250
    assert [raw for _, raw in read_back(db_url)] == [on_the_wire(RAW)]
