"""The daemon while it is busy, as systemd sees it: WATCHDOG=1 keeps coming while a long
fax backlog is OCR'd (busy is not hung); SIGTERM in the middle of that backlog, and in
the middle of a 1,000-message sweep, ends the process with 0 within `grace_seconds`;
nothing is lost (a restart routes what was left, each message once); and every line the
daemon wrote is JSON, libraries' included."""
from __future__ import annotations

import json
import signal
import smtplib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import formfactory as ff
from tests import mailfactory as mf
from tests.support import DaemonProcess, Hotline, daemon_config, free_port, show_ticket, store_backlog, wait_for

WATCHDOG_SECONDS = 4.0
GRACE_SECONDS = 5.0
OBSERVE_SECONDS = 36.0  # longer than the 30 s without a finished sweep after which pings used to stop
FEED_EVERY = 2.0  # one fax of PAGES pages every FEED_EVERY seconds: more than one worker reads
PAGES = 6
FIELDS = ff.FormFields(
    date="21.11.2026", reference="OR.0123.45.2026", user_name="Małgorzata Żółkiewska",
    office="Urząd Gminy Łódź-Widzew", contacts="fax 22 123 45 68",
    question="Jak wygenerować sprawozdanie kwartalne?\nSystem zgłasza błąd przy eksporcie do PDF.",
)  # fmt: skip


def stop_timed(daemon: DaemonProcess) -> tuple[int, float]:
    """SIGTERM; the exit code and how long the stop took."""
    assert daemon.proc is not None
    began = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    code = daemon.proc.wait(timeout=GRACE_SECONDS + 30)
    return code, time.monotonic() - began


def not_json(daemon: DaemonProcess) -> list[str]:
    bad = []
    for line in daemon.log_lines():
        try:
            json.loads(line)
        except ValueError:
            bad.append(line)
    return bad


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.close()


def fax(number: int, page: bytes) -> bytes:
    return mf.make_message(
        subject=f"Fax {number}", sender="jan@example.pl", to="fax@example.org", body="",
        attachments=[(f"fax{number}.tif", "image/tiff", page)], message_id=f"<busy.{number}@example.pl>",
    )  # fmt: skip


