"""The text's lines, without e-mail quoting and without the fax machine's header lines."""
from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.hot01.folding import fold
from parsers.hot01.labels import match_label

_QUOTE = re.compile(r"^(?:[ \t]*>)+[ \t]?")


@dataclass(slots=True)
class _Line:
    text: str
    page: int


_TIME = re.compile(r"(?<![\d:])\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?(?![\d:])")
_MON = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATEISH = re.compile(
    rf"(?<![\d.\-/])(?:[0-3]?\d[-./][01]?\d[-./](?:\d{{4}}|\d{{2}})|\d{{4}}[-./][01]?\d[-./][0-3]?\d|\d{{1,2}}\s+{_MON}\s+\d{{2,4}}|{_MON}\s+\d{{1,2}},?\s+\d{{2,4}})(?![\d])"
)
_PAGE = re.compile(
    r"(?<![a-z])(?:page|pag|pg|p|str|strona|seite)\.?\s*\d{1,3}(?:\s*(?:/|of|z|von)\s*\d{1,3})?(?!\d)"
    r"|(?<![\d/.\-])\d{1,3}\s*/\s*\d{1,3}(?![\d/.\-])"
)
_FAXWORD = re.compile(r"(?<![a-z])(?:fax|faks|telefax|from|laserjet|officejet|tx|rx)(?![a-z])")
_INTL = re.compile(r"\+\s?\d[\d ]{6,}")


def is_fax_header(line: str, strong: bool = False) -> bool:
    """A fax machine's header line (date, time, sender number, "Page 1/2").

    At the top or bottom of a page a time with a page mark or fax word, or a date with a
    page mark, is enough; elsewhere (`strong`) it takes a page mark, a date or time, and a
    fax word or number.
    """
    low = fold(line)
    time, day = bool(_TIME.search(low)), bool(_DATEISH.search(low))
    page, faxword = bool(_PAGE.search(low)), bool(_FAXWORD.search(low))
    if strong:
        return page and (time or day) and (faxword or bool(_INTL.search(low)))
    return (time and (page or faxword)) or (day and page)


def _lines(text: str) -> list[_Line]:
    """Lines without e-mail quoting and without the fax machine's header lines."""
    out: list[_Line] = []
    for number, page in enumerate(text.split("\f")):
        lines = [_QUOTE.sub("", ln) for ln in page.splitlines()]
        filled = [i for i, ln in enumerate(lines) if ln.strip()]
        edges = set(filled[:2] + filled[-2:])
        for i, ln in enumerate(lines):
            if ln.strip() and is_fax_header(ln, strong=i not in edges) and match_label(ln) is None:
                continue
            out.append(_Line(ln, number))
    return out
