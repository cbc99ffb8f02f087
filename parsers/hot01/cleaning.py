"""Values and question lines cleaned of the leaders, boxes, ruled lines and footers a
form and a fax leave around them."""
from __future__ import annotations

import re

from parsers.hot01.folding import fold
from parsers.hot01.labels import CODE
from parsers.hot01.lines import _PAGE


_VALUE_NOISE = re.compile(r"\.{2,}|…+|_{2,}|\|+|~+|-{2,}|[\u2014\u2013]{2,}")
_EDGE = " \t:;,|_~\u2014\u2013-"
_QUESTION_NOISE = re.compile(r"\.{4,}|…{2,}|_{2,}|(?:(?<=\s)|^)\|+(?=\s|$)")
_OCR_EDGE = " \t|_~\u2014\u2013-'\"«»„”“©®.,:;*"


def clean_value(text: str) -> str:
    """A value without leaders, boxes and stray marks, whitespace normalised."""
    words = _without_marks_at_ends(_VALUE_NOISE.sub(" ", text).split())
    return " ".join(words).strip(_EDGE).lstrip(".").strip(_EDGE)


def _without_marks_at_ends(words: list[str]) -> list[str]:
    """The words without the marks of no letter or digit at either end: what is left of
    the form's lines and boxes, not text."""
    while words and not any(c.isalnum() for c in words[0]):
        words.pop(0)
    while words and not any(c.isalnum() for c in words[-1]):
        words.pop()
    return words


def is_debris(text: str) -> bool:
    """What OCR makes of ruled lines, boxes and speckle: no word of 3+ letters or digits."""
    return not any(sum(c.isalnum() for c in word) >= 3 for word in text.split())


def _trim_debris(text: str) -> str:
    """OCR: cut what dotted leaders and boxes leave around a name or an office ("z a 0.
    Urząd Gminy Pcim mmm sz"): bits of 1-2 characters, and words without a capital before
    or after two capitalised words (names and offices end with a capitalised word)."""
    words = text.split()

    def capital(word: str) -> bool:
        return next((c.isupper() for c in word if c.isalpha()), False)

    while len(words) > 2 and not capital(words[-1]) and sum(map(capital, words[:-1])) >= 2:
        words.pop()
    while len(words) > 2 and not capital(words[0]) and sum(map(capital, words[1:])) >= 2:
        words.pop(0)
    while words and sum(c.isalnum() for c in words[0]) < 3:
        words.pop(0)
    while words and sum(c.isalnum() for c in words[-1]) < 3:
        words.pop()
    return " ".join(words).strip(_OCR_EDGE)


def _clean_question_line(text: str, ocr: bool) -> str:
    words = _QUESTION_NOISE.sub(" ", text).split()
    if ocr:
        words = _without_marks_at_ends(words)
        if is_debris(" ".join(words)):
            return ""
    text = " ".join(words).strip(" |_~\u2014\u2013")
    return text if any(c.isalnum() for c in text) else ""


def _is_footer(text: str) -> bool:
    """A page footer left inside the question: the form code and/or a page number."""
    folded = fold(text)
    rest = _PAGE.sub(" ", CODE.sub(" ", folded))
    rest = re.sub(r"(?<![a-z])(?:strona|str|page|wersja|wer|v)\.?(?![a-z])", " ", rest)
    return folded != rest and not any(c.isalnum() for c in rest)
