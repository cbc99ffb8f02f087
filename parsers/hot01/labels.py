"""The form's printed labels and title, found at the start of a line however OCR read them:
fuzzy for the long labels, a pattern for the short "Data:" and "Znak:", exact for
AcroForm field names and hand-typed short forms."""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from parsers.hot01.folding import _bigrams, _keyed, _ratio, edit_distance, fold


FIELDS = ("date", "reference", "user_name", "office", "contacts", "question")
THRESHOLD = 0.8  # fuzzy label score to accept a label
STRICT = 0.9  # ... to end the question at a label line
HEADER_KEY = "zgloszeniepytania"
# Folded keys of the printed labels (lower case, no diacritics, letters and digits only).
LONG_LABELS = {
    "user_name": "imieinazwiskouzytkownika",
    "office": "nazwaurzedu",
    "contacts": "zwrotnynrtelefonufaxuilubemail",
    "question": "trescpytania",
}
# Other names for a field, accepted only exactly and before a colon (AcroForm field
# names as the PDF reader joins them, shortened labels typed by hand).
ALIASES = {
    "date": ("date", "datadokumentu", "datapisma"),
    "reference": ("reference", "nasznak", "znaksprawy", "znakpisma"),
    "user_name": ("username", "imieinazwisko", "imienazwisko", "nazwiskoiimie", "uzytkownik"),
    "office": ("office", "urzad", "nazwaurzedu"),
    "contacts": ("contacts", "contact", "kontakt", "kontaktzwrotny", "zwrotnykontakt", "zwrotnynrtelefonu"),
    "question": ("question", "pytanie", "tresc", "trescpytania"),
}
ALIAS_SCORE = 0.95
LABEL_SPAN = 160  # a label and its colon are at the start of a line: look no further
# On the folded line; then a colon (OCR may read it as "i", "l", "!"), or a value of
# the right shape, or nothing but stray marks, must follow.
_SEP = r"(?:(?P<alike>[il!])(?=[^0-9a-z]|$)|\s*(?:(?P<colon>[:;]+)|(?=[^0-9a-z]*{value})|(?=[^0-9a-z]*$)))"
PLACE_DATE = r"[a-z][a-z .\-]{1,40},\s*(?:dnia\s+)?\d"  # "data Łękołody, dnia 20 ..." (no colon)
SHORT_LABELS = {
    "date": re.compile(r"^[^0-9a-z]*d ?a ?t ?a" + _SEP.format(value=r"(?:\d|" + PLACE_DATE + ")")),
    "reference": re.compile(r"^[^0-9a-z]*z ?n ?a ?k(?:\s*(?:sprawy|pisma))?" + _SEP.format(value=r"[a-z0-9]+[.\-/]")),
}
CODE = re.compile(r"(?<![0-9a-z])h ?[o0] ?t\s*(?:[-\u2013\u2014_.]\s*[o0]?\s*[1l]|[o0]\s*[1l])(?![0-9a-z])")


@lru_cache(maxsize=4096)
def _header_kind(line: str) -> str | None:
    """"header" for the form's title line, "code" for a short line with just "HOT-01"."""
    if len(line) > 4 * LABEL_SPAN:
        return None
    folded = fold(line)
    has_code = bool(CODE.search(folded))
    rest, _ = _keyed(CODE.sub(" ", folded))
    rest = rest.replace("formularz", "")
    if rest and len(rest) <= 2 * len(HEADER_KEY) and _ratio(rest, HEADER_KEY) >= THRESHOLD:
        return "header"
    if has_code and len(rest) <= 20:
        return "code"
    return None


@dataclass(frozen=True, slots=True)
class _Hit:
    field: str
    score: float
    rest: str  # the line after the label


def _match_short(field: str, line: str, folded: str) -> _Hit | None:
    m = SHORT_LABELS[field].match(folded)
    if m is None:
        return None
    return _Hit(field, 1.0 if m.group("colon") else 0.85, line[m.end():])  # "alike": as no colon


