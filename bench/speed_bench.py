"""Speed bench (issue 16): in one run, on SQLite and on PostgreSQL,

- `hotline ingest` of the ingest bench's corpus with acknowledgements, notifications and
  the signed reply log on: messages a second and the command's peak RSS;
- the daemon's SMTP listener (the sweep routing meanwhile) against a bare aiosmtpd sink
  started here, the same senders, one connection per message: messages a second, p50
  and p99 of the time from connecting to the 250, and the ratio.

Run as `.venv/bin/python bench/speed_bench.py` (what `make bench` does). The IDLE
delivery-to-ticket latency is not measured yet.
"""
from __future__ import annotations

import argparse
import os
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import ingest_bench  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from tests.support import DaemonProcess, free_port, postgres_cluster  # noqa: E402

SENDERS = 20


def write_config(folder: Path, url: str, smtp_port: int | None = None) -> Path:
    """Acknowledgements, notifications to a team, the signed reply log; outgoing mail to a Maildir."""
    (folder / "token-secret").write_text("bench-only-secret-of-32-characters\n")
    key = folder / "register-key"
    if not key.exists():
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True, capture_output=True)
    listener = (f'[smtp_server]\nlisten = "127.0.0.1:{smtp_port}"\nrecipients = ["hotline@example.org"]\n'
                f"max_connections_per_peer = {SENDERS * 2}\n[daemon]\nsweep_seconds = 0.5\n") if smtp_port else ""  # fmt: skip
    cfg = folder / "speed.toml"
    cfg.write_text(
        f'[storage]\nurl = "{url}"\n'
        f'[outbound]\ntransport = "maildir"\nmaildir = "{folder / "outbox"}"\nfrom = "Hot-line <hotline@example.org>"\n'
        f'[consultants]\naddresses = ["anna@example.org"]\nnotify = ["support-team@example.org"]\n'
        f'token_secret_file = "{folder / "token-secret"}"\n'
        f'[register]\nlog = "{folder / "replylog.jsonl"}"\nkey_file = "{key}"\n'
        f'[logging]\nlevel = "warning"\n{listener}',
        encoding="utf-8",
    )
    upgraded = subprocess.run([ingest_bench.hotline_exe(), "--config", str(cfg), "db", "upgrade"], capture_output=True, text=True)
    if upgraded.returncode != 0:
        raise SystemExit(f"db upgrade failed: {upgraded.stderr.strip()}")
    return cfg


def timed(cmd: list[str], stdout: Path) -> tuple[float, int, int]:
    """Seconds, exit status and peak RSS (KiB, the largest process among it and its workers)."""
    with stdout.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=ingest_bench.child_env())
        _, status, usage = os.wait4(proc.pid, 0)
        return time.perf_counter() - start, os.waitstatus_to_exitcode(status), usage.ru_maxrss


def ingest_figures(folder: Path, url: str, mbox: Path, count: int) -> str:
    cfg = write_config(folder, url)
    seconds, code, rss = timed([ingest_bench.hotline_exe(), "--config", str(cfg), "ingest", str(mbox)], folder / "ingest.jsonl")
    lines = len((folder / "ingest.jsonl").read_text().splitlines())
    if code != 0 or lines != count:
        return f"ingest FAILED (exit {code}, {lines} lines of {count})"
    return f"ingest: {count / seconds:.0f} msg/s ({count} in {seconds:.1f} s), peak RSS {rss / 1024:.0f} MiB"


def message(n: int) -> bytes:
    return (f"From: Jan Kowalski <jan{n % 300}@gmina{n % 40}.example.pl>\r\nTo: hotline@example.org\r\n"
            f"Subject: Pytanie {n}\r\nMessage-ID: <speed-{n}-{time.time_ns()}@gmina.example.pl>\r\n"
            f"Date: Mon, 02 Mar 2026 10:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Dzień dobry,\r\nnie działa wydruk numer {n}.\r\nPozdrawiam\r\n").encode()  # fmt: skip


def load(port: int, count: int) -> tuple[float, list[float], int]:
    """`count` messages from SENDERS threads, one connection each: seconds, latencies, failures."""
    latencies: list[float] = []
    failures = [0]
    todo = iter(range(count))
    lock = threading.Lock()

    def sender() -> None:
        while True:
            with lock:
                n = next(todo, None)
            if n is None:
                return
            start = time.perf_counter()
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                    client.sendmail(f"jan{n}@gmina.example.pl", ["hotline@example.org"], message(n))
                with lock:
                    latencies.append(time.perf_counter() - start)
            except (smtplib.SMTPException, OSError):
                with lock:
                    failures[0] += 1

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies, failures[0]


def summary(label: str, seconds: float, latencies: list[float], failures: int) -> tuple[float, str]:
    rate = len(latencies) / seconds
    p50, p99 = (statistics.quantiles(latencies, n=100)[i] for i in (49, 98))
    return rate, f"{label}: {rate:.0f} msg/s, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, {failures} failed"


class Sink:
    """A bare aiosmtpd server: takes the message, keeps it in memory, says 250."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def sink_figures(count: int) -> tuple[float, str]:
    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        return summary("bare aiosmtpd sink", *load(port, count))
    finally:
        controller.stop()


def listener_figures(folder: Path, url: str, count: int) -> tuple[float, str]:
    port = free_port()
    daemon = DaemonProcess(write_config(folder, url, port), folder)
    try:
        daemon.start(timeout=60)
        return summary("hotline listener", *load(port, count))
    finally:
        daemon.terminate()
        daemon.close()


@contextmanager
def stores(folder: Path) -> Iterator[list[tuple[str, Callable[[str], str]]]]:
    """(name, url for a fresh database named so) for SQLite and a throw-away PostgreSQL."""
    with postgres_cluster() as port:
        def pg(name: str) -> str:
            import psycopg

            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{name}"

        yield [("sqlite", lambda name: f"sqlite:///{folder / name}.db"), ("postgresql", pg)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Ingest and SMTP listener speed, SQLite and PostgreSQL.")
    ap.add_argument("--count", type=int, default=2000, help="messages ingested (default 2000)")
    ap.add_argument("--smtp-count", type=int, default=1000, help="messages sent to each SMTP server (default 1000)")
    args = ap.parse_args(argv)
    mbox, _ = ingest_bench.prepare(argparse.Namespace(seed=2026, count=args.count, out=REPO / "bench" / "out" / "speed",
                                                      regenerate=False))  # fmt: skip
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min), {os.cpu_count()} CPUs")
    sink_rate, sink_line = sink_figures(args.smtp_count)
    print(sink_line)
    with tempfile.TemporaryDirectory(prefix="hotline-speed-") as tmp, stores(Path(tmp)) as backends:
        for name, url in backends:
            folder = Path(tmp) / name
            folder.mkdir()
            print(f"[{name}]")
            (folder / "ingest").mkdir()
            print("  " + ingest_figures(folder / "ingest", url("ingest"), mbox, args.count))
            (folder / "smtp").mkdir()
            rate, line = listener_figures(folder / "smtp", url("smtp"), args.smtp_count)
            print(f"  {line}; {rate / sink_rate:.2f}x the sink")
    return 0


if __name__ == "__main__":
    sys.exit(main())
