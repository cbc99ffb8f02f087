"""Messages from files for `hotline ingest`: one .eml, an mbox, a Maildir, a folder, or stdin.

A folder is read one message per file (whatever the extension), so a file that merely
starts with an mbox "From " line is still one message. Order is by file name: it is not
arrival order, and threading does not rely on it. A bare PDF or TIFF (a fax server that
drops files in a folder) is a fax: wrapped in a message with the document attached, on
the fax channel. The wrapper names no sender: there is nobody to write back to but the
contacts the document itself gives.
"""
from __future__ import annotations

import hashlib
import mailbox
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from gateway.intake.inbox import Incoming


@dataclass(frozen=True, slots=True)
class FileSource:
    label: str  # for the inbox's source column
    count: int | None  # known up front, for the progress bar
    messages: Iterator[Incoming]


def open_source(spec: str) -> FileSource:
    if spec == "-":
        return FileSource("ingest:stdin", 1, iter([Incoming(sys.stdin.buffer.read())]))
    path = Path(spec)
    if path.is_dir():
        if (path / "cur").is_dir() and (path / "new").is_dir():
            files = sorted([*(path / "new").iterdir(), *(path / "cur").iterdir()], key=lambda p: p.name)
        else:
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        return FileSource(f"ingest:{path}", len(files), (as_message(p.read_bytes(), p.name) for p in files))
    if not path.is_file():
        raise FileNotFoundError(f"{spec}: no such file or directory")
    with path.open("rb") as fh:
        is_mbox = fh.read(5) == b"From "
    if not is_mbox:
        return FileSource(f"ingest:{path}", 1, iter([as_message(path.read_bytes(), path.name)]))
    box = mailbox.mbox(path, create=False)
    keys = box.keys()
    return FileSource(f"ingest:{path}", len(keys), _mbox_messages(box, keys))


def _mbox_messages(box: mailbox.mbox, keys: list[str]) -> Iterator[Incoming]:
    try:
        for key in keys:
            yield Incoming(box.get_bytes(key))
    finally:
        box.close()


DOCUMENT_MAGIC = {b"%PDF": "application/pdf", b"II*\x00": "image/tiff", b"MM\x00*": "image/tiff"}


def as_message(data: bytes, filename: str) -> Incoming:
    """A mail message as it is; a bare fax document wrapped in one, byte for byte attached."""
    content_type = next((t for magic, t in DOCUMENT_MAGIC.items() if data.startswith(magic)), None)
    if content_type is None:
        return Incoming(data)
    msg = EmailMessage()
    msg["Subject"] = f"Fax document {filename}"
    msg["Message-ID"] = f"<{hashlib.sha256(data).hexdigest()[:32]}@fax-import.hotline>"
    msg.set_content(f"Imported fax document: {filename}\n")
    maintype, subtype = content_type.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return Incoming(msg.as_bytes(), "fax")
