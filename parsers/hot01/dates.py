"""The form's date, written the Polish way, the ISO way, in words or with a Roman month."""
from __future__ import annotations

import re
from datetime import date

from parsers.hot01.folding import fold
from parsers.misreadings import letters_as_digits


_MONTHS = {"sty": 1, "lut": 2, "mar": 3, "kwi": 4, "maj": 5, "cze": 6, "lip": 7, "sie": 8,
           "wrz": 9, "paz": 10, "lis": 11, "gru": 12}  # fmt: skip
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10,
          "xi": 11, "xii": 12}  # fmt: skip
_ISO = re.compile(r"(?<!\d)(\d{4})\s*[-./]\s*(\d{1,2})\s*[-./]\s*(\d{1,2})(?!\d)")
_DMY = re.compile(r"(?<!\d)(\d{1,2})\s*[-./]\s*(\d{1,2})\s*[-./]\s*(\d{4}|\d{2})(?!\d)")
_WORDY = re.compile(r"(?<!\d)(\d{1,2})\s*\.?\s*([a-z]{3,})\.?\s*(\d{4})(?!\d)")
_ROMANY = re.compile(r"(?<!\d)(\d{1,2})\s*[-. ]\s*([ivx]{1,4})\s*[-. ]\s*(\d{4})(?!\d)")


def parse_date(text: str) -> date | None:
    """A Polish or ISO date anywhere in `text` ("21.11.2026 r.", "21 listopada 2026",
    "2026-11-21", "21 XI 2026"); OCR "O"/"l" next to digits are read as 0/1 if needed."""
    found = _date_span(text)
    return found[0] if found else None


def _date_span(text: str) -> tuple[date, int, int] | None:
    """The first date in `text`, and where it is written (with a following "r.")."""
    folded = fold(text)
    found = _find_date(folded) or _find_date(letters_as_digits(folded))
    if found is None:
        return None
    day, start, end = found
    suffix = re.match(r"\s*r\b\.?", folded[end:])
    return day, start, end + (suffix.end() if suffix else 0)


def _find_date(folded: str) -> tuple[date, int, int] | None:
    for pattern, order in ((_ISO, "ymd"), (_DMY, "dmy"), (_WORDY, "dmy"), (_ROMANY, "dmy")):
        for m in pattern.finditer(folded):
            parts = dict(zip(order, m.groups()))
            month = _month(parts["m"])
            year = int(parts["y"]) + (2000 if len(parts["y"]) == 2 else 0)
            try:
                if month is not None:
                    return date(year, month, int(parts["d"])), m.start(), m.end()
            except ValueError:
                continue
    return None


def _month(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    return _ROMAN.get(token) or _MONTHS.get(token[:3])
