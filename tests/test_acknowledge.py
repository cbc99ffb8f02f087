"""Acknowledgements end to end, through the real `hotline` command and a real SMTP peer
(aiosmtpd on a loopback port as the relay): on time by the working-time calendar, by the
channel the user asked for, threaded, once, and never to a machine."""
from __future__ import annotations

import email
import email.policy
import io
import mailbox
import smtplib
import ssl
import subprocess
import threading
import time
from datetime import date, datetime, timedelta, timezone
from datetime import time as dt_time
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pypdf import PdfReader
from sqlalchemy import select

from gateway.outbound import delivery
from gateway.outbound import outbox
from gateway.outbound import outgoing
from gateway import settings as config
from gateway.outbound.transport import SmtpRelay, open_transport
from storage import db
from storage.models import Event, OutboxEntry, PendingStep
from tests import formfactory as ff
from tests import mailfactory as mf
from tests.relay import Received, Relay, RelayHandler, Responder, relay  # noqa: F401  (fixture)
from tests.support import DaemonProcess, Hotline, a_coming_friday, consultants_config, free_port, write_config, ingest_raw as ingest, show_ticket as show

GATEWAY = "faxserver@example.org"
WARSAW = ZoneInfo("Europe/Warsaw")
FRIDAY = a_coming_friday()
FRIDAY_1630 = datetime.combine(FRIDAY, dt_time(16, 30), WARSAW).isoformat()


def utc(day: date, hour: int) -> str:
    """Warsaw wall-clock time on a day, as the JSON shows it (UTC, Z)."""
    return datetime.combine(day, dt_time(hour), WARSAW).astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


MONDAY_0800, TUESDAY_1600 = utc(FRIDAY + timedelta(days=3), 8), utc(FRIDAY + timedelta(days=4), 16)
QUESTION = mf.make_message(
    subject="Błąd eksportu sprawozdania", sender="Jan Kowalski <jan.kowalski@gmina.example.pl>",
    body="Dzień dobry,\nprzy eksporcie do PDF pojawia się błąd.\n", message_id="<q1@gmina.example.pl>",
    headers=[("References", "<earlier@gmina.example.pl>")],
)  # fmt: skip


def form(contacts: str) -> ff.FormFields:
    return ff.FormFields(date="20.11.2026", reference="OR.0123.45.2026", user_name="Małgorzata Żółkiewska",
                         office="Urząd Gminy Łódź-Widzew", contacts=contacts,
                         question="Jak wygenerować sprawozdanie kwartalne?\nSystem zgłasza błąd.")  # fmt: skip


def fax_mail(fields: ff.FormFields) -> bytes:
    return mf.make_message(subject="Fax from +48 22 765 43 21", sender=f"Fax Server <{GATEWAY}>", body="Fax.\n",
                           attachments=[("fax.pdf", "application/pdf", ff.typed_pdf(fields))],
                           message_id="<fax.1@example.org>")  # fmt: skip


@pytest.fixture
def hotline(db_url: str, tmp_path: Path, relay: Relay) -> Hotline:  # noqa: F811
    """Through the relay; no consultants (their notifications are another test's subject)."""
    extra = f'[fax]\ngateway_senders = ["{GATEWAY}"]\nsend_in_working_hours = false\n'
    return Hotline(write_config(tmp_path / "c.toml", db_url, extra, outbound=relay.config()))


@pytest.fixture
def with_team(hotline: Hotline, tmp_path: Path) -> Hotline:
    """The same, with consultants to notify."""
    hotline.config.write_text(hotline.config.read_text() + consultants_config(tmp_path), "utf-8")
    return hotline


def team_mail(relay: Relay, subject_part: str) -> list[Received]:  # noqa: F811
    return [r for r in relay.received if r.rcpt_tos == ["support-team@example.org"] and subject_part in str(r.message["Subject"])]


def flush(hotline: Hotline) -> str:
    result = hotline("outbox", "--flush")
    return result.out


def events(hotline: Hotline, kind: str) -> list[Event]:
    factory = db.open_store(config.load(hotline.config).storage.url)
    with factory() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def outbox_rows(hotline: Hotline) -> list[OutboxEntry]:
    factory = db.open_store(config.load(hotline.config).storage.url)
    with factory() as session:
        return list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


