"""A 250 is durable against power loss: on SQLite (WAL) the commit that precedes it reaches
the disk (fsync of the WAL), watched with strace on the real daemon's system calls."""
from __future__ import annotations

import re
import shutil
import smtplib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import mailfactory as mf
from tests.support import DaemonProcess, free_port, wait_for, write_config

STRACE = shutil.which("strace")
# a system call as `strace -f -yy` writes it: "1234  fdatasync(7</tmp/x/hotline.db-wal>) = 0"
WAL_SYNC = re.compile(r"\b(?:fsync|fdatasync)\(\d+<[^>]*-wal>\)\s+=\s+0")
QUEUED = re.compile(r'\b(?:write|sendto|sendmsg)\(\d+<TCP(?:v6)?:\[[^]]*\]>,.*"250 2\.0\.0 queued as inbox #(\d+)')


@pytest.fixture
def daemon(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[DaemonProcess, int]]:
    shutil.copy(sqlite_template, tmp_path / "hotline.db")
    port = free_port()
    extra = f'[smtp_server]\nlisten = "127.0.0.1:{port}"\nrecipients = ["hotline@example.org"]\n'
    daemon = DaemonProcess(write_config(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'hotline.db'}", extra), tmp_path)
    try:
        yield daemon.start(), port
    finally:
        daemon.close()


def traced(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """strace attached to every thread of `pid`, once it is attached."""
    assert STRACE is not None, "strace is missing: `make test` installs it (Debian package strace)"
    tracer = subprocess.Popen([str(STRACE), "-f", "-qq", "-yy", "-s", "64", "-o", str(out), "-p", str(pid),
                               "-e", "trace=fsync,fdatasync,write,sendto,sendmsg"])  # fmt: skip
    wait_for(lambda: f"TracerPid:\t{tracer.pid}" in Path(f"/proc/{pid}/status").read_text(), timeout=10)
    return tracer


def test_each_250_follows_an_fsync_of_the_wal(daemon: tuple[DaemonProcess, int], tmp_path: Path) -> None:
    process, port = daemon
    assert process.proc is not None
    trace = tmp_path / "strace.txt"
    tracer = traced(process.proc.pid, trace)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            for n in range(5):
                raw = mf.make_message(subject=f"Pytanie {n}", message_id=f"<durable.{n}@example.pl>")
                client.sendmail("jan@example.pl", ["hotline@example.org"], raw)
    finally:
        tracer.terminate()
        tracer.wait(10)
    synced_since_last_answer, answered = False, []
    for line in trace.read_text(errors="replace").splitlines():
        if WAL_SYNC.search(line):
            synced_since_last_answer = True
        elif match := QUEUED.search(line):
            answered.append((int(match.group(1)), synced_since_last_answer))
            synced_since_last_answer = False
    assert len(answered) == 5, trace.read_text(errors="replace")[-3000:]
    assert all(synced for _, synced in answered), answered
