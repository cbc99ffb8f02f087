"""An acknowledgement that cannot be made is still owed: the real daemon tries it again
until it is sent, /health says so meanwhile, and Prometheus counts it. (A step that fails
while routing becomes a pending step: tests/test_acknowledge.py.)"""
from __future__ import annotations

import json
import shutil
import smtplib
from pathlib import Path
from typing import Any

from gateway.outbound.templates import DEFAULT_DIRECTORY
from parsers.refs import subject_tag
from tests import mailfactory as mf
from tests.relay import Relay, relay  # noqa: F401  (fixture)
from tests.support import DaemonProcess, Hotline, consultants_config, free_port, show_ticket, wait_for, write_config
from tests.test_daemon import get

QUESTION = mf.make_message(subject="Błąd wydruku", sender="Jan Kowalski <jan@gmina.example.pl>",
                           body="Wydruk się nie udaje.\n", message_id="<owed.1@gmina.example.pl>")  # fmt: skip
BROKEN = "{{ facts.no_such_fact }}\n"  # StrictUndefined: rendering raises


def test_an_acknowledgement_whose_template_fails_is_retried_until_sent(db_url: str, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    """The outbox worker renders the acknowledgement (routing stores a draft): a broken
    template defers the row, /health says so at once, the notification goes meanwhile, and
    once the admin fixes the template the acknowledgement is sent."""
    templates = tmp_path / "templates"
    shutil.copytree(DEFAULT_DIRECTORY, templates, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (templates / "ack.pl.txt.j2").write_text(BROKEN, "utf-8")
    smtp_port, metrics_port = free_port(), free_port()
    extra = (f'[smtp_server]\nlisten = "127.0.0.1:{smtp_port}"\nrecipients = ["hotline@example.org"]\n'
             f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n[daemon]\nsweep_seconds = 0.5\n'
             f'[templates]\ndir = "{templates}"\n' + consultants_config(tmp_path))  # fmt: skip
    cfg = write_config(tmp_path / "c.toml", db_url, extra, outbound=relay.config("max_retry_seconds = 1"))
    hotline, daemon = Hotline(cfg), DaemonProcess(cfg, tmp_path)
    try:
        daemon.start()
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
            client.sendmail("jan@gmina.example.pl", ["hotline@example.org"], QUESTION)
        (ticket,) = wait_for(lambda: hotline.json("tickets", "list", "--json"))
        status, body = wait_for(lambda: (r := get(metrics_port, "/health"))[0] == 503 and r)
        health = json.loads(body)
        assert health["ok"] is False and health["outbox_overdue"] == 1 and health["owed_steps"] == {}
        assert health["problems"] == ["1 outbox row(s) overdue"]
        metrics = get(metrics_port, "/metrics")[1].decode()  # the /health request refreshed the gauges
        assert 'hotline_outbox_problem_rows{state="overdue"} 1.0' in metrics
        notified = wait_for(lambda: [r for r in relay.received if r.rcpt_tos == ["support-team@example.org"]])
        assert subject_tag(ticket["number"]) in str(notified[0].message["Subject"])  # the notification did not wait
        failures = wait_for(lambda: len(_events(hotline, ticket["number"], "delivery_deferred")) >= 2 and
                            _events(hotline, ticket["number"], "delivery_deferred"))  # tried again, failed again  # fmt: skip
        assert all(not r.rcpt_tos == ["jan@gmina.example.pl"] for r in relay.received)

        shutil.copy(DEFAULT_DIRECTORY / "ack.pl.txt.j2", templates / "ack.pl.txt.j2")  # the admin fixes it
        (ack,) = wait_for(lambda: [r for r in relay.received if r.rcpt_tos == ["jan@gmina.example.pl"]], timeout=30)
        assert ack.message["In-Reply-To"] == "<owed.1@gmina.example.pl>" and subject_tag(ticket["number"]) in str(ack.message["Subject"])
        wait_for(lambda: get(metrics_port, "/health")[0] == 200)
        assert 'hotline_outbox_problem_rows{state="overdue"} 0.0' in get(metrics_port, "/metrics")[1].decode()
        assert show_ticket(hotline, ticket["number"])["status"] == "acknowledged"
        assert failures[0]["data"]["error"].startswith("rendering failed: UndefinedError")
        assert daemon.terminate() == 0
    finally:
        daemon.close()


def _events(hotline: Hotline, number: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in show_ticket(hotline, number)["events"] if e["kind"] == kind]
