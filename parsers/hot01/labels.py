"""The HOT-01 form ("Zgłoszenie pytania"): fields from OCR text, a PDF, or an e-mail body.

One text-level parser serves every source: OCR of a faxed page (pages joined by "\\f"),
a PDF text layer, AcroForm values joined as "name: value" lines before the page text, or
a form typed into an e-mail (maybe quoted with "> "). Labels are found by fuzzy matching
a folded key of the line's start (lower case, no diacritics, letters and digits only),
so "Imie i nazwisko Uzytkow nika ;" still matches; values are cleaned of the leaders,
boxes and ruled lines a fax leaves. With OCR text (`word_confidence` given) lines of
debris are skipped and names, offices, dates and signs are cut out of the noise around
them, and fax OCR's misreadings with one sure reading are put right (a short label with
a letter wrong, a sign's symbol read as digits, small initials of names and sentences);
typed text is kept as written.

Confidence of each field, in 0..1::

    confidence = label * ocr * plausible

- ``label``: how sure the label was found: the difflib ratio of the folded line prefix
  and the folded label (1.0 exact); short labels "data"/"znak" 1.0 with a colon, 0.85
  without; AcroForm field names and short forms of labels 0.95;
- ``ocr``: ``word_confidence / 100`` clipped to 0..1; 1.0 for typed text (None);
- ``plausible``: does the value look like what the field holds: a name of 2+ words of
  letters 1.0, one word 0.5, else 0.2; an office with letters 1.0, else 0.3; a date that
  parses 1.0, else 0.3; a sign of one or two tokens 1.0, more 0.6; contacts that yield
  a number or address 1.0, 0.7 if some part was no number or an address had to be
  repaired, none 0.3; a question with letters 1.0.

Nothing here raises: a parser bug turns the text into a not-a-form result, so the
question is never lost.
"""
from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher
from functools import lru_cache

from parsers.phone import normalise_number


@dataclass(frozen=True, slots=True)
class Field:
    value: str
    confidence: float  # 0..1


@dataclass(frozen=True, slots=True)
class Hot01Form:
    is_form: bool  # False: no HOT-01 found; then only `question` is set, to the whole text
    form_date: date | None
    date: Field | None  # as written
    reference: Field | None  # znak
    user_name: Field | None
    office: Field | None
    return_phones: tuple[str, ...]  # E.164, e.g. "+48221234567"
    return_faxes: tuple[str, ...]
    return_emails: tuple[str, ...]
    contacts: Field | None  # the return-contact line as written
    question: Field


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
SHORT_LABELS = {
    "date": re.compile(r"^[^0-9a-z]*d ?a ?t ?a" + _SEP.format(value=r"\d")),
    "reference": re.compile(r"^[^0-9a-z]*z ?n ?a ?k(?:\s*(?:sprawy|pisma))?" + _SEP.format(value=r"[a-z0-9]+[.\-/]")),
}
EMBEDDED_SHORT = re.compile(r"(?<![0-9a-z])(?P<label>d ?a ?t ?a|z ?n ?a ?k)\s*[:;]")
CODE = re.compile(r"(?<![0-9a-z])h ?[o0] ?t\s*(?:[-\u2013\u2014_.]\s*[o0]?\s*[1l]|[o0]\s*[1l])(?![0-9a-z])")

_FOLD_EXTRA = {"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ß": "s", "ı": "i"}
_QUOTE = re.compile(r"^(?:[ \t]*>)+[ \t]?")
_WORD = re.compile(r"^[^\W\d_]+(?:[-'’][^\W\d_]+)*\.?$")


# --------------------------------------------------------------------------- folding
@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    """One character, lower case, without diacritics: the same length, so offsets match."""
    if ch in _FOLD_EXTRA:
        return _FOLD_EXTRA[ch]
    base = unicodedata.normalize("NFKD", ch)[:1].lower()[:1]
    return base or ch


def _deaccent(text: str) -> str:
    """Diacritics stripped, case kept, one char per char."""
    return "".join(_deaccent_char(c) for c in text)


@lru_cache(maxsize=4096)
def _deaccent_char(ch: str) -> str:
    if ch in _FOLD_EXTRA:
        return _FOLD_EXTRA[ch].upper() if ch.isupper() else _FOLD_EXTRA[ch]
    return unicodedata.normalize("NFKD", ch)[:1] or ch


