"""Outgoing messages: acknowledgements by e-mail and fax, the consultants' notices, and
the consultants' answers to users.

Every check reads the message back from its bytes, as the receiving side would.
"""
from __future__ import annotations

import email
import io
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage, Message
from pathlib import Path

import jinja2
import pypdf
import pytest

from gateway.outbound.compose import (
    REPLY_MARKERS,
    AckFacts,
    Envelope,
    Notification,
    ack_email,
    ack_fax,
    answer_callback_notice,
    answer_email,
    answer_fax,
    callback_notice,
    command_error,
    delivery_failed_notice,
    held_notice,
    notification,
)
from gateway.outbound.headers import MAX_REFERENCES, SUBJECT_LIMIT, clean_header_text, fax_gateway_address, reply_subject, thread_references
from gateway.outbound.templates import Templates, format_datetime, pick_language, render
from parsers.refs import ticket_number_from_subject

UTC = timezone.utc
TAG = "[HOT#2026-000123]"
ORIGINAL_ID = "CAF1x2y3@mail.example.pl"


def facts(**changes: object) -> AckFacts:
    """Friday 20 Nov 2026, 16:30 in Warsaw (after hours): effective Monday 08:00."""
    base = AckFacts(
        number="HOT-2026-000123",
        language="pl",
        subject="Pytanie o moduł kadrowy",
        reference="OR.1234.5.2026",
        user_name="Józef Ąćęłńóśźż",
        office="Urząd Gminy Łęczyca",
        received_at=datetime(2026, 11, 20, 15, 30, tzinfo=UTC),
        effective_received_at=datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
        ack_due_at=datetime(2026, 11, 24, 15, 0, tzinfo=UTC),
        timezone="Europe/Warsaw",
        hours=("08:00", "16:00"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


ENV = Envelope(
    from_="Hot-line <hotline@example.org>",
    loop_id="hotline@example.org",
    message_id="HOT-2026-000123.0123456789abcdef@example.org",
    date=datetime(2026, 11, 20, 15, 31, 5, tzinfo=UTC),
)


def parsed(msg: EmailMessage) -> EmailMessage:
    """The message as its recipient sees it: parsed back from the bytes we would send."""
    back = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(back, EmailMessage)
    return back


def body(msg: Message, subtype: str) -> str:
    for part in msg.walk():
        if part.get_content_type() == f"text/{subtype}":
            assert isinstance(part, EmailMessage)
            return str(part.get_content()).replace("\r\n", "\n")
    raise AssertionError(f"no text/{subtype} part")


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def send_ack(**kwargs: object) -> EmailMessage:
    args: dict[str, object] = {
        "facts": facts(),
        "env": ENV,
        "to": "Józef Kowalski <jozef@gmina.example.pl>",
        "original_subject": "Pytanie o moduł kadrowy",
        "in_reply_to": ORIGINAL_ID,
        "references": ["root@mail.example.pl"],
    }
    args.update(kwargs)
    return ack_email(**args)  # type: ignore[arg-type]


# --- the e-mail acknowledgement -----------------------------------------------------


def test_ack_email_headers() -> None:
    msg = parsed(send_ack())
    assert msg["From"] == "Hot-line <hotline@example.org>"
    assert msg["To"].addresses[0].addr_spec == "jozef@gmina.example.pl"
    assert msg["To"].addresses[0].display_name == "Józef Kowalski"
    assert msg["Message-ID"] == "<HOT-2026-000123.0123456789abcdef@example.org>"
    assert msg["In-Reply-To"] == f"<{ORIGINAL_ID}>"
    assert msg["References"] == f"<root@mail.example.pl> <{ORIGINAL_ID}>"
    assert msg["Subject"] == f"{TAG} Pytanie o moduł kadrowy"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Loop"] == "hotline@example.org"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Precedence"] is None
    assert msg["Date"].datetime == ENV.date
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_ack_email_bytes_are_ascii_with_crlf() -> None:
    raw = send_ack(
        facts=facts(subject="Zażółć gęślą jaźń"),
        original_subject="Zażółć gęślą jaźń – pytanie " * 5,
    ).as_bytes()
    head = header_block(raw)
    assert head.isascii()
    assert b"=?utf-8?" in head  # RFC 2047 by the policy
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only, no bare LF
    assert raw.isascii()  # quoted-printable bodies: safe through any relay
    assert parsed(send_ack(original_subject="Zażółć gęślą jaźń"))["Subject"] == (
        f"{TAG} Zażółć gęślą jaźń"
    )


def test_ack_text_and_html_carry_number_reference_and_local_times() -> None:
    msg = parsed(send_ack())
    for text in (body(msg, "plain"), body(msg, "html")):
        assert "HOT-2026-000123" in text
        assert "OR.1234.5.2026" in text
        assert "piątek, 20 listopada 2026, 16:30" in text  # 15:30 UTC is 16:30 in Warsaw
        assert "poniedziałek, 23 listopada 2026, 08:00" in text  # the effective receipt
        assert "w dni robocze 08:00-16:00" in text
        assert TAG in text
        assert "Urząd Gminy Łęczyca" in text
    plain = body(msg, "plain")
    assert "Numer zgłoszenia:  HOT-2026-000123" in plain
    assert "Państwa znak:      OR.1234.5.2026" in plain
    assert "Data przyjęcia:    poniedziałek, 23 listopada 2026, 08:00" in plain
    assert "odpowiedzieć na tę wiadomość" in plain
    assert "faksie" not in plain


def test_ack_within_working_hours_has_no_separate_effective_receipt() -> None:
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)  # CEST: 12:00 in Warsaw
    msg = parsed(send_ack(facts=facts(received_at=summer, effective_received_at=summer)))
    plain = body(msg, "plain")
    assert "Data wpływu:       środa, 1 lipca 2026, 12:00" in plain
    assert "Data przyjęcia" not in plain
    assert "Data przyjęcia" not in body(msg, "html")


