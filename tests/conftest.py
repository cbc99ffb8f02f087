"""Fixtures: a real PostgreSQL (initdb/pg_ctl in a temporary folder), per-test databases on
both backends, and the `hotline` command run in-process or as a real subprocess."""
from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from storage import db
from tests.support import Hotline, free_port, make_tls_cert, write_config
from tests.dovecot import dovecot, dovecot_tls  # noqa: F401  (pytest fixtures)

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
def pg_server() -> Iterator[PgServer]:
    """A throw-away cluster; postgres refuses to run as root, so it runs as the postgres user
    (in its own folder: pytest's temporary folders are private to root)."""
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
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start")
    server = PgServer(port)
    try:
        with server.admin() as conn:
            conn.execute("CREATE DATABASE template_hotline")
        engine = db.make_engine(server.url("template_hotline"))
        db.upgrade(engine)
        engine.dispose()  # a template must have no sessions open
        yield server
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


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


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated SQLite database only (tests whose subject is not the store)."""
    path = tmp_path / "hotline.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def hotline(db_url: str, tmp_path: Path) -> Hotline:
    return Hotline(write_config(tmp_path / "hotline.toml", db_url))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key (PEM files) for TLS servers on 127.0.0.1."""
    return make_tls_cert(tmp_path_factory.mktemp("tls"))
