"""parsers.mime.parse: decoding, identity, MIME structure, limits, and the corpus-found breakages."""
from __future__ import annotations

import hashlib
import logging
import os
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.mime import Address, ParseLimits, UnparseableMessage, decode_header_value, parse
from tests import mailfactory as mf

POLISH = "Zażółć gęślą jaźń ĄĘŁŃÓŚŹŻĆ"


# --------------------------------------------------------------------------- charsets

@pytest.mark.parametrize("charset", ["iso-8859-2", "windows-1250", "utf-8"])
def test_polish_subject_name_and_body_in_each_charset(charset: str) -> None:
    raw = mf.make_message(subject=POLISH, sender="Łukasz Żak <LZ@Example.PL>", body="Łódź, ćma.\n", charset=charset)
    assert f"charset=\"{charset}\"".encode() in raw and b"=?" + charset.encode() in raw
    msg = parse(raw)
    assert msg.subject == POLISH
    assert msg.sender == Address(name="Łukasz Żak", addr="lz@example.pl")
    assert msg.text == "Łódź, ćma.\n"
    assert msg.header("Subject") == POLISH
    assert msg.defects == ()


def test_raw_8bit_headers_are_read_in_the_declared_body_charset() -> None:
    raw = mf.make_message(subject=POLISH, sender="Łukasz Żak <lz@example.pl>", charset="iso-8859-2",
                          encode_subject=False)  # fmt: skip
    assert POLISH.encode("iso-8859-2") in raw
    msg = parse(raw)
    assert msg.subject == POLISH and msg.sender is not None and msg.sender.name == "Łukasz Żak"


def test_unknown_charset_decodes_with_replacement_characters() -> None:
    raw = mf.raw_message(
        [("From", "a@example.pl"), ("Subject", "=?x-unknown-42?Q?Zg=B3oszenie?="),
         ("Content-Type", "text/plain; charset=x-unknown-42")],
        body=b"Tre\xb6\xe6 pytania\n",
    )  # fmt: skip
    msg = parse(raw)
    assert msg.subject == "Zg\ufffdoszenie"
    assert msg.text == "Tre\ufffd\ufffd pytania\n"
    assert "unknown charset 'x-unknown-42': decoded as utf-8 with replacement characters" in msg.defects


@pytest.mark.parametrize("charset", ["base64", "rot13", "idna", "undefined", "utf-8\x00"])
def test_charset_names_that_are_not_text_codecs_do_not_raise(charset: str) -> None:
    raw = mf.raw_message([("From", "a@example.pl"), ("Content-Type", f"text/plain; charset={charset}")],
                         body=b"Tre\xc5\x9b\xc4\x87\n")  # fmt: skip
    assert parse(raw).text == "Treść\n"


def test_encoded_words_joined_before_decoding_and_spaces_between_them_dropped() -> None:
    # a multi-byte character split across two words, as some mailers do
    assert decode_header_value("=?utf-8?B?xQ==?= =?utf-8?B?vA==?=ółw") == "żółw"
    assert decode_header_value("Re: =?utf-8?q?Za=C5=BC=C3=B3?=\r\n =?utf-8?q?=C5=82=C4=87?= x") == "Re: Zażółć x"
    assert decode_header_value("=?iso-8859-2?q?=A3=F3d=BC?= i =?windows-1250?q?=8Cl=B9sk?=") == "Łódź i Śląsk"


def test_rfc2047_language_suffix_and_lowercase_q() -> None:
    assert decode_header_value("=?UTF-8*pl?q?Pytanie_o_=C5=BC?=") == "Pytanie o ż"


# --------------------------------------------------------------------------- attachments

def test_rfc2231_and_rfc2047_file_names() -> None:
    files = [("zażółć gęślą.pdf", "application/pdf", b"%PDF-1.4 one")]
    by_2231 = parse(mf.make_message(attachments=files, filename_style="rfc2231"))
    by_2047 = parse(mf.make_message(attachments=files, filename_style="rfc2047"))
    for msg in (by_2231, by_2047):
        (att,) = msg.attachments
        assert (att.filename, att.content_type, att.data) == ("zażółć gęślą.pdf", "application/pdf", b"%PDF-1.4 one")
        assert att.sha256 == hashlib.sha256(b"%PDF-1.4 one").hexdigest()


