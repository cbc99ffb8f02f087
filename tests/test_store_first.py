"""Store first, then read; route what is ready. `hotline ingest` commits a message's raw
bytes before it is parsed or OCR'd (a process killed mid-OCR has lost nothing), and the
daemon routes plain e-mail while a long fax ahead of it is still being read."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from tests import formfactory as ff
from tests import mailfactory as mf
from tests.support import HOTLINE, DaemonProcess, Hotline, daemon_config, free_port, store_backlog, wait_for



def fax_message(pages: int, number: int = 0) -> bytes:
    tiff = ff.to_g4_tiff([ff.render_form(ff.PHONE_ONLY)] * pages)
    return mf.make_message(
        subject=f"Fax {number}", sender="jan@example.pl", to="fax@example.org", body="",
        attachments=[("fax.tif", "image/tiff", tiff)], message_id=f"<stored-first.{number}@example.pl>",
    )  # fmt: skip


def inbox_states(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT state FROM inbox ORDER BY id"))]
    finally:
        engine.dispose()


def test_ingest_killed_during_ocr_has_already_stored_the_fax(tmp_path: Path, db_url: str) -> None:
    config = daemon_config(tmp_path, db_url, free_port(), workers=1)
    path = tmp_path / "fax.eml"
    path.write_bytes(fax_message(pages=8))
    hotline = Hotline(config)
    proc = subprocess.Popen([str(HOTLINE), "--config", str(config), "ingest", "--channel", "fax", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        states = wait_for(lambda: inbox_states(db_url), timeout=30, step=0.05)  # stored while the pages are read
        assert proc.poll() is None, "the OCR of 8 pages must still be running"
        proc.kill()  # as the MTA's pipe timeout or the OOM killer would
    finally:
        proc.kill()
        proc.wait(10)
    assert states == ["new"]
    assert hotline.json("tickets", "list", "--json") == []
    (again,) = hotline.json("ingest", "--channel", "fax", str(path))  # the MTA retries
    assert again["action"] == "created"
    assert inbox_states(db_url) == ["processed"] and len(hotline.json("tickets", "list", "--json")) == 1


def test_e_mail_behind_a_long_fax_is_routed_while_the_fax_is_read(tmp_path: Path, sqlite_url: str) -> None:
    e_mails = [mf.make_message(subject=f"Pytanie {n}", sender=f"u{n}@example.pl", message_id=f"<behind.{n}@example.pl>")
               for n in range(100)]  # fmt: skip
    store_backlog(sqlite_url, [fax_message(pages=10)], channel="fax")
    store_backlog(sqlite_url, e_mails)
    config = daemon_config(tmp_path, sqlite_url, free_port(), workers=1)
    hotline = Hotline(config)
    daemon = DaemonProcess(config, tmp_path)
    try:
        began = time.monotonic()
        daemon.start()
        wait_for(lambda: len(hotline.json("tickets", "list", "--json")) >= 100, timeout=60)
        e_mail_seconds = time.monotonic() - began
        channels = [t["channel"] for t in hotline.json("tickets", "list", "--json")]
        assert channels.count("email") == 100 and "fax" not in channels, "the fax is still being read"
        wait_for(lambda: len(hotline.json("tickets", "list", "--json")) == 101, timeout=120)
        fax_seconds = time.monotonic() - began
        assert e_mail_seconds < fax_seconds
        assert daemon.terminate() == 0
    finally:
        daemon.close()
