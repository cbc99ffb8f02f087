"""Faxes and HOT-01 forms through `hotline ingest`, end to end: rendered forms as a fax
gateway sends them (G4 TIFF, image-only PDF), typed and fillable PDFs, a form typed into
an e-mail, pages that are no form, broken documents, and the shared real-world corpus."""
from __future__ import annotations

import difflib
import json
from datetime import date
from pathlib import Path

import pytest

from tests import formfactory as ff
from tests import mailfactory as mf
from tests.support import REPO, Hotline, write_config, ingest_raw as ingest, show_ticket as ticket

FIELDS = ff.FormFields(
    date="21.11.2026",
    reference="OR.0123.45.2026",
    user_name="Małgorzata Żółkiewska",
    office="Urząd Gminy Łódź-Widzew",
    contacts="tel. 22 123 45 67, fax 22 123 45 68, m.zolkiewska@lodz-widzew.gov.pl",
    question="Jak wygenerować sprawozdanie kwartalne?\nSystem zgłasza błąd przy eksporcie do PDF.",
)
GATEWAY = "faxserver@example.org"


@pytest.fixture
def hotline(db_url: str, tmp_path: Path) -> Hotline:
    return Hotline(write_config(tmp_path / "c.toml", db_url, f'[fax]\ngateway_senders = ["{GATEWAY}"]\n'))


def fax_mail(document: bytes, filename: str, content_type: str, subject: str = "Fax from +48 22 765 43 21") -> bytes:
    return mf.make_message(
        subject=subject, sender=f"Fax Server <{GATEWAY}>", body="Received a fax, see attachment.\n",
        attachments=[(filename, content_type, document)], message_id=f"<fax.{filename}@example.org>",
    )  # fmt: skip


def similar(a: str | None, b: str) -> float:
    return difflib.SequenceMatcher(None, a or "", b).ratio()


def assert_form_fields(t: dict, exact: bool = True) -> None:
    """Every field exactly right; at fax "normal" resolution (half the rows) the words may
    carry an OCR slip, which the bench counts: here they must still be near."""
    assert t["channel"] == "fax"
    for key in ("user_name", "office", "reference"):
        assert (t[key] == getattr(FIELDS, key)) if exact else similar(t[key], getattr(FIELDS, key)) > 0.85, t[key]
    assert t["form_date"] == date(2026, 11, 21).isoformat()
    assert t["return_phones"] == ["+48221234567"]
    assert t["return_faxes"] == ["+48221234568"]
    assert t["return_emails"] == ["m.zolkiewska@lodz-widzew.gov.pl"]
    if exact:
        assert t["question"] == FIELDS.question
        assert t["subject"] == "Jak wygenerować sprawozdanie kwartalne?"
    else:
        assert similar(t["question"], FIELDS.question) > 0.85, t["question"]
    assert t["needs_review"] is False


@pytest.mark.parametrize("dpi", [ff.FINE, ff.NORMAL], ids=["fine", "normal"])
def test_g4_tiff_fax_from_the_gateway_becomes_a_filled_ticket(hotline: Hotline, tmp_path: Path, dpi) -> None:  # type: ignore[no-untyped-def]
    tiff = ff.to_g4_tiff([ff.render_form(FIELDS, dpi=dpi, lines="dotted")])
    line = ingest(hotline, tmp_path, fax_mail(tiff, "fax.tif", "image/tiff"))  # detected by the sender
    assert line["action"] == "created"
    t = ticket(hotline, line["ticket"])
    assert_form_fields(t, exact=dpi == ff.FINE)
    assert [m["kind"] for m in t["messages"]] == ["question", "ack"]


def test_image_pdf_with_cover_sheet_and_channel_flag(hotline: Hotline, tmp_path: Path) -> None:
    pdf = ff.to_image_pdf([ff.cover_sheet(), ff.render_form(FIELDS, layout="next-line", lines="boxes")])
    raw = mf.make_message(subject="skan", sender="scanner@office.example", attachments=[("skan.pdf", "application/pdf", pdf)])
    line = ingest(hotline, tmp_path, raw, "--channel", "fax")
    assert_form_fields(ticket(hotline, line["ticket"]))


@pytest.mark.parametrize("kind", ["typed", "acroform"])
def test_pdf_forms_without_ocr(hotline: Hotline, tmp_path: Path, kind: str) -> None:
    pdf = ff.typed_pdf(FIELDS) if kind == "typed" else ff.acroform_pdf(FIELDS)
    line = ingest(hotline, tmp_path, fax_mail(pdf, f"{kind}.pdf", "application/pdf"))
    assert_form_fields(ticket(hotline, line["ticket"]))


def test_form_typed_into_an_email(hotline: Hotline, tmp_path: Path) -> None:
    raw = mf.make_message(subject="Zgłoszenie", body=ff.typed_form(FIELDS), sender="sekretariat@lodz-widzew.gov.pl")
    line = ingest(hotline, tmp_path, raw)
    t = ticket(hotline, line["ticket"])
    assert t["channel"] == "email"
    assert (t["user_name"], t["office"], t["reference"]) == (FIELDS.user_name, FIELDS.office, FIELDS.reference)
    assert t["return_emails"] == ["m.zolkiewska@lodz-widzew.gov.pl"]  # the form's contact, not the sender
    assert t["question"] == FIELDS.question


