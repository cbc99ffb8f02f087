"""The fax PDFs: Polish glyphs survive, acknowledgements stay on one page, answers run over
numbered pages up to a limit, the bytes repeat."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import pypdf
import pytest

from gateway.outbound.pdf import FontNotFoundError, find_font, render_document, render_pdf

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


# --- multi-page documents -------------------------------------------------------------

LONG = "\n".join(f"wiersz {i}: {POLISH}" for i in range(140))


def test_short_document_is_one_numbered_page() -> None:
    [text] = pages(render_document("Odpowiedź na zgłoszenie", POLISH, footer="HOT-2026-000123"))
    assert "Odpowiedź na zgłoszenie" in text
    assert POLISH in text
    assert "HOT-2026-000123 1/1" in text


def test_long_document_runs_over_pages_at_full_size_in_order() -> None:
    texts = pages(render_document("Tytuł", LONG, footer="HOT-2026-000123"))
    assert len(texts) == 3
    assert "Tytuł" in texts[0] and "Tytuł" not in texts[1]
    joined = "\n".join(texts)
    positions = [joined.index(f"wiersz {i}: {POLISH}") for i in range(140)]
    assert positions == sorted(positions)  # every line once, in order, glyphs intact
    assert [t.rstrip().splitlines()[-1] for t in texts] == [f"HOT-2026-000123 {i}/3" for i in (1, 2, 3)]


def test_document_past_max_pages_is_cut_with_an_ellipsis() -> None:
    texts = pages(render_document("T", LONG, max_pages=2))
    assert len(texts) == 2
    assert "wiersz 139" not in texts[-1]
    assert texts[-1].rstrip().splitlines()[-2].endswith("…")
    assert texts[-1].rstrip().endswith("2/2")
    with pytest.raises(ValueError, match="max_pages"):
        render_document("T", "x", max_pages=0)


def test_empty_document_is_one_page_and_output_repeats() -> None:
    assert len(pages(render_document("T", ""))) == 1
    created = datetime(2026, 11, 20, 15, 31, tzinfo=timezone.utc)
    assert render_document("T", LONG, created=created) == render_document("T", LONG, created=created)
