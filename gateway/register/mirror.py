"""The reply log's append-only JSON-lines file: one entry a line,
`{"index": N, "leaf_hash": "<hex>", "entry": {...}}`, written after the database commits.

The database is the source: `sync` appends what the file lacks, so the file can be made
again from scratch, and several processes may sync at once (an exclusive flock). A line
cut by a crash mid-write is the one thing ever removed: it was never a whole entry.
"""
from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.register.log import Line, lines

log = structlog.get_logger("hotline.register")
TAIL = 65536  # bytes read from the end to find the last line


class LogFileError(ValueError):
    """A line of the log file that is no entry: the message names its line number."""


def sync(session: Session, path: Path) -> int:
    """Append the committed entries the file lacks; returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        last = _last_index(f)
        text = "".join(_line(line) + "\n" for line in lines(session, after=last))
        if text:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        return text.count("\n")


def after_commit(factory: sessionmaker[Session], path: str) -> None:
    """Bring the file up to the database after a commit that logged entries. A failure (a
    full disk) loses nothing: the database holds the entries, the next sync writes them,
    and `hotline register verify` names the gap meanwhile."""
    try:
        with factory() as session:
            sync(session, Path(path))
    except (OSError, ValueError, SQLAlchemyError) as exc:
        log.error("reply log file not synced", path=path, error=str(exc))


def _line(line: Line) -> str:
    return json.dumps({"index": line.index, "leaf_hash": line.leaf_hash, "entry": line.entry},
                      ensure_ascii=False, separators=(",", ":"))  # fmt: skip


def _last_index(f: BinaryIO) -> int:
    """The index on the file's last whole line (-1 for an empty file); a cut tail is dropped."""
    end = f.seek(0, os.SEEK_END)
    f.seek(max(0, end - TAIL))
    tail = f.read()
    whole = tail[: tail.rfind(b"\n") + 1]
    if len(whole) < len(tail):
        f.truncate(end - (len(tail) - len(whole)))
    last = whole.rstrip(b"\n").rpartition(b"\n")[2]
    return int(json.loads(last)["index"]) if last else -1


def read(path: Path) -> Iterator[Line]:
    """The file's entries in file order, as written (none for a missing file); a line that is
    no entry raises. A shared flock keeps `sync` from appending while it is read."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_SH)
        for number, text in enumerate(f, start=1):
            try:
                data = json.loads(text)
                yield Line(int(data["index"]), str(data["leaf_hash"]), dict(data["entry"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise LogFileError(f"{path} line {number}: not a log entry ({exc})") from None
