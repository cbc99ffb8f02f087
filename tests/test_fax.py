"""parsers.fax: fax documents to page text. G4 TIFF and image-only PDF (OCR), typed PDF
(text layer), fillable PDF (form fields), and what must be refused: corrupt, encrypted,
unknown and oversized documents, with a reason that says which limit."""
from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
import zlib
from functools import lru_cache
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, NumberObject

from parsers.fax import (DocumentError, FaxLimits, PageImage, SplitDocument, ocr_page, read_document,
                         split_document)  # fmt: skip
from tests.formfactory import (FINE, NORMAL, SAMPLE, FormFields, acroform_pdf, cover_sheet, render_form,
                               render_text_page, to_g4_tiff, to_image_pdf, typed_pdf)  # fmt: skip
from tests.support import REPO

LIMITS = FaxLimits(seconds_per_page=30)
FIELDS = FormFields("12.10.2026", "ZP.272.14.2026", "Grzegorz Żółtowski", "Urząd Miasta Łódź-Widzew",
                    "tel. 42 638 40 00, fax 42 638 40 01, g.zoltowski@lodz-widzew.gov.pl",
                    "Jak wygenerować zestawienie należności za wrzesień w module Księgowość?\n"
                    "Po aktualizacji do wersji 4.12 program nie drukuje deklaracji podatkowych.")  # fmt: skip


def norm(text: str) -> str:
    return " ".join(text.split())


def assert_form_text(text: str, fields: FormFields = FIELDS) -> None:
    flat = norm(text)
    for value in (fields.date, fields.reference, fields.user_name, fields.office, fields.contacts):
        assert value in flat, f"{value!r} not in {flat!r}"
    for line in fields.question.splitlines():
        assert line in flat, f"{line!r} not in {flat!r}"


@lru_cache(maxsize=None)
def form(dpi: tuple[int, int] = FINE, **kw: object) -> Image.Image:
    return render_form(FIELDS, dpi=dpi, **kw)  # type: ignore[arg-type]


def split(data: bytes, name: str = "fax", content_type: str = "application/octet-stream",
          limits: FaxLimits = LIMITS) -> SplitDocument:  # fmt: skip
    return split_document(data, name, content_type, limits)


# --------------------------------------------------------------------------- OCR'd documents
def test_g4_tiff_fine_mode_is_read() -> None:
    data = to_g4_tiff([form(FINE, font="LiberationSerif-Regular", lines="dotted", skew_degrees=0.7, speckle=0.001)])
    parts = split(data, "fax.tif", "image/tiff")
    assert [(p.number, p.x_dpi, p.y_dpi) for p in parts.images] == [(1, 204, 196)]
    assert Image.open(io.BytesIO(parts.images[0].png)).mode == "1"
    doc = read_document(data, "fax.tif", "image/tiff", LIMITS)
    assert [p.source for p in doc.pages] == ["ocr"] and doc.problems == ()
    assert_form_text(doc.text)


def test_cover_sheet_and_normal_mode_form_in_one_multipage_tiff() -> None:
    pages = [cover_sheet(dpi=NORMAL), form(NORMAL, font="DejaVuSans", size_pt=12, layout="next-line", lines="dotted",
                                           header_line="21-11-2026 10:15  FROM +48 22 123 45 68  Page 2/2")]  # fmt: skip
    data = to_g4_tiff(pages)
    parts = split(data)
    assert [(p.number, p.x_dpi, p.y_dpi) for p in parts.images] == [(1, 204, 98), (2, 204, 98)]
    doc = read_document(data, "fax.tif", "image/tiff", LIMITS)
    assert len(doc.pages) == 2
    cover, page = (p.text for p in doc.pages)
    assert "Liczba stron (z tą stroną): 2" in norm(cover) and "Imię i nazwisko" not in cover
    assert_form_text(page)
    assert "Page 2/2" in page


def test_image_only_pdf_with_ccitt_pages() -> None:
    data = to_image_pdf([form(NORMAL, font="LiberationSans-Regular", size_pt=12, lines="ruled", skew_degrees=-0.5)])
    parts = split(data, "fax.pdf", "application/pdf")
    assert parts.texts == () and len(parts.images) == 1
    page = parts.images[0]
    assert (page.x_dpi, page.y_dpi) == pytest.approx((204, 98), abs=0.5)
    text = ocr_page(page, 30).text
    assert_form_text(text)


def test_image_pdf_with_png_pages_keeps_page_order_and_resolution() -> None:
    data = to_image_pdf([cover_sheet(), form(FINE)], ccitt=False)
    parts = split(data)
    assert [p.number for p in parts.images] == [1, 2]
    assert [(round(p.x_dpi), round(p.y_dpi)) for p in parts.images] == [(204, 196), (204, 196)]


