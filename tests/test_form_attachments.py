"""HOT-01 forms attached to ordinary e-mails, through the real `hotline ingest` command:
a text-layer PDF, a DOCX, an ODT, an RTF and a phone photo are read into the ticket's
fields, the covering note is kept as a note (not the question); a form typed in the body
still wins; broken attachments cost nothing but their own text. The forms come from
tests/userforms.py (written apart from the parser), in its harder layouts."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from tests import mailfactory as mf
from tests import userforms as uf
from tests.support import Hotline, show_ticket, write_config

NOTE = "Dzień dobry,\nw załączeniu przesyłam zgłoszenie.\nPozdrawiam"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def hotline(db_url: str, tmp_path: Path) -> Hotline:
    return Hotline(write_config(tmp_path / "c.toml", db_url))


def ingest(hotline: Hotline, folder: Path, raw: bytes) -> dict[str, Any]:
    """One message through the installed `hotline ingest` command (a real process)."""
    path = folder / "in.eml"
    path.write_bytes(raw)
    result = hotline.process("ingest", str(path))
    assert result.code == 0, result.err[-2000:]
    (line,) = result.json_lines()
    assert line["action"] == "created", line
    return show_ticket(hotline, line["ticket"])


def mail(attachment: tuple[str, str, bytes], body: str = NOTE + "\n") -> bytes:
    return mf.make_message(subject="Zgłoszenie", sender="Sekretariat <sekretariat@gmina.example.pl>", body=body,
                           attachments=[attachment])  # fmt: skip


def rtf(form: uf.Form) -> bytes:
    """An RTF as WordPad writes it: \\par per line, Polish letters as \\uN escapes."""
    def escaped(line: str) -> str:
        return "".join(c if ord(c) < 128 and c not in "\\{}" else f"\\u{ord(c)}?" for c in line)

    lines = "".join(f"{escaped(line)}\\par\n" for line in uf.lines_of(form))
    return f"{{\\rtf1\\ansi\\ansicpg1250\\deff0{{\\fonttbl{{\\f0 Arial;}}}}\n{lines}}}".encode("ascii")


# seeds chosen for the layouts the issue names: a label table with wrapped labels, data and znak
# on one row, label over value; each form's values are whatever the generator drew
CASES = {
    "pdf": (lambda f: ("zgloszenie.pdf", "application/pdf", uf.to_pdf(f)), "table"),
    "docx": (lambda f: ("zgloszenie.docx", DOCX, uf.to_docx(f)), "table"),
    "odt": (lambda f: ("zgloszenie.odt", "application/vnd.oasis.opendocument.text", uf.to_odt(f)), "pair-row"),
    "rtf": (lambda f: ("zgloszenie.rtf", "application/rtf", rtf(f)), "below"),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_form_attached_to_an_email_fills_the_ticket(hotline: Hotline, tmp_path: Path, kind: str) -> None:
    attach, layout = CASES[kind]
    form = uf.make_form(7, layout)
    t = ingest(hotline, tmp_path, mail(attach(form)))
    assert t["channel"] == "email"
    uf.assert_ticket_fields(t, form.truth)
    assert t["needs_review"] is False
    kinds = [m["kind"] for m in t["messages"]]
    assert kinds[:2] == ["question", "note"], kinds  # the question first: it is the ticket's question
    assert t["messages"][1]["text"] == NOTE


def test_a_photographed_form_is_straightened_and_read(hotline: Hotline, tmp_path: Path) -> None:
    form = uf.make_form(11, "inline")
    photo = uf.photographed(uf.to_image(form, dpi=200), seed=11)
    t = ingest(hotline, tmp_path, mail(("IMG_2041.jpg", "image/jpeg", photo)))
    assert t["form_date"] == form.truth.form_date.isoformat()
    assert (t["user_name"], t["office"]) == (form.truth.user_name, form.truth.office)
    assert [e.lower() for e in t["return_emails"]] == [e.lower() for e in form.truth.emails]
    assert t["messages"][1]["kind"] == "note"


def test_the_form_in_the_body_wins_over_an_attached_one(hotline: Hotline, tmp_path: Path) -> None:
    body_form, attached_form = uf.make_form(21, "inline"), uf.make_form(22, "inline")
    raw = mail(("stary.pdf", "application/pdf", uf.to_pdf(attached_form)), body=uf.email_body(body_form))
    t = ingest(hotline, tmp_path, raw)
    uf.assert_ticket_fields(t, body_form.truth)
    assert "note" not in [m["kind"] for m in t["messages"]]


def test_a_signature_after_dashes_is_not_part_of_the_question(hotline: Hotline, tmp_path: Path) -> None:
    form = next(f for f in (uf.make_form(s, "below") for s in range(100)) if f.signature)
    raw = mf.make_message(subject="Zgłoszenie", body=uf.email_body(form), sender="jan@gmina.example.pl")
    t = ingest(hotline, tmp_path, raw)
    uf.assert_ticket_fields(t, form.truth)
    assert form.signature.splitlines()[-1] not in t["question"]


def encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(uf.to_pdf(uf.make_form(3, "inline")))))
    writer.encrypt(user_password="tajne", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


BAD = {
    "corrupt DOCX": (("zgloszenie.docx", DOCX, b"PK\x03\x04" + b"word/document.xml" + bytes(range(256)) * 4), "corrupt DOCX"),
    "encrypted PDF": (("zgloszenie.pdf", "application/pdf", encrypted_pdf()), "encrypted PDF"),
    "Word 97 DOC": (("zgloszenie.doc", "application/msword", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512)), ".doc is not read"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_attachment_still_makes_a_ticket_from_the_note(hotline: Hotline, tmp_path: Path, case: str) -> None:
    attachment, reason = BAD[case]
    t = ingest(hotline, tmp_path, mail(attachment))
    assert t["question"] == NOTE  # nothing lost: the note is the question when no form was read
    assert t["needs_review"] is True
    assert any(attachment[0] in r and reason in r for r in t["review_reasons"]), t["review_reasons"]
    assert [a["filename"] for a in t["messages"][0]["attachments"]] == [attachment[0]]  # the original is kept


def test_pages_past_an_emails_form_name_the_email_cap_not_the_fax_limit(hotline: Hotline, tmp_path: Path) -> None:
    """An e-mail's attachment is read for its first sheet only (2 pages); the review reason
    names that cap, not `fax.max_pages` (20 here, which was not what cut it)."""
    from pypdf import PdfReader, PdfWriter

    form = uf.make_form(11, "inline")
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(uf.to_pdf(form))))
    for _ in range(5 - len(writer.pages)):
        writer.add_blank_page()
    out = io.BytesIO()
    writer.write(out)
    t = ingest(hotline, tmp_path, mail(("zgloszenie.pdf", "application/pdf", out.getvalue())))
    (reason,) = [r for r in t["review_reasons"] if "not read" in r]
    assert "pages 3-5 not read: over limits.max_pages=2" in reason and "e-mail" in reason, reason
    assert "fax.max_pages" not in reason
