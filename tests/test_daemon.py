"""`hotline run` as `make run` starts it: the SMTP listener stores, the worker routes, SIGTERM stops."""
from __future__ import annotations

import signal
import smtplib
import subprocess
import time
from pathlib import Path

import pytest

from tests import mailfactory as mf
from tests.support import HOTLINE, Hotline, free_port, write_config


def wait_for(predicate, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s")


def connectable(port: int) -> bool:
    try:
        smtplib.SMTP("127.0.0.1", port, timeout=1).quit()
        return True
    except OSError:
        return False


def test_smtp_listener_to_ticket_and_clean_stop(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    smtp = f'[smtp_server]\nlisten = "127.0.0.1:{port}"\nrecipients = ["hotline@example.org", "@fax.example.org"]\n'
    cfg = write_config(tmp_path / "c.toml", db_url, smtp)
    hotline = Hotline(cfg)
    daemon = subprocess.Popen([str(HOTLINE), "--config", str(cfg), "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: connectable(port) or daemon.poll() is not None)
        assert daemon.poll() is None, daemon.stderr.read().decode() if daemon.stderr else ""
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("jan@example.pl", ["hotline@example.org"], mf.make_message(subject="Przez SMTP"))
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                client.sendmail("jan@example.pl", ["someone@elsewhere.example"], mf.make_message())
            assert refused.value.recipients["someone@elsewhere.example"][0] == 550
        tickets = wait_for(lambda: hotline.json("tickets", "list", "--json"))
        assert [t["subject"] for t in tickets] == ["Przez SMTP"]
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