def test_ack_without_reference_or_name_leaves_the_lines_out() -> None:
    bare = facts(reference=None, user_name=None, office=None)
    plain = body(parsed(send_ack(facts=bare)), "plain")
    assert "znak" not in plain
    assert "Zgłaszający" not in plain
    assert "Urząd:" not in plain


def test_html_part_escapes_user_text_and_plain_text_keeps_it() -> None:
    hostile = facts(user_name='<script>alert("x")</script>', office="A & B", subject="<b>hi</b>")
    msg = parsed(send_ack(facts=hostile))
    html = body(msg, "html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "A &amp; B" in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html
    assert '<script>alert("x")</script>' in body(msg, "plain")


def test_english_is_selected_and_unknown_language_falls_back_to_polish() -> None:
    msg = parsed(send_ack(facts=facts(language="en")))
    plain = body(msg, "plain")
    assert "Request number:    HOT-2026-000123" in plain
    assert "Your reference:    OR.1234.5.2026" in plain
    assert "Friday, 20 November 2026, 16:30" in plain
    assert "Monday, 23 November 2026, 08:00" in plain
    assert "Europe/Warsaw" in plain
    assert "Szanowni" not in plain
    assert '<html lang="en">' in body(msg, "html")
    fallback = body(parsed(send_ack(facts=facts(language="de"))), "plain")
    assert fallback.startswith("Szanowni Państwo,")
    assert pick_language("EN") == "en" and pick_language(None) == "pl"


# --- header safety ------------------------------------------------------------------


def test_header_injection_in_subject_yields_one_clean_subject_and_no_bcc() -> None:
    evil = "Pytanie\r\nBcc: victim@example.org\r\nX-Evil: 1\nTo: other@example.org"
    msg = send_ack(original_subject=evil, facts=facts(subject=evil))
    raw = msg.as_bytes()
    back = parsed(msg)
    assert back.get_all("Subject") is not None and len(back.get_all("Subject") or []) == 1
    assert back["Bcc"] is None and back["X-Evil"] is None
    assert len(back.get_all("To") or []) == 1
    assert "victim@example.org" not in str(back["To"])
    subject = str(back["Subject"])
    assert "\r" not in subject and "\n" not in subject
    assert subject == f"{TAG} Pytanie Bcc: victim@example.org X-Evil: 1 To: other@example.org"
    assert b"\r\nBcc:" not in header_block(raw)


def test_unicode_line_separators_and_controls_are_removed_from_headers() -> None:
    assert clean_header_text("a\u2028b\u0085c\x00d\te\u202eF") == "a b c d eF"


def test_addresses_with_line_breaks_are_refused_not_rewritten() -> None:
    with pytest.raises(ValueError):
        send_ack(to="user@example.pl\r\nBcc: victim@example.org")
    with pytest.raises(ValueError):
        send_ack(to="not an address")
    with pytest.raises(ValueError, match="one e-mail address"):
        send_ack(to="a@example.pl, b@example.pl")


def test_international_addresses_are_sent_in_ascii_or_refused() -> None:
    raw = send_ack(to="Józef <j@żółw.pl>").as_bytes()
    assert b"\r\nTo: =?utf-8?q?J=C3=B3zef?= <j@xn--w-uga1v8h.pl>\r\n" in raw
    with pytest.raises(ValueError, match="SMTPUTF8"):
        send_ack(to="józef@example.pl")  # the stdlib would garble it into an encoded word


def test_bad_message_ids_are_dropped_from_threading_headers() -> None:
    msg = parsed(
        send_ack(
            in_reply_to="<ok@example.pl>",
            references=["bad id@example.pl", "x@y\r\nBcc: v@example.org", "<a<b>", "", "good@x"],
        )
    )
    assert msg["In-Reply-To"] == "<ok@example.pl>"
    assert msg["References"] == "<good@x> <ok@example.pl>"
    assert msg["Bcc"] is None
    msg = parsed(send_ack(in_reply_to="evil\r\nBcc: v@example.org", references=[]))
    assert msg["In-Reply-To"] is None and msg["References"] is None and msg["Bcc"] is None


def test_references_deduplicated_bounded_parent_last() -> None:
    many = [f"id{i}@example.pl" for i in range(50)]
    chain = thread_references([*many, "id3@example.pl", ORIGINAL_ID], ORIGINAL_ID)
    assert len(chain) == MAX_REFERENCES
    assert chain[0] == "id0@example.pl"  # the thread root stays
    assert chain[-1] == ORIGINAL_ID
    assert len(set(chain)) == len(chain)
    assert thread_references("<a@x> <b@x>", "b@x") == ["a@x", "b@x"]


def test_long_message_ids_are_folded_between_ids_never_encoded() -> None:
    long_ids = [f"{'x' * 90}{i}@mail.example.pl" for i in range(3)]
    raw = send_ack(references=long_ids, in_reply_to=long_ids[-1]).as_bytes()
    head = header_block(raw).decode("ascii").replace("\r\n ", " ").split("\r\n")
    threading = [line for line in head if line.startswith(("In-Reply-To:", "References:"))]
    assert len(threading) == 2 and not any("=?" in line for line in threading)
    assert all(len(line) <= 998 for line in header_block(raw).split(b"\r\n"))
    back = email.message_from_bytes(raw, policy=policy.default)
    assert back["References"].split() == [f"<{i}>" for i in long_ids]
    assert back["In-Reply-To"] == f"<{long_ids[-1]}>"


# --- subjects -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "original",
    [
        f"{TAG} Pytanie o moduł",
        f"Re: {TAG} Pytanie o moduł",
        f"RE: Odp: [hot-2026-000123] Pytanie o moduł",
        f"Pytanie o moduł {TAG}",
        f"Re: [ HOT # 2026 - 000123 ] Pytanie o moduł {TAG}",
    ],
)
def test_subject_already_holding_the_tag_gets_it_once(original: str) -> None:
    subject = parsed(send_ack(original_subject=original))["Subject"]
    assert subject == f"{TAG} Pytanie o moduł"
    assert ticket_number_from_subject(subject) == "HOT-2026-000123"


