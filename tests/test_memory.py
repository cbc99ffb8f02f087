"""Memory bounds on ordinary-looking but huge mail, through the real `hotline ingest`: the
peak resident set of its largest process is measured (tests/hostile.py) and bounded.

Each of these once took gigabytes: an HTML table laid out row by row to its widest cell,
a 25 MB body cleaned one character at a time, a fax page drawn as 30 strips each under
fax.max_pixels. The question still becomes a ticket; what was cut or refused is flagged."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests import hostile
from tests import mailfactory as mf
from tests.support import HOTLINE, Hotline, consultants_config, ingest_raw, show_ticket, write_config
from tests.test_acknowledge import events

GATEWAY = "faxserver@example.org"


@pytest.fixture
def hotline(sqlite_template: Path, tmp_path: Path) -> Hotline:
    """SQLite, consultants told of every new ticket (the notification once cleaned the
    whole question), a fax gateway."""
    shutil.copy(sqlite_template, tmp_path / "hotline.db")
    extra = consultants_config(tmp_path, f'[fax]\ngateway_senders = ["{GATEWAY}"]\n')
    return Hotline(write_config(tmp_path / "hotline.toml", f"sqlite:///{tmp_path / 'hotline.db'}", extra))


def ingest_measured(hotline: Hotline, folder: Path, raw: bytes) -> tuple[dict[str, Any], int]:
    """One message through the real `hotline ingest` process: its JSON line, its peak MiB."""
    path = folder / "hostile.eml"
    path.write_bytes(raw)
    proc, peak = hostile.run_measured([str(HOTLINE), "--config", str(hotline.config), "ingest", str(path)])
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    (line,) = [json.loads(x) for x in proc.stdout.decode().splitlines() if x.strip()]
    return line, peak


def review_reasons(hotline: Hotline) -> list[str]:
    return [r for e in events(hotline, "needs_review") for r in e.data["reasons"]]


def test_a_2_mb_html_table_stays_small(hotline: Hotline, tmp_path: Path) -> None:
    line, peak = ingest_measured(hotline, tmp_path, hostile.html_table_mail())
    assert line["action"] == "created", line
    assert peak < 600, f"peak RSS {peak} MiB"
    question = show_ticket(hotline, line["ticket"])["question"]
    assert "Faktura 17/2026 Urząd Gminy 1 850,00 zł" in question  # a row is a line, no padding
    assert len(question) <= 200_000


def test_a_25_mb_text_is_cut_and_flagged(hotline: Hotline, tmp_path: Path) -> None:
    raw = hostile.big_text_mail()
    line, peak = ingest_measured(hotline, tmp_path, raw)
    assert line["action"] == "created", line
    assert peak < 600, f"peak RSS {peak} MiB"
    ticket = show_ticket(hotline, line["ticket"])
    assert ticket["needs_review"] is True
    assert 190_000 < len(ticket["question"]) <= 200_000
    assert raw.decode().split("\r\n\r\n", 1)[1].startswith(ticket["question"][:5000].replace("\n", "\r\n"))
    assert any("limits.max_text_chars" in r for r in review_reasons(hotline)), review_reasons(hotline)


def test_max_text_chars_is_configurable(tmp_path: Path, sqlite_template: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "hotline.db")
    hotline = Hotline(write_config(tmp_path / "h.toml", f"sqlite:///{tmp_path / 'hotline.db'}",
                                   "[limits]\nmax_text_chars = 5000\n"))  # fmt: skip
    line, _ = ingest_measured(hotline, tmp_path, hostile.big_text_mail(100_000))
    assert len(show_ticket(hotline, line["ticket"])["question"]) <= 5000
    assert any("first 5000 characters (limits.max_text_chars)" in r for r in review_reasons(hotline))


@pytest.mark.parametrize("document", [hostile.strips_pdf, hostile.inline_image_pdf], ids=["strips", "inline"])
def test_a_fax_page_over_max_pixels_is_never_decoded(hotline: Hotline, tmp_path: Path, document: Any) -> None:
    """30 strips of 8000 x 4999 (each under 40 Mpx, 1.2 Gpx stacked), or one inline image
    of 8000 x 8000: refused before decoding, the fax still a ticket, flagged."""
    line, peak = ingest_measured(hotline, tmp_path, hostile.fax_mail(document(), GATEWAY))
    assert line["action"] == "created", line
    assert peak < 800, f"peak RSS {peak} MiB"
    assert show_ticket(hotline, line["ticket"])["needs_review"] is True
    reasons = review_reasons(hotline)
    assert any("fax.max_pixels" in r for r in reasons), reasons


def test_a_cut_html_alternative_leaves_a_whole_plain_text_unflagged(hotline: Hotline, tmp_path: Path) -> None:
    """Only the text shown counts: a huge HTML alternative cut unread is no cut question."""
    raw = mf.make_message(body="Krótkie pytanie o licencję.\n", html="<p>" + "x " * 2_100_000 + "</p>")
    line = ingest_raw(hotline, tmp_path, raw)
    assert show_ticket(hotline, line["ticket"])["question"] == "Krótkie pytanie o licencję."
    assert not any("limits.max_text_chars" in r for r in review_reasons(hotline))