def test_rfc2231_continuations_in_iso_8859_2() -> None:
    raw = mf.raw_message(
        [("From", "a@example.pl"), ("MIME-Version", "1.0"), ("Content-Type", 'multipart/mixed; boundary="b"')],
        body=(
            b"--b\r\nContent-Type: text/plain\r\n\r\nW za\xc5\x82\xc4\x85czeniu.\r\n--b\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment;\r\n filename*0*=iso-8859-2''Sprawozdanie%20;\r\n"
            b" filename*1*=%B3%F3d%BC.xls\r\n\r\nAAEC\r\n--b--\r\n"
        ),
    )
    msg = parse(raw)
    assert [(a.filename, a.data) for a in msg.attachments] == [("Sprawozdanie łódź.xls", b"\x00\x01\x02")]
    assert msg.text == "W załączeniu."


def test_nameless_parts_get_synthesised_names_by_type() -> None:
    raw = mf.make_message(attachments=[(None, "image/png", b"\x89PNG"), (None, "application/pdf", b"%PDF")])
    assert [a.filename for a in parse(raw).attachments] == ["attachment-1.png", "attachment-2.pdf"]


def test_path_and_control_characters_are_removed_from_file_names() -> None:
    raw = mf.make_message(attachments=[("C:\\Users\\jan\\raport\x07.pdf", "application/pdf", b"x")])
    assert [a.filename for a in parse(raw).attachments] == ["raport.pdf"]


def test_twenty_megabyte_attachment_is_decoded_exactly() -> None:
    big = os.urandom(20 * 1024 * 1024)
    msg = parse(mf.make_message(attachments=[("skan żółć.pdf", "application/pdf", big)]))
    (att,) = msg.attachments
    assert len(att.data) == len(big) and att.data == big
    assert att.sha256 == hashlib.sha256(big).hexdigest()
    assert att.filename == "skan żółć.pdf"
    assert msg.text == "Dzień dobry,\nmam pytanie.\n"


def test_base64_with_broken_padding_is_repaired() -> None:
    raw = mf.raw_message(
        [("From", "a@example.pl"), ("MIME-Version", "1.0"), ("Content-Type", "application/pdf; name=a.pdf"),
         ("Content-Transfer-Encoding", "base64")],
        body=b"JVBERi0xLjQ",  # "%PDF-1.4" with its padding cut off
    )  # fmt: skip
    (att,) = parse(raw).attachments
    assert (att.filename, att.data) == ("a.pdf", b"%PDF-1.4")


# --------------------------------------------------------------------------- structure

def nested_mixed_alternative_related() -> bytes:
    """mixed > (alternative > (plain, related > (html, cid image)), pdf)."""
    from email.mime.image import MIMEImage
    from email.mime.multipart import MIMEMultipart

    related = MIMEMultipart("related")
    related.attach(mf.text_part('<p>HTML <img src="cid:logo"></p>', "html"))
    logo = MIMEImage(b"\x89PNG\r\n\x1a\n", "png")
    logo["Content-ID"] = "<logo>"
    related.attach(logo)
    alternative = MIMEMultipart("alternative")
    alternative.attach(mf.text_part("Tekst główny.\n"))
    alternative.attach(related)
    mixed = MIMEMultipart("mixed")
    mixed.attach(alternative)
    mixed.attach(mf.attachment_part("umowa.pdf", "application/pdf", b"%PDF-umowa"))
    mixed["From"], mixed["Subject"], mixed["Message-ID"] = "a@example.pl", "nested", "<n@example.pl>"
    return mixed.as_bytes()


def test_nested_mixed_alternative_related() -> None:
    msg = parse(nested_mixed_alternative_related())
    assert msg.content_type == "multipart/mixed"
    assert msg.text == "Tekst główny.\n"
    assert [(a.filename, a.content_type, a.data) for a in msg.attachments] == [
        ("attachment-1.png", "image/png", b"\x89PNG\r\n\x1a\n"),
        ("umowa.pdf", "application/pdf", b"%PDF-umowa"),
    ]


