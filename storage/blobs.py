"""Content-addressed storage of raw messages and attachments: the same bytes are kept once."""
from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.db import insert_ignoring_conflicts
from storage.models import Blob


def put(session: Session, data: bytes, sha256: str | None = None) -> str:
    """Store bytes unless already stored; returns their sha256."""
    digest = sha256 or hashlib.sha256(data).hexdigest()
    insert_ignoring_conflicts(session, Blob, [{"sha256": digest, "size": len(data), "data": data}])
    return digest


def get(session: Session, sha256: str) -> bytes:
    data = session.scalar(select(Blob.data).where(Blob.sha256 == sha256))
    if data is None:
        raise KeyError(f"blob {sha256} is missing")
    return data