_FOLD_TABLE = {i: _fold_char(chr(i)) for i in (*range(0x250), *range(0x1E00, 0x1F00))}


def fold(text: str) -> str:
    """Lower case, diacritics stripped, one char per char (offsets stay valid); Latin
    letters by table, the rare rest one by one."""
    folded = text.translate(_FOLD_TABLE)
    if folded.isascii():
        return folded
    return "".join(c if ord(c) < 0x80 else _fold_char(c) for c in folded)


_ALNUM = re.compile(r"[a-z0-9]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _keyed(folded: str) -> tuple[str, list[int]]:
    """Letters and digits of a folded line, with the offset of each in the line."""
    offsets = [m.start() for m in _ALNUM.finditer(folded)]
    return "".join(folded[i] for i in offsets), offsets


@lru_cache(maxsize=64)
def _bigrams(key: str) -> frozenset[str]:
    return frozenset(key[i:i + 2] for i in range(len(key) - 1))


def _ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


# --------------------------------------------------------------------------- lines
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


# --------------------------------------------------------------------------- labels
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


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (two rows: fine for words and for the bench's pages)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


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


def _split_embedded(line: _Line, open_fields: set[str]) -> list[_Line] | None:
    """"data: 21.11.2026   znak: OR.1" -> two lines (short labels often share a line)."""
    folded = fold(line.text[: 2 * LABEL_SPAN])
    for m in EMBEDDED_SHORT.finditer(folded):
        field = "date" if m.group("label").startswith("d") else "reference"
        if m.start() > 0 and field in open_fields and any(c.isalnum() for c in folded[: m.start()]):
            return [_Line(line.text[: m.start()], line.page), _Line(line.text[m.start():], line.page)]
    return None


# --------------------------------------------------------------------------- cleaning
_VALUE_NOISE = re.compile(r"\.{2,}|…+|_{2,}|\|+|~+|-{2,}|[\u2014\u2013]{2,}")
_EDGE = " \t:;,|_~\u2014\u2013-"
_QUESTION_NOISE = re.compile(r"\.{4,}|…{2,}|_{2,}|(?:(?<=\s)|^)\|+(?=\s|$)")
_OCR_EDGE = " \t|_~\u2014\u2013-'\"«»„”“©®.,:;*"


def clean_value(text: str) -> str:
    """A value without leaders, boxes and stray marks, whitespace normalised."""
    words = _VALUE_NOISE.sub(" ", text).split()
    while words and not any(c.isalnum() for c in words[0]):
        words.pop(0)
    while words and not any(c.isalnum() for c in words[-1]):
        words.pop()
    return " ".join(words).strip(_EDGE).lstrip(".").strip(_EDGE)


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
    if ocr:  # marks of no letter or digit at either end are the form's lines, not text
        while words and not any(c.isalnum() for c in words[0]):
            words.pop(0)
        while words and not any(c.isalnum() for c in words[-1]):
            words.pop()
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


# --------------------------------------------------------------------------- scanning
@dataclass(slots=True)
class _Found:
    score: float
    lines: list[_Line]

    def filled(self) -> bool:
        return any(ln.text.strip() for ln in self.lines)


_CONTACTISH = re.compile(r"@|(?:\d\D{0,3}){6}|(?<![a-z])(?:tel|fax|faks|kom|e-?mail)(?![a-z])")
MAX_DEBRIS_LINES = 3  # OCR lines of debris skipped between a label and its value


class _Scanner:
    """One walk over the lines: each label's value is taken the first time it is filled."""

    def __init__(self, lines: list[_Line], ocr: bool) -> None:
        self.work = list(lines)
        self.ocr = ocr
        self.found: dict[str, _Found] = {}

    def open(self) -> set[str]:
        return {f for f in FIELDS if f not in self.found or not self.found[f].filled()}

    def value_of(self, text: str) -> str:
        value = clean_value(text)
        return "" if self.ocr and is_debris(value) else value

    def next_value(self, i: int) -> int | None:
        """The next line with a value, or with a label (the caller tells them apart)."""
        debris = 0
        for k in range(i + 1, len(self.work)):
            text = self.work[k].text
            if not clean_value(text):
                continue
            if _is_label_line(text) or self.value_of(text) or debris >= MAX_DEBRIS_LINES:
                return k
            debris += 1
        return None

    def run(self) -> dict[str, _Found]:
        question: _Found | None = None
        i = 0
        while i < len(self.work):
            line = self.work[i]
            if question is not None:
                if _is_signature(line.text):
                    break
                if not self.ends_question(line.text):
                    question.lines.append(line)
                    i += 1
                    continue
                question = None
            if _header_kind(line.text) is not None:
                i += 1
                continue
            self.split_embedded(i, self.open())
            hit = match_label(self.work[i].text, self.open())
            if hit is None:
                i += 1
            elif hit.field == "question":
                question = self.found["question"] = _Found(hit.score, [_Line(hit.rest.lstrip(" \t:;."), line.page)])
                i += 1
            else:
                i = self.take_value(i, hit)
        return self.found

    def split_embedded(self, i: int, open_fields: set[str]) -> None:
        parts = _split_embedded(self.work[i], open_fields)
        if parts:  # "data: 21.11.2026   znak: OR.1"
            self.work[i:i + 1] = parts

    def take_value(self, i: int, hit: _Hit) -> int:
        """Record the field's value (same line, else the next filled line); return the next index."""
        first, last = _Line(self.value_of(hit.rest), self.work[i].page), i
        if not first.text:
            k = self.next_value(i)
            if k is None or _is_label_line(self.work[k].text) or not self.value_of(self.work[k].text):
                self.found.setdefault(hit.field, _Found(hit.score, []))
                return i + 1
            self.split_embedded(k, self.open() - {hit.field})
            first, last = _Line(self.value_of(self.work[k].text), self.work[k].page), k
        lines = [first]
        if hit.field in ("office", "contacts"):
            last = self.continuation(last, hit.field, lines)
        self.found[hit.field] = _Found(hit.score, lines)
        return last + 1

    def continuation(self, last: int, field: str, lines: list[_Line]) -> int:
        """Contacts go on while lines look like contacts; an office name wrapped onto one
        more line is taken when a label follows it."""
        while (k := self.next_value(last)) is not None and not _is_label_line(self.work[k].text):
            text = self.value_of(self.work[k].text)
            if field == "contacts" and _CONTACTISH.search(fold(text)) and len(lines) < 4:
                lines.append(_Line(text, self.work[k].page))
                last = k
                continue
            after = self.next_value(k)
            if (field == "office" and len(lines) == 1 and _looks_like_words(text)
                    and (after is None or _is_label_line(self.work[after].text))):  # fmt: skip
                lines.append(_Line(text, self.work[k].page))
                last = k
            break
        return last

    def ends_question(self, line: str) -> bool:
        """The question runs to the end, unless the form's title or a label still missing
        follows (AcroForm values come before the page's own text; forms come in any order)."""
        if _header_kind(line) == "header":
            return True
        hit = match_label(line, self.open() - {"question"})
        return hit is not None and hit.score >= STRICT


_PLAIN_WORD = re.compile(r"^[^\W\d_]+(?:[-'’][^\W\d_]+)*[.,]?$")


def _looks_like_words(text: str) -> bool:
    """A line of ordinary words ("w Mińsku Mazowieckim"), not OCR's reading of a rule."""
    words = text.split()
    plain = sum(bool(_PLAIN_WORD.match(w)) for w in words)
    return bool(words) and plain >= 0.8 * len(words) and any(c.islower() for c in text)


def _is_signature(text: str) -> bool:
    return text.rstrip("\r\n") in ("-- ", "--")


def _scan(lines: list[_Line], start: int, ocr: bool = False) -> dict[str, _Found]:
    """Walk the lines from `start`, taking each label's value the first time it is filled."""
    return _Scanner(lines[start:], ocr).run()


def _filled_count(found: dict[str, _Found]) -> int:
    return sum(1 for f in found.values() if f.filled())


def _best_scan(lines: list[_Line], ocr: bool) -> tuple[dict[str, _Found], bool]:
    """Scan from the start and from each title line; the scan with the most filled fields
    wins, ties to the later start (a cover sheet before the form may have its own "Data:")."""
    starts = [i for i, ln in enumerate(lines) if _header_kind(ln.text) is not None][:5]
    best = _scan(lines, 0, ocr)
    best_key = (_filled_count(best), 0)
    for start in starts:
        found = _scan(lines, start, ocr)
        key = (_filled_count(found), start)
        if key > best_key:
            best, best_key = found, key
    return best, bool(starts)


# --------------------------------------------------------------------------- dates
_MONTHS = {"sty": 1, "lut": 2, "mar": 3, "kwi": 4, "maj": 5, "cze": 6, "lip": 7, "sie": 8,
           "wrz": 9, "paz": 10, "lis": 11, "gru": 12}  # fmt: skip
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10,
          "xi": 11, "xii": 12}  # fmt: skip
_ISO = re.compile(r"(?<!\d)(\d{4})\s*[-./]\s*(\d{1,2})\s*[-./]\s*(\d{1,2})(?!\d)")
_DMY = re.compile(r"(?<!\d)(\d{1,2})\s*[-./]\s*(\d{1,2})\s*[-./]\s*(\d{4}|\d{2})(?!\d)")
_WORDY = re.compile(r"(?<!\d)(\d{1,2})\s*\.?\s*([a-z]{3,})\.?\s*(\d{4})(?!\d)")
_ROMANY = re.compile(r"(?<!\d)(\d{1,2})\s*[-. ]\s*([ivx]{1,4})\s*[-. ]\s*(\d{4})(?!\d)")
_OCR_IN_NUMBER = re.compile(r"(?<=\d)[oli]|[oli](?=\d)")


def parse_date(text: str) -> date | None:
    """A Polish or ISO date anywhere in `text` ("21.11.2026 r.", "21 listopada 2026",
    "2026-11-21", "21 XI 2026"); OCR "O"/"l" next to digits are read as 0/1 if needed."""
    found = _date_span(text)
    return found[0] if found else None


def _date_span(text: str) -> tuple[date, int, int] | None:
    """The first date in `text`, and where it is written (with a following "r.")."""
    folded = fold(text)
    found = _find_date(folded) or _find_date(_OCR_IN_NUMBER.sub(lambda m: "0" if m.group() == "o" else "1", folded))
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


# --------------------------------------------------------------------------- contacts
_EMAIL = re.compile(
    r"(?<![\w.%+\-])[A-Za-z0-9._%+\-]+[ \t]*@[ \t]*[A-Za-z0-9\-]+(?:[ \t]*\.[ \t]*[A-Za-z0-9\-]+)+"
)
_LOCAL = re.compile(r"^[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*$")
_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?$")
_TLDS = frozenset("pl com eu net org info biz gov edu de uk cz sk ua lt lv by fr it es nl at ch be se no dk fi us io".split())
_KIND = re.compile(
    r"(?<![a-z])(?:"
    r"(?P<both>tel(?:efon)?\.?\s*(?:/|-|\+|,|i|lub)?\s*fa(?:x|ks)u?\.?|fa(?:x|ks)\.?\s*(?:/|-|\+|,|i|lub)\s*tel(?:efon)?\.?)"
    r"|(?P<fax>fa(?:x|ks)u?|telefa(?:x|ks))"
    r"|(?P<phone>tel(?:efon)?(?:\.?\s*kom(?:orkowy|\.)?)?|kom(?:orka|orkowy)?|mobile|gsm)"
    r"|(?P<mail>e-?\s?mail|mail)"
    r")(?![a-z])"
)
_RUN = re.compile(r"(?<![^\W_])\(?\+?\(?[0-9OolI](?:[0-9OolI \t\-./()]*[0-9OolI])?\)?(?![^\W_])")


def _email(candidate: str) -> str | None:
    """The address with OCR's spaces around "@" and "." closed, if it is then valid.

    A dot written with spaces may only be followed by a known top-level domain at the end,
    so "jan@pcim.pl. Tel" does not swallow the next word.
    """
    local, _, domain = candidate.partition("@")
    local = local.replace(" ", "").replace("\t", "").lstrip(".-")
    pieces = re.split(r"(\s*\.\s*)", domain.strip())
    labels, spaced = pieces[0::2], [bool(s.strip(".")) for s in pieces[1::2]]
    while len(labels) >= 2:
        tld = labels[-1]
        if _valid_email(local, labels) and (not spaced[len(labels) - 2] or tld.lower() in _TLDS):
            return f"{local}@{'.'.join(labels)}"
        labels = labels[:-1]
    return None


def _valid_email(local: str, labels: list[str]) -> bool:
    if not local or len(local) > 64 or not _LOCAL.match(local):
        return False
    if not all(_DOMAIN_LABEL.match(lb) for lb in labels):
        return False
    return bool(re.fullmatch(r"[A-Za-z]{2,24}", labels[-1])) and len(local) + sum(map(len, labels)) < 250


def _numbers(run: str) -> list[str] | None:
    """The numbers in a run of digits and separators: the whole run, else the split into
    the fewest valid numbers (tokens without digits may be skipped)."""
    whole = normalise_number(run)
    if whole:
        return [whole]
    tokens = re.findall(r"[^\s/]+", run)
    if len(tokens) > 24:
        return None
    best: list[list[str] | None] = [[]] + [None] * len(tokens)
    for end in range(1, len(tokens) + 1):
        options: list[list[str]] = []
        previous = best[end - 1]
        if previous is not None and not any(c.isdigit() for c in tokens[end - 1]):
            options.append(previous)
        for start in range(end):
            head = best[start]
            number = normalise_number(" ".join(tokens[start:end])) if head is not None else None
            if head is not None and number:
                options.append(head + [number])
        best[end] = min(options, key=len) if options else None
    return best[-1] or None


def parse_contacts(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], int]:
    """(phones, faxes, e-mails, doubts) from the contact lines; doubts count runs of digits
    that are no number and addresses repaired from OCR misreadings: reasons to check."""
    phones: dict[str, None] = {}
    faxes: dict[str, None] = {}
    emails: dict[str, None] = {}
    failed, repaired, carry = 0, 0, "phone"
    for line in text.splitlines():
        for m in _EMAIL.finditer(line):
            address = _email(m.group())
            if address:
                emails.setdefault(address, None)
                end = m.start() + _written_length(m.group(), address)
                line = line[: m.start()] + " " * (end - m.start()) + line[end:]
        for m in _EMAIL_OCR.finditer(_deaccent(line)):
            address = _ocr_email(m.group())
            if address:
                emails.setdefault(address, None)
                line = line[: m.start()] + " " * (m.end() - m.start()) + line[m.end():]
                repaired += 1
        bad, carry = _numbers_of_line(line, carry, phones, faxes)
        failed += bad
    return tuple(phones), tuple(faxes), tuple(emails), failed + repaired


