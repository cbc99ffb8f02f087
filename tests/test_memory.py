"""Memory bounds on ordinary-looking but huge mail, through the real `hotline ingest`: the
peak resident set of its largest process is measured (tests/hostile.py) and bounded.

Each of these once took gigabytes: an HTML table laid out row by row to its widest cell,
a 25 MB body cleaned one character at a time, a fax page drawn as 30 strips each under
fax.max_pixels. The question still becomes a ticket; what was cut or refused is flagged."""
from __future__ import annotations

import json
import os
import random
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from gateway.intake import inbox
from storage import db
from tests import formfactory as ff
from tests import hostile
from tests import mailfactory as mf
from tests.support import HOTLINE, DaemonProcess, Hotline, consultants_config, ingest_raw, show_ticket, wait_for, write_config
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


def peak_of_tree(pid: int) -> int:
    """VmHWM (MiB) of a running process, or of its largest child (the parser workers)."""
    pids = [pid] + [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == pid]
    return max(_hwm(p) for p in pids) // 1024


def _hwm(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def test_the_daemon_reads_a_backlog_of_big_mail_a_few_megabytes_at_a_time(tmp_path: Path, sqlite_template: Path) -> None:
    """Sixteen messages with a 12 MB attachment each, stored (as the SMTP listener stores
    them) before the daemon starts: it once read them all, and held all their parses, in one
    batch; now at most limits.max_batch_bytes of them at once."""
    shutil.copy(sqlite_template, tmp_path / "hotline.db")
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    factory = db.open_store(url)
    received = datetime.now(timezone.utc)
    with db.transaction(factory) as session:
        for n in range(16):
            scan = random.Random(n).randbytes(12_000_000)  # a scan: incompressible
            raw = mf.make_message(message_id=f"<backlog.{n}@example.pl>", attachments=[("skan.jpg", "image/jpeg", scan)])
            inbox.accept(session, inbox.Delivery(raw, "smtp", None, received))
    daemon = DaemonProcess(write_config(tmp_path / "c.toml", url, "[daemon]\nsweep_seconds = 0.2\n"), tmp_path)
    try:
        daemon.start()
        assert daemon.proc is not None
        hotline = Hotline(daemon.config)
        wait_for(lambda: len(hotline.json("tickets", "list", "--json")) == 16, timeout=120, step=0.5)
        peak = peak_of_tree(daemon.proc.pid)
    finally:
        daemon.close()
    assert peak < 450, f"peak RSS {peak} MiB"  # all in one batch: over 700 MiB


def test_a_document_shares_fax_max_document_pixels_among_its_pages(tmp_path: Path, sqlite_template: Path) -> None:
    """Five fax pages, each far under fax.max_pixels, over the document's pixel budget
    from the third page on: those pages are not decoded, and the ticket says why."""
    shutil.copy(sqlite_template, tmp_path / "hotline.db")
    extra = f'[fax]\ngateway_senders = ["{GATEWAY}"]\nmax_document_pixels = 10000000\n'
    hotline = Hotline(write_config(tmp_path / "h.toml", f"sqlite:///{tmp_path / 'hotline.db'}", extra))
    pages = [ff.render_text_page(f"Strona {n}: proszę o kontakt w sprawie licencji.") for n in range(1, 6)]
    assert all(4_000_000 > p.width * p.height > 3_000_000 for p in pages)
    line = ingest_raw(hotline, tmp_path, hostile.fax_mail(ff.to_g4_tiff(pages), GATEWAY, document_name="fax.tif"))
    ticket = show_ticket(hotline, line["ticket"])
    assert "Strona 2" in ticket["question"] and "Strona 3" not in ticket["question"]
    reasons = review_reasons(hotline)
    assert [r for r in reasons if "fax.max_document_pixels" in r and "page 3" in r], reasons
