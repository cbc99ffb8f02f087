"""The pipeline's own guarantees: a storage failure caused by one message quarantines
that message only; the rest of its batch is stored."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from gateway.intake.inbox import Incoming
from gateway.intake.ingest import ingest
from gateway.intake.workers import Parser
from gateway.settings import load
from storage import db
from storage.models import InboxEntry, Ticket
from tests import mailfactory as mf
from tests.support import write_config


def test_a_message_the_store_refuses_is_quarantined_alone(db_url: str, tmp_path: Path) -> None:
    settings = load(write_config(tmp_path / "c.toml", db_url))
    engine = db.make_engine(db_url)

    def refuse_poison(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        # stands for any row the database refuses (a constraint, a value it cannot hold)
        if statement.lstrip().upper().startswith("INSERT INTO MESSAGES") and "POISON" in repr(params):
            raise IntegrityError(statement, params, Exception("refused by the test"))

    event.listen(engine, "before_cursor_execute", refuse_poison)
    items = [Incoming(mf.make_message(subject=s, message_id=f"<{s}@u>")) for s in ("first", "POISON", "third")]
    parser = Parser(settings)
    outcomes = list(ingest(sessionmaker(engine), settings, parser, items, "test"))
    parser.close()
    assert [o.action for o in outcomes] == ["created", "quarantined", "created"]
    assert outcomes[1].reason is not None and outcomes[1].reason.startswith("storage error:")
    with sessionmaker(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 2
        assert s.scalar(select(InboxEntry.state).where(InboxEntry.message_id == "POISON@u")) == "quarantined"
    engine.dispose()