_AT_OCR = r"\(\s*(?:at|a|@|Q|\?)?\s*\)?|[QO]?[©®]|&"
_EMAIL_OCR = re.compile(rf"(?<![\w.%+\-])[A-Za-z0-9._%+\-]+(?:{_AT_OCR}|@)?[A-Za-z0-9._%+\-]*(?:[.:,][A-Za-z0-9\-]+)+")
_AT_LOOKALIKE = re.compile(rf"{_AT_OCR}|(?<=[a-z0-9._-])[QG](?=[a-z0-9])")


def _ocr_email(token: str) -> str | None:
    """An address OCR garbled in the ways faxes garble it: "@" read as "Q", "G", "©",
    "Q©" or "(a)", a "." in the domain read as ":" or ",". Taken only when exactly one
    reading is valid and ends in a known top-level domain."""
    token = token.rstrip(".,:;-")
    if "@" in token:
        readings = [token]
    else:
        readings = [token[: m.start()] + "@" + token[m.end():] for m in _AT_LOOKALIKE.finditer(token)]
    valid = set()
    for reading in readings:
        local, _, domain = reading.partition("@")
        labels = re.split(r"[.:,]", domain.lower())
        if labels[-1] in _TLDS and _valid_email(local, labels):
            valid.add(f"{local}@{'.'.join(labels)}")
    return valid.pop() if len(valid) == 1 else None


