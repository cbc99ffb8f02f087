"""What makes two deliveries the same message: its Message-ID and a hash of its content.

Computed from the raw bytes without a full MIME parse, so the inbox can de-duplicate
before anything else runs. Extra trace headers added on re-delivery (Received:,
Return-Path:, X-...) do not change the hash.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

_BLANK_LINE = re.compile(rb"\r?\n\r?\n|\r\r")
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
_HASHED_FIELDS = ("from", "to", "subject", "date")
SYNTHETIC_DOMAIN = "synthesized.hotline"


@dataclass(frozen=True, slots=True)
class Identity:
    message_id: str  # without angle brackets
    content_hash: str
    synthesized: bool


def strip_mbox_from_line(raw: bytes) -> bytes:
    """Drop a leading mbox "From " envelope line, which is not part of the message."""
    if raw.startswith(b"From "):
        _, _, rest = raw.partition(b"\n")
        return rest
    return raw


def split_head(raw: bytes) -> tuple[bytes, bytes]:
    match = _BLANK_LINE.search(raw)
    if match is None:
        return raw, b""
    return raw[: match.start()], raw[match.end() :]


def clean_message_id(value: str | None) -> str:
    """"<a@b> (comment)" -> "a@b"; a bare id is kept, whitespace removed."""
    if not value:
        return ""
    match = _ANGLE_ID.search(value)
    return match.group(1) if match else "".join(value.split()).strip("<>")


def identify(raw: bytes) -> Identity:
    head, body = split_head(strip_mbox_from_line(raw))
    fields = BytesHeaderParser(policy=compat32).parsebytes(head + b"\n\n")
    if b"\r" in body:
        body = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    digest = hashlib.sha256(body)
    for name in _HASHED_FIELDS:
        digest.update(b"\0" + " ".join(str(fields.get(name, "")).split()).encode("utf-8", "replace"))
    content_hash = digest.hexdigest()
    message_id = clean_message_id(str(fields.get("message-id", "") or ""))[:990]
    if message_id:
        return Identity(message_id, content_hash, synthesized=False)
    return Identity(f"{content_hash[:32]}@{SYNTHETIC_DOMAIN}", content_hash, synthesized=True)