def test_html_only_is_rendered_to_text() -> None:
    raw = mf.make_message(body=None, html="<html><body><p>Dzień <b>dobry</b>,</p><ul><li>pierwszy</li></ul>"
                                          "<p>Pozdrawiam&nbsp;Jan</p></body></html>")  # fmt: skip
    text = parse(raw).text
    assert "Dzień dobry," in text and "* pierwszy" in text and "Pozdrawiam Jan" in text
    assert "<" not in text and text == text.strip("\n") + "\n"


def test_plain_is_preferred_over_html_in_alternative() -> None:
    msg = parse(mf.make_message(body="Zwykły tekst.\n", html="<p>Wersja HTML</p>"))
    assert msg.text == "Zwykły tekst.\n"


def test_attached_message_is_an_eml_file_and_its_text_stays_out() -> None:
    inner = mf.make_message(subject="Oryginał", body="treść załączonej wiadomości\n", message_id="<inner@x.pl>")
    msg = parse(mf.make_message(subject="Fwd", body="Przekazuję.\n", attachments=[(None, "message/rfc822", inner)]))
    assert msg.text == "Przekazuję.\n"
    (att,) = msg.attachments
    assert (att.filename, att.content_type) == ("attachment-1.eml", "message/rfc822")
    assert parse(att.data).subject == "Oryginał" and parse(att.data).text == "treść załączonej wiadomości\n"
    assert msg.embedded_message_ids == ("inner@x.pl",)


def test_digest_parts_without_headers_are_whole_eml_files() -> None:
    raw = (b"From: a@b.pl\r\nSubject: digest\r\nMIME-Version: 1.0\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n"
           b"--d\r\n\r\nFrom: x@y.pl\r\nSubject: one\r\nMessage-ID: <one@y.pl>\r\n\r\nfirst body\r\n"
           b"--d\r\n\r\nFrom: z@y.pl\r\nSubject: two\r\nMessage-ID: <two@y.pl>\r\n\r\nsecond body\r\n--d--\r\n")
    msg = parse(raw)
    assert [(a.filename, a.content_type) for a in msg.attachments] == [
        ("attachment-1.eml", "message/rfc822"), ("attachment-2.eml", "message/rfc822")]
    assert msg.attachments[0].data == b"From: x@y.pl\r\nSubject: one\r\nMessage-ID: <one@y.pl>\r\n\r\nfirst body"
    assert msg.embedded_message_ids == ("one@y.pl", "two@y.pl") and msg.text == ""


def test_bounce_exposes_the_returned_message_id() -> None:
    headers_only = parse(mf.dsn_bounce("HOT-2026-000123.ab12@example.org"))
    full = parse(mf.dsn_bounce("HOT-2026-000123.ab12@example.org", attach_full_message=True))
    for msg in (headers_only, full):
        assert msg.embedded_message_ids == ("HOT-2026-000123.ab12@example.org",)
        assert msg.return_path == ""
        assert "could not\nbe delivered" in msg.text and "Our answer" not in msg.text
    assert [a.content_type for a in headers_only.attachments] == ["message/delivery-status", "text/rfc822-headers"]


def test_base64_encoded_attached_message_still_yields_its_message_id() -> None:
    inner = b"From: a@x.pl\r\nMessage-ID: <enc@x.pl>\r\nSubject: w\r\n\r\nbody\r\n"
    import base64

    raw = mf.raw_message(
        [("From", "b@example.pl"), ("MIME-Version", "1.0"), ("Content-Type", 'multipart/mixed; boundary="b"')],
        body=b"--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(inner) + b"--b--\r\n",
    )
    msg = parse(raw)
    assert msg.embedded_message_ids == ("enc@x.pl",)
    assert msg.attachments[0].data == inner