def _written_length(written: str, address: str) -> int:
    """How much of `written` (with OCR's spaces, and the dots `_email` dropped) spells `address`."""
    local = written.partition("@")[0]
    target, count = len(address) + len(local) - len(local.lstrip(".-")), 0
    for i, c in enumerate(written):
        count += not c.isspace()
        if count == target:
            return i + 1
    return len(written)


def _numbers_of_line(line: str, carry: str, phones: dict[str, None], faxes: dict[str, None]) -> tuple[int, str]:
    """Numbers on one line, each of the kind named by the last keyword before it; a keyword
    that ends the line ("fax:") names the numbers of the next line."""
    folded = fold(line)
    events = [(m.start(), "kw", m) for m in _KIND.finditer(folded)]
    events += [(m.start(), "run", m) for m in _RUN.finditer(line)]
    kind, failed, dangling = carry, 0, carry != "phone"
    for _, what, m in sorted(events, key=lambda e: e[0]):
        if what == "kw":
            kind, dangling = ("phone" if m.lastgroup == "mail" else str(m.lastgroup)), True
            continue
        run = m.group()
        if sum(c.isdigit() for c in run) < 6:
            continue
        numbers = _numbers(run)
        if not numbers:
            failed += 1
            continue
        dangling = False
        for number in numbers:
            if kind in ("phone", "both"):
                phones.setdefault(number, None)
            if kind in ("fax", "both"):
                faxes.setdefault(number, None)
    return failed, kind if dangling else "phone"


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