def test_friday_evening_mail_is_acknowledged_threaded_by_tuesday(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    line = ingest(hotline, tmp_path, QUESTION, "--received-at", FRIDAY_1630)
    number = line["ticket"]
    t = show(hotline, number)
    assert (t["received_at"], t["effective_received_at"], t["ack_due_at"]) == (utc(FRIDAY, 16).replace(":00:00Z", ":30:00Z"),
                                                                              MONDAY_0800, TUESDAY_1600)  # fmt: skip
    assert t["status"] == "new" and t["acked_at"] is None
    assert "sent" in flush(hotline)

    (got,) = relay.received
    msg = got.message
    assert got.rcpt_tos == ["jan.kowalski@gmina.example.pl"] and got.mail_from == "hotline@example.org"
    assert msg["In-Reply-To"] == "<q1@gmina.example.pl>"
    assert msg["References"].split() == ["<earlier@gmina.example.pl>", "<q1@gmina.example.pl>"]
    assert msg["Subject"] == f"[HOT#{number[4:]}] Błąd eksportu sprawozdania"
    assert msg["Auto-Submitted"] == "auto-replied" and msg["X-Loop"] == "hotline@example.org"
    assert msg["Message-ID"].startswith(f"<{number}.")
    text = msg.get_body(("plain",)).get_content()
    assert number in text and f"{FRIDAY.day} " in text and "16:30" in text
    t = show(hotline, number)
    assert t["status"] == "acknowledged" and t["acked_at"] is not None
    (ack,) = [m for m in t["messages"] if m["kind"] == "ack"]
    assert ack["direction"] == "out" and ack["to"] == ["jan.kowalski@gmina.example.pl"] and number in ack["text"]
    assert flush(hotline).strip() == "nothing waits to go out" and len(relay.received) == 1  # never twice


def test_fax_gets_a_one_page_pdf_through_the_fax_gateway(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    line = ingest(hotline, tmp_path, fax_mail(form("fax 22 123 45 68, tel. 22 123 45 67")))
    number = line["ticket"]
    flush(hotline)
    (got,) = relay.received
    assert got.rcpt_tos == ["48221234568@fax.example.org"]
    (pdf,) = [p for p in got.message.iter_attachments() if p.get_content_type() == "application/pdf"]
    reader = PdfReader(io.BytesIO(pdf.get_content()))
    text = reader.pages[0].extract_text()
    assert len(reader.pages) == 1
    assert number in text and "Małgorzata Żółkiewska" in text and "OR.0123.45.2026" in text
    assert "ą" in text or "ę" in text  # Polish glyphs survive the embedded font
    assert show(hotline, number)["status"] == "acknowledged"


def test_fax_acknowledgement_waits_for_working_hours(db_url: str, tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", db_url, f'[fax]\ngateway_senders = ["{GATEWAY}"]\n')
    hotline = Hotline(path)
    before = datetime.now(timezone.utc)
    number = ingest(hotline, tmp_path, fax_mail(form("fax 22 123 45 68")))["ticket"]
    (row,) = outbox_rows(hotline)
    calendar = config.load(path).work_calendar
    assert row.channel == "fax" and row.to_addr == "48221234568@fax.example.org"
    assert row.next_try_at >= before.replace(microsecond=0) and calendar.is_working_time(row.next_try_at)
    assert row.next_try_at == calendar.next_working_start(row.created_at)
    assert row.next_try_at < datetime.fromisoformat(show(hotline, number)["ack_due_at"])


def test_a_form_naming_only_a_phone_makes_a_callback_task(with_team: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    hotline = with_team
    raw = mf.make_message(subject="Zgłoszenie", sender="sekretariat@lodz-widzew.gov.pl", body=ff.typed_form(ff.PHONE_ONLY))
    number = ingest(hotline, tmp_path, raw, "--received-at", FRIDAY_1630)["ticket"]
    (task,) = events(hotline, "callback_task")
    assert task.data == {"phone": "+48221234567", "due": TUESDAY_1600.replace("Z", "+00:00")}
    flush(hotline)
    assert all(r.rcpt_tos == ["support-team@example.org"] for r in relay.received)  # nothing to the user
    (got,) = team_mail(relay, "Oddzwonić: +48221234567")
    text = got.message.get_body(("plain",)).get_content()
    assert "+48221234567" in text and number in text and "Jak zmienić hasło?" in text
    t = show(hotline, number)
    assert [m["kind"] for m in t["messages"]] == ["question", "notification", "notification"]  # new ticket, call back
    assert t["acked_at"] is None  # acknowledged when someone calls


def test_an_out_of_office_reply_to_our_acknowledgement_gets_nothing(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    number = ingest(hotline, tmp_path, QUESTION)["ticket"]
    flush(hotline)
    ack_id = relay.received[0].message["Message-ID"]
    ooo = mf.make_message(subject=f"Automatic reply: [HOT#{number[4:]}] Błąd", sender="jan.kowalski@gmina.example.pl",
                          body="Jestem na urlopie.\n", headers=[("Auto-Submitted", "auto-replied"), ("In-Reply-To", ack_id)],
                          message_id="<ooo@gmina.example.pl>")  # fmt: skip
    line = ingest(hotline, tmp_path, ooo)
    assert (line["action"], line["ticket"]) == ("autoreply", number)
    assert "nothing waits" in flush(hotline) and len(relay.received) == 1


@pytest.mark.parametrize("kind", ["list", "bounce"])
def test_machines_and_lists_get_no_acknowledgement(hotline: Hotline, tmp_path: Path, kind: str) -> None:
    raw = (mf.make_message(subject="Newsletter", sender="news@lists.example.pl", body="x\n", headers=[("List-Id", "<n.lists.example.pl>")])
           if kind == "list" else mf.dsn_bounce("someone-else@example.com"))  # fmt: skip
    line = ingest(hotline, tmp_path, raw)
    assert not outbox_rows(hotline)
    if kind == "list":
        assert line["action"] == "created"
        (skipped,) = events(hotline, "ack_skipped")
        assert skipped.data["reason"].startswith("list:")


def test_temporary_failures_are_retried_and_delivered_once(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    relay.handler.script = ["451 4.3.0 try later", "451 4.3.0 try later"]
    ingest(hotline, tmp_path, QUESTION)
    outputs = []
    for _ in range(20):  # bounded: retry_seconds is 0.05, doubling
        outputs.append(flush(hotline))
        if relay.received:
            break
        time.sleep(0.1)
    assert relay.handler.attempts == 3 and len(relay.received) == 1
    assert sum("deferred" in o for o in outputs) == 2
    (row,) = outbox_rows(hotline)
    assert (row.state, row.attempts) == ("sent", 3)
    assert len(events(hotline, "delivery_deferred")) == 2


def test_a_permanent_refusal_marks_the_message_failed_and_tells_the_consultants(with_team: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    hotline = with_team
    relay.handler.script = ["550 5.1.1 no such user"]  # for the first message out: the acknowledgement
    number = ingest(hotline, tmp_path, QUESTION)["ticket"]
    assert "failed" in flush(hotline)
    ack, notification, failure = outbox_rows(hotline)
    assert (ack.state, ack.kind) == ("failed", "ack") and "550" in (ack.last_error or "")
    assert failure.kind == "notice" and failure.state == "pending"
    (failed,) = events(hotline, "delivery_failed")
    assert failed.data["to"] == "jan.kowalski@gmina.example.pl"
    flush(hotline)
    (got,) = team_mail(relay, "Niedoręczona wiadomość")
    assert f"[HOT#{number[4:]}]" in got.message["Subject"] and "jan.kowalski@gmina.example.pl" in got.message.get_body(("plain",)).get_content()
    assert show(hotline, number)["status"] == "new"


def test_a_bounce_of_our_acknowledgement_marks_it_failed(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    number = ingest(hotline, tmp_path, QUESTION)["ticket"]
    flush(hotline)
    ack_id = relay.received[0].message["Message-ID"].strip("<>")
    line = ingest(hotline, tmp_path, mf.dsn_bounce(ack_id, recipient="jan.kowalski@gmina.example.pl"))
    assert (line["action"], line["ticket"]) == ("bounce", number)
    (row,) = outbox_rows(hotline)
    assert row.state == "failed" and (row.last_error or "").startswith("bounced")
    assert events(hotline, "delivery_failed")[0].data["to"] == "jan.kowalski@gmina.example.pl"


def test_the_embedded_default_writes_acknowledgements_to_a_maildir(db_url: str, tmp_path: Path) -> None:
    hotline = Hotline(write_config(tmp_path / "c.toml", db_url))
    number = ingest(hotline, tmp_path, QUESTION)["ticket"]
    assert "sent" in flush(hotline)
    (file,) = (tmp_path / "outbox" / "new").iterdir()
    assert f"[HOT#{number[4:]}]" in file.read_bytes().decode("ascii")


def test_outbox_lists_what_waits_and_why(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    relay.handler.script = ["451 4.7.1 greylisted"]
    number = ingest(hotline, tmp_path, QUESTION)["ticket"]
    listed = hotline("outbox").out
    assert number in listed and "not tried yet" in listed
    flush(hotline)
    (row,) = hotline.json("outbox", "--json")
    assert (row["ticket"], row["state"], row["attempts"]) == (number, "pending", 1)
    assert "451" in row["last_error"] and "greylisted" in row["last_error"]


def run_loop(tmp_path: Path, sqlite_template: Path, limits: str, rotating: bool) -> tuple[Responder, Hotline]:
    """The daemon and an auto-responder answering each other until the exchange stops
    (quiet for 3 s; bounded at 60 s): what the responder got, and the daemon's store."""
    listen = free_port()
    responder = Relay(Responder(listen, rotating=rotating))
    url = f"sqlite:///{tmp_path / 'loop.db'}"
    (tmp_path / "loop.db").write_bytes(sqlite_template.read_bytes())
    extra = (f'[smtp_server]\nlisten = "127.0.0.1:{listen}"\nrecipients = ["hotline@example.org"]\n'
             '[daemon]\nsweep_seconds = 0.2\n')  # fmt: skip
    path = write_config(tmp_path / "c.toml", url, extra, outbound=responder.config(limits))
    responder.controller.start()
    daemon = DaemonProcess(path, tmp_path)
    try:
        daemon.start()
        with smtplib.SMTP("127.0.0.1", listen, timeout=10) as smtp:
            smtp.sendmail("auto@responder.example.pl", ["hotline@example.org"], mf.make_message(
                subject="Pytanie", sender="auto@responder.example.pl", body="Pytanie.\n", message_id="<first@responder.example.pl>"))  # fmt: skip
        quiet_since, last = time.monotonic(), -1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and time.monotonic() - quiet_since < 3:
            count = len(responder.received) + responder.handler.replies  # type: ignore[attr-defined]
            if count != last:
                quiet_since, last = time.monotonic(), count
            time.sleep(0.2)
        assert time.monotonic() < deadline, "the exchange did not stop"
    finally:
        daemon.terminate()
        daemon.close()
        responder.controller.stop()
    return responder.handler, Hotline(path)  # type: ignore[return-value]


def test_a_mail_loop_with_an_auto_responder_stops_at_the_hourly_limit(tmp_path: Path, sqlite_template: Path) -> None:
    responder, hotline = run_loop(tmp_path, sqlite_template, "acks_per_address_per_hour = 3", rotating=False)
    assert len(responder.received) == 3  # acknowledgements: the hourly limit
    assert len(hotline.json("tickets", "list", "--json")) == 4  # the question and three auto-answers
    (skipped,) = events(hotline, "ack_skipped")
    assert "over 3 acknowledgements an hour" in skipped.data["reason"]


def test_a_responder_answering_from_a_new_address_each_time_stops_at_its_domains_limit(
        tmp_path: Path, sqlite_template: Path) -> None:  # fmt: skip
    """No Auto-Submitted, no X-Loop, a new ticket+N@ address each turn: the per-address
    limit never trips; the domain's does, and the last ticket tells a person why."""
    limits = "acks_per_address_per_hour = 3\nacks_per_domain_per_hour = 4"
    responder, hotline = run_loop(tmp_path, sqlite_template, limits, rotating=True)
    assert len({r.rcpt_tos[0] for r in responder.received}) == 4  # four addresses...
    assert len(responder.received) == 4  # ...and the domain's hourly limit
    tickets = hotline.json("tickets", "list", "--json")
    assert len(tickets) == 5 and [t["needs_review"] for t in tickets] == [False] * 4 + [True]
    (skipped,) = events(hotline, "ack_skipped")
    assert skipped.data["reason"] == "over 4 acknowledgements an hour to @responder.example.pl"
    assert show(hotline, tickets[-1]["number"])["review_reasons"] == [skipped.data["reason"]]


def test_acknowledgements_stop_at_the_hourly_total(hotline: Hotline, tmp_path: Path) -> None:
    hotline.config.write_text(hotline.config.read_text().replace("retry_seconds", "acks_per_hour = 2\nretry_seconds"))
    lines = [ingest(hotline, tmp_path, mf.make_message(sender=f"jan@urzad{i}.example.pl", message_id=f"<t{i}@u>"))
             for i in range(3)]  # fmt: skip
    assert [line["action"] for line in lines] == ["created"] * 3
    assert [r.to_addr for r in outbox_rows(hotline)] == ["jan@urzad0.example.pl", "jan@urzad1.example.pl"]
    third = show(hotline, lines[2]["ticket"])
    assert third["needs_review"] and third["review_reasons"] == ["over 2 acknowledgements an hour to all addresses"]


def test_an_address_we_cannot_write_to_leaves_the_ticket_for_a_person(hotline: Hotline, tmp_path: Path) -> None:
    raw = ("From: J. Doe <jdöe@mächine.example>\r\nTo: hotline@example.org\r\nSubject: Pytanie\r\n"
           "Message-ID: <utf8@mächine.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPytanie.\r\n").encode()
    line = ingest(hotline, tmp_path, raw)
    assert line["action"] == "created"  # the question is never lost for want of an acknowledgement
    assert show(hotline, line["ticket"])["needs_review"] is True
    (skipped,) = events(hotline, "ack_skipped")
    assert "SMTPUTF8" in skipped.data["reason"] and not outbox_rows(hotline)


def test_relay_with_starttls_and_login(db_url: str, tmp_path: Path, certificate: tuple[Path, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A relay that insists on STARTTLS and AUTH, trusted through a private CA."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(*certificate)
    logins: list[bytes] = []

    def authenticator(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"hotline", b"s3cret")
        logins.append(data.login if isinstance(data, LoginPassword) else b"?")
        return AuthResult(success=ok)

    secure = Relay(RelayHandler())
    secure.controller = Controller(secure.handler, hostname="127.0.0.1", port=secure.port, tls_context=tls,
                                   require_starttls=True, authenticator=authenticator, auth_require_tls=True)  # fmt: skip
    monkeypatch.setenv("HOTLINE_RELAY_PASSWORD", "s3cret")
    outbound = secure.config(f'username = "hotline"\npassword_env = "HOTLINE_RELAY_PASSWORD"\n'
                             f'tls_ca_file = "{certificate[0]}"', security="starttls")  # fmt: skip
    hotline = Hotline(write_config(tmp_path / "c.toml", db_url, outbound=outbound))
    secure.controller.start()
    try:
        number = ingest(hotline, tmp_path, QUESTION)["ticket"]
        assert "sent" in flush(hotline)
    finally:
        secure.controller.stop()
    (got,) = secure.received
    assert logins == [b"hotline"] and number in got.message["Subject"].replace("#", "-")


def test_after_a_crash_between_sending_and_committing_the_same_message_is_sent_again(
    hotline: Hotline, tmp_path: Path, relay: Relay  # noqa: F811
) -> None:
    """The worker rendered the draft, the relay said 250, and the worker died before it
    recorded the row as sent: when the lease ends the row is sent again, byte for byte,
    with the same Message-ID, although the log (whose checkpoint the ack carries) has grown
    since and a fresh render would differ."""
    key = tmp_path / "register-key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True, timeout=30)
    register = f'[register]\nlog = "{tmp_path / "replylog.jsonl"}"\nkey_file = "{key}"\n'
    hotline.config.write_text(hotline.config.read_text() + register, "utf-8")
    ingest(hotline, tmp_path, QUESTION)
    settings = config.load(hotline.config)
    factory = db.open_store(settings.storage.url)
    with db.transaction(factory) as session:
        (claim,) = outbox.claim_due(session, datetime.now(timezone.utc))
    assert claim.payload is None and claim.draft is not None  # routing stored what to say, not the MIME
    (claim,), _ = delivery.rendered(factory, settings, [claim])
    assert claim.payload is not None
    open_transport(settings.outbound).send(claim.sender, claim.recipients, claim.payload)  # ... and then it died
    assert "nothing waits" not in flush(hotline) and len(relay.received) == 1  # still leased: not sent twice
    ingest(hotline, tmp_path, mf.make_message(sender="ewa@urzad.example.pl", message_id="<other@u>"))  # the log grows
    with db.transaction(factory) as session:
        later = datetime.now(timezone.utc) + outbox.LEASE + timedelta(seconds=1)
        again = next(c for c in outbox.claim_due(session, later) if c.id == claim.id)
    (again,), _ = delivery.rendered(factory, settings, [again])
    delivery.deliver(factory, settings, open_transport(settings.outbound), again)
    first, second = relay.received[0], relay.received[-1]
    assert first.data == second.data and first.message["Message-ID"] == second.message["Message-ID"]
    assert first.message["X-Hotline-Checkpoint"] is not None
    row = next(r for r in outbox_rows(hotline) if r.id == claim.id)
    assert row.state == "sent"


def test_a_customer_configured_for_english_gets_an_english_acknowledgement(db_url: str, tmp_path: Path) -> None:
    extra = '[templates]\nlanguage_by_sender = { "@gmina.example.pl" = "en" }\n'
    hotline = Hotline(write_config(tmp_path / "c.toml", db_url, extra))
    number = ingest(hotline, tmp_path, QUESTION, "--received-at", FRIDAY_1630)["ticket"]
    flush(hotline)
    (file,) = (tmp_path / "outbox" / "new").iterdir()
    msg = email.message_from_bytes(file.read_bytes(), policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    monday = FRIDAY + timedelta(days=3)
    assert f"registered it under the number {number}" in text and f"Friday, {FRIDAY.day} {FRIDAY:%B %Y}" in text
    assert f"Monday, {monday.day} {monday:%B %Y}, 08:00" in text  # counted from the next working time


def test_a_fax_gateways_own_notice_gets_no_acknowledgement(hotline: Hotline, tmp_path: Path) -> None:
    notice = mf.make_message(subject="Fax delivery report: 1 page sent", sender=f"Fax Server <{GATEWAY}>",
                             body="Your fax to +48 22 123 45 68 was sent.\n")  # fmt: skip
    line = ingest(hotline, tmp_path, notice)
    assert line["action"] == "created" and not outbox_rows(hotline)  # kept for a person, never answered
    (skipped,) = events(hotline, "ack_skipped")
    assert "fax gateway" in skipped.data["reason"]


def test_two_workers_never_send_one_row_twice(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    """Two outbox workers (two daemon instances on one database) draining the same queue."""
    mbox = mailbox.mbox(tmp_path / "many.mbox")
    for i in range(40):  # forty offices: one office's forty would meet [outbound] acks_per_domain_per_hour
        mbox.add(mf.make_message(subject=f"Pytanie {i}", sender=f"user@gmina{i}.example.pl", body="?\n",
                                 message_id=f"<m{i}@gmina.example.pl>"))  # fmt: skip
    mbox.close()
    assert len(hotline.json("ingest", str(tmp_path / "many.mbox"))) == 40
    settings = config.load(hotline.config)
    factory = db.open_store(settings.storage.url)
    results: list[list[delivery.Result]] = [[], []]

    def work(i: int) -> None:
        while sent := delivery.send_due(factory, settings, open_transport(settings.outbound), limit=3):
            results[i] += sent

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = [r.message["Message-ID"] for r in relay.received]
    assert len(ids) == len(set(ids)) == 40 and all(r.outcome == "sent" for rs in results for r in rs)
    assert sorted(r.outbox_id for rs in results for r in rs) == list(range(1, 41))  # each row by one worker


def test_an_import_of_old_mail_acknowledges_nothing(hotline: Hotline, tmp_path: Path) -> None:
    """Mail from an old system, with its original times: its deadlines are long past, and
    users must not get acknowledgements of questions answered years ago."""
    line = ingest(hotline, tmp_path, QUESTION, "--received-at", "2024-03-01T10:00:00+01:00")
    assert line["action"] == "created" and not outbox_rows(hotline)
    (skipped,) = events(hotline, "ack_skipped")
    assert skipped.data["reason"].startswith("imported: its acknowledgement was due 2024-03-04")


def test_a_failing_acknowledgement_never_costs_the_ticket(hotline: Hotline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in the step: the question stands and the acknowledgement is owed (the daemon's
    promises job tries it again), with its deadline."""
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("template exploded")

    monkeypatch.setattr(outgoing, "email_ack", broken)
    line = ingest(hotline, tmp_path, QUESTION)
    assert line["action"] == "created"  # not quarantined
    ticket = show(hotline, line["ticket"])
    assert ticket["needs_review"] is False and not outbox_rows(hotline)
    (failed,) = events(hotline, "step_failed")
    assert failed.data["step"] == "acknowledge" and failed.data["error"] == "RuntimeError: template exploded"
    assert failed.data["due"] == ticket["ack_due_at"].replace("Z", "+00:00")
    with db.open_store(config.load(hotline.config).storage.url)() as session:
        (owed,) = session.scalars(select(PendingStep)).all()
    assert (owed.step, owed.done_at, owed.attempts) == ("acknowledge", None, 1)


def test_a_transport_bug_defers_the_row_and_the_round_goes_on(hotline: Hotline, tmp_path: Path, relay: Relay,  # noqa: F811
                                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    real_send = SmtpRelay.send

    def send(self: SmtpRelay, sender: str, recipients: list[str], data: bytes) -> None:
        if recipients == ["first@gmina.example.pl"]:
            raise UnicodeEncodeError("ascii", "ż", 0, 1, "a bug")
        real_send(self, sender, recipients, data)

    monkeypatch.setattr(SmtpRelay, "send", send)
    for name in ("first", "second"):
        ingest(hotline, tmp_path, mf.make_message(subject="Pytanie", sender=f"{name}@gmina.example.pl", body="?\n",
                                                  message_id=f"<{name}@gmina.example.pl>"))  # fmt: skip
    assert "deferred" in flush(hotline)
    first, second = outbox_rows(hotline)
    assert (first.state, second.state) == ("pending", "sent") and "UnicodeEncodeError" in (first.last_error or "")


def test_a_fax_whose_subject_counts_its_pages_is_acknowledged_to_the_callers_fax(hotline: Hotline, tmp_path: Path) -> None:
    """The gateway writes "Fax from +48 22 555 12 34 (1 page)": the number, not "(1", is the caller."""
    page = ff.to_g4_tiff([ff.render_text_page("Dzień dobry,\nproszę o kontakt w sprawie licencji.")])
    raw = mf.make_message(subject="Fax from +48 22 555 12 34 (1 page)", sender=f"Fax Server <{GATEWAY}>",
                          body="Fax.\n", attachments=[("fax.tif", "image/tiff", page)], message_id="<fax.2@example.org>")  # fmt: skip
    number = ingest(hotline, tmp_path, raw)["ticket"]
    assert show(hotline, number)["return_faxes"] == ["+48225551234"]
    (row,) = outbox_rows(hotline)
    assert row.channel == "fax" and row.to_addr == "48225551234@fax.example.org"


def test_nieobecnosc_pracownika_from_a_person_is_a_question_acknowledged(with_team: Hotline, tmp_path: Path) -> None:
    """An everyday HR question in a public office; its subject once made it an "autoreply"."""
    raw = mf.make_message(subject="Nieobecność pracownika", sender="Ewa Nowak <ewa.nowak@gmina.example.pl>",
                          body="Jak wprowadzić nieobecność pracownika w module kadrowym?\n")  # fmt: skip
    line = ingest(with_team, tmp_path, raw)
    assert line["action"] == "created" and line["reason"] is None
    ack, notification = outbox_rows(with_team)
    assert (ack.kind, ack.to_addr) == ("ack", "ewa.nowak@gmina.example.pl")
    assert (notification.kind, notification.to_addr) == ("notice", "support-team@example.org")
    assert show(with_team, line["ticket"])["needs_review"] is False


def test_a_declared_out_of_office_is_an_autoreply_without_a_ticket(with_team: Hotline, tmp_path: Path) -> None:
    raw = mf.out_of_office(subject="Nieobecność: Pytanie", headers=[("Auto-Submitted", "auto-replied")])
    line = ingest(with_team, tmp_path, raw)
    assert (line["action"], line["ticket"], line["reason"]) == ("autoreply", None, "Auto-Submitted: auto-replied")
    assert not outbox_rows(with_team) and not with_team.json("tickets", "list", "--json")


def test_a_real_delivery_report_is_a_bounce(with_team: Hotline, tmp_path: Path) -> None:
    line = ingest(with_team, tmp_path, mf.dsn_bounce("someone-else@example.com"))
    assert (line["action"], line["ticket"]) == ("bounce", None)
    assert not outbox_rows(with_team)


@pytest.mark.parametrize(("subject", "sender", "headers", "hint"), [
    ("Automatyczna odpowiedź", "Anna Nowak <anna@urzad.example.pl>", [], "Subject: Automatyczna odpowiedź"),
    ("Returned mail: see transcript", "Jan Kowalski <jan@urzad.example.pl>", [], "Subject: Returned mail: see transcript"),
    ("Konto pocztowe", "postmaster@urzad.example.pl", [], "From: postmaster@urzad.example.pl"),
    ("Pytanie o raport", "Jan Kowalski <jan@urzad.example.pl>", [("X-Auto-Response-Suppress", "All")],
     "X-Auto-Response-Suppress: All"),
])  # fmt: skip
def test_a_message_that_only_looks_automatic_is_a_flagged_ticket_the_team_sees(
        with_team: Hotline, tmp_path: Path, subject: str, sender: str, headers: list[tuple[str, str]],
        hint: str) -> None:  # fmt: skip
    """A subject, a sender's name or Outlook's suppress header is a hint, never a proof:
    the question is kept and the consultants told; only the automatic acknowledgement waits."""
    raw = mf.make_message(subject=subject, sender=sender, body="Proszę o pomoc z raportem.\n", headers=headers)
    line = ingest(with_team, tmp_path, raw)
    assert (line["action"], line["reason"]) == ("created", hint)
    ticket = show(with_team, line["ticket"])
    assert ticket["needs_review"] is True and any(hint in r for r in ticket["review_reasons"])
    (notification,) = outbox_rows(with_team)  # no acknowledgement
    assert notification.kind == "notice" and notification.to_addr == "support-team@example.org"
    assert "sent" in flush(with_team)  # rendered and sent: the ticket shows what went
    ticket = show(with_team, line["ticket"])
    (told,) = [m for m in ticket["messages"] if m["kind"] == "notification"]
    assert hint in told["text"]  # the team sees why
    (skipped,) = events(with_team, "ack_skipped")
    assert hint in skipped.data["reason"]


@pytest.mark.parametrize(("contacts", "number"), [
    ("fax 0 700 123 456", "+48700123456"),  # premium rate
    ("fax +44 20 7946 0958", "+442079460958"),  # abroad
])  # fmt: skip
def test_a_form_naming_a_fax_number_outside_the_allowed_prefixes_gets_no_fax(
        with_team: Hotline, tmp_path: Path, relay: Relay, contacts: str, number: str) -> None:  # noqa: F811  # fmt: skip
    """A typed form (or a forged fax gateway mail) names the number: we dial only Polish
    geographic and mobile numbers unless [fax] allowed_prefixes says otherwise."""
    raw = mf.make_message(subject="Zgłoszenie", sender="sekretariat@lodz-widzew.gov.pl", body=ff.typed_form(form(contacts)))
    line = ingest(with_team, tmp_path, raw)
    assert line["action"] == "created"
    ticket = show(with_team, line["ticket"])
    assert ticket["return_faxes"] == [number] and ticket["needs_review"] is True
    reason = f"{number} is not an allowed fax destination ([fax] allowed_prefixes)"
    assert any(reason in r for r in ticket["review_reasons"])
    flush(with_team)
    assert [r.rcpt_tos for r in relay.received] == [["support-team@example.org"]]  # nothing to the fax gateway
    assert reason in relay.received[0].message.get_body(("plain",)).get_content()  # the team sees why


def test_a_polish_fax_number_is_still_faxed_and_the_prefixes_can_be_widened(hotline: Hotline, tmp_path: Path) -> None:
    raw = mf.make_message(subject="Zgłoszenie", sender="sekretariat@lodz-widzew.gov.pl",
                          body=ff.typed_form(form("fax 42 123 45 68")), message_id="<pl@u>")  # fmt: skip
    ingest(hotline, tmp_path, raw)
    hotline.config.write_text(hotline.config.read_text().replace("[fax]\n", '[fax]\nallowed_prefixes = ["+4842", "+44"]\n'))
    raw = mf.make_message(subject="Zgłoszenie", sender="office@example.co.uk",
                          body=ff.typed_form(form("fax +44 20 7946 0958")), message_id="<uk@u>")  # fmt: skip
    ingest(hotline, tmp_path, raw)
    assert [r.to_addr for r in outbox_rows(hotline)] == ["48421234568@fax.example.org", "442079460958@fax.example.org"]


def test_a_bad_allowed_prefix_is_named_by_check_config(hotline: Hotline) -> None:
    hotline.config.write_text(hotline.config.read_text().replace("[fax]\n", '[fax]\nallowed_prefixes = ["0048"]\n'))
    result = hotline("check-config")
    assert result.code == 2 and "fax.allowed_prefixes" in result.err and "'0048'" in result.err


def test_a_reply_to_of_another_organisation_is_not_acknowledged_and_the_ticket_is_flagged(
        hotline: Hotline, tmp_path: Path) -> None:  # fmt: skip
    """Spam reflected through our domain: a stranger's Reply-To would get our acknowledgement
    with the subject and name the sender chose; it goes to the sender only."""
    raw = mf.make_message(subject="Tanie leki bez recepty", sender="Promocja <spammer@bulk.example.net>",
                          headers=[("Reply-To", "victim@gmail.com")])  # fmt: skip
    ticket = show(hotline, ingest(hotline, tmp_path, raw)["ticket"])
    (ack,) = outbox_rows(hotline)
    assert ack.to_addr == "spammer@bulk.example.net"
    assert ticket["return_emails"] == ["spammer@bulk.example.net", "victim@gmail.com"] and ticket["needs_review"]
    assert ticket["review_reasons"] == ["Reply-To victim@gmail.com is not the sender's organisation: acknowledged to the sender only"]


def test_a_reply_to_of_the_senders_own_office_is_followed(hotline: Hotline, tmp_path: Path) -> None:
    raw = mf.make_message(sender="jan.kowalski@gmina.example.pl", headers=[("Reply-To", "sekretariat@gmina.example.pl")])
    ticket = show(hotline, ingest(hotline, tmp_path, raw)["ticket"])
    assert [r.to_addr for r in outbox_rows(hotline)] == ["sekretariat@gmina.example.pl"] and not ticket["needs_review"]


def test_mail_naming_a_ticket_of_ours_that_it_cannot_join_is_not_acknowledged(hotline: Hotline, tmp_path: Path) -> None:
    """A responder quoting our subject tag (or our Message-ID) for a ticket we do not have,
    a forged or mangled one: it becomes a ticket, but is never answered automatically."""
    raw = mf.make_message(subject="Re: [HOT#2026-999999] Błąd eksportu", sender="ticket+7@responder.example.pl")
    line = ingest(hotline, tmp_path, raw)
    assert line["action"] == "created" and not outbox_rows(hotline)
    assert show(hotline, line["ticket"])["review_reasons"] == [
        "answers our mail about HOT-2026-999999, which it did not join: not acknowledged, to break a loop"]