def test_multipart_without_boundary_keeps_its_text() -> None:
    raw = mf.raw_message([("From", "a@example.pl"), ("Content-Type", "multipart/mixed")], body="Treść bez granic.\n")
    msg = parse(raw)
    assert msg.text == "Treść bez granic.\n"
    assert any("NoBoundaryInMultipartDefect" in d for d in msg.defects)


# --------------------------------------------------------------------------- identity and headers

def no_id_message() -> bytes:
    return mf.raw_message([("From", "Ala <ala@example.pl>"), ("To", "hotline@example.org"), ("Subject", "Bez id")],
                          body="Treść.\n")  # fmt: skip


def test_missing_message_id_is_synthesised_from_the_content_hash() -> None:
    first, second = parse(no_id_message()), parse(no_id_message())
    assert first.message_id_synthesized
    assert first.message_id == f"{first.content_hash[:32]}@synthesized.hotline" == second.message_id
    relayed = parse(mf.with_prepended_headers(no_id_message(), [("Received", "from mx by relay; Mon, 2 Mar 2026")]))
    assert relayed.content_hash == first.content_hash and relayed.message_id == first.message_id
    other_body = parse(no_id_message().replace(b"Tre", b"Inna tre"))
    assert other_body.content_hash != first.content_hash


def test_content_hash_ignores_line_ending_convention_and_mbox_line() -> None:
    crlf = mf.make_message()
    lf = crlf.replace(b"\r\n", b"\n")
    hashes = {parse(raw).content_hash for raw in (crlf, lf, mf.mbox_from_line(lf))}
    assert len(hashes) == 1
    assert parse(mf.mbox_from_line(lf)).headers[0][0] == "From"


def test_message_id_and_thread_headers_without_brackets() -> None:
    raw = mf.make_message(message_id="< q1@example.pl >", headers=[
        ("In-Reply-To", "<a@x.pl>"), ("References", "<r1@x.pl>\r\n <r2@x.pl> <a@x.pl>")])  # fmt: skip
    msg = parse(raw)
    assert msg.message_id == "q1@example.pl" and not msg.message_id_synthesized
    assert msg.in_reply_to == ("a@x.pl",)
    assert msg.references == ("r1@x.pl", "r2@x.pl", "a@x.pl")
    bare = parse(mf.make_message(message_id="bare@x.pl", headers=[("References", "r1@x.pl r2@x.pl")]))
    assert bare.message_id == "bare@x.pl" and bare.references == ("r1@x.pl", "r2@x.pl")


def test_empty_message_id_is_synthesised() -> None:
    msg = parse(mf.make_message(message_id="<>"))
    assert msg.message_id_synthesized and msg.message_id.endswith("@synthesized.hotline")


@pytest.mark.parametrize(("value", "expected"), [("<>", ""), ("< >", ""), ("<Bounce@Example.org>", "Bounce@Example.org"),
                                                 ("a@b.pl", "a@b.pl")])  # fmt: skip
def test_return_path(value: str, expected: str) -> None:
    assert parse(mf.with_prepended_headers(mf.make_message(), [("Return-Path", value)])).return_path == expected


def test_return_path_absent_is_none() -> None:
    assert parse(mf.make_message()).return_path is None


def test_date_is_aware_utc() -> None:
    assert parse(mf.make_message()).date == datetime(2026, 3, 2, 9, 15, tzinfo=timezone.utc)


def test_no_date_and_bad_date_give_none_with_a_defect() -> None:
    missing = parse(mf.make_message(date=None))
    assert missing.date is None and "no Date header" in missing.defects
    garbage = parse(mf.make_message(date="wczoraj po południu"))
    assert garbage.date is None and any(d.startswith("Date: invalid-date-syntax") for d in garbage.defects)


def test_all_headers_decoded_in_order() -> None:
    raw = mf.make_message(subject="Żółć", cc="Ćma <cma@example.pl>, b@example.pl", headers=[("X-Note", "=?utf-8?q?=C5=BC?=")])
    msg = parse(raw)
    names = [name for name, _ in msg.headers]
    assert names[:6] == ["From", "To", "Cc", "Subject", "Date", "Message-ID"] and names[-1] == "X-Note"
    assert msg.header("x-note") == "ż" and msg.header("cc") == "Ćma <cma@example.pl>, b@example.pl"
    assert msg.cc == (Address("Ćma", "cma@example.pl"), Address("", "b@example.pl"))