# --------------------------------------------------------------------------- the form
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
        collapsed = _sentence_starts(collapsed)
    return "\n".join(collapsed).strip("\n")


_SENTENCE_END = re.compile(r"(?:[^\W\d_]{4,}\.|[?!])$")  # not after "r.", "np.", "tel."


def _sentence_starts(lines: list[str]) -> list[str]:
    """OCR: a line that starts a sentence (the question's first, or after one ending in
    "?", "!" or "." after a word of 4+ letters, not an abbreviation) starts with a
    capital; a small letter there that looks like its capital (CASE_ALIKE) is misread."""
    out: list[str] = []
    starts = True
    for line in lines:
        words = line.split(" ", 1)
        if starts and words[0]:
            words[0] = _capitalised(words[0].rstrip(",.?!:;")) + words[0][len(words[0].rstrip(",.?!:;")):]
        out.append(" ".join(words))
        starts = not line or bool(_SENTENCE_END.search(line))
    return out


def _tidy(field: str, value: str | None, ocr: bool) -> str | None:
    """OCR only: cut what the ruled lines and boxes left around a value; typed text is kept
    as written."""
    if not value or not ocr:
        return value
    if field == "user_name":
        return _capitalise_name(_trim_debris(value)) or None
    if field == "office":
        return _trim_debris(value) or None
    if field == "date" and (span := _date_span(value)):
        return value[span[1]:span[2]]
    if field == "reference":
        value = _SIGN_SPACE.sub("", value)
        if " " in value:
            candidates = _REFERENCE_LIKE.findall(value)
            value = max(candidates, key=len) if candidates else value
        return repair_sign(value)
    return value


