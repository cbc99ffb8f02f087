"""What makes two deliveries the same message: its Message-ID and a hash of its content.

Computed from the raw bytes with a header-only parse, so the inbox can de-duplicate
before anything else runs; `parsers.mime` takes its Message-ID from here too, so both
always agree.

The content is everything that can change what the message says: every header field
(From, To, Cc, Subject, Date, the MIME fields that decide how the body is decoded, ...),
whatever the header parser did not accept as a field (a bare text with no header section
is all content), and the body. Left out is only what the road adds or changes when the
same message is delivered again: the trace and filing fields of ``TRACE_FIELDS`` and
``TRACE_PREFIXES`` (Received:, Return-Path:, Delivered-To:, DKIM/ARC seals, spam and
virus verdicts, mail client status flags), the mbox envelope line, the line-ending
convention, the folding of header fields and the line ends after the last line (an mbox
reader drops the blank line that separates messages; a file read whole keeps it).
Field order is left out too: relays insert, they do not reorder what a user sees.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from parsers.text import controls

SYNTHETIC_DOMAIN = "synthesized.hotline"
TRACE_FIELDS = frozenset(
    "received return-path delivered-to x-original-to envelope-to x-envelope-to x-envelope-from "
    "x-received received-spf authentication-results dkim-signature domainkey-signature "
    "x-google-dkim-signature x-gm-message-state x-google-smtp-source x-forwarded-to x-forwarded-for "
    "status x-status x-keywords x-uid x-imapbase lines content-length x-mozilla-status x-mozilla-status2 "
    "x-mozilla-keys x-sieve x-virus-scanned".split()
)
TRACE_PREFIXES = ("arc-", "x-spam-", "x-virus-", "x-rspamd-", "x-ms-exchange-organization-",
                  "x-forefront-antispam-", "x-microsoft-antispam")  # fmt: skip
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_BLANK_LINE = re.compile(rb"\n\r?\n|\r\r")  # LF, CRLF, old Mac CR-only, or a relay's mix
_MBOX_FROM = re.compile(rb"From [ \t]*[^\s:]")  # not the obsolete header syntax "From : x"
_OBSOLETE_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.MULTILINE)
ANGLE_ID = re.compile(r"<([^<>]*)>")  # one <id> of a Message-ID field or a list of them
_CONTROL = controls()
MAX_ID_LENGTH = 250  # characters of a Message-ID we keep or write


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
    for name, value in sorted(_content_fields(fields), key=lambda field: field[0]):
        digest.update(f"{name}:{' '.join(value.split())}".encode("utf-8", "surrogateescape") + b"\0")
    not_fields = str(fields.get_payload()).encode("utf-8", "surrogateescape").rstrip(b"\r\n")
    digest.update(b"\0" + crlf(not_fields) + b"\0")
    digest.update(crlf(_without_trailing_line_ends(raw, body)))
    content_hash = digest.hexdigest()
    message_id = clean_message_id(str(fields.get("message-id") or ""))
    if message_id:
        return Identity(message_id, content_hash, synthesized=False)
    return Identity(f"{content_hash[:32]}@{SYNTHETIC_DOMAIN}", content_hash, synthesized=True)


def _content_fields(fields: Message) -> list[tuple[str, str]]:
    """(lowercased name, raw value) of each field but the trace fields."""
    kept = []
    for name, value in fields.raw_items():
        lname = name.lower()
        if lname not in TRACE_FIELDS and not lname.startswith(TRACE_PREFIXES):
            kept.append((lname, str(value)))
    return kept


def _without_trailing_line_ends(raw: bytes, start: int) -> bytes:
    """raw[start:] up to its last character that is not a line end (no copy when none)."""
    end = len(raw)
    while end > start and raw[end - 1] in b"\r\n":
        end -= 1
    return raw[start:end]


def clean_message_id(value: str) -> str:
    """"<a@b> (comment)" -> "a@b"; a bare id is kept; "" when absent. Control characters
    are dropped and the length capped: an id is a database key, not free text."""
    match = ANGLE_ID.search(value)
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