def test_unparseable_from_keeps_the_text_as_name() -> None:
    msg = parse(mf.make_message(sender="Jan Kowalski"))
    assert msg.sender == Address(name="Jan Kowalski", addr="")
    assert any(d.startswith("From: invalid-or-ambiguous-address") for d in msg.defects)


def test_defect_strings_stay_short_for_huge_fields() -> None:
    junk = ",\r\n\t".join(["=?utf-8?Q?date=3E2017-08-20T10:08:28.617=3C/pr?="] * 3000)
    msg = parse(mf.make_message(to=f'"test" <test@test.com>, {junk}', date="x" * 5000))
    assert msg.defects and max(len(d) for d in msg.defects) < 300


def test_address_list_with_quoted_comma_and_trailing_comma() -> None:
    msg = parse(mf.make_message(to='"Kowalski, Jan" <jan@x.pl>, =?utf-8?q?=C5=BBak?= <z@x.pl>,', encode_subject=True))
    assert msg.to == (Address("Kowalski, Jan", "jan@x.pl"), Address("Żak", "z@x.pl"))


# --------------------------------------------------------------------------- line ends

def test_cr_only_line_ends() -> None:
    raw = mf.raw_message([("From", "Ala <ala@example.pl>"), ("To", "hotline@example.org"), ("Subject", "Stary Mac")],
                         body=b"pierwsza linia\rdruga linia\r", eol=b"\r")  # fmt: skip
    msg = parse(raw)
    assert msg.subject == "Stary Mac" and msg.sender == Address("Ala", "ala@example.pl")
    assert msg.text == "pierwsza linia\ndruga linia\n"
    assert msg.message_id_synthesized and msg.date is None


def test_mixed_line_ends_normalised() -> None:
    raw = mf.raw_message([("From", "a@example.pl")], body=b"a\r\nb\nc\rd")
    assert parse(raw).text == "a\nb\nc\nd"


# --------------------------------------------------------------------------- limits and garbage

def test_mime_depth_limit() -> None:
    assert parse(mf.nested_multipart(20)).text == "deep inside"
    with pytest.raises(UnparseableMessage, match=r"^MIME nesting depth 25 exceeds limits\.max_mime_depth=20$"):
        parse(mf.nested_multipart(25))
    with pytest.raises(UnparseableMessage, match=r"depth 6 exceeds limits\.max_mime_depth=5"):
        parse(mf.nested_multipart(6), ParseLimits(max_mime_depth=5))


def test_nesting_beyond_the_interpreter_recursion_limit_is_unparseable() -> None:
    with pytest.raises(UnparseableMessage, match="MIME nesting"):
        parse(mf.nested_multipart(1200))


def test_attachment_count_limit() -> None:
    limits = ParseLimits(max_attachments=40)
    assert len(parse(mf.many_attachments(40), limits).attachments) == 40
    with pytest.raises(UnparseableMessage, match=r"^41 attachments exceed limits\.max_attachments=40$"):
        parse(mf.many_attachments(41), limits)


@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n", b"\xef\xbb\xbf"])
def test_empty_input_is_unparseable(raw: bytes) -> None:
    with pytest.raises(UnparseableMessage, match="no RFC 5322 header fields found"):
        parse(raw)


@pytest.mark.parametrize("raw", [
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(4096),  # Outlook .msg (OLE2)
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
    os.urandom(2048).replace(b":", b""),
    b"Lorem ipsum dolor sit amet,\nconsectetur adipisicing elit.\n",
])  # fmt: skip
def test_binary_and_non_mail_input_is_unparseable(raw: bytes) -> None:
    with pytest.raises(UnparseableMessage, match="no RFC 5322 header fields found"):
        parse(raw)


# --------------------------------------------------------------------------- found in the corpus