# Letters whose capital is the small letter drawn bigger: OCR tells them apart only by
# height, and gets it wrong at fax resolution ("wojciech", "łukasz", "Jolanta wójcik").
CASE_ALIKE = frozenset("cksouwzćśóżźł")


def _capitalise_name(name: str) -> str:
    """Every word of a person's name starts with a capital ("józef" is OCR's misreading),
    but for the particles of foreign names ("de", "van")."""
    return " ".join(word if word in NAME_PARTICLES else _capitalised(word, _LOWER) for word in name.split())


NAME_PARTICLES = frozenset("da de del della der di du la le van von y".split())
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyząćęłńóśźż")


def _capitalised(word: str, alike: frozenset[str] = CASE_ALIKE) -> str:
    """The word with a capital first letter, if that letter is in `alike` and it is a word."""
    if len(word) >= 2 and word[0] in alike and word[1:].replace("-", "").isalpha():
        return word[0].upper() + word[1:]
    return word


# A case sign (znak sprawy) starts with the department's symbol, which is letters
# ("SO.5565.41.2026", "BRM.8040.49.2026", "ZP-8/179/26"). OCR reads some of them as the
# digits they resemble ("50.", "3RM.", "$0-") or drops the dot after them ("ZP9972.17.2026").
_SIGN_SPACE = re.compile(r"(?<=[A-Za-z0-9][.\-/])\s+(?=\d)|(?<=[A-Za-z0-9])\s+(?=[.\-/]\d)")  # "BRM. 7526"
_SIGN_SYMBOL = re.compile(r"^(?P<symbol>[A-Z0-9$]{1,4})(?P<rest>[.\-/]\d+(?:[.\-/]\d+)*[.\-/](?:\d{4}|\d{2}))$")
_SIGN_NO_DOT = re.compile(r"^(?P<symbol>[A-Z]{1,4})(?P<rest>\d{3,4}(?:\.\d+)+\.(?:\d{4}|\d{2}))$")
_AS_LETTER = str.maketrans({"0": "O", "1": "I", "2": "Z", "3": "B", "5": "S", "6": "G", "8": "B", "$": "S"})


