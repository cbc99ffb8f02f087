"""Fixtures: a real PostgreSQL (initdb/pg_ctl in a temporary folder), per-test databases on
both backends, and the `hotline` command run in-process or as a real subprocess."""
from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from storage import db

pytest.register_assert_rewrite("tests.userforms")  # its assert_ticket_fields says what differs
from tests.support import Hotline, make_tls_cert, postgres_cluster, write_config
from tests.dovecot import dovecot, dovecot_tls  # noqa: F401  (pytest fixtures)

@dataclass(frozen=True)
class PgServer:
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throw-away cluster (tests/support.py) with a migrated template database."""
    with postgres_cluster() as cluster:
        server = PgServer(cluster.port)
        with server.admin() as conn:
            conn.execute("CREATE DATABASE template_hotline")
        engine = db.make_engine(server.url("template_hotline"))
        db.upgrade(engine)
        engine.dispose()  # a template must have no sessions open
        yield server


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
    yield from _pg_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, migrated database on the session's PostgreSQL only (several daemons need one)."""
    yield from _pg_database(pg_server)


def _pg_database(server: PgServer) -> Iterator[str]:
    """A copy of the migrated template, dropped afterwards (connections still open included)."""
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