def test_other_tickets_tag_is_kept_after_ours() -> None:
    subject = reply_subject("HOT-2026-000123", "[HOT#2025-000007] stare pytanie")
    assert subject == f"{TAG} [HOT#2025-000007] stare pytanie"
    assert ticket_number_from_subject(subject) == "HOT-2026-000123"


def test_subject_that_fits_a_continuation_line_has_no_leading_space() -> None:
    original = "x" * (78 - len(TAG) - 3)
    raw = send_ack(original_subject=original).as_bytes()
    assert f"Subject: {TAG} {original}\r\n".encode() in raw
    assert parsed(send_ack(original_subject=original))["Subject"] == f"{TAG} {original}"


def test_long_subject_is_shortened_and_empty_one_falls_back() -> None:
    long_subject = parsed(send_ack(original_subject="ż" * 1000))["Subject"]
    assert len(long_subject) <= SUBJECT_LIMIT
    assert long_subject.startswith(TAG) and long_subject.endswith("…")
    empty = parsed(send_ack(original_subject="  Re:  "))["Subject"]
    assert empty == f"{TAG} Pytanie o moduł kadrowy"


# --- the fax acknowledgement --------------------------------------------------------


def test_fax_gateway_address_formatting() -> None:
    template = "{number}@fax.example.org"
    assert fax_gateway_address(template, "+48 22 123 45 68") == "48221234568@fax.example.org"
    assert fax_gateway_address(template, "(22) 123-45-68") == "48221234568@fax.example.org"
    assert fax_gateway_address(template, "0044 20 7946 0958") == "442079460958@fax.example.org"
    assert fax_gateway_address("fax={number}@gw.example.org", "221234568") == (
        "fax=48221234568@gw.example.org"
    )


@pytest.mark.parametrize(
    "template",
    [
        "fax@example.org",
        "{num}@fax.example.org",
        "{number}@{host}",
        "{number.real}@x.org",
        "{number}",
    ],
)
def test_fax_gateway_address_refuses_bad_templates(template: str) -> None:
    with pytest.raises(ValueError):
        fax_gateway_address(template, "+48 22 123 45 68")


def test_fax_gateway_address_refuses_a_non_number() -> None:
    with pytest.raises(ValueError, match="not a fax number"):
        fax_gateway_address("{number}@fax.example.org", "call me\r\nBcc: x@example.org")


