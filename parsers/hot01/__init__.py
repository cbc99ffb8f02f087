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

Where each job lives: `fields` (what is returned), `folding` (the form labels are
compared in), `labels` (the printed labels and title), `lines` (quoting and fax headers
dropped), `scanning` (each label's value), `cleaning`, `dates`, `contacts`, `values`
(tidied, how plausible) and `form` (all of it); OCR's misreadings are put right in
`parsers.misreadings`.
"""
from parsers.hot01.contacts import parse_contacts
from parsers.hot01.dates import parse_date
from parsers.hot01.fields import Field, Hot01Form
from parsers.hot01.folding import edit_distance, fold
from parsers.hot01.form import looks_like_form, not_a_form, parse_form
from parsers.hot01.labels import match_label
from parsers.hot01.lines import is_fax_header

__all__ = [
    "Field", "Hot01Form", "edit_distance", "fold", "is_fax_header", "looks_like_form", "match_label", "not_a_form",
    "parse_contacts", "parse_date", "parse_form",
]
