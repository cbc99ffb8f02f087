"""Engines, sessions and schema migrations, the same for SQLite (embedded) and PostgreSQL."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Engine, any_, create_engine, event, inspect, literal, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"^revision = ['\"]([^'\"]+)['\"]", re.M)
_DOWN_REVISION = re.compile(r"^down_revision = ['\"]([^'\"]+)['\"]", re.M)


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or is not at the schema this code expects."""


class StoreMisconfigured(RuntimeError):
    """The database is not there or refuses us (missing database, role, password): no retry
    will help, the config (storage.url) or the server must change."""


# SQLSTATEs a retry cannot cure: database missing, role missing or refused, password wrong
PERMANENT_SQLSTATES = {"3D000", "28000", "28P01"}
# libpq gives no SQLSTATE for a refused connection, only the server's FATAL text (English
# unless the server's lc_messages says otherwise)
PERMANENT_MESSAGES = re.compile(r'FATAL:\s+(?:(?:database|role) "[^"]*" does not exist|password authentication failed'
                                r"|no pg_hba\.conf entry)")  # fmt: skip


def is_permanent(exc: BaseException) -> bool:
    """Whether a driver error needs a changed config or server rather than a retry."""
    original = getattr(exc, "orig", exc)
    return getattr(original, "sqlstate", None) in PERMANENT_SQLSTATES or bool(PERMANENT_MESSAGES.search(str(original)))


def make_engine(url: str, idle_in_transaction_seconds: float | None = None) -> Engine:
    """An engine with SQLite made safe for a mail queue: WAL synced at each commit, foreign
    keys, real SAVEPOINTs. On PostgreSQL, `idle_in_transaction_seconds` bounds how long a
    stopped process (SIGSTOP, a frozen VM) holds its transaction's locks: the server ends
    its session, and the other daemons' work goes on."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if idle_in_transaction_seconds is None:
            return create_engine(url, pool_pre_ping=True)
        limit = f"-c idle_in_transaction_session_timeout={int(idle_in_transaction_seconds * 1000)}"
        return create_engine(url, pool_pre_ping=True, connect_args={"options": limit})
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, issue BEGIN: otherwise SAVEPOINT does not work.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: every commit syncs the WAL, so the 250 or IMAP move that follows a commit
    # survives a power loss (NORMAL syncs only at checkpoints)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock up front: no deadlock when two processes upgrade.
    # A snapshot reader (`snapshot`) takes none: WAL gives it a consistent view.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_SNAPSHOT) else "BEGIN IMMEDIATE")


def alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> str:
    """Apply every pending migration; returns the revision now in force."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")
    return current_revision(engine) or "base"


def current_revision(engine: Engine) -> str | None:
    """The schema in force, read from alembic's own table (None: never upgraded). Plain SQL:
    loading alembic costs a tenth of a second that every command would pay."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head_revision() -> str:
    """The newest migration shipped: the one no other revises (read from the files, as
    alembic would, without loading it; tests/test_storage.py compares the two)."""
    revised, revisions = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        if found := _REVISION.search(source):
            revisions.add(found.group(1))
        if found := _DOWN_REVISION.search(source):
            revised.add(found.group(1))
    (head,) = revisions - revised
    return head


def open_store(url: str, idle_in_transaction_seconds: float | None = None) -> sessionmaker[Session]:
    """A session factory for a database at the current schema, or StoreUnavailable saying why
    (StoreMisconfigured when waiting will not help). Only `upgrade` creates a database: a
    command run with the wrong config must not leave an empty one behind."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).is_file():
            raise StoreMisconfigured(f"no database at {parsed.database}: run `hotline db upgrade` to create it")
    engine = make_engine(url, idle_in_transaction_seconds)
    try:
        revision = current_revision(engine)
    except Exception as exc:  # any other driver error means the same to the caller: not now
        message = f"cannot open database {engine.url!r}: {exc}".splitlines()[0]
        raise (StoreMisconfigured if is_permanent(exc) else StoreUnavailable)(message) from exc
    head = head_revision()
    if revision != head:
        raise StoreUnavailable(
            f"database {engine.url!r} is at schema {revision or 'none'}, expected {head}: "
            "run `hotline db upgrade`"
        )
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back when it raises."""
    with factory() as session, session.begin():
        yield session



_SNAPSHOT = "hotline_snapshot"


@contextmanager
def snapshot(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A long read-only transaction over one consistent state that never holds writers up
    (the register export): REPEATABLE READ READ ONLY on PostgreSQL, a deferred transaction
    (a WAL read snapshot, no write lock) on SQLite."""
    with factory() as session:
        if session.get_bind().dialect.name == "postgresql":
            options: dict[str, Any] = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        else:
            options = {_SNAPSHOT: True}
        session.connection(execution_options=options)
        try:
            yield session
        finally:
            session.rollback()


IN_CHUNK = 5000  # values in one IN (...): far below SQLite's 32,766 bound parameters and PostgreSQL's 65,535


def rows_in_chunks(session: Session, values: Iterable[Any], statement: Callable[[list[Any]], Any],
                   size: int = IN_CHUNK) -> list[tuple[Any, ...]]:  # fmt: skip
    """The rows of ``statement(chunk)`` for each chunk of the sorted ``values``: one
    IN (...) with a whole import's Message-IDs would pass the drivers' parameter limits."""
    ordered = sorted(values)
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(ordered), size):
        rows += [tuple(row) for row in session.execute(statement(ordered[start : start + size]))]
    return rows


def among(session: Session, column: QueryableAttribute[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL `column = ANY(array)`, one parameter: an IN of a
    thousand parameters costs more to compile, split and send than the query costs to run
    (the register export asks four of them per thousand tickets)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY  # not loaded by a SQLite `hotline ingest -`

        return column == any_(literal(list(values), ARRAY(column.type)))
    return column.in_(values)


def _insert(session: Session, table: Any) -> Any:
    """The backend's own INSERT, imported by name: loading the PostgreSQL dialect costs a
    SQLite `hotline ingest -` 20 ms."""
    dialect = import_module(f"sqlalchemy.dialects.{session.get_bind().dialect.name}")
    return dialect.insert(table).on_conflict_do_nothing()


def insert_ignoring_conflicts(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on either backend: content-addressed rows are written once."""
    if rows:
        session.execute(_insert(session, table), rows)