def test_ack_fax_carries_a_one_page_pdf_with_polish_text() -> None:
    to = fax_gateway_address("{number}@fax.example.org", "+48 22 123 45 68")
    raw = ack_fax(facts(), ENV, to).as_bytes()
    assert header_block(raw).isascii()
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["To"] == "48221234568@fax.example.org"
    assert msg["Subject"].startswith(TAG)
    assert msg["Auto-Submitted"] == "auto-replied" and msg["X-Loop"] == "hotline@example.org"
    assert msg["In-Reply-To"] is None
    assert "HOT-2026-000123" in body(msg, "plain")
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "HOT-2026-000123.pdf"
    reader = pypdf.PdfReader(io.BytesIO(attachment.get_content()))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "HOT-2026-000123" in text
    assert "Zgłoszenie" in text or "zgłoszenia" in text
    assert "Ąćęłńóśźż" in text  # the user's name, glyphs intact
    assert "piątek, 20 listopada 2026, 16:30" in text
    assert "OR.1234.5.2026" in text
    assert "na kolejnym faksie" in " ".join(text.split())
    assert "pozostawiając w temacie" not in text


def test_ack_fax_in_english() -> None:
    msg = parsed(ack_fax(facts(language="en"), ENV, "48221234568@fax.example.org"))
    [attachment] = list(msg.iter_attachments())
    text = pypdf.PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    assert "Acknowledgement of your request HOT-2026-000123" in text
    assert "next fax" in " ".join(text.split())


# --- notices to consultants ---------------------------------------------------------


def test_callback_notice() -> None:
    to = ["anna@example.org", "support-team@example.org"]
    excerpt = "Jak zmienić stawkę?\r\nDrugi wiersz\x07" + "x" * 3000
    msg = parsed(callback_notice(facts(), ENV, to, "+48 22 123 45 67\r\nBcc: x@y", excerpt))
    assert [a.addr_spec for a in msg["To"].addresses] == to
    assert msg["Subject"] == (
        f"{TAG} Oddzwonić: +48 22 123 45 67 Bcc: x@y, termin: wtorek, 24 listopada 2026, 16:00"
    )
    assert msg["Bcc"] is None
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Loop"] == "hotline@example.org"
    text = body(msg, "plain")
    assert "Termin:            wtorek, 24 listopada 2026, 16:00" in text
    assert "Zgłoszenie:        HOT-2026-000123" in text
    assert "Użytkownik:        Józef Ąćęłńóśźż" in text
    assert "Urząd:             Urząd Gminy Łęczyca" in text
    assert "Jak zmienić stawkę?\nDrugi wierszxxx" in text
    assert "x…\n" in text  # the excerpt is cut
    assert "\x07" not in text
    assert len(text) < 2000


def test_callback_notice_in_english_on_request() -> None:
    notice = callback_notice(facts(), ENV, ["anna@example.org"], "+48221234567", "Q?", language="en")
    msg = parsed(notice)
    assert msg["Subject"] == f"{TAG} Call back: +48221234567 by Tuesday, 24 November 2026, 16:00"


def test_delivery_failed_notice() -> None:
    msg = parsed(
        delivery_failed_notice(
            "hot-2026-000123", "pl", ENV, ["anna@example.org"], "jozef@gmina.example.pl",
            "550 5.1.1 <jozef@gmina.example.pl>: Recipient address rejected\r\n",
        )
    )  # fmt: skip
    assert msg["Subject"] == f"{TAG} Niedoręczona wiadomość do jozef@gmina.example.pl"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Loop"] == "hotline@example.org"
    text = body(msg, "plain")
    assert "Wiadomości do jozef@gmina.example.pl w sprawie zgłoszenia HOT-2026-000123" in text
    assert "550 5.1.1 <jozef@gmina.example.pl>: Recipient address rejected" in text
    english = parsed(
        delivery_failed_notice("HOT-2026-000123", "en", ENV, ["a@example.org"], "4822@fax", "busy")
    )
    assert english["Subject"] == f"{TAG} Undelivered message to 4822@fax"


def test_notices_need_a_recipient_list() -> None:
    with pytest.raises(ValueError):
        delivery_failed_notice("HOT-2026-000123", "pl", ENV, [], "a@b.pl", "x")
    with pytest.raises(ValueError):
        delivery_failed_notice("HOT-2026-000123", "pl", ENV, "anna@example.org", "a@b.pl", "x")


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        send_ack(env=replace(ENV, date=datetime(2026, 11, 20, 15, 31)))
    with pytest.raises(ValueError, match="naive"):
        send_ack(facts=facts(received_at=datetime(2026, 11, 20, 15, 30)))


# --- templates ----------------------------------------------------------------------


def test_format_datetime_in_both_languages_across_dst() -> None:
    winter = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    assert format_datetime(winter, "Europe/Warsaw", "pl") == "poniedziałek, 5 stycznia 2026, 08:00"
    summer = datetime(2026, 9, 30, 6, 0, tzinfo=UTC)
    assert format_datetime(summer, "Europe/Warsaw", "pl") == "środa, 30 września 2026, 08:00"
    assert format_datetime(summer, "Europe/Warsaw", "en") == "Wednesday, 30 September 2026, 08:00"
    local = summer.astimezone(timezone(timedelta(hours=2)))
    assert format_datetime(local, "Europe/Warsaw", "pl") == "środa, 30 września 2026, 08:00"


