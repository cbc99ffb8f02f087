"""A message that kills the daemon while it is read (the OOM killer, a native crash) must not
kill every next daemon: each reading is counted on the inbox row before it begins, and
after [limits] max_attempts the row is quarantined unread. The real daemon is SIGKILLed
while it reads a multi-page fax (its OCR keeps the reading going for seconds)."""
from __future__ import annotations

import os
import shutil
import signal
import smtplib
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from storage.models import InboxEntry
from tests import formfactory as ff
from tests import mailfactory as mf
from tests.support import DaemonProcess, free_port, show_ticket, wait_for, write_config, Hotline

GATEWAY = "faxserver@example.org"


def inbox_row(url: str) -> InboxEntry | None:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return session.scalars(select(InboxEntry).order_by(InboxEntry.id)).first()
    finally:
        engine.dispose()


def kill_tree(daemon: DaemonProcess) -> None:
    """SIGKILL the daemon and its parser workers, as the OOM killer would take them."""
    assert daemon.proc is not None
    pid = daemon.proc.pid
    children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == pid]
    for child in children:
        os.kill(child, signal.SIGKILL)
    daemon.kill()


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def test_a_message_that_kills_the_daemon_is_quarantined_after_max_attempts(tmp_path: Path, sqlite_template: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "hotline.db")
    url, port = f"sqlite:///{tmp_path / 'hotline.db'}", free_port()
    extra = (f'[smtp_server]\nlisten = "127.0.0.1:{port}"\nrecipients = ["hotline@example.org"]\n'
             f'[fax]\ngateway_senders = ["{GATEWAY}"]\n[limits]\nmax_attempts = 2\n'
             "[daemon]\nsweep_seconds = 0.2\nworkers = 1\n")  # fmt: skip
    config = write_config(tmp_path / "c.toml", url, extra)
    pages = [ff.render_text_page(f"Strona {n}: dzień dobry, proszę o kontakt w sprawie licencji.") for n in range(6)]
    fax = mf.make_message(subject="Fax from +48 22 765 43 21", sender=f"Fax Server <{GATEWAY}>", body="Fax.\n",
                          attachments=[("fax.tif", "image/tiff", ff.to_g4_tiff(pages))], message_id="<poison@example.org>")  # fmt: skip
    for attempt in (1, 2):
        daemon = DaemonProcess(config, tmp_path)
        try:
            daemon.start()
            if attempt == 1:
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                    client.sendmail(GATEWAY, ["hotline@example.org"], fax)
            wait_for(lambda: (row := inbox_row(url)) is not None and row.attempts == attempt, timeout=30, step=0.02)
            kill_tree(daemon)  # while it reads: the row is counted, not routed
            row = inbox_row(url)
            assert row is not None and row.state == "new" and row.attempts == attempt
        finally:
            daemon.close()
    daemon = DaemonProcess(config, tmp_path)
    try:
        daemon.start()
        row = wait_for(lambda: (r := inbox_row(url)) is not None and r.state != "new" and r, timeout=30)
        assert row.state == "quarantined" and row.attempts == 2
        assert row.reason is not None and "limits.max_attempts=2" in row.reason and "died" in row.reason
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:  # the daemon goes on
            client.sendmail("jan@example.pl", ["hotline@example.org"], mf.make_message(message_id="<after@example.pl>"))
        hotline = Hotline(config)
        (ticket,) = wait_for(lambda: hotline.json("tickets", "list", "--json"), timeout=30)
        assert show_ticket(hotline, ticket["number"])["messages"][0]["subject"] == "Pytanie"
    finally:
        daemon.close()
