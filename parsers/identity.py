"""What makes two deliveries the same message: its Message-ID and a hash of its content.

Computed from the raw bytes with a header-only parse, so the inbox can de-duplicate
before anything else runs; `parsers.mime` takes its Message-ID from here too, so both
always agree. Trace headers added on re-delivery (Received:, Return-Path:, ...), the
mbox envelope line and the line-ending convention do not change the hash.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

SYNTHETIC_DOMAIN = "synthesized.hotline"
_HASHED_FIELDS = ("from", "to", "subject", "date")
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_BLANK_LINE = re.compile(rb"\n\r?\n|\r\r")  # LF, CRLF, old Mac CR-only, or a relay's mix
_MBOX_FROM = re.compile(rb"From [ \t]*[^\s:]")  # not the obsolete header syntax "From : x"
_OBSOLETE_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.MULTILINE)
_ANGLE_ID = re.compile(r"<([^<>]*)>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ID_LENGTH = 250


@dataclass(frozen=True, slots=True)
class Identity:
    message_id: str  # without angle brackets
    content_hash: str
    synthesized: bool


def identify(raw: bytes) -> Identity:
    raw = repair_obsolete_fields(strip_envelope(raw))
    start, body = header_end(raw)
    fields = BytesHeaderParser(policy=compat32).parsebytes(raw[:start] + b"\n\n")
    digest = hashlib.sha256()
    for name in _HASHED_FIELDS:
        value = str(fields.get(name) or "")
        digest.update(" ".join(value.split()).encode("utf-8", "surrogateescape") + b"\0")
    digest.update(crlf(raw[body:]))
    content_hash = digest.hexdigest()
    message_id = clean_message_id(str(fields.get("message-id") or ""))
    if message_id:
        return Identity(message_id, content_hash, synthesized=False)
    return Identity(f"{content_hash[:32]}@{SYNTHETIC_DOMAIN}", content_hash, synthesized=True)


def clean_message_id(value: str) -> str:
    """"<a@b> (comment)" -> "a@b"; a bare id is kept; "" when absent. Control characters
    are dropped and the length capped: an id is a database key, not free text."""
    match = _ANGLE_ID.search(value)
    if match:
        found = "".join(match.group(1).split())
    else:
        words = value.split()
        found = words[0].strip("<>") if words else ""
    return bounded_id(found)


def bounded_id(token: str) -> str:
    return _CONTROL.sub("", token)[:MAX_ID_LENGTH]


def strip_envelope(raw: bytes) -> bytes:
    """Drop what precedes the header fields: a UTF-8 BOM, an mbox ``From `` line, blank lines.

    None of it is part of the message, and the mbox line varies per mailbox.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if _MBOX_FROM.match(raw):
        match = _LINE_ENDS.search(raw)
        raw = raw[match.end() :] if match else b""
    return raw.lstrip(b"\r\n")


def repair_obsolete_fields(raw: bytes) -> bytes:
    """Accept RFC 5322 obsolete ``Name :`` (space before the colon) that the stdlib rejects.

    The stdlib ends the header section at such a line, so a first line like
    ``From :x`` would turn every header field into body text.
    """
    start, _ = header_end(raw)
    if not _OBSOLETE_FIELD.search(raw, 0, start):
        return raw
    return _OBSOLETE_FIELD.sub(rb"\1:", raw[:start]) + raw[start:]


def header_end(raw: bytes) -> tuple[int, int]:
    """(end of the header section, start of the body); (len, len) when there is no body."""
    match = _BLANK_LINE.search(raw)
    return (match.start(), match.end()) if match else (len(raw), len(raw))


def crlf(data: bytes) -> bytes:
    """CRLF-normalise without copying when the data already is (large attachments)."""
    crlf_count = data.count(b"\r\n")
    if crlf_count == data.count(b"\n") == data.count(b"\r"):
        return data
    if b"\r" not in data:
        return data.replace(b"\n", b"\r\n")
    return _LINE_ENDS.sub(b"\r\n", data)
