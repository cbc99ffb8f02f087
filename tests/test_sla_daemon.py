"""The daemon's SLA job for real: two `hotline run` processes on one PostgreSQL, each looking
for due stages every half second, and questions whose stages came due before they started
or come due while they run. Each reminder and escalation reaches the shared Maildir exactly
once; /metrics shows the open tickets per severity and the breaches per clock from the store.

The plan runs on a 24x7 calendar, so the stages fall due at whatever hour the test runs.
"""
from __future__ import annotations

import mailbox
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests import mailfactory as mf
from tests.support import DaemonProcess, Hotline, consultants_config, free_port, wait_for, write_config

TICKETS = 4
PLAN = """
[calendars.24x7]
hours = ["00:00", "24:00"]
weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

[sla]
default_plan = "allday"
remind_at = [0.5, 0.8]
escalate_to = ["manager@example.org"]
check_seconds = 0.5

[sla.plans.allday]
calendar = "24x7"
default_severity = 3
[sla.plans.allday.targets]
"1" = { ack = "40h", response = "2h", resolution = "8h" }
"2" = { ack = "40h", response = "2h", resolution = "8h" }
"3" = { ack = "40h", response = "2h", resolution = "8h" }
"4" = { ack = "40h", response = "2h", resolution = "8h" }
"""


def daemon_config(folder: Path, url: str, outbox: Path, metrics_port: int) -> Path:
    folder.mkdir()
    extra = (f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n[daemon]\nsweep_seconds = 0.5\n'
             f"{consultants_config(folder)}{PLAN}")  # fmt: skip
    return write_config(folder / "c.toml", url, extra, outbound=f'[outbound]\ntransport = "maildir"\nmaildir = "{outbox}"\n')


def stages(outbox: Path) -> list[tuple[str, str, str, str]]:
    """(ticket, kind, clock, stage) of every reminder and escalation delivered."""
    if not outbox.exists():
        return []
    box = mailbox.Maildir(outbox, create=False)
    mails = [message_from_bytes(box.get_bytes(k), policy=policy.default) for k in box.keys()]
    return sorted((str(m["X-Hotline-Ticket"]), str(m["X-Hotline-Kind"]), str(m["X-Hotline-Clock"]),
                   str(m["X-Hotline-Stage"])) for m in mails if m["X-Hotline-Clock"])  # fmt: skip


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


@pytest.fixture
def two_daemons(db_url: str, tmp_path: Path) -> Iterator[tuple[Hotline, list[DaemonProcess], Path, int]]:
    outbox, port = tmp_path / "outbox", free_port()
    configs = [daemon_config(tmp_path / "a", db_url, outbox, port), daemon_config(tmp_path / "b", db_url, outbox, free_port())]
    daemons = [DaemonProcess(c, tmp_path) for c in configs]
    try:
        yield Hotline(configs[0]), daemons, outbox, port
    finally:
        for d in daemons:
            d.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_daemons_send_each_reminder_and_escalation_once(
    two_daemons: tuple[Hotline, list[DaemonProcess], Path, int], tmp_path: Path
) -> None:
    """Received 4h minus 20 s ago: the response clock (2h) is breached before the daemons
    start; the resolution clock (8h) reaches 50% about 20 s after, while both run."""
    hotline, daemons, outbox, port = two_daemons
    received = datetime.now(timezone.utc) - timedelta(hours=4) + timedelta(seconds=20)
    numbers = []
    for i in range(TICKETS):
        raw = mf.make_message(subject=f"Pytanie {i}", sender="Jan Kowalski <jan@gmina.example.pl>",
                              message_id=f"<q{i}@gmina.example.pl>")  # fmt: skip
        path = tmp_path / f"q{i}.eml"
        path.write_bytes(raw)
        result = hotline.process("ingest", "--received-at", received.isoformat(), str(path))
        assert result.code == 0, result.err
        numbers.append(result.json_lines()[0]["ticket"])
    for d in daemons:
        d.start()
    expected = sorted([(n, "escalation", "response", "breach") for n in numbers]
                      + [(n, "reminder", "resolution", "0.5") for n in numbers])  # fmt: skip
    wait_for(lambda: len(stages(outbox)) >= len(expected), timeout=60, step=0.5)
    time.sleep(3)  # six more SLA rounds in each daemon: nothing is sent again
    assert stages(outbox) == expected
    breaches = f'hotline_sla_breaches{{clock="response"}} {TICKETS}.0'
    body = wait_for(lambda: next((t for t in [metrics_text(port)] if breaches in t), ""), timeout=15, step=0.5)
    assert f'hotline_open_tickets{{severity="3"}} {TICKETS}.0' in body
    assert 'hotline_open_tickets{severity="1"} 0.0' in body
    assert 'hotline_sla_breaches{clock="resolution"} 0.0' in body
    for d in daemons:
        assert d.terminate() == 0