def test_a_fax_that_is_no_form_keeps_its_text_and_answers_to_the_caller(hotline: Hotline, tmp_path: Path) -> None:
    page = ff.render_text_page("Dzień dobry,\nproszę o kontakt w sprawie licencji.\nJan Nowak")
    line = ingest(hotline, tmp_path, fax_mail(ff.to_g4_tiff([page]), "list.tif", "image/tiff"))
    t = ticket(hotline, line["ticket"])
    assert "proszę o kontakt w sprawie licencji" in t["question"]
    assert t["return_faxes"] == ["+48227654321"]  # the caller id from the gateway's subject
    assert t["user_name"] is None and t["needs_review"] is False


def test_broken_documents_still_make_a_ticket_flagged_for_review(hotline: Hotline, tmp_path: Path) -> None:
    raw = fax_mail(b"%PDF-1.4\n1 0 obj <<>> garbage", "zepsuty.pdf", "application/pdf", subject="Fax")
    line = ingest(hotline, tmp_path, raw)
    assert line["action"] == "created"
    t = ticket(hotline, line["ticket"])
    assert t["needs_review"] is True
    assert t["question"]  # the gateway's body text: the question is never dropped


def test_bare_fax_documents_and_the_shared_corpus(tmp_path: Path, sqlite_template: Path) -> None:
    """OCR-heavy, so once, on SQLite: storage is the same path the other tests cover twice."""
    db_file = tmp_path / "h.db"
    db_file.write_bytes(sqlite_template.read_bytes())
    hotline = Hotline(write_config(tmp_path / "c.toml", f"sqlite:///{db_file}"))
    corpus = REPO.parent / "shared" / "corpus"
    files = sorted((corpus / "fax").iterdir())
    files += [corpus / "mail" / "otobo__DuplicatedContentTypeHeader.eml", corpus / "mail" / "otobo__PostMaster-Test8.box"]
    folder = tmp_path / "faxes"
    folder.mkdir()
    for f in files:
        (folder / f.name).write_bytes(f.read_bytes())
    result = hotline.process("ingest", "--channel", "fax", str(folder))
    assert result.code == 0, result.err[-3000:]
    lines = [json.loads(x) for x in result.out.splitlines()]
    assert len(lines) == len(files)
    for line in lines:
        assert line["action"] in ("created", "duplicate", "quarantined"), line
        assert line["action"] != "quarantined" or line["reason"], line
    assert sum(line["action"] == "created" for line in lines) >= len(files) - 3


def test_a_bare_pdf_without_channel_flag_is_a_fax_and_nothing_goes_to_an_invented_address(hotline: Hotline, tmp_path: Path) -> None:
    """The README: a bare PDF or TIFF given to `hotline ingest` is a fax document."""
    path = tmp_path / "skan.pdf"
    path.write_bytes(ff.to_image_pdf([ff.render_text_page("Dzień dobry,\nproszę o kontakt w sprawie licencji.")]))
    (line,) = hotline.process("ingest", str(path)).json_lines()
    t = ticket(hotline, line["ticket"])
    assert t["channel"] == "fax" and "proszę o kontakt w sprawie licencji" in t["question"]  # read by OCR
    assert [m["kind"] for m in t["messages"]] == ["question"]  # no contact on the page: no acknowledgement
    outbox = hotline.process("outbox", "--all", "--json")
    assert outbox.code == 0 and outbox.out == "", outbox.out


OTHER_LAYOUTS = {  # case: (seed, layout, fax mode)
    "table": (1500005, "table", "fine"), "capitalised address": (1500004, None, "fine"),
    "table, empty znak": (1500018, None, "fine"), "Roman section in the znak": (2600006, None, "fine"),
    "office and surname letters": (2600021, None, "fine"), "weak address line, table": (1500007, None, "normal"),
    "weak address line": (1500012, None, "normal"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(OTHER_LAYOUTS))
def test_faxed_forms_of_other_layouts(hotline: Hotline, tmp_path: Path, case: str) -> None:
    """Forms from tests/userforms.py, faxed. A table: OCR reads each row across both cells,
    so "Imię i nazwisko <name>" comes over "Użytkownika:", and the name is still the
    user's, also after an empty "Znak:" row. "E.Zajac-Brzeczyszczykiewicz@..." with
    capitals: its "@", read as "Q", is put back. "GK-II.6840.12.2026" read "GK-I!.": the
    section is Roman. "Starostwo Powiatówe", "Kowalską": an office word and a surname in
    the nominative get their letters back. At normal resolution the address line tesseract
    was unsure of is read again from its crop, enlarged (parsers/ocr/reread.py)."""
    seed, layout, mode = OTHER_LAYOUTS[case]
    from tests import userforms as uf

    form = uf.make_form(seed, layout)  # type: ignore[arg-type]
    line = ingest(hotline, tmp_path, fax_mail(uf.to_fax(form, seed, mode), "fax.tif", "image/tiff"))
    t = ticket(hotline, line["ticket"])
    assert t["channel"] == "fax"
    uf.assert_ticket_fields(t, form.truth)