def test_a_page_that_is_not_a_form_is_read_as_text() -> None:
    letter = ("Szanowni Państwo, uprzejmie informujemy, że od poniedziałku zmienia się numer faksu "
              "naszego referatu. Prosimy o aktualizację danych kontaktowych w systemie.")  # fmt: skip
    page = render_text_page(letter, dpi=FINE).crop((0, 0, 1728, 700))
    doc = read_document(to_g4_tiff([page]), "letter.tif", "image/tiff", LIMITS)
    assert norm(letter) in norm(doc.text)
    assert "Zgłoszenie" not in doc.text


def test_upside_down_fax_page_is_turned_and_read() -> None:
    page = form(FINE).rotate(180).crop((0, 1400, 1728, 2292))  # the form's top, fed upside down
    result = ocr_page(PageImage(1, to_png(page), 204, 196), 30)
    assert FIELDS.user_name in result.text and FIELDS.office in result.text


def test_a_page_over_its_time_is_flagged_not_lost() -> None:
    parts = split(to_g4_tiff([form(FINE)]))
    result = ocr_page(parts.images[0], 0.05)
    assert result.timed_out and result.text == "" and result.source == "ocr"
    doc = read_document(to_g4_tiff([form(FINE)]), "fax.tif", "image/tiff", FaxLimits(seconds_per_page=0.05))
    assert doc.pages[0].timed_out
    assert "limits.seconds_per_page=0.05" in doc.problems[0]


def test_a_page_that_cannot_be_read_is_a_problem_not_an_exception() -> None:
    result = ocr_page(PageImage(3, b"not a png", 204, 196), 30)
    assert result.text == "" and not result.timed_out
    assert result.problem.startswith("page 3: OCR failed: UnidentifiedImageError")


def to_png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# --------------------------------------------------------------------------- PDFs with text
def test_typed_pdf_uses_its_text_layer() -> None:
    doc = read_document(typed_pdf(FIELDS), "form.pdf", "application/pdf", LIMITS)
    assert [(p.source, p.confidence) for p in doc.pages] == [("text-layer", 100.0)]
    assert_form_text(doc.text)
    assert f"Imię i nazwisko Użytkownika: {FIELDS.user_name}" in doc.text.splitlines()


def test_fillable_pdf_gives_its_field_values() -> None:
    doc = read_document(acroform_pdf(FIELDS), "form.pdf", "application/pdf", LIMITS)
    assert dict(doc.fields) == {"date": FIELDS.date, "reference": FIELDS.reference, "user_name": FIELDS.user_name,
                                "office": FIELDS.office, "contacts": FIELDS.contacts, "question": FIELDS.question}  # fmt: skip
    assert [p.source for p in doc.pages] == ["form-fields"]
    lines = doc.text.splitlines()  # the values stand where the form shows them
    assert f"Imię i nazwisko Użytkownika: {FIELDS.user_name}" in lines
    assert f"Nazwa Urzędu: {FIELDS.office}" in lines
    assert lines[-2:] == FIELDS.question.splitlines() and lines[-3] == "Treść pytania"


def test_a_scanner_stamp_is_not_a_text_layer() -> None:
    """A fax gateway's one-line stamp over the scanned page: the page still goes to OCR."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(to_image_pdf([form(FINE)]))))
    stamp = PdfReader(io.BytesIO(_one_line_pdf("Received 21-11-2026 10:15 from +48221234568")))
    writer.pages[0].merge_page(stamp.pages[0])
    out = io.BytesIO()
    writer.write(out)
    parts = split(out.getvalue())
    assert parts.texts == () and len(parts.images) == 1


def _one_line_pdf(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format=(1728 * 72 / 204, 2292 * 72 / 196))
    pdf.add_page()
    pdf.set_font("helvetica", size=8)
    pdf.text(20, 12, text)
    return bytes(pdf.output())


def test_sideways_pdf_page_is_turned_as_shown() -> None:
    """A portrait scan stored sideways, shown upright by the page's /Rotate."""
    sideways = form(FINE).transpose(Image.Transpose.ROTATE_90)
    sideways.info["dpi"] = (196, 204)  # the scanner's axes, turned with the paper
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(to_image_pdf([sideways]))))
    writer.pages[0].rotate(90)
    out = io.BytesIO()
    writer.write(out)
    page = split(out.getvalue()).images[0]
    image = Image.open(io.BytesIO(page.png))
    assert image.size == form(FINE).size
    assert (round(page.x_dpi), round(page.y_dpi)) == (204, 196)


