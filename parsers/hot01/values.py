"""Each field's value as the scan found it, tidied (OCR only: typed text is kept as
written), and how plausible it looks (the `plausible` factor of the confidence)."""
from __future__ import annotations

import math
import re

from parsers.hot01.cleaning import _clean_question_line, _is_footer, _trim_debris
from parsers.hot01.dates import _date_span
from parsers.hot01.fields import Field
from parsers.hot01.scanning import _Found
from parsers.misreadings import capitalise_name, repair_office, repair_sign, sentence_starts

_WORD = re.compile(r"^[^\W\d_]+(?:[-'’][^\W\d_]+)*\.?$")


# --------------------------------------------------------------------------- confidence
def _ocr_factor(word_confidence: float | None) -> float:
    if word_confidence is None:
        return 1.0
    try:
        value = float(word_confidence)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(value) else min(1.0, max(0.0, value / 100.0))


def _well_cased(word: str) -> bool:
    """"Kowalski", "KOWALSKI", "kowalski", "Nowak-Jeziorański"; not OCR's "KowaLSKI"."""
    return all(p in (p.lower(), p.upper(), p[:1].upper() + p[1:].lower()) for p in re.split(r"[-'’]", word))


def _name_plausibility(value: str) -> float:
    words = value.split()
    good = [w for w in words if _WORD.match(w)]
    if len(words) >= 2 and len(good) == len(words):
        return 1.0 if all(map(_well_cased, words)) else 0.6
    if len(good) >= 2 or (len(words) == 1 and good):
        return 0.5
    return 0.2


def _reference_plausibility(value: str) -> float:
    """A sign is one token of letters and digits ("OR.0123.45.2026"); spaces are suspect."""
    if not any(c.isalnum() for c in value):
        return 0.3
    return 1.0 if len(value.split()) <= 2 else 0.6


def _office_plausibility(value: str) -> float:
    letters = sum(c.isalpha() for c in value)
    return 1.0 if letters >= 3 and letters >= sum(c.isdigit() for c in value) else 0.3


def _field(found: _Found | None, value: str | None, plausible: float, ocr: float) -> Field | None:
    if found is None or not value:
        return None
    return Field(value, round(max(0.0, min(1.0, found.score * ocr * plausible)), 3))


# --------------------------------------------------------------------------- tidying
_REFERENCE_LIKE = re.compile(r"[^\W_]+(?:[.,\-/][^\W_]+)+")  # OCR may read "." as ","


def _question(found: _Found, ocr: bool) -> str:
    """The question lines, cleaned; no blank lines at page breaks, footers or at the ends."""
    pages: dict[int, list[str]] = {}
    for line in found.lines:
        text = _clean_question_line(line.text, ocr)
        if line.text.strip() and not text:
            continue  # a ruled line or stray marks: no paragraph break
        if not _is_footer(text):
            pages.setdefault(line.page, []).append(text)
    out: list[str] = []
    for texts in pages.values():
        while texts and not texts[0]:
            texts.pop(0)
        while texts and not texts[-1]:
            texts.pop()
        out.extend(texts)
    while out and len(out[-1]) < 2:
        out.pop()
    collapsed: list[str] = []
    for text in out:
        if text or (collapsed and collapsed[-1]):
            collapsed.append(text)
    if ocr:
        collapsed = sentence_starts(collapsed)
    return "\n".join(collapsed).strip("\n")


def _tidy(field: str, value: str | None, ocr: bool) -> str | None:
    """OCR only: cut what the ruled lines and boxes left around a value; typed text is kept
    as written."""
    if not value or not ocr:
        return value
    if field == "user_name":
        return capitalise_name(_trim_debris(value)) or None
    if field == "office":
        return repair_office(_trim_debris(value)) or None
    if field == "date" and (span := _date_span(value)):
        return value[span[1]:span[2]]
    if field == "reference":
        value = _SIGN_SPACE.sub("", value)
        if " " in value:
            candidates = _REFERENCE_LIKE.findall(value)
            value = max(candidates, key=len) if candidates else value
        return repair_sign(value)
    return value


_SIGN_SPACE = re.compile(r"(?<=[A-Za-z0-9][.\-/])\s+(?=\d)|(?<=[A-Za-z0-9])\s+(?=[.\-/]\d)")  # "BRM. 7526"
