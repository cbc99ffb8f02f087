"""The store itself: SQLite in WAL mode with foreign keys enforced, UTC times, migrations."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from storage import db
from storage.models import Base, Event, Message


def test_sqlite_is_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/sub/dir/h.db")  # parent folders are created
    db.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    with Session(engine) as s, pytest.raises(IntegrityError):
        with s.begin():
            s.add(Message(ticket_id=999, direction="in", kind="question", channel="email", message_id="x",
                          at=datetime.now(timezone.utc)))  # fmt: skip


def test_times_round_trip_as_utc(db_url: str) -> None:
    engine = db.make_engine(db_url)
    warsaw = timezone(timedelta(hours=1))
    with Session(engine) as s, s.begin():
        s.add(Event(actor="test", kind="probe", at=datetime(2026, 11, 20, 17, 30, tzinfo=warsaw)))
    with Session(engine) as s:
        (at,) = s.execute(text("SELECT at FROM events")).one()
        event = s.scalars(select(Event)).one()
    assert event.at == datetime(2026, 11, 20, 16, 30, tzinfo=timezone.utc)
    assert event.at.tzinfo is timezone.utc
    assert str(at).startswith("2026-11-20 16:30")  # stored as UTC, whatever the backend
    engine.dispose()


def test_naive_datetimes_are_refused(db_url: str) -> None:
    engine = db.make_engine(db_url)
    with Session(engine) as s, pytest.raises(StatementError, match="naive datetime"):
        with s.begin():
            s.add(Event(actor="test", kind="probe", at=datetime(2026, 1, 1)))
    engine.dispose()


def test_schema_is_at_head_after_upgrade(db_url: str) -> None:
    engine = db.make_engine(db_url)
    assert db.current_revision(engine) == db.head_revision()
    assert db.upgrade(engine) == db.head_revision()
    engine.dispose()


def test_migrations_build_exactly_the_models(db_url: str) -> None:
    """Every model change has its migration: autogenerate finds nothing left to do."""
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_the_head_read_from_the_files_is_alembics() -> None:
    """storage.db reads the newest migration without loading alembic; alembic agrees."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    script = ScriptDirectory.from_config(db.alembic_config(create_engine("sqlite://")))
    assert db.head_revision() == script.get_current_head()