def test_utf8_bom_before_the_headers() -> None:
    msg = parse(b"\xef\xbb\xbf" + mf.make_message(subject="Z BOM"))
    assert msg.subject == "Z BOM" and msg.headers[0] == ("From", "Jan Kowalski <jan@example.pl>")


def test_obsolete_space_before_colon_in_the_first_header() -> None:
    raw = b"From : Ala <ala@example.pl>\r\nSubject : Pytanie\r\nTo: hotline@example.org\r\n\r\nTresc.\r\n"
    msg = parse(raw)
    assert msg.sender == Address("Ala", "ala@example.pl") and msg.subject == "Pytanie"
    assert msg.text == "Tresc.\n"


def test_raw_8bit_inside_an_encoded_word() -> None:
    raw = mf.raw_message([("From", "a@example.pl"), ("Subject", b"=?iso-8859-1?Q?Die_Fr\xf6sche?=")], body="x\n")
    assert parse(raw).subject == "Die Frösche"


def test_raw_8bit_file_name_uses_the_declared_charset() -> None:
    raw = mf.raw_message(
        [("From", "a@example.pl"), ("MIME-Version", "1.0"), ("Content-Type", 'multipart/mixed; boundary="b"')],
        body=(b"--b\r\nContent-Type: text/plain; charset=iso-8859-2\r\n\r\nTre\xb6\xe6\r\n--b\r\n"
              b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"\xbf\xf3\xb3w.pdf\"\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0x\r\n--b--\r\n"),
    )  # fmt: skip
    msg = parse(raw)
    assert [a.filename for a in msg.attachments] == ["żółw.pdf"] and msg.text == "Treść"


@pytest.mark.parametrize(("label", "data", "text"), [
    ("iso-8859-8-i", "שלום".encode("iso-8859-8"), "שלום"),
    ("windows-874", "สวัสดี".encode("cp874"), "สวัสดี"),
    ("x-mac-cyrillic", "Привет".encode("mac-cyrillic"), "Привет"),
    ("cp-1250", "Łódź".encode("cp1250"), "Łódź"),
])  # fmt: skip
def test_charset_labels_python_does_not_know(label: str, data: bytes, text: str) -> None:
    raw = mf.raw_message([("From", "a@example.pl"), ("Content-Type", f"text/plain; charset={label}")], body=data)
    msg = parse(raw)
    assert msg.text == text and not any("unknown charset" in d for d in msg.defects)


def test_named_text_part_without_disposition_is_the_body_when_nothing_else_is() -> None:
    raw = mf.raw_message([("From", "a@example.pl"), ("Content-Type", 'text/plain; charset=utf-8; name="pytanie.txt"')],
                         body="Treść pytania.\n")  # fmt: skip
    msg = parse(raw)
    assert msg.text == "Treść pytania.\n"
    assert [(a.filename, a.data) for a in msg.attachments] == [("pytanie.txt", "Treść pytania.\n".encode())]


def test_top_level_delivery_status_is_an_attachment() -> None:
    raw = mf.raw_message([("From", "MAILER-DAEMON@mx.example.org"), ("Content-Type", "message/delivery-status")],
                         body="Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; x@y.pl\nAction: failed\n")  # fmt: skip
    msg = parse(raw)
    (att,) = msg.attachments
    assert att.content_type == "message/delivery-status" and b"Action: failed" in att.data and msg.text == ""


# --------------------------------------------------------------------------- found by fuzzing

def test_bad_base64_word_in_a_display_name() -> None:
    # mail-parser's get_addresses raises HeaderParseError on it
    msg = parse(mf.make_message(sender="J. =?utf-8?b?A?= <jan@example.pl>"))
    assert msg.sender is not None and msg.sender.addr == "jan@example.pl"