@dataclass(frozen=True)
class _Facts:
    name: str


def test_templates_from_a_given_directory_are_strict_and_escape_html_only(tmp_path: Path) -> None:
    (tmp_path / "t.pl.txt.j2").write_text("{{ facts.name }}\n", encoding="utf-8")
    (tmp_path / "t.pl.html.j2").write_text("<p>{{ facts.name }}</p>\n", encoding="utf-8")
    (tmp_path / "u.pl.txt.j2").write_text("{{ facts.missing }}\n", encoding="utf-8")
    lib = Templates(tmp_path)
    assert lib.render("t.txt", "en", _Facts("<a>")) == "<a>\n"  # no English file: Polish
    assert lib.render("t.html", "pl", _Facts("<a>")) == "<p>&lt;a&gt;</p>\n"
    with pytest.raises(jinja2.UndefinedError):
        lib.render("u.txt", "pl", _Facts("x"))
    with pytest.raises(FileNotFoundError):
        Templates(tmp_path / "absent")


def test_default_templates_render_through_the_module_function() -> None:
    text = render("ack.txt", "pl", facts(), channel="email")
    assert text.startswith("Szanowni Państwo,\n")
    assert text.endswith("Ta wiadomość została wysłana automatycznie.\n")


# --- the notification to consultants ------------------------------------------------

TOKEN_ADDRESS = "hotline+HOT-2026-000123.k3j9x2ab@example.org"
CONSULTANTS = ["anna@example.org", "support-team@example.org"]
FAX_PDF = ("fax-0001.pdf", "application/pdf", b"%PDF-1.4 " + b"x" * 3000)
OCR_TEXT = ("fax-0001.txt", "text/plain", "Treść pytania: zażółć".encode())


