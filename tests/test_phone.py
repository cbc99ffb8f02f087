"""parsers.phone: numbers as written on forms and in OCR text -> E.164."""
from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers.phone import normalise_number

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@pytest.mark.parametrize("raw", [
    "22 123 45 67", "(22) 123-45-67", "022 123 45 67", "0048 22 123 45 67", "+48 22 123 45 67",
    "+48221234567", "(0-22) 123 45 67", "22.123.45.67", "22/123-45-67", "+48 (0) 22 123 45 67",
    "(+48) 22 123 45 67", "0 048 22 123 45 67", "  +48 22 123 45 67  ", "22\u00a0123\u00a045\u00a067",
])  # fmt: skip
def test_polish_landline(raw: str) -> None:
    assert normalise_number(raw) == "+48221234567"


@pytest.mark.parametrize(("raw", "expected"), [
    ("600 100 200", "+48600100200"),
    ("600-100-200", "+48600100200"),
    ("+48 600 100 200", "+48600100200"),
    ("+49 30 1234567", "+49301234567"),
    ("0049 30 1234567", "+49301234567"),
    ("+44 (0)20 7946 0958", "+442079460958"),
    ("+1 (212) 555-0100", "+12125550100"),
    ("+420 123 456 789", "+420123456789"),
])  # fmt: skip
def test_mobile_and_foreign(raw: str, expected: str) -> None:
    assert normalise_number(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("22 l23 45 67", "+48221234567"),
    ("O22 123 45 67", "+48221234567"),
    ("6OO 1OO 2OO", "+48600100200"),
    ("+48 22 I23 45 67", "+48221234567"),
    ("22 1o3 o5 67", "+48221030567"),
])  # fmt: skip
def test_ocr_letters_inside_digit_groups(raw: str, expected: str) -> None:
    assert normalise_number(raw) == expected


@pytest.mark.parametrize("raw", [
    "", " ", "123", "22 123 45 6", "22 123 45 678 9", "+48 22 123 45", "+48 22 123 45 678",
    "tel. 22 123 45 67", "22 123 45 67 wew. 12", "abc", "+", "++48 22 123 45 67", "+0 123 456 789",
    "+1234567890123456", "0 123 45 67", "012 345 678", "lol", "lO lO", "22 123 45 6O7",
    "22 123 45 67 +48", "22 123 4S 67", "21.11.2026", "+12345",
])  # fmt: skip
def test_not_a_number(raw: str) -> None:
    assert normalise_number(raw) is None


def test_ocr_letter_only_group_is_not_repaired() -> None:
    """A group of letters alone ("lO") is a word, not a mangled number."""
    assert normalise_number("22 123 45 67 lO") is None


@given(st.text(max_size=60))
def test_arbitrary_text_never_raises(raw: str) -> None:
    result = normalise_number(raw)
    assert result is None or E164.match(result)


@given(st.text(alphabet="0123456789 +-()./OolI", max_size=40))
def test_number_like_text_is_valid_or_none(raw: str) -> None:
    result = normalise_number(raw)
    assert result is None or E164.match(result)
    if result is not None:
        assert normalise_number(result) == result  # idempotent


national = st.from_regex(r"\A[1-9][0-9]{8}\Z")
styles = st.sampled_from([
    "{a}{b} {c}{d}{e} {f}{g} {h}{i}", "({a}{b}) {c}{d}{e}-{f}{g}-{h}{i}", "0{a}{b} {c}{d}{e} {f}{g} {h}{i}",
    "+48 {a}{b} {c}{d}{e} {f}{g} {h}{i}", "0048{a}{b}{c}{d}{e}{f}{g}{h}{i}", "{a}{b}{c}-{d}{e}{f}-{g}{h}{i}",
])  # fmt: skip


@given(national, styles)
def test_polish_numbers_in_any_common_style(digits: str, style: str) -> None:
    raw = style.format(**dict(zip("abcdefghi", digits)))
    assert normalise_number(raw) == "+48" + digits
