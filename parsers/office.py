"""Word processor files (DOCX, ODT, RTF) -> one page of text, as a PDF's text layer would be.

Offices fill the HOT-01 form in Word or LibreOffice and attach the file itself. What the
form parser needs is the text in reading order with a table row on one line ("label
cell" then "value cell"), so that a label and its value meet as they do on paper. A
label wrapped inside its cell ("Zwrotny nr telefonu, faxu / i/lub e-mail:") is joined
into one line; the last cell of a row keeps its line breaks (a question over several
paragraphs). The containers are zip files: their sizes are checked before anything is
inflated (a zip bomb is refused unread). Word 97-2003 .doc has no maintained reader in
Python, so it is refused with a reason the consultant can act on.
"""
from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any, Literal

from parsers.documents import DocumentError, FaxLimits, PageText, SplitDocument
from parsers.text import controls

OfficeKind = Literal["docx", "odt", "rtf", "doc"]
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97-2003 (and other OLE2 files)
ODT_MIME = b"application/vnd.oasis.opendocument.text"
_CONTROL = controls("\t\n\r")
_SPACES = re.compile(r"[ \t\u00a0]+")


def sniff_office(data: bytes) -> OfficeKind | None:
    """The word-processor format from the first bytes (and, for a zip, its member names)."""
    if data.startswith(b"{\\rtf"):
        return "rtf"
    if data.startswith(OLE2):
        return "doc"
    if not data.startswith(b"PK\x03\x04"):
        return None
    if data[30:38] == b"mimetype" and ODT_MIME in data[38:120]:  # ODF puts its type first, stored
        return "odt"
    return "docx" if b"word/document.xml" in data[:65536] or b"word/document.xml" in data[-65536:] else None


def split_office(data: bytes, filename: str, limits: FaxLimits) -> SplitDocument:
    """The file's text as one page; a DocumentError says why it cannot be read."""
    if len(data) > limits.max_bytes:
        raise DocumentError(f"document is {len(data)} bytes, over limits.max_bytes={limits.max_bytes} "
                            "(config fax.max_document_bytes)")  # fmt: skip
    kind = sniff_office(data)
    if kind == "doc":
        raise DocumentError("Word 97-2003 .doc is not read (no maintained reader): ask for PDF, DOCX or ODT")
    if kind is None:
        raise DocumentError(f"not a DOCX, ODT or RTF: starts with {data[:8]!r}")
    try:
        text = _rtf(data) if kind == "rtf" else _zipped(data, kind, limits)
    except DocumentError:
        raise
    except Exception as exc:  # the readers raise many kinds on a broken file
        raise DocumentError(f"corrupt {kind.upper()}: {type(exc).__name__}: {exc}") from exc
    page = PageText(1, text, 100.0 if text.strip() else 0.0, "text-layer")
    return SplitDocument(filename, (page,), (), (), ())


def _zipped(data: bytes, kind: OfficeKind, limits: FaxLimits) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        inflated = sum(info.file_size for info in archive.infolist())
        if inflated > limits.max_bytes:
            raise DocumentError(f"{kind.upper()} inflates to {inflated} bytes, over limits.max_bytes="
                                f"{limits.max_bytes} (config fax.max_document_bytes): not unpacked")  # fmt: skip
    return _docx(data) if kind == "docx" else _odt(data)


def _lines(lines: Iterator[str]) -> str:
    tidy = (_SPACES.sub(" ", _CONTROL.sub("", line)).strip() for line in lines)
    return "\n".join(tidy).strip()


def _row(cells: list[list[str]]) -> str:
    """A table row on one line: a cell's paragraphs joined, the last cell's kept apart."""
    parts = [" ".join(p for p in cell if p.strip()) for cell in cells[:-1]]
    parts.append("\n".join(cells[-1]) if cells else "")
    return " ".join(p for p in parts if p.strip())


# --------------------------------------------------------------------------- DOCX
def _docx(data: bytes) -> str:
    import docx  # python-docx: loaded only for a DOCX
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))

    def walk() -> Iterator[str]:
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                yield block.text
            elif isinstance(block, Table):
                yield from _docx_table(block)

    return _lines(walk())


def _docx_table(table: Any) -> Iterator[str]:
    for row in table.rows:
        seen: set[int] = set()
        cells = []
        for cell in row.cells:  # a merged cell is listed once per grid column it spans
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append([p.text for p in cell.paragraphs])
        yield _row(cells)


# --------------------------------------------------------------------------- ODT
def _odt(data: bytes) -> str:
    from odf import opendocument, teletype  # odfpy: loaded only for an ODT
    from odf.namespaces import TABLENS, TEXTNS

    document = opendocument.load(io.BytesIO(data))
    paragraph, heading, row, cell = (TEXTNS, "p"), (TEXTNS, "h"), (TABLENS, "table-row"), (TABLENS, "table-cell")

    def walk(node: Any) -> Iterator[str]:
        for child in node.childNodes:
            qname = getattr(child, "qname", None)
            if qname in (paragraph, heading):
                yield teletype.extractText(child)
            elif qname == row:
                cells = [c for c in child.childNodes if getattr(c, "qname", None) == cell]
                yield _row([[teletype.extractText(p) for p in _paragraphs(c, paragraph, heading)] for c in cells])
            else:
                yield from walk(child)

    return _lines(walk(document.text))


def _paragraphs(node: Any, *names: Any) -> Iterator[Any]:
    for child in node.childNodes:
        if getattr(child, "qname", None) in names:
            yield child
        else:
            yield from _paragraphs(child, *names)


# --------------------------------------------------------------------------- RTF
def _rtf(data: bytes) -> str:
    from striprtf.striprtf import rtf_to_text  # loaded only for an RTF

    text = rtf_to_text(data.decode("latin-1"), errors="ignore")
    return _lines(line.replace("|", " ") for line in text.splitlines())
