"""A4 PDFs for the fax channel: what the e-mail-to-fax gateway sends as a fax.

A fax acknowledgement must be one page (a second page costs a call and is often lost),
so text that would not fit is set smaller, down to a legible limit, and only then cut
with "…" (``render_pdf``). An answer may need several pages; those keep the normal
size and carry page numbers, so a page lost on the line is noticed
(``render_document``). The font is a TrueType file embedded as a subset: the PDF core fonts have no
Polish letters (ą ć ę ł ń ó ś ź ż), and a subset keeps the file to a few tens of kB.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import MethodReturnValue

from parsers.text import ELLIPSIS, controls

FONT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),  # Debian/Ubuntu fonts-dejavu-core
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),  # Fedora/RHEL dejavu-sans-fonts
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),  # Arch
    Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),  # fonts-liberation
    Path("/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf"),
)
# A fixed creation date unless the caller gives one: the same input gives the same bytes.
FIXED_CREATION_DATE = datetime(2000, 1, 1, tzinfo=timezone.utc)

_FAMILY = "Body"
_MARGIN_MM = 20.0
_TITLE_PT = 15.0
_BODY_PT = 11.0
_MIN_BODY_PT = 7.0  # below this, a fax at 204x98 dpi is no longer readable
_STEP_PT = 0.5
_LEADING = 1.3  # line height as a multiple of the font size
_PT_TO_MM = 25.4 / 72
_FOOTER_PT = 8.0
_FOOTER_OFFSET_MM = 8.0  # the page number sits in the bottom margin, below the text
_CONTROL = controls("\t\n", c1=True, separators=True)  # no glyphs; tabs become spaces first


class FontNotFoundError(RuntimeError):
    """No usable TrueType font: the message names every path tried, for the admin."""


def find_font(candidates: Sequence[Path] = FONT_CANDIDATES) -> Path:
    """The first existing font file among ``candidates``."""
    for path in candidates:
        if path.is_file():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise FontNotFoundError(
        f"no TrueType font for PDF output; install fonts-dejavu-core (tried: {tried})"
    )


def render_pdf(
    title: str,
    text: str,
    *,
    created: datetime | None = None,
    font: Path | None = None,
    language: str = "pl",
) -> bytes:
    """A one-page A4 PDF: ``title`` on top, ``text`` wrapped below, shrunk or cut to fit."""
    pdf = _new_document(font or find_font(), title, created or FIXED_CREATION_DATE, language)
    _write_title(pdf, _clean(title).replace("\n", " "))
    size, lines = _fit(pdf, _clean(text), pdf.h - _MARGIN_MM - pdf.get_y())
    pdf.set_font(_FAMILY, size=size)
    pdf.multi_cell(w=0, h=_line_height(size), text="\n".join(lines))
    return bytes(pdf.output())


def render_document(
    title: str,
    text: str,
    *,
    max_pages: int = 10,
    footer: str = "",
    created: datetime | None = None,
    font: Path | None = None,
    language: str = "pl",
) -> bytes:
    """A multi-page A4 PDF: ``title`` on the first page, ``text`` over as many pages as it
    needs, each numbered "``footer`` n/N" at the foot.

    The text keeps the normal size (a long answer must stay readable on a fax); past
    ``max_pages`` it is cut with "…", since a fax of dozens of pages blocks the user's
    machine and is almost always a mistake.
    """
    if max_pages < 1:
        raise ValueError(f"max_pages must be at least 1, got {max_pages}")
    pdf = _new_document(font or find_font(), title, created or FIXED_CREATION_DATE, language)
    _write_title(pdf, _clean(title).replace("\n", " "))
    lines = _wrap(pdf, _clean(text), _BODY_PT)
    first = _room(pdf.h - _MARGIN_MM - pdf.get_y())
    chunks = _paginate(pdf, lines, first, _room(pdf.h - 2 * _MARGIN_MM), max_pages)
    for number, chunk in enumerate(chunks, start=1):
        if number > 1:
            pdf.add_page()
        pdf.set_font(_FAMILY, size=_BODY_PT)
        pdf.multi_cell(w=0, h=_line_height(_BODY_PT), text="\n".join(chunk))
        _write_page_number(pdf, _clean(footer).replace("\n", " "), number, len(chunks))
    return bytes(pdf.output())


def _room(height_mm: float) -> int:
    """How many body lines fit in ``height_mm``."""
    return int(height_mm // _line_height(_BODY_PT))


def _paginate(
    pdf: FPDF, lines: list[str], first: int, other: int, max_pages: int
) -> list[list[str]]:
    """``lines`` split into pages (``first`` lines on page one, ``other`` on the rest),
    cut with "…" when they need more than ``max_pages``; at least one page."""
    capacity = first + other * (max_pages - 1)
    if len(lines) > capacity:
        lines = _truncate(pdf, lines, capacity)
    chunks = [lines[:first]]
    chunks += [lines[i : i + other] for i in range(first, len(lines), other)]
    return chunks


def _write_page_number(pdf: FPDF, footer: str, number: int, total: int) -> None:
    pdf.set_font(_FAMILY, size=_FOOTER_PT)
    pdf.set_xy(_MARGIN_MM, pdf.h - _MARGIN_MM + _FOOTER_OFFSET_MM - _FOOTER_PT * _PT_TO_MM)
    text = f"{footer} {number}/{total}".strip()
    pdf.cell(w=pdf.epw, h=_line_height(_FOOTER_PT), text=text, align="R")


def _new_document(font: Path, title: str, created: datetime, language: str) -> FPDF:
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_creation_date(created)
    pdf.set_title(_clean(title))
    pdf.set_lang(language)
    pdf.set_creator("hotline")
    pdf.set_producer("hotline")  # not the fpdf2 version: upgrades must not change the bytes
    pdf.set_margins(_MARGIN_MM, _MARGIN_MM, _MARGIN_MM)
    pdf.set_auto_page_break(auto=False)  # pages are ours to break: _fit and _paginate
    pdf.add_font(_FAMILY, fname=str(font))
    pdf.add_page()
    return pdf


def _write_title(pdf: FPDF, title: str) -> None:
    pdf.set_font(_FAMILY, size=_TITLE_PT)
    pdf.multi_cell(w=0, h=_line_height(_TITLE_PT), text=title)
    pdf.ln(_line_height(_BODY_PT))


def _fit(pdf: FPDF, text: str, height_mm: float) -> tuple[float, list[str]]:
    """The largest size from _BODY_PT down at which ``text`` fits; else cut at the smallest."""
    size = _BODY_PT
    while True:
        lines = _wrap(pdf, text, size)
        room = int(height_mm // _line_height(size))
        if len(lines) <= room:
            return size, lines
        if size - _STEP_PT < _MIN_BODY_PT:
            return size, _truncate(pdf, lines, room)
        size -= _STEP_PT


def _wrap(pdf: FPDF, text: str, size: float) -> list[str]:
    """The lines fpdf2 itself would print, so measuring and printing agree."""
    pdf.set_font(_FAMILY, size=size)
    lines = pdf.multi_cell(
        w=0, h=_line_height(size), text=text, dry_run=True, output=MethodReturnValue.LINES
    )
    assert isinstance(lines, list)  # what output=LINES returns
    return [str(line) for line in lines]


def _truncate(pdf: FPDF, lines: list[str], room: int) -> list[str]:
    """The first ``room`` lines, the last one ending in "…" within the line width."""
    if room <= 0:
        return []
    kept = lines[:room]
    last = kept[-1].rstrip()
    while last and pdf.get_string_width(last + ELLIPSIS) > pdf.epw:
        last = last[:-1].rstrip()
    kept[-1] = last + ELLIPSIS
    return kept


def _line_height(size_pt: float) -> float:
    return size_pt * _PT_TO_MM * _LEADING


def _clean(text: str) -> str:
    """Unix newlines, tabs as spaces, no control characters (they have no glyphs)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return _CONTROL.sub("", text)