_SHORT_WORD = re.compile(r"^[^0-9a-z]*(?P<word>[a-z]{3,5})\s*[:;]")
SHORT_KEYS = {"date": "data", "reference": "znak"}
MISREAD_SHORT_SCORE = THRESHOLD  # accepted, but never strong enough to end the question


def _match_short_misread(field: str, line: str, folded: str) -> _Hit | None:
    """A short label OCR got one letter wrong in ("dala:", "duta:", "anak;", "<nak:"): a
    word one edit from the label, at the line's start, and a colon after it.

    Four letters leave no room for the fuzzy ratio the long labels use; the colon is what
    makes a label of the word.
    """
    m = _SHORT_WORD.match(folded)
    if m is None or edit_distance(m["word"], SHORT_KEYS[field]) > 1:
        return None
    return _Hit(field, MISREAD_SHORT_SCORE, line[m.end():])


def _colons(folded: str, limit: int) -> list[int]:
    return [i for i, c in enumerate(folded[:limit]) if c in ":;"][:3]


def _match_alias(field: str, line: str, folded: str, keyed: str, offsets: list[int]) -> _Hit | None:
    for pos in _colons(folded, 60):
        prefix = keyed[: bisect_left(offsets, pos)]
        if prefix in ALIASES[field]:
            return _Hit(field, ALIAS_SCORE, line[pos + 1:])
    return None


def _match_long(field: str, line: str, folded: str, keyed: str, offsets: list[int]) -> _Hit | None:
    """The best split of the line into a fuzzy label and the rest: at a colon, or at the
    prefix length closest to the label's (ties go to a word boundary)."""
    key = LONG_LABELS[field]
    if len(keyed) < 0.7 * len(key):
        return None
    head, grams = keyed[: len(key) + 4], _bigrams(key)
    if sum(head[i:i + 2] in grams for i in range(len(head) - 1)) < 0.5 * len(grams):
        return None  # cheap: a label read well enough shares most letter pairs
    matcher = SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(key)
    best: tuple[float, float, int] | None = None
    for pos in _colons(folded, 2 * len(key) + 20):
        n = bisect_left(offsets, pos)
        if 0.7 * len(key) <= n <= 1.4 * len(key):
            matcher.set_seq1(keyed[:n])
            score = matcher.ratio()
            best = max(best or (0.0, 0.0, 0), (score + 0.02, score, pos + 1))
    for n in range(max(1, len(key) - 4), min(len(keyed), len(key) + 4) + 1):
        matcher.set_seq1(keyed[:n])
        score, end = matcher.ratio(), offsets[n - 1] + 1
        boundary = 0.01 if end >= len(line) or not line[end].isalnum() else 0.0
        best = max(best or (0.0, 0.0, 0), (score + boundary, score, end))
    if best is None or best[1] < THRESHOLD:
        return None
    return _Hit(field, best[1], line[best[2]:])


def match_label(line: str, fields: frozenset[str] | set[str] | tuple[str, ...] = FIELDS) -> _Hit | None:
    """The label the line starts with, among `fields`, or None."""
    return _match_label(line, frozenset(fields))


@lru_cache(maxsize=4096)  # each line is tried once per scan, and there is a scan per title line
def _match_label(line: str, fields: frozenset[str]) -> _Hit | None:
    folded = fold(line[:LABEL_SPAN])
    keyed, offsets = _keyed(folded)
    if not keyed:
        return None
    hits: list[_Hit] = []
    for field in sorted(fields):
        if field in SHORT_LABELS:
            hit = _match_short(field, line, folded)
        else:
            hit = _match_long(field, line, folded, keyed, offsets)
        hit = hit or _match_alias(field, line, folded, keyed, offsets)
        if hit is None and field in SHORT_KEYS:
            hit = _match_short_misread(field, line, folded)
        if hit is not None:
            hits.append(hit)
    return max(hits, key=lambda h: h.score, default=None)


def _is_label_line(line: str) -> bool:
    return _header_kind(line) is not None or match_label(line) is not None
