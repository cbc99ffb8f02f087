"""The real daemon's SMTP listener under a flood of idle connections: capped in total and
per peer (421 4.7.0 and closed), idle ones dropped, and what it refuses logged once in a
while with a count, not once per try (1,100 idle connections once made 108,704 lines)."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import DaemonProcess, free_port, wait_for, write_config


def start_daemon(tmp_path: Path, template: Path, smtp: str) -> tuple[DaemonProcess, int]:
    shutil.copy(template, tmp_path / "hotline.db")
    port = free_port()
    extra = f'[smtp_server]\nlisten = "127.0.0.1:{port}"\nrecipients = ["hotline@example.org"]\n{smtp}'
    return DaemonProcess(write_config(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'hotline.db'}", extra), tmp_path), port


@pytest.fixture
def capped(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[DaemonProcess, int]]:
    daemon, port = start_daemon(tmp_path, sqlite_template, "max_connections = 6\nmax_connections_per_peer = 4\nidle_seconds = 2\n")
    try:
        yield daemon.start(), port
    finally:
        daemon.close()


def connect(port: int, source: str = "127.0.0.1") -> tuple[socket.socket, bytes]:
    """A connection from `source` (any 127.x address is loopback) and the greeting it got."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    return sock, sock.recv(200)


def warnings(daemon: DaemonProcess, prefix: str) -> list[dict]:
    lines = [json.loads(line) for line in daemon.log_lines() if line.startswith("{")]
    return [line for line in lines if line.get("event", "").startswith(prefix)]


def test_connections_are_capped_in_total_and_per_peer(capped: tuple[DaemonProcess, int]) -> None:
    daemon, port = capped
    held = [connect(port) for _ in range(4)]
    assert all(greeting.startswith(b"220 ") for _, greeting in held)
    sock, greeting = connect(port)
    assert greeting.startswith(b"421 4.7.0 too many connections")
    assert sock.recv(200) == b""  # and closed
    held += [connect(port, "127.0.0.2") for _ in range(2)]  # another peer, up to the total
    assert all(greeting.startswith(b"220 ") for _, greeting in held[4:])
    assert connect(port, "127.0.0.3")[1].startswith(b"421 4.7.0 too many connections")
    held.pop(0)[0].close()  # a place is free again
    wait_for(lambda: connect(port, "127.0.0.3")[1].startswith(b"220 "), timeout=5)
    refused = warnings(daemon, "SMTP connections refused: too many")
    assert 1 <= len(refused) <= 2 and refused[0]["times"] == 1, refused


def test_an_idle_connection_is_closed(capped: tuple[DaemonProcess, int]) -> None:
    _, port = capped
    sock, greeting = connect(port)
    assert greeting.startswith(b"220 ")
    start = time.monotonic()
    sock.settimeout(10)
    while sock.recv(200):  # the timeout notice, then the end of the stream
        pass
    assert time.monotonic() - start < 6


def test_out_of_file_descriptors_is_logged_once_in_a_while(tmp_path: Path, sqlite_template: Path) -> None:
    """The daemon with 64 file descriptors and a cap above them: accept() fails with EMFILE
    on every try of the event loop; the log says so with a count, not on every try."""
    daemon, port = start_daemon(tmp_path, sqlite_template, "max_connections = 1000\nmax_connections_per_peer = 1000\n")
    try:
        daemon.start()
        assert daemon.proc is not None
        subprocess.run(["prlimit", "--pid", str(daemon.proc.pid), "--nofile=64:64"], check=True, timeout=10)
        held = []
        for _ in range(100):
            sock = socket.socket()
            sock.settimeout(2)
            sock.connect(("127.0.0.1", port))  # the kernel's backlog takes it even when the daemon cannot
            held.append(sock)
        time.sleep(3)
        assert len(daemon.log_lines()) < 50, daemon.log_lines()[-5:]
        assert warnings(daemon, "SMTP listener cannot accept: out of file descriptors")
    finally:
        daemon.close()
