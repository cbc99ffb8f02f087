"""`hotline run` as systemd runs it: READY=1 over the notify socket, the SMTP listener
stores, the sweep routes, metrics and health answer, SIGHUP reloads, SIGTERM stops cleanly."""
from __future__ import annotations

import json
import signal
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import mailfactory as mf
from tests.support import DaemonProcess, Hotline, free_port, wait_for, write_config


@pytest.fixture
def setup(db_url: str, tmp_path: Path) -> Iterator[tuple[DaemonProcess, Hotline, int, int]]:
    smtp_port, metrics_port = free_port(), free_port()
    extra = (
        f'[smtp_server]\nlisten = "127.0.0.1:{smtp_port}"\nrecipients = ["hotline@example.org", "@fax.example.org"]\n'
        f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n'
        "[daemon]\nsweep_seconds = 0.5\n"
    )
    cfg = write_config(tmp_path / "c.toml", db_url, extra)
    daemon = DaemonProcess(cfg, tmp_path)
    try:
        yield daemon.start(), Hotline(cfg), smtp_port, metrics_port
    finally:
        daemon.close()


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_smtp_to_ticket_metrics_and_clean_stop(setup: tuple[DaemonProcess, Hotline, int, int]) -> None:
    daemon, hotline, smtp_port, metrics_port = setup
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
        client.sendmail("jan@example.pl", ["hotline@example.org"], mf.make_message(subject="Przez SMTP"))
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("jan@example.pl", ["someone@elsewhere.example"], mf.make_message())
        assert refused.value.recipients["someone@elsewhere.example"][0] == 550
    tickets = wait_for(lambda: hotline.json("tickets", "list", "--json"))
    assert [t["subject"] for t in tickets] == ["Przez SMTP"]
    status, body = get(metrics_port, "/metrics")
    assert status == 200
    assert b'hotline_messages_total{action="created",source="smtp"} 1.0' in body
    wait_for(lambda: b"hotline_inbox_backlog 0.0" in get(metrics_port, "/metrics")[1])  # refreshed every 5 s
    status, body = get(metrics_port, "/health")
    assert status == 200 and json.loads(body)["ok"] is True
    daemon.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    daemon.wait_for("STOPPING=1", 10)
    assert daemon.proc.wait(timeout=25) == 0  # type: ignore[union-attr]


def test_sighup_applies_logging_and_names_what_needs_a_restart(
    setup: tuple[DaemonProcess, Hotline, int, int], tmp_path: Path
) -> None:
    daemon, hotline, _, _ = setup
    text = hotline.config.read_text()
    hotline.config.write_text(text.replace('level = "warning"', 'level = "info"').replace("sweep_seconds = 0.5", "sweep_seconds = 1"))
    daemon.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
    seen = daemon.wait_for("READY=1", 10)
    assert any("RELOADING=1" in d for d in seen)
    reloaded = wait_for(lambda: [json.loads(l) for l in daemon.log().splitlines() if '"config reloaded"' in l])
    assert reloaded[-1]["applied"] == ["logging"] and reloaded[-1]["restart_needed"] == ["daemon"]
    hotline.config.write_text("[storage\nbroken")
    daemon.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
    wait_for(lambda: "config reload refused" in daemon.log())
    assert daemon.proc.poll() is None  # a bad config never stops a running daemon


def test_every_job_in_the_table_is_a_method_of_the_daemon() -> None:
    """The job table (gateway/service/jobs.py) names methods: a typo, or a job in rounds
    the daemon cannot wake, would only show when the daemon runs it."""
    from gateway.service.daemon import Daemon
    from gateway.service.jobs import JOBS

    assert len({job.name for job in JOBS}) == len(JOBS)
    assert all(callable(getattr(Daemon, job.method, None)) for job in JOBS)
