"""`hotline ingest` end to end, on SQLite and PostgreSQL: every message one JSON line, one outcome."""
from __future__ import annotations

import fcntl
import hashlib
import mailbox
import os
import pty
import select as io_select
import struct
import subprocess
import termios
from collections.abc import Iterator
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.intake import inbox
from storage import db
from storage.models import Attachment, Blob, Event, InboxEntry, Message as MessageRow, Ticket
from tests import mailfactory as mf
from tests.support import HOTLINE, Hotline, a_coming_friday, free_port, write_config

TICKET_KEYS = {
    "number", "status", "channel", "subject", "severity", "needs_review", "user_name", "office",
    "reference", "form_date", "return_emails", "return_faxes", "return_phones", "question",
    "received_at", "effective_received_at", "ack_due_at", "acked_at", "first_answer_at", "closed_at",
    "plan", "sla",
}  # fmt: skip
MESSAGE_KEYS = {"direction", "kind", "channel", "from", "to", "subject", "text", "at"}


@pytest.fixture
def store(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(db_url)
    yield sessionmaker(engine)
    engine.dispose()


def ingest_one(hotline: Hotline, tmp_path: Path, raw: bytes, *args: str, name: str = "m.eml") -> dict:
    path = tmp_path / name
    path.write_bytes(raw)
    lines = hotline.json("ingest", *args, str(path))
    assert len(lines) == 1
    return lines[0]


def show(hotline: Hotline, number: str) -> dict:
    (ticket,) = hotline.json("tickets", "show", number, "--json")
    return ticket


def write_mbox(path: Path, raws: list[bytes]) -> Path:
    box = mailbox.mbox(path)
    for raw in raws:
        box.add(raw)
    box.close()
    return path


def test_plain_message_becomes_ticket_with_every_contract_key(hotline: Hotline, tmp_path: Path) -> None:
    raw = mf.make_message(subject="Problem z logowaniem", body="Nie mogę się zalogować do systemu.\n")
    friday = a_coming_friday()
    line = ingest_one(hotline, tmp_path, raw, "--received-at", f"{friday}T09:30:00+01:00")
    assert set(line) == {"message_id", "action", "ticket", "reason"}
    assert line["action"] == "created" and line["message_id"] == "q1.20260302@example.pl"
    assert line["ticket"] == "HOT-2026-000001"
    ticket = show(hotline, line["ticket"])
    assert TICKET_KEYS | {"messages", "assignee", "events", "review_reasons"} == set(ticket)  # the contract's, and more
    assert ticket["status"] == "new" and ticket["channel"] == "email"
    assert ticket["subject"] == "Problem z logowaniem"
    assert ticket["user_name"] == "Jan Kowalski"
    assert ticket["return_emails"] == ["jan@example.pl"]
    assert ticket["question"] == "Nie mogę się zalogować do systemu."
    assert ticket["received_at"] == ticket["effective_received_at"] == f"{friday}T08:30:00Z"  # in working hours
    monday_end = datetime.combine(friday + timedelta(days=3), time(16), ZoneInfo("Europe/Warsaw"))
    assert ticket["ack_due_at"] == monday_end.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # end of Monday
    message, ack = ticket["messages"]
    assert set(message) == set(ack) == MESSAGE_KEYS | {"attachments"}
    assert message["direction"] == "in" and message["kind"] == "question"
    assert message["at"] == f"{friday}T08:30:00Z"
    assert (ack["direction"], ack["kind"], ack["to"]) == ("out", "ack", ["jan@example.pl"])
    (listed,) = hotline.json("tickets", "list", "--json")
    assert "messages" not in listed and listed["number"] == line["ticket"]


@pytest.mark.parametrize("charset", ["iso-8859-2", "windows-1250", "utf-8"])
def test_polish_charsets_and_encoded_words(hotline: Hotline, tmp_path: Path, charset: str) -> None:
    subject, body = "Błąd przy wydruku – żółć", "Zażółć gęślą jaźń.\nŁódź, Kraków.\n"
    if charset != "utf-8":
        subject = subject.replace("–", "-")
    raw = mf.make_message(subject=subject, body=body, charset=charset, sender="Łukasz Żak <lz@example.pl>")
    ticket = show(hotline, ingest_one(hotline, tmp_path, raw)["ticket"])
    assert ticket["subject"] == subject
    assert ticket["question"] == body.strip()
    assert ticket["user_name"] == "Łukasz Żak"


def test_unknown_charset_is_decoded_with_replacement(hotline: Hotline, tmp_path: Path) -> None:
    raw = mf.raw_message(
        [("From", "a@example.pl"), ("Subject", "=?x-unknown-42?Q?Zg=B3oszenie?="),
         ("Content-Type", "text/plain; charset=x-unknown-42")],
        body=b"Tre\xb6\xe6 pytania\n",
    )  # fmt: skip
    line = ingest_one(hotline, tmp_path, raw)
    assert line["action"] == "created"
    ticket = show(hotline, line["ticket"])
    assert ticket["question"].startswith("Tre") and ticket["question"].endswith("pytania")


def test_nested_multipart_html_only_and_attached_message(hotline: Hotline, tmp_path: Path) -> None:
    inner = mf.make_message(subject="Oryginał", body="treść załączonej wiadomości\n", message_id="<inner@x>")
    raw = mf.make_message(
        subject="Przekazuję",
        body=None,
        html="<html><body><p>Dzień <b>dobry</b>,</p><p>w załączeniu list.</p></body></html>",
        attachments=[("fw.eml", "message/rfc822", inner), ("zrzut ekranu.png", "image/png", b"\x89PNG....")],
    )
    ticket = show(hotline, ingest_one(hotline, tmp_path, raw)["ticket"])
    assert "Dzień dobry" in ticket["question"] and "w załączeniu list." in ticket["question"]
    assert "<b>" not in ticket["question"] and "załączonej" not in ticket["question"]


def test_attachments_stored_once_with_decoded_names(hotline: Hotline, tmp_path: Path, store) -> None:
    big = os.urandom(20 * 1024 * 1024)
    raw = mf.make_message(attachments=[("skan żółć.pdf", "application/pdf", big)])
    line = ingest_one(hotline, tmp_path, raw)
    assert line["action"] == "created"
    with store() as s:
        (att,) = s.scalars(select(Attachment)).all()
        assert att.filename == "skan żółć.pdf" and att.size == len(big)
        assert att.blob_sha256 == hashlib.sha256(big).hexdigest()
        assert s.scalar(select(Blob.size).where(Blob.sha256 == att.blob_sha256)) == len(big)


def test_no_message_id_no_date_and_cr_only_line_ends(hotline: Hotline, tmp_path: Path) -> None:
    raw = mf.raw_message(
        [("From", "Ala <ala@example.pl>"), ("To", "hotline@example.org"), ("Subject", "Stary Mac")],
        body=b"pierwsza linia\rdruga linia\r",
        eol=b"\r",
    )
    first = ingest_one(hotline, tmp_path, raw)
    assert first["action"] == "created" and first["message_id"].endswith("@synthesized.hotline")
    ticket = show(hotline, first["ticket"])
    assert ticket["subject"] == "Stary Mac"
    assert ticket["question"] == "pierwsza linia\ndruga linia"
    again = ingest_one(hotline, tmp_path, mf.with_prepended_headers(raw, [("Received", "from relay")]))
    assert again["action"] == "duplicate" and again["ticket"] == first["ticket"]


def test_duplicate_is_recorded_once(hotline: Hotline, tmp_path: Path, store) -> None:
    raw = mf.make_message()
    first = ingest_one(hotline, tmp_path, raw)
    second = ingest_one(hotline, tmp_path, raw)
    assert second == {
        "message_id": first["message_id"], "action": "duplicate", "ticket": first["ticket"],
        "reason": second["reason"],
    }  # fmt: skip
    assert "same Message-ID and content" in second["reason"]
    with store() as s:
        assert s.scalar(select(func.count()).select_from(MessageRow).where(MessageRow.direction == "in")) == 1
        assert s.scalar(select(InboxEntry.duplicates)) == 1


def test_follow_ups_by_subject_tag_and_by_references(hotline: Hotline, tmp_path: Path) -> None:
    first = ingest_one(hotline, tmp_path, mf.make_message(subject="Pytanie o raport", message_id="<p1@u>"))
    number = first["ticket"]
    tag = number.replace("HOT-", "[HOT#")
    by_tag = mf.make_message(subject=f"Re: {tag}] Pytanie o raport", message_id="<p2@u>", body="Dopisuję.\n")
    by_refs = mf.make_message(
        subject="Re: Pytanie o raport", message_id="<p3@u>", body="Jeszcze jedno.\n",
        headers=[("In-Reply-To", "<p1@u>"), ("References", "<p1@u>")],
    )  # fmt: skip
    assert ingest_one(hotline, tmp_path, by_tag) | {"reason": None} == {
        "message_id": "p2@u", "action": "appended", "ticket": number, "reason": None}  # fmt: skip
    assert ingest_one(hotline, tmp_path, by_refs)["ticket"] == number
    ticket = show(hotline, number)
    assert [m["kind"] for m in ticket["messages"]] == ["question", "ack", "followup", "followup"]
    assert ticket["question"] == "Dzień dobry,\nmam pytanie."


def test_follow_up_reopens_closed_ticket(hotline: Hotline, tmp_path: Path, store) -> None:
    number = ingest_one(hotline, tmp_path, mf.make_message(message_id="<c1@u>"))["ticket"]
    with store.begin() as s:
        s.execute(update(Ticket).values(status="closed"))
    reply = mf.make_message(subject="Re: Pytanie", message_id="<c2@u>", headers=[("In-Reply-To", "<c1@u>")])
    assert ingest_one(hotline, tmp_path, reply)["action"] == "appended"
    assert show(hotline, number)["status"] == "acknowledged"  # open again: its SLA clocks run (not paused)
    with store() as s:
        assert "reopened" in s.scalars(select(Event.kind)).all()


def test_bounce_and_out_of_office_are_recorded_never_answered(hotline: Hotline, tmp_path: Path, store) -> None:
    number = ingest_one(hotline, tmp_path, mf.make_message(message_id="<b1@u>"))["ticket"]
    with store() as s:  # our acknowledgement, queued with a Message-ID naming the ticket
        our_id = s.scalar(select(MessageRow.message_id).where(MessageRow.kind == "ack"))
    assert our_id.startswith(f"{number}.")
    bounce = ingest_one(hotline, tmp_path, mf.dsn_bounce(our_id), name="bounce.eml")
    assert (bounce["action"], bounce["ticket"]) == ("bounce", number)
    ooo = mf.out_of_office(headers=[("Auto-Submitted", "auto-replied"), ("In-Reply-To", f"<{our_id}>")])
    auto = ingest_one(hotline, tmp_path, ooo, name="ooo.eml")
    assert (auto["action"], auto["ticket"]) == ("autoreply", number)
    assert "Auto-Submitted" in auto["reason"]
    stray = ingest_one(hotline, tmp_path, mf.out_of_office(subject="Out of Office"), name="stray.eml")
    assert (stray["action"], stray["ticket"]) == ("autoreply", None)
    ticket = show(hotline, number)
    assert ticket["status"] == "new"
    assert [m["kind"] for m in ticket["messages"]] == ["question", "ack", "bounce", "autoreply"]
    with store() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1


def test_unparseable_message_is_quarantined_and_kept(hotline: Hotline, tmp_path: Path, store) -> None:
    good1, good2 = mf.make_message(message_id="<g1@u>"), mf.make_message(message_id="<g2@u>", subject="Inne")
    garbage = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(2000)  # an Outlook .msg, not mail
    folder = tmp_path / "in"
    folder.mkdir()
    for name, raw in (("1.eml", good1), ("2.msg", garbage), ("3.eml", good2)):
        (folder / name).write_bytes(raw)
    lines = hotline.json("ingest", str(folder))
    assert [line["action"] for line in lines] == ["created", "quarantined", "created"]
    assert lines[1]["ticket"] is None and "header" in lines[1]["reason"]
    with store() as s:
        entry = s.scalar(select(InboxEntry).where(InboxEntry.state == "quarantined"))
        assert entry is not None and entry.reason == lines[1]["reason"]
        assert s.scalar(select(Blob.data).where(Blob.sha256 == entry.raw_sha256)) == garbage


def test_limits_quarantine_with_the_key_named(db_url: str, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", db_url, "[limits]\nmax_message_bytes = 4096\nmax_attachments = 2\n")
    hotline = Hotline(cfg)
    too_big = mf.make_message(body="x" * 8000 + "\n")
    too_many = mf.make_message(message_id="<m@u>", attachments=[(f"{i}.txt", "text/plain", b"a") for i in range(3)])
    big = ingest_one(hotline, tmp_path, too_big, name="big.eml")
    many = ingest_one(hotline, tmp_path, too_many, name="many.eml")
    assert big["action"] == many["action"] == "quarantined"
    assert "limits.max_message_bytes=4096" in big["reason"]
    assert "limits.max_attachments" in many["reason"]


def test_same_mbox_twice_leaves_the_same_tickets(hotline: Hotline, tmp_path: Path, store) -> None:
    raws = [mf.make_message(subject=f"Pytanie {i}", message_id=f"<m{i}@u>") for i in range(5)]
    raws.append(mf.make_message(subject="Re: Pytanie 1", message_id="<r1@u>", headers=[("References", "<m1@u>")]))
    box = write_mbox(tmp_path / "box.mbox", raws)
    first = hotline.json("ingest", str(box))
    before = hotline.json("tickets", "list", "--json")
    second = hotline.json("ingest", str(box))
    assert [line["action"] for line in first] == ["created"] * 5 + ["appended"]
    assert [line["action"] for line in second] == ["duplicate"] * 6
    assert [line["ticket"] for line in second] == [line["ticket"] for line in first]
    assert hotline.json("tickets", "list", "--json") == before
    with store() as s:
        assert s.scalar(select(func.count()).select_from(MessageRow).where(MessageRow.direction == "in")) == 6


def test_maildir_and_status_filter(hotline: Hotline, tmp_path: Path) -> None:
    md = mailbox.Maildir(tmp_path / "Maildir")
    md.add(mf.make_message(message_id="<d1@u>"))
    md.add(mf.make_message(message_id="<d2@u>", subject="Drugie"))
    lines = hotline.json("ingest", "--channel", "fax", str(tmp_path / "Maildir"))
    assert sorted(line["action"] for line in lines) == ["created", "created"]
    listed = hotline.json("tickets", "list", "--status", "new", "--json")
    assert {t["channel"] for t in listed} == {"fax"} and len(listed) == 2
    assert hotline.json("tickets", "list", "--status", "closed", "--json") == []


def test_stdin_pipe_from_an_mta(hotline: Hotline) -> None:
    raw = mf.mbox_from_line(mf.make_message(subject="Przez potok"))
    result = hotline.process("ingest", "-", stdin=raw)
    assert result.code == 0, result.err
    (line,) = result.json_lines()
    assert line["action"] == "created"
    assert result.err == ""  # no progress bar when stderr is not a terminal
    text = hotline.process("tickets", "show", line["ticket"])
    assert "Przez potok" in text.out


def test_store_unavailable_exits_75_so_the_mta_retries(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none"
    hotline = Hotline(write_config(tmp_path / "c.toml", url))
    result = hotline.process("ingest", "-", stdin=mf.make_message())
    assert result.code == 75
    assert len(result.err.strip().splitlines()) == 1 and "cannot open database" in result.err


def test_database_not_upgraded_is_a_clear_error(tmp_path: Path) -> None:
    hotline = Hotline(write_config(tmp_path / "c.toml", f"sqlite:///{tmp_path}/fresh.db"))
    result = hotline("tickets", "list")
    assert result.code == 2 and "run `hotline db upgrade`" in result.err  # permanent: fixed by the admin, not by retrying
    assert hotline("db", "upgrade").code == 0
    assert hotline("db", "upgrade").code == 0  # idempotent
    assert hotline("tickets", "list").code == 0


def test_bad_input_gives_one_line(hotline: Hotline, tmp_path: Path) -> None:
    for args in (("ingest", str(tmp_path / "missing.eml")), ("tickets", "show", "HOT-1999-000001"),
                 ("ingest", "--received-at", "yesterday", "-"), ("frobnicate",)):  # fmt: skip
        result = hotline(*args)
        assert result.code == 2, args
        assert len(result.err.strip().splitlines()) == 1, result.err


def test_bulk_import_shows_progress_on_a_terminal(hotline: Hotline, tmp_path: Path) -> None:
    box = write_mbox(tmp_path / "old.mbox", [mf.make_message(message_id=f"<old{i}@u>", subject=f"S{i}") for i in range(30)])
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a real terminal's size
    proc = subprocess.run(
        [str(HOTLINE), "--config", str(hotline.config), "ingest", str(box)],
        stdout=subprocess.PIPE, stderr=follower, timeout=120,
    )  # fmt: skip
    os.close(follower)
    shown = b""
    while io_select.select([leader], [], [], 0.5)[0]:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal has no writer left
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 30
    assert b"30/30" in shown and b"msg" in shown



def test_nul_bytes_do_not_break_postgresql(hotline: Hotline, tmp_path: Path) -> None:
    raw = mf.raw_message(
        [("From", "a@example.pl"), ("Subject", "Zero\x00byte"), ("Content-Type", "text/plain; charset=utf-8")],
        body=b"przed\x00po\n",
    )
    line = ingest_one(hotline, tmp_path, raw)
    assert line["action"] == "created", line
    ticket = show(hotline, line["ticket"])
    assert ticket["question"] == "przedpo" and ticket["subject"] == "Zerobyte"


def test_rerun_after_a_crash_routes_what_was_stored_but_not_processed(hotline: Hotline, tmp_path: Path, store) -> None:
    raws = [mf.make_message(subject=f"Przed awarią {i}", message_id=f"<crash{i}@u>") for i in range(3)]
    box = write_mbox(tmp_path / "box.mbox", raws)
    with store.begin() as s:  # as if a run had committed the raw bytes and died before routing
        accepted = inbox.accept_many(s, [inbox.Delivery(r, "ingest:crashed", None, datetime.now(timezone.utc)) for r in raws[:2]])
    assert not any(a.duplicate for a in accepted)
    lines = hotline.json("ingest", str(box))
    assert [line["action"] for line in lines] == ["created"] * 3
    assert [line["action"] for line in hotline.json("ingest", str(box))] == ["duplicate"] * 3
    with store() as s:
        assert s.scalar(select(func.count()).select_from(InboxEntry)) == 3
        assert s.scalar(select(func.count()).select_from(Ticket)) == 3


def test_hostile_message_ids_are_bounded_keys(hotline: Hotline, tmp_path: Path) -> None:
    long_id = "ż" * 2000 + "@example.pl"  # 4 KB of UTF-8: over PostgreSQL's index row limit
    raw = mf.raw_message(
        [("From", "a@example.pl"), ("Subject", "Długie"), ("Message-ID", f"<a\x01b{long_id}>"),
         ("References", f"<{long_id}> <x\x00y@z>"), ("Content-Type", "text/plain; charset=utf-8")],
        body="Treść\n",
    )  # fmt: skip
    line = ingest_one(hotline, tmp_path, raw)
    assert line["action"] == "created", line
    assert line["message_id"].startswith("ab") and len(line["message_id"]) == 250


def test_header_less_inputs_are_each_stored_never_a_duplicate_of_another(hotline: Hotline, store) -> None:
    """Bare text piped in (no header section at all): the whole input is its content."""
    first, second = (hotline.process("ingest", "-", stdin=text).json_lines()[0]
                     for text in (b"question A\n", b"question B\n"))  # fmt: skip
    assert first["action"] == second["action"] == "quarantined"
    assert first["message_id"] != second["message_id"]
    again = hotline.process("ingest", "-", stdin=b"question A\r\n").json_lines()[0]
    assert again["action"] == "duplicate" and again["message_id"] == first["message_id"]
    with store() as s:
        raws = [s.get(Blob, sha).data for sha in s.scalars(select(InboxEntry.raw_sha256).order_by(InboxEntry.id))]
    assert raws == [b"question A\n", b"question B\n"]


@pytest.mark.parametrize(("name", "value"), [
    ("Content-Type", 'text/plain; charset="iso-8859-2"'), ("Content-Transfer-Encoding", "quoted-printable"),
    ("Cc", "ola@example.pl"), ("Reply-To", "inny@example.pl"), ("Content-Disposition", "attachment"),
])  # fmt: skip
def test_same_message_id_with_other_content_headers_is_stored_apart(hotline: Hotline, tmp_path: Path, store,
                                                                     name: str, value: str) -> None:  # fmt: skip
    raw = mf.make_message()
    first = ingest_one(hotline, tmp_path, raw)
    other = ingest_one(hotline, tmp_path, mf.with_prepended_headers(raw, [(name, value)]), name="other.eml")
    assert first["action"] == "created" and other["action"] != "duplicate"
    with store() as s:
        assert s.scalar(select(func.count()).select_from(InboxEntry)) == 2


def test_redelivery_with_trace_fields_and_an_mbox_separator_is_a_duplicate(hotline: Hotline, tmp_path: Path) -> None:
    raw = mf.make_message()
    first = ingest_one(hotline, tmp_path, raw)
    traced = mf.with_prepended_headers(raw, [
        ("Received", "from mx.example.pl by mx.example.org; Mon, 2 Mar 2026 10:16:00 +0100"),
        ("Return-Path", "<jan@example.pl>"), ("Delivered-To", "hotline@example.org"),
        ("Authentication-Results", "mx.example.org; dkim=pass"), ("ARC-Seal", "i=1; a=rsa-sha256; cv=none"),
        ("X-Spam-Status", "No, score=-0.1"), ("DKIM-Signature", "v=1; a=rsa-sha256; d=example.pl"),
    ])  # fmt: skip
    again = ingest_one(hotline, tmp_path, mf.mbox_from_line(traced.replace(b"\r\n", b"\n")) + b"\n", name="t.eml")
    assert again["action"] == "duplicate" and again["ticket"] == first["ticket"]