def note(**changes: object) -> Notification:
    base = Notification(
        facts=facts(),
        kind="new",
        channel="fax",
        sender="Faxserver <faxserver@example.org>",
        contacts=("e-mail: jan@gmina.example.pl", "fax: +48221234568", "tel.: +48221234567"),
        text="Jak zmienić stawkę VAT w module kadrowym?\r\nDrugi wiersz.",
        review=(),
        status="new",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def notify(n: Notification | None = None, **kwargs: object) -> EmailMessage:
    args: dict[str, object] = {
        "n": n or note(),
        "env": ENV,
        "to": CONSULTANTS,
        "reply_to": TOKEN_ADDRESS,
        "attachments": [FAX_PDF, OCR_TEXT],
    }
    args.update(kwargs)
    return parsed(notification(**args))  # type: ignore[arg-type]


def attachments_of(msg: EmailMessage) -> list[tuple[str | None, str, bytes]]:
    return [(a.get_filename(), a.get_content_type(), _payload(a)) for a in msg.iter_attachments()]


def _payload(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data


def test_notification_headers() -> None:
    msg = notify()
    assert [a.addr_spec for a in msg["To"].addresses] == CONSULTANTS
    assert msg["Reply-To"] == TOKEN_ADDRESS
    assert msg["Subject"] == f"{TAG} Nowe zgłoszenie: Pytanie o moduł kadrowy"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Loop"] == "hotline@example.org"
    assert msg["Message-ID"] == f"<{ENV.message_id}>"
    assert msg["In-Reply-To"] is None
    assert msg.get_content_type() == "multipart/mixed"


def test_followup_subject_and_tag_once_when_the_ticket_subject_holds_it() -> None:
    msg = notify(note(kind="followup", facts=facts(subject=f"Re: {TAG} Pytanie o moduł")))
    assert msg["Subject"] == f"{TAG} Uzupełnienie: Pytanie o moduł"
    assert str(msg["Subject"]).count("HOT#") == 1
    assert ticket_number_from_subject(msg["Subject"]) == "HOT-2026-000123"
    assert "Uzupełnienie od użytkownika:\nJak zmienić" in body(msg, "plain")


def test_notification_body_holds_the_instruction_and_the_ticket_fields() -> None:
    text = body(notify(), "plain")
    lines = text.splitlines()
    assert lines[0] == REPLY_MARKERS["pl"]
    assert "Odpowiedz na tę wiadomość; tekst nad cytatem trafi do użytkownika" in text
    for command in ("#note", "#close", "#severity N", "#assign ADRES", "#pending"):
        assert f"  {command} " in text
    assert "Zgłoszenie:        HOT-2026-000123" in lines
    assert "Status:            nowe" in lines
    assert "Kanał:             faks" in lines
    assert "Nadawca:           Faxserver <faxserver@example.org>" in lines
    assert "Użytkownik:        Józef Ąćęłńóśźż" in lines
    assert "Urząd:             Urząd Gminy Łęczyca" in lines
    assert "Znak:              OR.1234.5.2026" in lines
    assert "Kontakt zwrotny:   e-mail: jan@gmina.example.pl" in lines
    assert "                   fax: +48221234568" in lines
    assert "                   tel.: +48221234567" in lines
    assert "Wpłynęło:          piątek, 20 listopada 2026, 16:30" in lines
    assert "Przyjęte:          poniedziałek, 23 listopada 2026, 08:00" in lines
    assert "Potwierdzić do:    wtorek, 24 listopada 2026, 16:00" in lines
    assert "Pytanie:\nJak zmienić stawkę VAT w module kadrowym?\nDrugi wiersz.\n" in text
    assert "DO SPRAWDZENIA" not in text


def test_notification_shows_review_reasons_near_the_top() -> None:
    reasons = ("question read with low confidence (0.41)", "no return contact")
    text = body(notify(note(review=reasons, contacts=())), "plain")
    assert "*** DO SPRAWDZENIA ***\n- question read with low confidence (0.41)\n- no return contact\n" in text
    assert text.index("DO SPRAWDZENIA") < text.index("Odpowiedz na tę wiadomość")
    assert "Kontakt zwrotny:   brak!" in text


def test_notification_attachments_with_names_and_types() -> None:
    msg = notify()
    assert attachments_of(msg) == [FAX_PDF, OCR_TEXT]
    [_, ocr] = list(msg.iter_attachments())
    assert ocr.get_content_charset() == "utf-8"
    assert "pominięte" not in body(msg, "plain")


def test_attachments_over_the_limit_are_listed_instead() -> None:
    big = ("skan.tif", "image/tiff", b"I" * 2_500_000)
    small = ("notatka.txt", "text/plain; charset=iso-8859-2", b"\xb3\xf3d\xbc")
    msg = notify(attachments=[FAX_PDF, big, small], max_attach_bytes=1_000_000)
    kept = [(name, data) for name, _, data in attachments_of(msg)]
    assert kept == [(FAX_PDF[0], FAX_PDF[2]), (small[0], small[2])]  # a later small one fits
    [_, note_part] = list(msg.iter_attachments())
    assert note_part.get_content_charset() == "iso-8859-2"
    text = body(msg, "plain")
    assert "Załączniki pominięte w tej wiadomości (za duże; są w zgłoszeniu HOT-2026-000123):" in text
    assert "- skan.tif (2,5 MB)\n" in text
    assert "notatka.txt" not in text and "fax-0001.pdf" not in text
    english = notify(attachments=[big], max_attach_bytes=0, language="en")
    assert list(english.iter_attachments()) == []
    assert "- skan.tif (2.5 MB)\n" in body(english, "plain")


def test_attachment_names_and_types_are_made_safe() -> None:
    files = [
        ("..\\..\\evil\r\nX-Evil: 1.pdf", "application/pdf", b"%PDF"),
        ("mail.eml", "message/rfc822", b"From: a@b\r\n\r\nhi"),
        ("", "not a type", b"\x00\x01"),
        ("zażółć gęślą.xlsx", "Application/VND.ms-excel", b"PK"),
    ]
    raw = notification(note(), ENV, CONSULTANTS, TOKEN_ADDRESS, files).as_bytes()
    msg = parsed(notification(note(), ENV, CONSULTANTS, TOKEN_ADDRESS, files))
    assert b"\r\nX-Evil" not in raw
    assert [(name, kind) for name, kind, _ in attachments_of(msg)] == [
        ("evil X-Evil: 1.pdf", "application/pdf"),
        ("mail.eml", "application/octet-stream"),  # message/* may not be base64
        ("attachment-3", "application/octet-stream"),
        ("zażółć gęślą.xlsx", "application/vnd.ms-excel"),
    ]
    assert [data for _, _, data in attachments_of(msg)] == [f[2] for f in files]


def test_notification_header_injection_through_subject_sender_and_reply_to() -> None:
    evil = "Pytanie\r\nBcc: victim@example.org"
    msg = notify(note(facts=facts(subject=evil), sender="x@y.pl\r\nBcc: v@example.org"))
    assert msg["Bcc"] is None
    assert msg["Subject"] == f"{TAG} Nowe zgłoszenie: Pytanie Bcc: victim@example.org"
    assert "Nadawca:           x@y.pl Bcc: v@example.org\n" in body(msg, "plain")
    for bad in (f"{TOKEN_ADDRESS}\r\nBcc: v@example.org", "not an address", "a@x.pl, b@x.pl"):
        with pytest.raises(ValueError):
            notify(reply_to=bad)


def test_notification_in_english_and_kind_checked() -> None:
    msg = notify(note(review=("fax without a readable document",)), language="en")
    assert msg["Subject"] == f"{TAG} New request: Pytanie o moduł kadrowy"
    text = body(msg, "plain")
    assert text.splitlines()[0] == REPLY_MARKERS["en"]
    assert "*** NEEDS REVIEW ***\n- fax without a readable document\n" in text
    assert "Reply to this message; the text above the quote goes to the user" in text
    assert "Acknowledge by:    Tuesday, 24 November 2026, 16:00" in text
    assert "Channel:           fax" in text
    followup = notify(note(kind="followup"), language="en")
    assert followup["Subject"] == f"{TAG} Follow-up: Pytanie o moduł kadrowy"
    with pytest.raises(ValueError, match="kind"):
        notify(note(kind="answer"))


# --- the answer to the user ---------------------------------------------------------

ANSWER = "Dzień dobry,\n\nstawkę zmienia się w menu Płace › Stawki.\n{{ nie szablon }}\n\nAnna Nowak"


def send_answer(**kwargs: object) -> EmailMessage:
    args: dict[str, object] = {
        "facts": facts(),
        "env": ENV,
        "to": "Józef Kowalski <jozef@gmina.example.pl>",
        "text": ANSWER,
        "original_subject": "Re: Pytanie o moduł kadrowy",
        "in_reply_to": ORIGINAL_ID,
        "references": ["root@mail.example.pl"],
        "attachments": [],
    }
    args.update(kwargs)
    return parsed(answer_email(**args))  # type: ignore[arg-type]


def test_answer_email_is_a_threaded_human_message() -> None:
    msg = send_answer()
    assert msg["To"].addresses[0].addr_spec == "jozef@gmina.example.pl"
    assert msg["Subject"] == f"{TAG} Pytanie o moduł kadrowy"
    assert msg["In-Reply-To"] == f"<{ORIGINAL_ID}>"
    assert msg["References"] == f"<root@mail.example.pl> <{ORIGINAL_ID}>"
    assert msg["Auto-Submitted"] is None
    assert msg["X-Loop"] == "hotline@example.org"
    assert msg["Reply-To"] is None
    assert msg.get_content_type() == "text/plain"


def test_answer_email_body_keeps_the_consultants_text_verbatim() -> None:
    text = body(send_answer(text="\r\n" + ANSWER.replace("\n", "\r\n") + "\x07\n"), "plain")
    assert text.startswith("Odpowiedź na zgłoszenie HOT-2026-000123 (Państwa znak: OR.1234.5.2026)\n\n")
    assert f"\n\n{ANSWER}\n\n" in text
    assert f"pozostawiając w temacie oznaczenie\n{TAG}." in text
    bare = body(send_answer(facts=facts(reference=None)), "plain")
    assert bare.startswith("Odpowiedź na zgłoszenie HOT-2026-000123\n\nDzień dobry,")


def test_answer_email_with_attachments_and_in_english() -> None:
    files = [("cennik.xlsx", "application/vnd.ms-excel", b"PK\x03\x04"), ("a.png", "image/png", b"\x89PNG")]
    msg = send_answer(facts=facts(language="en"), attachments=files, original_subject="")
    assert attachments_of(msg) == files
    assert msg["Subject"] == f"{TAG} Pytanie o moduł kadrowy"  # the ticket subject as fallback
    text = body(msg, "plain")
    assert text.startswith("Answer to your request HOT-2026-000123 (your reference: OR.1234.5.2026)")
    assert ANSWER in text
    assert f"keep {TAG} in the subject" in text


def test_answer_email_subject_injection() -> None:
    msg = send_answer(original_subject="Re: x\r\nBcc: victim@example.org")
    assert msg["Bcc"] is None
    assert msg["Subject"] == f"{TAG} x Bcc: victim@example.org"


def answer_pdf(msg: EmailMessage) -> tuple[str | None, list[str]]:
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(_payload(attachment)))
    return attachment.get_filename(), [page.extract_text() for page in reader.pages]


def test_answer_fax_pdf_holds_the_header_answer_and_unsent_files() -> None:
    to = "48221234568@fax.example.org"
    msg = parsed(answer_fax(facts(), ENV, to, ANSWER, ["cennik.xlsx", "zrzut ekranu.png"]))
    assert msg["To"] == to
    assert msg["Subject"] == f"{TAG} Odpowiedź na zgłoszenie HOT-2026-000123"
    assert msg["Auto-Submitted"] is None and msg["X-Loop"] == "hotline@example.org"
    assert body(msg, "plain") == "Odpowiedź na zgłoszenie HOT-2026-000123 – w załączniku.\n"
    name, pages = answer_pdf(msg)
    assert name == "HOT-2026-000123-odpowiedz.pdf"
    [text] = pages
    assert "Zgłoszenie: HOT-2026-000123" in " ".join(text.split())
    assert "Józef Ąćęłńóśźż" in text and "Urząd Gminy Łęczyca" in text
    assert "OR.1234.5.2026" in text
    assert "piątek, 20 listopada 2026, 16:31" in text  # the date of sending, local
    assert "stawkę zmienia się w menu Płace › Stawki." in text
    assert "Załączniki (do pobrania na prośbę): cennik.xlsx, zrzut ekranu.png" in text
    assert "HOT-2026-000123 1/1" in text


def test_long_answer_fax_runs_over_several_numbered_pages() -> None:
    long = "\n".join(f"Punkt {i}: zażółć gęślą jaźń." for i in range(120))
    msg = parsed(answer_fax(facts(language="en"), ENV, "4822@fax.example.org", long, []))
    name, pages = answer_pdf(msg)
    assert name == "HOT-2026-000123-answer.pdf"
    assert len(pages) == 3
    assert "Answer to your request HOT-2026-000123" in pages[0]
    assert "Punkt 119: zażółć gęślą jaźń." in pages[-1]
    assert all(f"HOT-2026-000123 {i}/3" in page for i, page in enumerate(pages, start=1))
    assert "Attachments" not in "".join(pages)


# --- the consultants' other notices -------------------------------------------------


def test_answer_callback_notice() -> None:
    msg = parsed(
        answer_callback_notice(facts(), ENV, CONSULTANTS, "+48 22 123 45 67\r\nBcc: x@y", ANSWER)
    )
    assert msg["Subject"] == f"{TAG} Przekazać odpowiedź telefonicznie: +48 22 123 45 67 Bcc: x@y"
    assert msg["Bcc"] is None
    assert msg["Auto-Submitted"] == "auto-generated"
    text = body(msg, "plain")
    assert "pod numer +48 22 123 45 67 Bcc: x@y i przekazać poniższą odpowiedź" in text
    assert "Zgłoszenie:        HOT-2026-000123" in text
    assert f"Odpowiedź do przekazania:\n{ANSWER}\n" in text
    english = parsed(answer_callback_notice(facts(), ENV, CONSULTANTS, "+48221234567", "Yes.", language="en"))
    assert english["Subject"] == f"{TAG} Give the answer by phone: +48221234567"
    assert "Answer to give:\nYes.\n" in body(english, "plain")


def test_command_error_reply() -> None:
    problems = ["#severity 7: severity is 1 to 4", "#assign bob@example.org\r\nBcc: x@y: not a consultant"]
    msg = parsed(
        command_error(ENV, "anna@example.org", "hot-2026-000123", problems,
                      f"Re: {TAG} Nowe zgłoszenie: Pytanie", "CAanna1@example.org")
    )  # fmt: skip
    assert msg["To"] == "anna@example.org"
    assert msg["Subject"] == f"{TAG} NIE WYSŁANO (błędne polecenia): Nowe zgłoszenie: Pytanie"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["In-Reply-To"] == "<CAanna1@example.org>"
    assert msg["References"] == "<CAanna1@example.org>"
    assert msg["Bcc"] is None
    text = body(msg, "plain")
    assert "NIE została wysłana\ndo użytkownika" in text
    assert "- #severity 7: severity is 1 to 4\n" in text
    assert "- #assign bob@example.org Bcc: x@y: not a consultant\n" in text
    for command in ("#note", "#close", "#severity N", "#assign ADRES", "#pending"):
        assert f"  {command} " in text
    english = parsed(command_error(ENV, "anna@example.org", "HOT-2026-000123", ["x"], "", None, language="en"))
    assert english["Subject"] == f"{TAG} NOT SENT (wrong commands):"
    assert english["In-Reply-To"] is None
    assert "  #assign ADDRESS " in body(english, "plain")


def test_held_notice() -> None:
    msg = parsed(
        held_notice(ENV, CONSULTANTS, "HOT-2026-000123", "no valid token in the reply address",
                    "Anna <anna@example.org>\r\nBcc: v@example.org", f"Re: {TAG} Pytanie\r\nX-Evil: 1")
    )  # fmt: skip
    assert msg["Subject"] == f"{TAG} WSTRZYMANO wiadomość od Anna <anna@example.org> Bcc: v@example.org"
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert msg["Auto-Submitted"] == "auto-generated"
    text = body(msg, "plain")
    assert "NIE została przekazana użytkownikowi" in text
    assert "Powód:             no valid token in the reply address" in text
    assert "Nadawca:           Anna <anna@example.org> Bcc: v@example.org\n" in text
    assert f"Temat:             Re: {TAG} Pytanie X-Evil: 1\n" in text
    assert "Zgłoszenie:        HOT-2026-000123" in text
    assert "ze swojego adresu, używając „Odpowiedz”" in text


def test_held_notice_without_a_ticket_and_in_english() -> None:
    msg = parsed(held_notice(ENV, CONSULTANTS, None, "not a consultant", "x@evil.example", "Hi", language="en"))
    assert msg["Subject"] == "HELD message from x@evil.example"
    text = body(msg, "plain")
    assert "Request:           unknown" in text
    assert "send the\nanswer again from your own address, using Reply" in text