def send(port: int, messages: list[bytes], to: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        for raw in messages:
            client.sendmail("jan@example.pl", [to], raw)


def test_a_long_ocr_backlog_keeps_the_watchdog_fed_and_sigterm_stops_it_in_time(
    tmp_path: Path, sqlite_url: str, daemons: list[DaemonProcess]
) -> None:
    port = free_port()
    config = daemon_config(tmp_path, sqlite_url, port, workers=1, grace=GRACE_SECONDS)
    daemon = DaemonProcess(config, tmp_path, env={"WATCHDOG_USEC": str(int(WATCHDOG_SECONDS * 1e6))})
    daemons.append(daemon.start())
    tiff = ff.to_g4_tiff([ff.render_form(FIELDS)] * PAGES)
    sent: list[int] = []
    stop_feeding = threading.Event()

    def feed() -> None:  # faster than one worker reads them: the backlog only grows
        while not stop_feeding.is_set():
            send(port, [fax(len(sent), tiff)], "fax@example.org")
            sent.append(len(sent))
            stop_feeding.wait(FEED_EVERY)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        began = time.monotonic()
        datagrams = daemon.datagrams(OBSERVE_SECONDS)
    finally:
        stop_feeding.set()
        feeder.join()
    pings = [began] + [at for at, text in datagrams if "WATCHDOG=1" in text.splitlines()] + [time.monotonic()]
    gaps = [round(b - a, 1) for a, b in zip(pings, pings[1:])]
    assert max(gaps) < 0.75 * WATCHDOG_SECONDS, gaps

    hotline = Hotline(config)
    send(port, [fax(n, tiff) for n in range(len(sent), len(sent) + 3)], "fax@example.org")  # a batch to be in
    total = len(sent) + 3
    time.sleep(1.0)
    routed = len(hotline.json("tickets", "list", "--json"))
    assert routed < total, "the stop must land while pages are being read"
    code, took = stop_timed(daemon)
    assert code == 0 and took < GRACE_SECONDS + 1.0, (code, took, daemon.log())
    assert not_json(daemon) == []

    again = DaemonProcess(daemon_config(tmp_path, sqlite_url, port, workers=2, grace=GRACE_SECONDS), tmp_path)
    daemons.append(again.start())
    tickets = wait_for(lambda: (t := hotline.json("tickets", "list", "--json")) and len(t) >= total and t, 240)
    faxes = [show_ticket(hotline, t["number"])["messages"][0]["subject"] for t in tickets]
    assert sorted(faxes) == sorted(f"Fax {n}" for n in range(total))  # each once
    assert {t["channel"] for t in tickets} == {"fax"}
    assert again.terminate() == 0
    assert not_json(again) == []


def test_sigterm_in_the_middle_of_a_thousand_message_sweep(
    tmp_path: Path, db_url: str, daemons: list[DaemonProcess]
) -> None:
    messages = [mf.make_message(subject=f"Pytanie {n}", sender=f"user{n}@example.pl", message_id=f"<many.{n}@example.pl>")
                for n in range(1000)]  # fmt: skip
    store_backlog(db_url, messages)
    config = daemon_config(tmp_path, db_url, free_port(), workers=2, grace=GRACE_SECONDS)
    limits = "acks_per_domain_per_hour = 1000\nacks_per_hour = 1000\n"  # one domain's thousand, each acknowledged
    config.write_text(config.read_text().replace("[outbound]\n", f"[outbound]\n{limits}"))
    daemon = DaemonProcess(config, tmp_path)
    daemons.append(daemon.start())
    code, took = stop_timed(daemon)  # at once: the sweep starts with the scheduler, before READY
    hotline = Hotline(config)
    assert len(hotline.json("tickets", "list", "--json")) < 1000, "the stop must land while the sweep routes"
    assert code == 0 and took < GRACE_SECONDS + 1.0, (code, took, daemon.log())
    assert not_json(daemon) == []

    again = DaemonProcess(config, tmp_path)
    daemons.append(again.start())
    tickets = wait_for(lambda: (t := hotline.json("tickets", "list", "--json")) and len(t) >= 1000 and t, 120)
    assert sorted(t["subject"] for t in tickets) == sorted(f"Pytanie {n}" for n in range(1000))  # each once
    wait_for(lambda: hotline.json("outbox", "--json") == [], 120)  # everything due was sent
    assert again.terminate() == 0
    acks = [row for row in hotline.json("outbox", "--all", "--json") if row["kind"] == "ack"]
    assert len(acks) == len({row["ticket"] for row in acks}) == 1000  # each acknowledged, once
    assert {row["state"] for row in acks} == {"sent"}


def test_every_line_is_json_libraries_included(tmp_path: Path, sqlite_url: str, daemons: list[DaemonProcess]) -> None:
    """At debug level the libraries speak too (APScheduler, aiosmtpd): through structlog."""
    port = free_port()
    config = daemon_config(tmp_path, sqlite_url, port, workers=1, grace=GRACE_SECONDS)
    config.write_text(config.read_text().replace('level = "warning"', 'level = "debug"'))
    daemon = DaemonProcess(config, tmp_path)
    daemons.append(daemon.start())
    send(port, [mf.make_message(subject="Logi")], "hotline@example.org")
    wait_for(lambda: Hotline(config).json("tickets", "list", "--json"))
    assert stop_timed(daemon)[0] == 0
    assert not_json(daemon) == []
    loggers = {json.loads(line).get("logger", "") for line in daemon.log_lines()}
    assert {"apscheduler.scheduler", "mail.log"} <= loggers, loggers
