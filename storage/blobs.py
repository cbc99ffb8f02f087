"""Content-addressed storage of raw messages and attachments: the same bytes are kept once."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.db import insert_ignoring_conflicts
from storage.models import Blob


def put(session: Session, items: dict[str, bytes]) -> None:
    """Store each sha256 -> bytes unless already stored."""
    rows = [{"sha256": sha, "size": len(data), "data": data} for sha, data in items.items()]
    insert_ignoring_conflicts(session, Blob, rows)


def get_many(session: Session, shas: list[str]) -> dict[str, bytes]:
    return {sha: data for sha, data in session.execute(select(Blob.sha256, Blob.data).where(Blob.sha256.in_(shas)))}
