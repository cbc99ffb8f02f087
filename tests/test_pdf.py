"""The one-page fax PDF: Polish glyphs survive, the page count is one, the bytes repeat."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import pypdf
import pytest

from gateway.pdf import FontNotFoundError, find_font, render_pdf

POLISH = "Zgłoszenie HOT-2026-000123: ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ"


def pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def test_polish_text_reads_back_on_one_page() -> None:
    data = render_pdf("Potwierdzenie przyjęcia zgłoszenia", POLISH + "\n\nSzanowni Państwo,")
    [text] = pages(data)
    assert "Potwierdzenie przyjęcia zgłoszenia" in text
    assert POLISH in text
    assert "Szanowni Państwo," in text
    assert len(data) < 60_000  # the font is subset, not embedded whole


def test_long_text_shrinks_then_is_cut_with_an_ellipsis() -> None:
    medium = "\n".join(f"wiersz {i} zażółć gęślą jaźń" for i in range(70))
    [text] = pages(render_pdf("Tytuł", medium))
    assert "wiersz 69 zażółć gęślą jaźń" in text  # fits once the font is smaller
    huge = "\n".join(f"wiersz {i}" for i in range(1000))
    [text] = pages(render_pdf("Tytuł", huge))
    assert "wiersz 0" in text
    assert text.rstrip().endswith("…")
    assert "wiersz 999" not in text


def test_long_lines_wrap() -> None:
    [text] = pages(render_pdf("T", "słowo " * 300))
    assert text.count("słowo") == 300


def test_output_is_deterministic_and_dated_by_the_caller() -> None:
    created = datetime(2026, 11, 20, 15, 31, tzinfo=timezone.utc)
    first = render_pdf("T", POLISH, created=created)
    assert first == render_pdf("T", POLISH, created=created)
    assert first != render_pdf("T", POLISH)
    assert render_pdf("T", POLISH) == render_pdf("T", POLISH)


def test_control_characters_do_not_break_the_page() -> None:
    [text] = pages(render_pdf("T\r\nx", "a\x00b\tc\r\nd\x1b"))
    assert "ab" in text and "c" in text and "d" in text


def test_missing_font_names_every_path_tried(tmp_path: Path) -> None:
    candidates = (tmp_path / "a.ttf", tmp_path / "b.ttf")
    with pytest.raises(FontNotFoundError) as info:
        find_font(candidates)
    assert str(candidates[0]) in str(info.value) and str(candidates[1]) in str(info.value)
    assert find_font().is_file()
