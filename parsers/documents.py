"""What documents are read into, as plain values that travel between processes: a
fax's pages to OCR, their text, the limits. Kept apart from parsers/fax.py, which loads
pypdf and Pillow: a plain e-mail needs these names, never those libraries."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class FaxLimits:
    max_pages: int = 20
    max_pixels: int = 40_000_000  # per page: a decompression bomb is refused, not decoded
    max_bytes: int = 30_000_000
    seconds_per_page: float = 30.0
    max_document_pixels: int = 160_000_000  # all pages together: 20 superfine fax pages
    max_pages_from: str = "config fax.max_pages"  # what set max_pages, named when pages are left unread


@dataclass(frozen=True, slots=True)
class PageImage:
    """One page to OCR, as it travels to a worker process."""

    number: int  # 1-based
    png: bytes  # lossless, 1-bit or greyscale
    x_dpi: float
    y_dpi: float
    photo: bool = False  # a camera's or scanner's colour/grey picture: straightened and evened before OCR

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) from the PNG's header (IHDR), without decoding the pixels."""
        return int.from_bytes(self.png[16:20], "big"), int.from_bytes(self.png[20:24], "big")


@dataclass(frozen=True, slots=True)
class PageText:
    number: int
    text: str
    confidence: float  # 0..100, mean word confidence (100 for a text layer)
    source: Literal["text-layer", "form-fields", "ocr"]
    timed_out: bool = False
    problem: str = ""  # why the page has no text although it has an image (OCR failed)


@dataclass(frozen=True, slots=True)
class SplitDocument:
    """A document after the cheap pass: pages with text already, pages still to OCR."""

    filename: str
    texts: tuple[PageText, ...]
    images: tuple[PageImage, ...]
    fields: tuple[tuple[str, str], ...]  # AcroForm name -> value, in order
    problems: tuple[str, ...]  # e.g. "page 21 and later not read: limits.max_pages=20"


@dataclass(frozen=True, slots=True)
class DocumentText:
    filename: str
    pages: tuple[PageText, ...]  # in page order
    fields: tuple[tuple[str, str], ...]
    problems: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n\f\n".join(p.text for p in self.pages)


class DocumentError(ValueError):
    """The document cannot be read at all (corrupt, encrypted, not a PDF/TIFF, over a limit)."""
