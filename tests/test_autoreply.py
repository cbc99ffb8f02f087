"""parsers.autoreply.classify: own mail, bounces, auto-replies, lists, and people; what
machines declare decides, a subject or a sender's name only makes a message suspect."""
from __future__ import annotations

import pytest

from parsers.autoreply import Verdict, classify
from parsers.mime import parse
from tests import mailfactory as mf

LOOP = "hotline@example.org"


def verdict(raw: bytes) -> Verdict:
    return classify(parse(raw), LOOP)


def test_person_is_normal() -> None:
    assert verdict(mf.make_message()).kind == "normal"


def test_own_mail_by_x_loop_case_insensitive_and_first() -> None:
    raw = mf.make_message(headers=[("X-Loop", "HotLine@Example.ORG"), ("Auto-Submitted", "auto-replied")])
    assert verdict(raw) == Verdict("own", "X-Loop: HotLine@Example.ORG")
    assert verdict(mf.make_message(headers=[("X-Loop", "other@example.org")])).kind == "normal"
    with_own_bounce = mf.with_prepended_headers(mf.dsn_bounce("x@y"), [("X-Loop", LOOP)])
    assert verdict(with_own_bounce).kind == "own"


def test_dsn_is_a_bounce() -> None:
    assert verdict(mf.dsn_bounce("HOT-2026-000001.ab@example.org")) == Verdict(
        "bounce", "Content-Type: multipart/report; report-type=delivery-status")


def test_null_return_path_with_mailer_daemon_is_a_bounce() -> None:
    raw = mf.with_prepended_headers(
        mf.make_message(sender="Mail Delivery System <MAILER-DAEMON@mx.example.org>", subject="Hmm"),
        [("Return-Path", "<>")],
    )
    assert verdict(raw) == Verdict("bounce", "Return-Path: <> with From: Mail Delivery System <MAILER-DAEMON@mx.example.org>")


def test_null_return_path_alone_is_an_autoreply() -> None:
    raw = mf.with_prepended_headers(mf.make_message(subject="Potwierdzenie"), [("Return-Path", "<>")])
    assert verdict(raw) == Verdict("autoreply", "Return-Path: <>")


def test_a_plain_text_bounce_declared_automatic_is_a_bounce() -> None:
    raw = mf.make_message(sender="MAILER-DAEMON@mx.example.pl", subject="failure notice",
                          headers=[("Auto-Submitted", "auto-replied")])  # fmt: skip
    assert verdict(raw) == Verdict("bounce", "Auto-Submitted: auto-replied with From: MAILER-DAEMON@mx.example.pl")


@pytest.mark.parametrize("sender", ["postmaster@example.pl", "MAILER-DAEMON", "Mailer-Daemon@mx.example.pl"])
def test_mailer_daemon_or_postmaster_sender_alone_is_only_suspect(sender: str) -> None:
    assert verdict(mf.make_message(sender=sender, subject="Informacja")) == Verdict("suspect", f"From: {sender}")


@pytest.mark.parametrize("subject", [
    "Undelivered Mail Returned to Sender",
    "Delivery Status Notification (Failure)",
    "Mail delivery failed: returning message to sender",
    "Undeliverable: Pytanie",
    "failure notice",
    "Returned mail: see transcript for details",
])  # fmt: skip
def test_bounce_subjects_alone_are_only_suspect(subject: str) -> None:
    assert verdict(mf.make_message(subject=subject)) == Verdict("suspect", f"Subject: {subject}")


def test_person_forwarding_a_bounce_is_not_a_bounce() -> None:
    assert verdict(mf.make_message(subject="Fwd: Undeliverable: Pytanie")).kind == "normal"


@pytest.mark.parametrize(("header", "value"), [
    ("Auto-Submitted", "auto-replied"),
    ("Auto-Submitted", "auto-generated; owner-email=x@y.pl"),
    ("X-Autoreply", "yes"),
    ("X-Autorespond", "Out of office"),
    ("Precedence", "auto_reply"),
])  # fmt: skip
def test_autoreply_headers(header: str, value: str) -> None:
    assert verdict(mf.out_of_office(subject="Re: Pytanie", headers=[(header, value)])) == Verdict(
        "autoreply", f"{header}: {value}")


def test_auto_submitted_no_and_unrelated_suppress_are_normal() -> None:
    assert verdict(mf.make_message(headers=[("Auto-Submitted", "no")])).kind == "normal"
    assert verdict(mf.make_message(headers=[("X-Auto-Response-Suppress", "DR, RN")])).kind == "normal"


@pytest.mark.parametrize("value", ["All", "DR, OOF, AutoReply"])
def test_outlooks_suppress_header_is_set_on_ordinary_mail_too_so_only_suspect(value: str) -> None:
    raw = mf.make_message(headers=[("X-Auto-Response-Suppress", value)])
    assert verdict(raw) == Verdict("suspect", f"X-Auto-Response-Suppress: {value}")


def test_out_of_office_reply() -> None:
    assert verdict(mf.out_of_office()) == Verdict("autoreply", "Auto-Submitted: auto-replied")


@pytest.mark.parametrize("subject", [
    "Out of Office: Pytanie",
    "Automatic reply: Pytanie",
    "Autoreply: Pytanie",
    "Abwesenheitsnotiz: Frage",
    "Nieobecność: Pytanie",
    "Odpowiedź automatyczna: Pytanie",
    "Automatyczna odpowiedź",
])  # fmt: skip
def test_autoreply_subjects_without_headers_are_only_suspect(subject: str) -> None:
    assert verdict(mf.out_of_office(subject=subject, headers=None)) == Verdict("suspect", f"Subject: {subject}")


def test_nieobecnosc_pracownika_from_a_person_is_normal() -> None:
    """The HR question of every public office: "Nieobecność" is not a subject prefix."""
    raw = mf.make_message(subject="Nieobecność pracownika", sender="Ewa Nowak <ewa.nowak@gmina.example.pl>")
    assert verdict(raw).kind == "normal"


def test_read_receipt_is_an_autoreply() -> None:
    assert verdict(mf.read_receipt("HOT-2026-000001.ab@example.org")) == Verdict(
        "autoreply", "Content-Type: multipart/report; report-type=disposition-notification")


@pytest.mark.parametrize(("header", "value", "reason"), [
    ("List-Id", "Użytkownicy <users.lists.example.org>", "List-Id: Użytkownicy <users.lists.example.org>"),
    ("List-Unsubscribe", "<mailto:leave@lists.example.org>", "List-Unsubscribe: <mailto:leave@lists.example.org>"),
    ("Precedence", "bulk", "Precedence: bulk"),
    ("Precedence", "list", "Precedence: list"),
    ("Precedence", "junk", "Precedence: junk"),
])  # fmt: skip
def test_lists(header: str, value: str, reason: str) -> None:
    assert verdict(mf.make_message(headers=[(header, value)])) == Verdict("list", reason)


def test_order_bounce_before_autoreply_before_list() -> None:
    assert verdict(mf.make_message(subject="failure notice", headers=[("Auto-Submitted", "auto-replied")])).kind == "bounce"
    assert verdict(mf.make_message(headers=[("List-Id", "<l.example.org>"), ("Auto-Submitted", "auto-generated")])).kind == "autoreply"
