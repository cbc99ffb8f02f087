"""Helpers shared by the tests: the `hotline` command run in-process or as a real process."""
from __future__ import annotations

import contextlib
import io
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import holidays

from gateway import cli
from gateway.intake import inbox
from storage.db import open_store, transaction

REPO = Path(__file__).resolve().parent.parent
HOTLINE = Path(sys.executable).parent / "hotline"


def make_tls_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (EC keys: much faster to make
    than RSA); it is its own CA, so a client trusts it with `tls_ca_file`."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def pg_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    assert found, "PostgreSQL server is not installed: `make test` installs the postgresql package"
    return found[-1].parent


@dataclass(frozen=True)
class PgCluster:
    """A running throw-away cluster: its port, and `pg_ctl` to stop and start it."""

    port: int
    pg_ctl: Callable[..., Any]

    def stop(self) -> None:
        """A fast shutdown: sessions get "terminating connection due to administrator command"."""
        self.pg_ctl("-m", "fast", "stop")

    def start(self) -> None:
        self.pg_ctl("start")


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PgCluster]:
    """A throw-away PostgreSQL on loopback; postgres refuses to run as root, so it runs as the
    postgres user (in its own folder: pytest's temporary folders are private to root). The
    tests' pg_server and bench/sla_bench.py start theirs here."""
    bindir, root = pg_bindir(), Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    data, port = root / "data", free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off"
    pg_ctl = lambda *args: run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", *args)  # noqa: E731
    pg_ctl("start")
    try:
        yield PgCluster(port, pg_ctl)
    finally:
        pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, step: float = 0.1) -> Any:
    """Poll until `predicate` returns something true, and return it; bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(step)
    raise AssertionError(f"not within {timeout}s")


def a_coming_friday() -> date:
    """A Friday at least a week ahead whose Monday and Tuesday are working days in Poland:
    a question "received" then still has its acknowledgement ahead of it (one received
    long ago is an import, and gets none), and its deadlines are plain to compute."""
    public = holidays.country_holidays("PL", years=range(date.today().year, date.today().year + 2))
    day = date.today() + timedelta(days=7)
    while day.weekday() != 4 or day + timedelta(days=3) in public or day + timedelta(days=4) in public:
        day += timedelta(days=1)
    return day


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


class Hotline:
    """Runs `hotline` against one test's config: in-process by default, or as a real process."""

    def __init__(self, config: Path) -> None:
        self.config = config

    def __call__(self, *args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(["--config", str(self.config), *args])
            except SystemExit as exc:  # argparse usage errors
                code = int(exc.code or 0)
        return Result(code, out.getvalue(), err.getvalue())

    def process(self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> Result:
        proc = subprocess.run(
            [str(HOTLINE), "--config", str(self.config), *args],
            input=stdin,
            capture_output=True,
            timeout=120,
            env={**os.environ, **(env or {})},
        )
        return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    def json(self, *args: str) -> list[dict[str, Any]]:
        result = self(*args)
        assert result.code == 0, result.err
        return result.json_lines()


def ingest_raw(hotline: Hotline, folder: Path, raw: bytes, *args: str) -> dict[str, Any]:
    """One message through `hotline ingest` (from a file, as an admin would): its JSON line."""
    path = folder / "in.eml"
    path.write_bytes(raw)
    (line,) = hotline.json("ingest", *args, str(path))
    return line


def show_ticket(hotline: Hotline, number: str) -> dict[str, Any]:
    """`hotline tickets show NUMBER --json`."""
    (data,) = hotline.json("tickets", "show", number, "--json")
    return data


def write_config(path: Path, url: str, extra: str = "", outbound: str | None = None) -> Path:
    """A test's config: its store, outgoing mail into a Maildir beside it (or `outbound`,
    a whole [outbound] section), JSON logs, and `extra` sections."""
    outbound = outbound or f'[outbound]\ntransport = "maildir"\nmaildir = "{path.parent / "outbox"}"\n'
    path.write_text(
        f"""
[storage]
url = "{url}"

{outbound}

[logging]
format = "json"
level = "warning"
{extra}
""",
        encoding="utf-8",
    )
    return path


def consultants_config(folder: Path, extra: str = "") -> str:
    """A [consultants] section (anna@example.org answers, support-team@example.org is told)
    with its reply-token secret in a file beside the test's config."""
    secret = folder / "token-secret"
    secret.write_text("a-test-secret-of-32-characters!!\n")
    return ('[consultants]\naddresses = ["anna@example.org"]\nnotify = ["support-team@example.org"]\n'
            f'token_secret_file = "{secret}"\n{extra}')  # fmt: skip


def daemon_config(folder: Path, url: str, smtp_port: int, workers: int, grace: float = 5.0) -> Path:
    """A daemon's config: the SMTP listener (fax@example.org is the fax channel), a quick
    sweep, `workers` parse/OCR processes, consultants to notify."""
    extra = (
        f'[smtp_server]\nlisten = "127.0.0.1:{smtp_port}"\nrecipients = ["hotline@example.org", "fax@example.org"]\n'
        'channel_by_recipient = { "fax@example.org" = "fax" }\n'
        f"[daemon]\nsweep_seconds = 0.5\ngrace_seconds = {grace}\nworkers = {workers}\n"
        f"{consultants_config(folder)}"
    )
    return write_config(folder / "c.toml", url, extra)


def store_backlog(url: str, raws: list[bytes], channel: str | None = None) -> None:
    """Stored as the SMTP listener stores mail, all at once: the daemon meets a backlog."""
    factory = open_store(url)
    now = datetime.now(timezone.utc)
    with transaction(factory) as session:
        inbox.accept_many(session, [inbox.Delivery(raw, "smtp", channel, now) for raw in raws])
    factory.kw["bind"].dispose()


class DaemonProcess:
    """`hotline run` as a real process, told apart from the test by its own notify socket:
    the test waits for READY=1 exactly as systemd would."""

    def __init__(self, config: Path, tmp: Path, env: dict[str, str] | None = None) -> None:
        name = uuid.uuid4().hex[:8]
        self.config, self.log_path, self.env = config, tmp / f"daemon-{name}.log", env or {}
        self.notify_path = tmp / f"notify-{name}.sock"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> "DaemonProcess":
        self.spawn()
        self.wait_for("READY=1", timeout)
        return self

    def spawn(self) -> None:
        """Start without waiting for READY=1 (a test may kill it mid-start)."""
        env = {**os.environ, **self.env, "NOTIFY_SOCKET": str(self.notify_path)}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([str(HOTLINE), "--config", str(self.config), "run"],
                                         stdout=log, stderr=subprocess.STDOUT, env=env)  # fmt: skip

    def wait_for(self, field: str, timeout: float) -> list[str]:
        """Datagrams until one carries `field`; fails with the daemon's log if it never comes."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log()}")
            self.notify.settimeout(0.2)
            try:
                seen.append(self.notify.recv(4096).decode())
            except OSError:
                continue
            if field in seen[-1].splitlines():
                return seen
        raise AssertionError(f"no {field} within {timeout}s; got {seen}\n{self.log()}")

    def datagrams(self, seconds: float) -> list[tuple[float, str]]:
        """Every datagram for `seconds`, with its monotonic arrival time (watchdog tests)."""
        got: list[tuple[float, str]] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.notify.settimeout(min(0.2, left))
            try:
                got.append((time.monotonic(), self.notify.recv(4096).decode()))
            except OSError:
                continue
        return got

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def log_lines(self) -> list[str]:
        """The whole output, stdout and stderr, line by line."""
        return self.log_path.read_text(errors="replace").splitlines()

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def close(self) -> None:
        self.kill()
        self.notify.close()
        self.notify_path.unlink(missing_ok=True)