def repair_sign(value: str) -> str:
    """OCR's misreadings of a case sign put right: marks before it ("„KP.6800", "'SO-8"),
    digits in the department's symbol, a dot lost after the symbol. Only whole signs of
    the usual shape (symbol, numbers, a year at the end) are touched."""
    value = re.sub(r"^[^\w$]+(?=[\w$])", "", value)
    if m := _SIGN_NO_DOT.match(value):
        return f"{m['symbol']}.{m['rest']}"
    m = _SIGN_SYMBOL.match(value)
    if m is None:
        return value
    symbol = m["symbol"].translate(_AS_LETTER)
    return symbol + m["rest"] if symbol.isalpha() and symbol.isupper() else value


def not_a_form(text: str, word_confidence: float | None = None) -> Hot01Form:
    """Not a HOT-01 form: the whole text is the question."""
    body = text.strip() if isinstance(text, str) else ""
    confidence = _ocr_factor(word_confidence) if body else 0.0
    return Hot01Form(False, None, None, None, None, None, (), (), (), None, Field(body, round(confidence, 3)))


def _build(text: str, found: dict[str, _Found], word_confidence: float | None) -> Hot01Form:
    ocr, factor = word_confidence is not None, _ocr_factor(word_confidence)

    def value(name: str) -> str | None:
        f = found.get(name)
        joined = "\n".join(ln.text for ln in f.lines if ln.text) if f and f.filled() else None
        return _tidy(name, joined, ocr)

    date_text, contacts_text = value("date"), value("contacts")
    name, office = value("user_name"), (value("office") or "").replace("\n", " ")
    form_date = parse_date(date_text) if date_text else None
    phones, faxes, emails, failed = parse_contacts(contacts_text or "")
    has_contact = bool(phones or faxes or emails)
    question_text = _question(found["question"], ocr) if "question" in found else ""
    question = _field(found.get("question"), question_text, 1.0 if any(c.isalpha() for c in question_text) else 0.5, factor)
    if question is None:  # no question found: keep the whole text rather than lose it
        question = Field(text.strip(), round(0.2 * factor, 3))
    return Hot01Form(
        is_form=True,
        form_date=form_date,
        date=_field(found.get("date"), date_text, 1.0 if form_date else 0.3, factor),
        reference=_field(found.get("reference"), value("reference"), _reference_plausibility(value("reference") or ""), factor),
        user_name=_field(found.get("user_name"), name, _name_plausibility(name or ""), factor),
        office=_field(found.get("office"), office, _office_plausibility(office), factor),
        return_phones=phones,
        return_faxes=faxes,
        return_emails=emails,
        contacts=_field(found.get("contacts"), contacts_text, (0.7 if failed else 1.0) if has_contact else 0.3, factor),
        question=question,
    )


def _parse(text: str, word_confidence: float | None) -> Hot01Form:
    lines = _lines(text)
    found, has_title = _best_scan(lines, word_confidence is not None)
    labels = _filled_count(found)
    has_title = has_title or bool(CODE.search(fold(text)))
    if labels >= 3 or (has_title and labels >= 1):
        return _build(text, found, word_confidence)
    return not_a_form(text, word_confidence)


def parse_form(text: str, word_confidence: float | None = None) -> Hot01Form:
    """The HOT-01 fields of `text`; `word_confidence` is OCR's mean (0..100), None if typed.

    A form needs the title or code and one label, or three labels; anything else is
    returned whole as the question. Never raises.
    """
    if not isinstance(text, str):
        return not_a_form("", word_confidence)
    try:
        return _parse(text, word_confidence)
    except Exception:  # a parser bug must not lose a question: keep it all, for review
        return not_a_form(text, 0.0)


def looks_like_form(text: str) -> bool:
    """Cheap test whether an e-mail body is a typed HOT-01 form (title, code or 2 labels)."""
    if not isinstance(text, str):
        return False
    folded = fold(text[:20000])
    if CODE.search(folded):
        return True
    keyed = _NOT_ALNUM.sub("", folded)
    if HEADER_KEY in keyed:
        return True
    keys = ("imieinazwisko", "uzytkownika", "nazwaurzedu", "zwrotnynr", "trescpytania")
    return sum(key in keyed for key in keys) >= 2
