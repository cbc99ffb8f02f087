"""Hostile-set benchmark: the peak memory of `hotline ingest` over mail that once made it
explode (tests/hostile.py): a 2 MB HTML table, a 25 MB Polish text, a fax page drawn as 30
strips of 40 Mpx each, an 8000 x 8000 inline image. Each is ingested alone (its own peak),
then all of them in one run (the peak of the whole set), then the real daemon routes them
all from a stored backlog (the peak of its largest process, VmHWM).

Run as `.venv/bin/python bench/hostile_bench.py` (`make bench` does). Peak RSS is that of
the largest single process of the command (RUSAGE_CHILDREN of a fresh parent), workers
included. Exit 1 when a message is not a ticket or a peak is over its bound.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import hostile  # noqa: E402  (after the path is set)
from tests.support import HOTLINE, consultants_config, store_backlog, write_config  # noqa: E402

GATEWAY = "faxserver@example.org"
# name -> (mail, bound on the peak in MiB: the "what it must show")
HOSTILE: dict[str, tuple[Callable[[], bytes], int]] = {
    "html-table-2MB": (hostile.html_table_mail, 600),
    "text-25MB": (hostile.big_text_mail, 600),
    "fax-strips-1.2Gpx": (lambda: hostile.fax_mail(hostile.strips_pdf(), GATEWAY), 800),
    "fax-inline-64Mpx": (lambda: hostile.fax_mail(hostile.inline_image_pdf(), GATEWAY, "<inline.1@example.org>"), 800),
}


def setup(out: Path) -> Path:
    """A fresh SQLite store with consultants told of each ticket (the notification once
    cleaned the whole question) and a fax gateway."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    config = write_config(out / "bench.toml", f"sqlite:///{out / 'bench.db'}",
                          consultants_config(out, f'[fax]\ngateway_senders = ["{GATEWAY}"]\n'))  # fmt: skip
    subprocess.run([str(HOTLINE), "--config", str(config), "db", "upgrade"], check=True, capture_output=True)
    return config


def ingest(config: Path, path: Path, timeout: float) -> tuple[list[dict], int, float]:
    start = time.monotonic()
    proc, peak = hostile.run_measured([str(HOTLINE), "--config", str(config), "ingest", str(path)], timeout)
    if proc.returncode != 0:
        raise SystemExit(f"hotline ingest {path} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()], peak, time.monotonic() - start


def descendants(pid: int) -> list[int]:
    """The process and its children, grandchildren...: the daemon and its workers."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            queue += [int(child) for child in task.read_text().split()]
    return found


def high_water(pid: int) -> int:
    """VmHWM (peak resident set) of one process in MiB; 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) // 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def daemon_over(config: Path, mails: list[bytes], timeout: float) -> tuple[int, float]:
    """The real daemon meets the hostile set as a stored backlog (as the SMTP listener
    stores mail): the peak of its largest process until all is routed, and the time."""
    url = f"sqlite:///{config.parent / 'bench.db'}"
    store_backlog(url, mails)
    start, peaks = time.monotonic(), {}
    daemon = subprocess.Popen([str(HOTLINE), "--config", str(config), "run"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        while time.monotonic() - start < timeout:
            for pid in descendants(daemon.pid):
                peaks[pid] = max(peaks.get(pid, 0), high_water(pid))
            with sqlite3.connect(config.parent / "bench.db") as conn:
                if not conn.execute("SELECT count(*) FROM inbox WHERE state = 'new'").fetchone()[0]:
                    break
            time.sleep(0.2)
    finally:
        daemon.terminate()
        daemon.wait(60)
    return max(peaks.values(), default=0), time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "hostile", help="output folder")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per ingest")
    args = parser.parse_args()
    mail = args.out / "mail"
    config = setup(args.out / "alone")
    shutil.rmtree(mail, ignore_errors=True)
    mail.mkdir(parents=True)
    failed = False
    print(f"{'message':20} {'MB':>6} {'peak MiB':>9} {'bound':>6} {'seconds':>8}  action")
    for name, (make, bound) in HOSTILE.items():
        path = mail / f"{name}.eml"
        path.write_bytes(make())
        (line,), peak, seconds = ingest(config, path, args.timeout)
        bad = peak > bound or line["action"] != "created"
        failed |= bad
        print(f"{name:20} {path.stat().st_size / 1e6:6.1f} {peak:9} {bound:6} {seconds:8.1f}  {line['action']}"
              f"{'  <- over' if bad else ''}")  # fmt: skip
    lines, peak, seconds = ingest(setup(args.out / "together"), mail, args.timeout)
    total_mb = sum(p.stat().st_size for p in mail.iterdir()) / 1e6
    bound = max(b for _, b in HOSTILE.values())
    print(f"{'all in one run':20} {total_mb:6.1f} {peak:9} {bound:6} {seconds:8.1f}  {sorted(line['action'] for line in lines)}")
    peak, seconds = daemon_over(setup(args.out / "daemon"), [p.read_bytes() for p in sorted(mail.iterdir())], args.timeout)
    failed |= peak > bound
    print(f"{'daemon, all stored':20} {total_mb:6.1f} {peak:9} {bound:6} {seconds:8.1f}  routed by the sweep")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