# --------------------------------------------------------------------------- refused
def test_type_comes_from_the_bytes_not_the_label() -> None:
    parts = split(to_g4_tiff([form(FINE)]), "scan.pdf", "application/pdf")
    assert len(parts.images) == 1
    with pytest.raises(DocumentError, match="not a PDF, TIFF or image.*declared application/pdf"):
        split(b"<html>not a fax</html>", "fax.pdf", "application/pdf")


def test_corrupt_pdf() -> None:
    good = typed_pdf(FIELDS)
    with pytest.raises(DocumentError, match="corrupt PDF"):
        split(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")
    with pytest.raises(DocumentError, match="corrupt PDF|no pages"):
        split(good[: len(good) // 3])


def test_encrypted_pdf() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(typed_pdf(FIELDS))))
    writer.encrypt(user_password="tajne", owner_password="tajne", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(DocumentError, match="encrypted PDF"):
        split(out.getvalue())


def test_corrupt_tiff() -> None:
    good = to_g4_tiff([form(FINE)])
    with pytest.raises(DocumentError, match="corrupt TIFF"):
        split(good[:8] + b"\xff" * 64)  # a header, then garbage where the directory should be
    with pytest.raises(DocumentError, match="page 1: cannot be decoded"):
        split(good[:8] + bytes(len(good) - 8)[:2000] + good[2008:])  # the G4 data zeroed


def test_too_many_bytes() -> None:
    with pytest.raises(DocumentError, match=r"over limits.max_bytes=1000 \(config fax.max_document_bytes\)"):
        split(b"%PDF-1.4" + bytes(2000), limits=FaxLimits(max_bytes=1000))


def test_pages_over_the_limit_are_named_not_read() -> None:
    blank = Image.new("1", (1728, 1146), 1)
    parts = split(to_g4_tiff([blank, blank, blank]), limits=FaxLimits(max_pages=2))
    assert [p.number for p in parts.images] == [1, 2]
    assert parts.problems == ("pages 3-3 not read: over limits.max_pages=2 (config fax.max_pages)",)


def tiff_claiming(width: int, height: int) -> bytes:
    """A G4 TIFF header that claims width x height pixels over a few bytes of data."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 1), (259, 3, 4), (262, 3, 0),
               (273, 4, 8 + 2 + 12 * 9 + 4), (277, 3, 1), (278, 4, height), (279, 4, 16)]  # fmt: skip
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        ifd += struct.pack("<HHII", tag, kind, 1, value) if kind == 4 else struct.pack("<HHIHH", tag, kind, 1, value, 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + bytes(16)


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b"")


@pytest.mark.parametrize("data", [tiff_claiming(30_000, 30_000), png_claiming(30_000, 30_000),
                                  tiff_claiming(8_000, 8_000)], ids=["tiff", "png", "tiff-64M"])  # fmt: skip
def test_huge_image_is_refused_by_max_pixels_without_decoding(data: bytes) -> None:
    start = time.monotonic()
    with pytest.raises(DocumentError, match=r"limits.max_pixels=40000000 \(config fax.max_pixels\)"):
        split(data)
    assert time.monotonic() - start < 1


def test_huge_image_costs_no_memory() -> None:
    """In a fresh process: refusing a 30,000 x 30,000 page (112 MB as 1-bit, 900 MB as grey)
    must not raise the peak memory by more than a few MB."""
    code = (
        "import resource, sys\n"
        "from parsers.fax import split_document, FaxLimits, DocumentError\n"
        "from tests.test_fax import tiff_claiming, png_claiming\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "for data in (tiff_claiming(30000, 30000), png_claiming(30000, 30000)):\n"
        "    try:\n"
        "        split_document(data, 'x', 'image/tiff', FaxLimits())\n"
        "    except DocumentError:\n"
        "        pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) < 20_000  # KiB


def test_huge_pdf_image_is_refused_before_decoding() -> None:
    """An image-only PDF whose image dictionary claims 30,000 x 30,000 pixels."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(to_image_pdf([Image.new("1", (64, 64), 1)], ccitt=False))))
    page = writer.pages[0]
    xobjects: Any = page["/Resources"]["/XObject"]  # type: ignore[index]
    for ref in xobjects.values():
        image = ref.get_object()
        image[NameObject("/Width")] = NumberObject(30_000)
        image[NameObject("/Height")] = NumberObject(30_000)
    out = io.BytesIO()
    writer.write(out)
    start = time.monotonic()
    with pytest.raises(DocumentError, match=r"page 1: image of 30000 x 30000 pixels, over limits.max_pixels"):
        split(out.getvalue())
    assert time.monotonic() - start < 1
