"""Fixtures: a real PostgreSQL (initdb/pg_ctl in a temporary folder), per-test databases on
both backends, and the `hotline` command run in-process or as a real subprocess."""
from __future__ import annotations

import contextlib
import io
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from gateway import cli
from storage import db

REPO = Path(__file__).resolve().parent.parent
HOTLINE = Path(sys.executable).parent / "hotline"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    assert found, "PostgreSQL server is not installed: `make test` installs the postgresql package"
    return found[-1].parent


@dataclass(frozen=True)
class PgServer:
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """A throw-away cluster; postgres refuses to run as root, so it runs as the postgres user."""
    bindir, root = pg_bindir(), tmp_path_factory.mktemp("pg")
    data, port = root / "data", free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start")
    server = PgServer(port)
    try:
        with server.admin() as conn:
            conn.execute("CREATE DATABASE template_hotline")
        db.upgrade(db.make_engine(server.url("template_hotline")))
        yield server
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()
    return path


_db_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test, on each backend in turn."""
    if request.param == "sqlite":
        path = tmp_path / "hotline.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = f"t{os.getpid()}_{next(_db_names)}"
    with server.admin() as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE template_hotline")
    yield server.url(name)
    with server.admin() as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json_lines(self) -> list[dict]:  # type: ignore[type-arg]
        import json

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

    def json(self, *args: str) -> list[dict]:  # type: ignore[type-arg]
        result = self(*args)
        assert result.code == 0, result.err
        return result.json_lines()


def write_config(path: Path, url: str, extra: str = "") -> Path:
    path.write_text(
        f"""
[storage]
url = "{url}"

[outbound]
transport = "maildir"
maildir = "{path.parent / 'outbox'}"
from = "Hot-line <hotline@example.org>"

[logging]
format = "json"
level = "warning"
{extra}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def hotline(db_url: str, tmp_path: Path) -> Hotline:
    return Hotline(write_config(tmp_path / "hotline.toml", db_url))


@pytest.fixture
def wait_until():  # type: ignore[no-untyped-def]
    def wait(predicate, timeout: float = 10.0, step: float = 0.05):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := predicate():
                return value
            time.sleep(step)
        raise AssertionError(f"condition not met within {timeout}s")

    return wait
