"""The worker pool survives a worker that dies: a message that kills its reader is set
aside with a reason, a page that crashes tesseract's library is read again by a
tesseract process, and the other messages of the batch are read as usual."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from gateway.intake import workers as parsing
from gateway.intake.workers import Parser
from parsers.reading import Reading, Rejected, first_pass
from gateway.settings import load
from parsers import fax
from tests import formfactory as ff
from tests import mailfactory as mf
from tests.support import write_config

MARKER = "KILL-THE-WORKER"


def dies_on_marker(raw: bytes, channel: str | None, config: Any) -> Any:
    """first_pass, except that a marked message kills the process (as a native crash would)."""
    if MARKER.encode() in raw:
        os._exit(11)
    return first_pass(raw, channel, config)


def library_crashes(page: fax.PageImage, seconds: float, engine: str = "api") -> fax.PageText:
    """ocr_page whose in-process tesseract library crashes; the tesseract command works."""
    if engine == "api":
        os._exit(11)
    return fax.ocr_page(page, seconds, engine)


@pytest.fixture
def parser(tmp_path: Path) -> Any:
    settings = load(write_config(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'h.db'}",
                                 '[fax]\ngateway_senders = ["faxserver@example.org"]\n'))  # fmt: skip
    made = Parser(settings, workers=2, pool_threshold=1)
    yield made
    made.close()


def test_a_message_that_kills_its_worker_is_set_aside_and_the_rest_are_read(parser: Parser, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsing, "first_pass", dies_on_marker)
    raws = [mf.make_message(subject=f"Pytanie {i}", message_id=f"<ok{i}@example.pl>") for i in range(3)]
    raws.insert(1, mf.make_message(subject=MARKER, message_id="<poison@example.pl>"))
    results = list(parser.map(raws))
    assert [type(r).__name__ for r in results] == ["Reading", "Rejected", "Reading", "Reading"]
    assert isinstance(results[1], Rejected) and results[1].reason == parsing.CRASHED
    assert [r.message.subject for r in results if isinstance(r, Reading)] == ["Pytanie 0", "Pytanie 1", "Pytanie 2"]
    assert list(parser.map([raws[0]]))[0].message.subject == "Pytanie 0"  # type: ignore[union-attr]  # the new pool works


def test_a_page_that_crashes_the_ocr_library_is_read_by_a_tesseract_process(parser: Parser, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsing, "ocr_page", library_crashes)
    page = ff.render_text_page("Zgłoszenie pytania HOT-01\nJak zmienić hasło w systemie?")
    raw = mf.make_message(subject="Fax from +48 22 765 43 21", sender="faxserver@example.org", body="Fax.\n",
                          attachments=[("fax.tif", "image/tiff", ff.to_g4_tiff([page]))])  # fmt: skip
    (result,) = parser.map([raw])
    assert isinstance(result, Reading)
    (document,) = result.documents
    assert "Jak zmienić hasło w systemie?" in document.text and not result.problems
