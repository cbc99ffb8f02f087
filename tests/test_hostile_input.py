"""Hostile and unlucky header values through the real `hotline ingest` and `hotline tickets`:
names and file names normalised on the way in, control characters escaped on a terminal
(JSON exact), and a From that only a lenient reading finds still acknowledged."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from storage import db
from storage.models import Attachment
from tests.support import Hotline, ingest_raw, show_ticket, write_config


@pytest.fixture
def hotline(db_url: str, tmp_path: Path) -> Hotline:
    return Hotline(write_config(tmp_path / "c.toml", db_url))


def raw_mail(from_field: bytes, subject: bytes = b"Pytanie", extra: bytes = b"") -> bytes:
    return (b"From: " + from_field + b"\r\nTo: hotline@example.org\r\nSubject: " + subject
            + b"\r\nMessage-ID: <h1@gmina.example.pl>\r\nMIME-Version: 1.0\r\n" + extra)  # fmt: skip


def plain(from_field: bytes, subject: bytes = b"Pytanie") -> bytes:
    return raw_mail(from_field, subject, b"Content-Type: text/plain; charset=utf-8\r\n\r\nJak wygenerowa\xc4\x87 raport?\r\n")


@pytest.mark.parametrize("from_field", [
    b"=?utf-8?q?Kowalski:_Jan?= <jan@gmina.example.pl>",
    "Urząd: Referat Podatków <jan@gmina.example.pl>".encode(),
], ids=["encoded word", "raw 8-bit"])  # fmt: skip
def test_a_colon_in_the_display_name_still_gives_a_sender_and_an_acknowledgement(
    hotline: Hotline, tmp_path: Path, from_field: bytes
) -> None:
    line = ingest_raw(hotline, tmp_path, plain(from_field))
    assert line["action"] == "created"
    t = show_ticket(hotline, line["ticket"])
    assert t["return_emails"] == ["jan@gmina.example.pl"] and t["messages"][0]["from"].endswith("<jan@gmina.example.pl>")
    assert ":" in t["user_name"]  # the name as written, colon and all
    assert [(r["kind"], r["to"]) for r in hotline.json("outbox", "--all", "--json")] == [("ack", "jan@gmina.example.pl")]


def test_names_and_file_names_lose_line_breaks_and_bidi_overrides(hotline: Hotline, db_url: str, tmp_path: Path) -> None:
    """An encoded word can carry CR/LF (a forged second line in every log and view) and a
    right-to-left override (`faktura\u202efdp.exe` shows as `fakturaexe.pdf`)."""
    attachment = (b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
                  b"Prosz\xc4\x99 o pomoc.\r\n--b\r\nContent-Type: application/octet-stream\r\n"
                  b'Content-Disposition: attachment; filename="=?utf-8?q?faktura=0D=0AX-Evil:_1=E2=80=AEfdp.exe?="\r\n'
                  b"Content-Transfer-Encoding: base64\r\n\r\nQUJD\r\n--b--\r\n")  # fmt: skip
    from_field = b"=?utf-8?q?Jan=0D=0AX-Forged:_yes=E2=80=AE_Kowalski=E2=81=A6?= <jan@gmina.example.pl>"
    line = ingest_raw(hotline, tmp_path, raw_mail(from_field, extra=attachment))
    t = show_ticket(hotline, line["ticket"])
    assert t["user_name"] == "Jan X-Forged: yes Kowalski"
    assert t["messages"][0]["from"] == "Jan X-Forged: yes Kowalski <jan@gmina.example.pl>"
    factory = db.open_store(db_url)
    with factory() as session:
        assert list(session.scalars(select(Attachment.filename))) == ["faktura X-Evil: 1fdp.exe"]


def test_control_characters_are_escaped_on_the_terminal_and_exact_in_json(hotline: Hotline, tmp_path: Path) -> None:
    subject = b"=?utf-8?q?Raport_=1B]0;pwned=07=1B[2J_=E2=80=AEtxt.exe?="
    line = ingest_raw(hotline, tmp_path, plain(b"Jan <jan@gmina.example.pl>", subject))
    number = line["ticket"]
    for args in (("tickets", "list"), ("tickets", "show", number)):
        result = hotline.process(*args)
        assert result.code == 0, result.err
        assert "\x1b" not in result.out and "\x07" not in result.out and "\u202e" not in result.out
        assert "Raport \\x1b]0;pwned\\x07\\x1b[2J \\u202etxt.exe" in result.out
    (listed,) = [json.loads(x) for x in hotline.process("tickets", "list", "--json").out.splitlines()]
    assert listed["subject"] == "Raport \x1b]0;pwned\x07\x1b[2J \u202etxt.exe"  # JSON stays exact
