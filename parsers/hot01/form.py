"""The form as a whole: is the text a HOT-01 form, and its fields if it is."""
from __future__ import annotations

from parsers.hot01.contacts import parse_contacts
from parsers.hot01.dates import parse_date
from parsers.hot01.fields import Field, Hot01Form
from parsers.hot01.folding import _NOT_ALNUM, fold
from parsers.hot01.labels import CODE, HEADER_KEY
from parsers.hot01.lines import _lines
from parsers.hot01.scanning import _best_scan, _filled_count, _Found
from parsers.hot01.values import (
    _field, _name_plausibility, _ocr_factor, _office_plausibility, _question, _reference_plausibility, _tidy,
)


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