def test_attached_message_with_a_line_separator_inside_a_header() -> None:
    # "\x1c" splits lines for str.splitlines(): the stdlib generator refuses to re-fold it
    inner = b"From: a@x.pl\r\nReceived: from a by b;\r\n Thu, 8 Jul 2012 00\x1c00:00 +0900\r\nMessage-ID: <fs@x.pl>\r\n\r\nbody\r\n"
    raw = mf.raw_message(
        [("From", "b@example.pl"), ("MIME-Version", "1.0"), ("Content-Type", 'multipart/mixed; boundary="b"')],
        body=b"--b\r\nContent-Type: text/plain\r\n\r\nzob.\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"--b--\r\n",
    )
    msg = parse(raw)
    assert [a.data for a in msg.attachments] == [inner[:-2]]  # the CRLF before a boundary belongs to it
    assert msg.embedded_message_ids == ("fs@x.pl",) and msg.text == "zob."


@pytest.mark.parametrize("content_type", [
    b"multipart/mixed; boundary*=u\x00tf-8''b",  # ValueError inside the stdlib parser
    b"multipart/mixed; boundary*=b; boundary*0=b",  # TypeError inside the stdlib parser
])  # fmt: skip
def test_rfc2231_garbage_in_the_boundary(content_type: bytes) -> None:
    raw = b"From: a@b.pl\r\nContent-Type: " + content_type + b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n"
    msg = parse(raw)
    assert "x" in msg.text and any("NoBoundaryInMultipartDefect" in d for d in msg.defects)


@pytest.mark.parametrize("params", [b"charset*=utf-8''utf-8; charset*0=utf-8", b"charset=U\x00TF-8"])
@pytest.mark.parametrize("cte", [b"8bit", b"base64"])
def test_rfc2231_garbage_in_the_charset(params: bytes, cte: bytes) -> None:
    body = b"VHJlxZvEhw==" if cte == b"base64" else b"Tre\xc5\x9b\xc4\x87"
    raw = b"From: a@b.pl\r\nContent-Type: text/plain; " + params + b"\r\nContent-Transfer-Encoding: " + cte + b"\r\n\r\n" + body
    assert parse(raw).text == "Treść"


# --------------------------------------------------------------------------- robustness

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_messages_never_raise_anything_but_unparseable(data: st.DataObject) -> None:
    base = bytearray(nested_mixed_alternative_related() if data.draw(st.booleans()) else mf.dsn_bounce("x@y"))
    for _ in range(data.draw(st.integers(1, 12))):
        pos = data.draw(st.integers(0, len(base) - 1))
        base[pos:pos + data.draw(st.integers(0, 40))] = data.draw(st.binary(max_size=40))
        if not base:
            break
    try:
        msg = parse(bytes(base))
    except UnparseableMessage as exc:
        assert not str(exc).startswith("internal parser error"), str(exc)
    else:
        assert isinstance(msg.text, str) and len(msg.content_hash) == 64


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise_anything_but_unparseable(raw: bytes) -> None:
    try:
        parse(raw)
    except UnparseableMessage as exc:
        assert not str(exc).startswith("internal parser error"), str(exc)


def test_mail_parser_logging_is_silenced() -> None:
    assert logging.getLogger("mailparser").getEffectiveLevel() >= logging.ERROR
    assert logging.getLogger("mailparser.core").getEffectiveLevel() >= logging.ERROR


@pytest.mark.parametrize("field, name, addr", [
    (b"=?utf-8?q?Kowalski:_Jan?= <jan@example.pl>", "Kowalski: Jan", "jan@example.pl"),
    ("Urząd: Referat <a@b.pl>".encode(), "Urząd: Referat", "a@b.pl"),
    (b"=?utf-8?q?Jan=0D=0AKowalski=E2=80=AE=E2=81=A6?= <j@x.pl>", "Jan Kowalski", "j@x.pl"),
    (b'"Jan \xe2\x80\xae Kowalski" <j@x.pl>', "Jan Kowalski", "j@x.pl"),
    (b"=?utf-8?q?Zo=CC=81sia?= <z@x.pl>", "Zósia", "z@x.pl"),  # NFD in, NFC stored
])  # fmt: skip
def test_a_sender_is_found_and_its_name_normalised(field: bytes, name: str, addr: str) -> None:
    msg = parse(b"From: " + field + b"\r\nTo: hotline@example.org\r\nSubject: x\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n")
    assert msg.senders == (Address(name, addr),) and msg.sender == Address(name, addr)
