"""sd_notify against real AF_UNIX datagram sockets, as systemd binds them (a path and an
abstract name); the watchdog interval as systemd hands it over."""
from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateway.service import sdnotify


class Receiver:
    """Plays systemd's side: a bound datagram socket that collects what the daemon sends."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.settimeout(2.0)

    def fields(self) -> list[str]:
        return self.sock.recv(4096).decode("utf-8").split("\n")

    def nothing_waiting(self) -> bool:
        self.sock.setblocking(False)
        try:
            self.sock.recv(4096)
        except BlockingIOError:
            return True
        finally:
            self.sock.settimeout(2.0)
        return False


@pytest.fixture(autouse=True)
def fresh_failure_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """"Logged once" is per process: each test starts as if nothing had failed yet."""
    monkeypatch.setattr(sdnotify, "_failing", False)


@pytest.fixture
def path_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    # A short folder of its own: AF_UNIX paths are limited to 108 bytes.
    with tempfile.TemporaryDirectory(prefix="sdn-") as folder, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        path = Path(folder) / "notify"
        sock.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield Receiver(sock)


@pytest.fixture
def abstract_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    name = f"hotline-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        yield Receiver(sock)


def test_ready_status_stopping_arrive_on_a_path_socket(path_socket: Receiver) -> None:
    assert sdnotify.notify("READY=1", "STATUS=listening on 127.0.0.1:2525") is True
    assert path_socket.fields() == ["READY=1", "STATUS=listening on 127.0.0.1:2525"]
    assert sdnotify.status("3 messages waiting") is True
    assert path_socket.fields() == ["STATUS=3 messages waiting"]
    assert sdnotify.stopping("draining") is True
    assert path_socket.fields() == ["STOPPING=1", "STATUS=draining"]


def test_abstract_socket(abstract_socket: Receiver) -> None:
    assert sdnotify.ready() is True
    assert abstract_socket.fields() == ["READY=1"]
    assert sdnotify.notify("WATCHDOG=1") is True
    assert abstract_socket.fields() == ["WATCHDOG=1"]


def test_reloading_carries_a_monotonic_timestamp(path_socket: Receiver) -> None:
    assert sdnotify.reloading() is True
    first, second = path_socket.fields()
    assert first == "RELOADING=1"
    name, _, usec = second.partition("=")
    assert name == "MONOTONIC_USEC" and usec.isdigit() and int(usec) > 0


def test_a_newline_in_a_status_cannot_inject_a_field(path_socket: Receiver) -> None:
    sdnotify.status("line one\nREADY=1")
    assert path_socket.fields() == ["STATUS=line one READY=1"]


def test_without_notify_socket_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", "")
    assert sdnotify.ready("up") is False


def test_a_dead_socket_is_logged_once_and_never_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    with capture_logs() as logs:
        assert sdnotify.notify("READY=1") is False
        assert sdnotify.notify("WATCHDOG=1") is False
        assert sdnotify.notify("STOPPING=1") is False
    assert [entry["event"] for entry in logs] == ["cannot notify systemd"]
    assert "FileNotFoundError" in logs[0]["error"]


def test_logging_resumes_after_the_socket_recovered(monkeypatch: pytest.MonkeyPatch, path_socket: Receiver) -> None:
    good = os.environ["NOTIFY_SOCKET"]
    monkeypatch.setenv("NOTIFY_SOCKET", good + "-missing")
    with capture_logs() as logs:
        sdnotify.notify("WATCHDOG=1")
        monkeypatch.setenv("NOTIFY_SOCKET", good)
        assert sdnotify.notify("WATCHDOG=1") is True
        monkeypatch.setenv("NOTIFY_SOCKET", good + "-missing")
        sdnotify.notify("WATCHDOG=1")
    assert len(logs) == 2


def test_an_unsupported_address_is_refused_without_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert sdnotify.notify("READY=1") is False


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("30000000", None, 30.0),
        ("30000000", "self", 30.0),
        ("500000", None, 0.5),
        ("30000000", "1", None),  # set for another process (we inherited it): not ours
        ("0", None, None),
        ("-5", None, None),
        ("soon", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None, expected: float | None) -> None:
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", str(os.getpid()) if pid == "self" else pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert sdnotify.watchdog_interval() == expected


def test_watchdog_pings_at_half_the_interval(path_socket: Receiver) -> None:
    now = [100.0]
    dog = sdnotify.Watchdog(10.0, clock=lambda: now[0])
    assert dog.enabled and dog.period == 5.0
    assert dog.ping() is True
    assert path_socket.fields() == ["WATCHDOG=1"]
    now[0] += 4.9
    assert dog.ping() is False
    assert path_socket.nothing_waiting()
    now[0] += 0.1
    assert dog.ping() is True
    assert path_socket.fields() == ["WATCHDOG=1"]


def test_watchdog_from_env_without_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    dog = sdnotify.Watchdog.from_env()
    assert not dog.enabled and dog.period is None and dog.ping() is False
