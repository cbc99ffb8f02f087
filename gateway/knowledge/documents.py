"""The product's documentation read into sections: a PDF by page (pypdf), HTML and Markdown
by heading (its anchor), plain text as one section. A section is what a consultant points a
user to, so it keeps the document's title, its own heading, and where it is (page or anchor).
Reading only: no database.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

SUFFIXES = frozenset({".pdf", ".html", ".htm", ".md", ".markdown", ".txt"})
_MD_HEADING = re.compile(r"^(#{1,6})\s+(?P<title>.+?)\s*#*\s*$")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_SKIPPED = frozenset({"script", "style", "head"})


@dataclass(frozen=True, slots=True)
class Section:
    path: str  # the file, relative to its documentation folder ("guides/user-guide.pdf")
    document: str  # the document's title
    title: str  # the section's heading
    location: str  # "page=3" (a PDF's page, as a PDF link names it), an anchor, or ""
    text: str

    @property
    def ref(self) -> str:
        """What consultants write after #doc: "user-guide#3", "admin-guide#kopie"."""
        stem = Path(self.path).with_suffix("").as_posix()
        place = self.location.removeprefix("page=")
        return f"{stem}#{place}" if place else stem


class DocumentError(Exception):
    """A file that cannot be read: named, skipped, the rest indexed."""


def documents(folder: Path) -> Iterator[Path]:
    """The documentation files under a folder, in a stable order."""
    yield from sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())


def read(path: Path, folder: Path) -> list[Section]:
    """The sections of one file (DocumentError when it cannot be read)."""
    relative = path.relative_to(folder).as_posix()
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            return _pdf(path, relative)
        text = path.read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError) as exc:
        raise DocumentError(f"{path}: {exc}") from exc
    if suffix in (".html", ".htm"):
        return _html(text, relative)
    if suffix in (".md", ".markdown"):
        return _markdown(text, relative)
    title = next((line.strip() for line in text.splitlines() if line.strip()), path.stem)
    return [Section(relative, title, title, "", text)]


def _pdf(path: Path, relative: str) -> list[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        meta = reader.metadata
        pages = [page.extract_text() or "" for page in reader.pages]
    except PyPdfError as exc:
        raise DocumentError(f"{path}: not a readable PDF: {exc}") from exc
    document = (meta.title if meta is not None and meta.title else "") or path.stem
    found = []
    for number, text in enumerate(pages, start=1):
        heading = next((line.strip() for line in text.splitlines() if line.strip()), "")
        if heading:
            found.append(Section(relative, document, heading, f"page={number}", text))
    return found


def _markdown(text: str, relative: str) -> list[Section]:
    """A section per heading; the anchor as GitHub and most generators make it."""
    document, parts = "", []
    title, body = "", []
    for line in text.splitlines():
        heading = _MD_HEADING.match(line)
        if heading is None:
            body.append(line)
            continue
        if title or "".join(body).strip():
            parts.append((title, "\n".join(body)))
        title, body = heading["title"], []
        document = document or title
    parts.append((title, "\n".join(body)))
    document = document or Path(relative).stem
    return [Section(relative, document, t or document, slug(t) if t else "", f"{t}\n{b}") for t, b in parts
            if b.strip()]  # fmt: skip


def slug(heading: str) -> str:
    """An anchor from a heading: lower case, words joined by "-" (diacritics kept, as
    GitHub keeps them)."""
    return re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", heading.strip().lower()))


def _html(text: str, relative: str) -> list[Section]:
    reader = _HtmlSections()
    reader.feed(text)
    reader.close()
    document = reader.title.strip() or Path(relative).stem
    parts = reader.parts()
    return [Section(relative, document, title or document, anchor, f"{title}\n{body}") for title, anchor, body in parts
            if body]  # fmt: skip: a heading with no text of its own points nowhere


class _HtmlSections(HTMLParser):
    """Text split at each heading; a heading's anchor is its id (or the id of an <a> in it)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self._in_title = False
        self._skip = 0
        self._heading: list[str] | None = None
        self._sections: list[tuple[str, str, list[str]]] = [("", "", [])]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ids = dict(attrs).get("id") or dict(attrs).get("name") or ""
        if tag == "title":
            self._in_title = True
        elif tag in _SKIPPED:
            self._skip += 1
        elif tag in _HEADINGS:
            self._heading = []
            self._sections.append(("", ids, []))
        elif self._heading is not None and ids and not self._sections[-1][1]:
            title, _, body = self._sections[-1]
            self._sections[-1] = (title, ids, body)
        elif tag in ("p", "br", "li", "div", "tr"):
            self._sections[-1][2].append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag in _HEADINGS and self._heading is not None:
            heading = " ".join("".join(self._heading).split())
            _, anchor, body = self._sections[-1]
            self._sections[-1] = (heading, anchor or slug(heading), body)
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif self._skip:
            return
        elif self._heading is not None:
            self._heading.append(data)
        else:
            self._sections[-1][2].append(data)

    def parts(self) -> list[tuple[str, str, str]]:
        return [(title, anchor, "".join(body).strip()) for title, anchor, body in self._sections]
