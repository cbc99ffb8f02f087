"""systemd's readiness and watchdog protocol (sd_notify), without a C library or a dependency.

The unit runs the daemon as `Type=notify` with `WatchdogSec=`: systemd considers it started
only once it says `READY=1`, shows its `STATUS=` line in `systemctl status`, and restarts
it when the `WATCHDOG=1` pings stop. Outside systemd (`make run`, tests, a terminal) there is
no `$NOTIFY_SOCKET` and every call here is a cheap no-op.

A notify socket that has gone away, or whose reader has fallen behind (its queue holds
only `net.unix.max_dgram_qlen` datagrams, 10 by default), must never stop the daemon: sends
do not block, and their errors are logged once and swallowed.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger("hotline.sdnotify")

_lock = threading.Lock()
_failing = False  # True after a failed send has been logged, until a send succeeds again


def notify(*fields: str) -> bool:
    """Send `FIELD=value` lines (e.g. "READY=1", "STATUS=...") to systemd in one datagram.

    Returns True when the datagram was sent; False when not running under a notify socket
    or when sending failed (logged once, never raised). Newlines inside a field are turned
    into spaces so a multi-line status cannot inject another field.
    """
    address = _socket_address()
    if address is None or not fields:
        return False
    payload = "\n".join(field.replace("\n", " ") for field in fields).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK) as sock:
            sock.sendto(payload, address)
    except OSError as exc:
        _report_failure(f"{type(exc).__name__}: {exc}")
        return False
    _report_success()
    return True


def ready(status: str | None = None) -> bool:
    """The daemon is up (store open, listeners bound): `systemctl start` returns now."""
    return notify("READY=1", *_status(status))


def stopping(status: str | None = None) -> bool:
    """Shutdown has begun: systemd shows "deactivating" instead of suspecting a hang."""
    return notify("STOPPING=1", *_status(status))


def reloading(status: str | None = None) -> bool:
    """A reload (SIGHUP) has begun; send `ready()` when it is done.

    MONOTONIC_USEC is included because systemd requires it with RELOADING=1 for
    `Type=notify-reload` units, and it does no harm for `Type=notify`.
    """
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify("RELOADING=1", f"MONOTONIC_USEC={usec}", *_status(status))


def status(text: str) -> bool:
    """A one-line state for `systemctl status` (e.g. how many messages wait)."""
    return notify(f"STATUS={text}")


def watchdog_interval() -> float | None:
    """The watchdog timeout in seconds from `$WATCHDOG_USEC`, or None when no watchdog is
    set for this process (unset, invalid, zero, or `$WATCHDOG_PID` names another process,
    e.g. the variables were inherited by a child). Ping at half this interval."""
    usec = os.environ.get("WATCHDOG_USEC", "").strip()
    if not usec.isdigit() or int(usec) <= 0:
        return None
    pid = os.environ.get("WATCHDOG_PID", "").strip()
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1_000_000


class Watchdog:
    """Rate-limited `WATCHDOG=1`: call `ping()` as often as you like from the loop whose
    progress proves the daemon is alive; a datagram goes out at most every half interval.

    Ping from the working loop itself, never from a timer thread of its own: a thread that
    pings regardless would keep a hung daemon alive, which defeats the watchdog.
    """

    def __init__(self, interval: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: float | None = None

    @classmethod
    def from_env(cls) -> Watchdog:
        return cls(watchdog_interval())

    @property
    def enabled(self) -> bool:
        return self.interval is not None

    @property
    def period(self) -> float | None:
        """Seconds between pings (half the timeout), or None without a watchdog: a loop may
        use it as an upper bound for how long it sleeps."""
        return None if self.interval is None else self.interval / 2

    def ping(self) -> bool:
        """Send WATCHDOG=1 if half the interval has passed since the last one; True if sent."""
        if self.interval is None:
            return False
        now = self._clock()
        if self._last is not None and now - self._last < self.interval / 2:
            return False
        self._last = now
        return notify("WATCHDOG=1")


def _socket_address() -> str | None:
    """The socket from `$NOTIFY_SOCKET`: a path, or `@name` for the abstract namespace."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return None
    if address.startswith("@"):
        return "\0" + address[1:]
    if address.startswith("/"):
        return address
    _report_failure(f"unsupported NOTIFY_SOCKET {address!r} (only paths and @abstract names)")
    return None


def _status(text: str | None) -> tuple[str, ...]:
    return () if text is None else (f"STATUS={text}",)


def _report_failure(error: str) -> None:
    """Log the first failure of a run of failures: the watchdog pings every few seconds and
    must not flood the journal."""
    global _failing
    with _lock:
        first, _failing = not _failing, True
    if first:
        log.warning("cannot notify systemd", error=error, socket=os.environ.get("NOTIFY_SOCKET"))


def _report_success() -> None:
    global _failing
    with _lock:
        _failing = False
