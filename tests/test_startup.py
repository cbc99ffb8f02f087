"""The `hotline` command starts light: an admin's `hotline --help` and listings do not load
OpenCV, numpy, fpdf or alembic, and an MTA's one-message `hotline ingest -` of a plain
e-mail loads none of the OCR, PDF, HTML or other-backend code. Checked on the real console
script with Python's own import log (PYTHONPROFILEIMPORTTIME); the times are in `make bench`.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import Hotline, Result, write_config

HEAVY = {"cv2", "numpy", "fpdf", "alembic", "pypdf", "PIL"}


def imported(result: Result) -> set[str]:
    """The modules the run imported, from the `import time: self | cumulative | name` lines."""
    assert result.code == 0, result.err
    lines = [line.rsplit("|", 1)[-1].strip() for line in result.err.splitlines() if line.startswith("import time:")]
    assert len(lines) > 50, result.err[-2000:]  # the log is there: an empty set would prove nothing
    return set(lines)


@pytest.fixture
def hotline(sqlite_template: Path, tmp_path: Path) -> Hotline:
    shutil.copy(sqlite_template, tmp_path / "hotline.db")
    return Hotline(write_config(tmp_path / "hotline.toml", f"sqlite:///{tmp_path / 'hotline.db'}"))


def run(hotline: Hotline, *args: str, stdin: bytes | None = None) -> set[str]:
    return imported(hotline.process(*args, stdin=stdin, env={"PYTHONPROFILEIMPORTTIME": "1"}))


def test_help_loads_neither_the_store_nor_the_settings(hotline: Hotline) -> None:
    loaded = run(hotline, "--help")
    assert not loaded & (HEAVY | {"sqlalchemy", "pydantic", "jinja2", "cryptography"})


@pytest.mark.parametrize("command", [("tickets", "list"), ("outbox",)])
def test_listings_load_no_ocr_pdf_or_migrations(hotline: Hotline, command: tuple[str, ...]) -> None:
    assert not run(hotline, *command) & HEAVY


def test_one_plain_email_through_ingest_loads_only_what_it_needs(hotline: Hotline) -> None:
    message = (b"From: jan@example.pl\r\nTo: hotline@example.org\r\nSubject: Pytanie\r\n"
               b"Message-ID: <startup.1@example.pl>\r\n\r\nJak zmieni\xc4\x87 has\xc5\x82o?\r\n")  # fmt: skip
    loaded = run(hotline, "ingest", "-", stdin=message)
    not_needed = {
        "inscriptis", "lxml",  # HTML parts only
        "concurrent.futures.process",  # the worker pool: one message is read in-process
        "sqlalchemy.dialects.postgresql",  # the other backend
    }  # fmt: skip
    assert not loaded & (HEAVY | not_needed)
    assert {"gateway.pipeline.runner", "sqlalchemy.dialects.sqlite"} <= loaded  # it did route the message
