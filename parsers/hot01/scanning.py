"""One walk over the lines that takes each label's value the first time it is filled, and
the choice between walks from the start and from each title line."""
from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.hot01.cleaning import clean_value, is_debris
from parsers.hot01.folding import fold
from parsers.hot01.dates import _date_span
from parsers.hot01.labels import (
    FIELDS, LABEL_SPAN, LONG_LABELS, STRICT, _header_kind, _Hit, _is_label_line, match_label,
)
from parsers.hot01.lines import _Line

PAIR_ROW = re.compile(r"^[^0-9a-z]*d ?a ?t ?a\s*[:;]?\s+z ?n ?a ?k(?:\s*(?:sprawy|pisma))?\s*[:;]?[^0-9a-z]*$")
WRAP_SPAN = 40  # a label cell's first line is short
WRAP_WORDS = 5  # ... a few words
EMBEDDED_SHORT = re.compile(r"(?<![0-9a-z])(?P<label>d ?a ?t ?a|z ?n ?a ?k)\s*[:;]")


def _split_embedded(line: _Line, open_fields: set[str]) -> list[_Line] | None:
    """"data: 21.11.2026   znak: OR.1" -> two lines (short labels often share a line)."""
    folded = fold(line.text[: 2 * LABEL_SPAN])
    for m in EMBEDDED_SHORT.finditer(folded):
        field = "date" if m.group("label").startswith("d") else "reference"
        if m.start() > 0 and field in open_fields and any(c.isalnum() for c in folded[: m.start()]):
            return [_Line(line.text[: m.start()], line.page), _Line(line.text[m.start():], line.page)]
    return None


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
            self.split_pair(i)
            self.join_wrapped(i, self.open())
            self.join_wrapped_beside(i, self.open())
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

    def split_pair(self, i: int) -> None:
        """"data:   znak:" over "20.01.2026   OR.1": each label gets its part of the line
        below (the date as far as it goes, with its "r."; the sign is the rest)."""
        if "date" not in self.open() or not PAIR_ROW.match(fold(self.work[i].text)):
            return
        k = self.next_value(i)
        if k is None or _is_label_line(self.work[k].text):
            return
        below = self.work[k]
        span = _date_span(below.text)
        cut = span[2] if span else (m.start() if (m := re.search(r"\s{3,}", below.text.strip())) else len(below.text))
        text = below.text.strip() if not span else below.text
        self.work[i] = _Line(f"data: {text[:cut].strip()}", self.work[i].page)
        self.work[k] = _Line(f"znak: {text[cut:].strip()}", below.page)

    def join_wrapped(self, i: int, open_fields: set[str]) -> None:
        """A long label wrapped in its table cell ("Imię i nazwisko" / "Użytkownika:") is
        one line again, when only the two lines together make the label."""
        line = self.work[i].text
        if i + 1 >= len(self.work) or len(line) > WRAP_SPAN or match_label(line, open_fields) is not None:
            return
        after = self.work[i + 1]
        joined = f"{line.rstrip()} {after.text.lstrip()}"
        hit = match_label(joined, open_fields)
        if hit is None or hit.field not in LONG_LABELS or hit.score < STRICT:
            return
        if len(joined) - len(hit.rest) > len(line.rstrip()) + 1:  # the label runs into the second line
            self.work[i:i + 2] = [_Line(joined, self.work[i].page)]

    def join_wrapped_beside(self, i: int, open_fields: set[str]) -> None:
        """A table row read across both cells: the label's first part with the value beside
        it, the rest of the label on the next line ("Imię i nazwisko Jan Nowak" over
        "Użytkownika:"). The label is put together again, the value after it; what sits
        beside the label's second part is the value's next line. Taken when the two lines
        make a better label than the first alone."""
        line = self.work[i]
        if i + 1 >= len(self.work) or _is_label_line(self.work[i + 1].text):  # the next line is its own label
            return
        own = match_label(line.text, open_fields)  # fuzzy: "faxu tel. 22" may pass for the whole label
        after, words = self.work[i + 1].text.strip(), line.text.split()
        best: tuple[float, int, str, str] | None = None  # score, words of the head, label, rest
        for n in range(1, min(len(words), WRAP_WORDS + 1)):
            joined = f"{' '.join(words[:n])} {after}"
            hit = match_label(joined, open_fields)
            if hit is None or hit.field not in LONG_LABELS or hit.score < STRICT or (best and best[0] >= hit.score):
                continue
            label = joined[: len(joined) - len(hit.rest)]
            if len(label) > len(" ".join(words[:n])) + 1:  # the label runs into the second line
                best = (hit.score, n, label, hit.rest.strip())
        if best is not None and (own is None or own.score < best[0]):
            _, n, label, rest = best
            tail = [_Line(rest, line.page)] if rest else []
            self.work[i:i + 2] = [_Line(f"{label} {' '.join(words[n:])}", line.page), *tail]

    def split_embedded(self, i: int, open_fields: set[str]) -> None:
        parts = _split_embedded(self.work[i], open_fields)
        if parts:  # "data: 21.11.2026   znak: OR.1"
            self.work[i:i + 1] = parts

    def take_value(self, i: int, hit: _Hit) -> int:
        """Record the field's value (same line, else the next filled line); return the next index."""
        first, last = _Line(self.value_of(hit.rest), self.work[i].page), i
        if not first.text:
            k = self.next_value(i)
            if k is not None:  # an empty "znak:" before a label wrapped over two lines
                self.join_wrapped(k, self.open() - {hit.field})
                self.join_wrapped_beside(k, self.open() - {hit.field})
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
