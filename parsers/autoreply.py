"""Is a message from a person, or from a machine we must never answer?

RFC 3834 says automatic responses must not be sent to automatic messages; bounces,
out-of-office replies, mailing lists and our own mail looping back are all answered
with silence. The order of the checks is: own mail, bounce, auto-reply, list.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from parsers.mime import ParsedMessage

Kind = Literal["normal", "autoreply", "bounce", "list", "own"]


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: Kind
    reason: str  # the header (and value) that decided, e.g. "Auto-Submitted: auto-replied"


_BOUNCE_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster"})
_BOUNCE_SENDER_NAMES = frozenset({"mail delivery system", "mail delivery subsystem", "mailer-daemon"})
_DSN_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:"
    r"undeliver(?:ed|able)\s+mail\s+returned\s+to\s+sender"
    r"|delivery\s+status\s+notification"
    r"|mail\s+delivery\s+failed"
    r"|undeliverable\s*:"
    r"|undelivered\s+mail"
    r"|failure\s+notice"
    r"|returned\s+mail\s*:"
    r"|delivery\s+failure"
    r"|mail\s+system\s+error\s*-\s*returned\s+mail"
    r"|niedostarczalne\s*:"
    r"|unzustellbar\s*:"
    r")",
    re.IGNORECASE,
)
_AUTOREPLY_SUBJECT = re.compile(
    r"^\s*(?:"
    r"out\s+of\s+(?:the\s+)?office"
    r"|automatic\s+reply\s*:"
    r"|auto(?:matic)?[\s-]*(?:reply|response)\s*:"
    r"|autoreply\s*:"
    r"|abwesenheitsnotiz"
    r"|nieobecność"
    r"|odpowiedź\s+automatyczna"
    r"|automatyczna\s+odpowiedź"
    r"|réponse\s+automatique"
    r")",
    re.IGNORECASE,
)
_SUPPRESS_VALUES = frozenset({"all", "oof", "autoreply"})
_LIST_PRECEDENCE = frozenset({"list", "bulk", "junk"})


def classify(msg: ParsedMessage, loop_id: str) -> Verdict:
    """Classify a parsed message; ``loop_id`` is the X-Loop value we stamp on our own mail."""
    for check in (_own, _bounce, _autoreply, _list):
        verdict = check(msg, loop_id)
        if verdict is not None:
            return verdict
    return Verdict("normal", "no automatic-message markers")


def _own(msg: ParsedMessage, loop_id: str) -> Verdict | None:
    wanted = loop_id.strip().lower()
    for name, value in msg.headers:
        if name.lower() == "x-loop" and wanted and value.strip().lower() == wanted:
            return Verdict("own", f"X-Loop: {value.strip()}")
    return None


def _bounce(msg: ParsedMessage, _loop_id: str) -> Verdict | None:
    report_type = _content_type_param(msg, "report-type")
    if msg.content_type == "multipart/report" and report_type == "delivery-status":
        return Verdict("bounce", "Content-Type: multipart/report; report-type=delivery-status")
    if msg.content_type in _DSN_TYPES:
        return Verdict("bounce", f"Content-Type: {msg.content_type}")
    dsn_part = next((a for a in msg.attachments if a.content_type in _DSN_TYPES), None)
    if dsn_part is not None:
        return Verdict("bounce", f"{dsn_part.content_type} part {dsn_part.filename}")
    if _is_mailer_daemon(msg):
        via = "Return-Path: <> with From" if msg.return_path == "" else "From"
        return Verdict("bounce", f"{via}: {msg.header('From')}")
    if _BOUNCE_SUBJECT.match(msg.subject):
        return Verdict("bounce", f"Subject: {msg.subject}")
    return None


def _autoreply(msg: ParsedMessage, _loop_id: str) -> Verdict | None:
    auto_submitted = _value(msg, "Auto-Submitted")
    if auto_submitted is not None and auto_submitted.split(";")[0].strip().lower() != "no":
        return Verdict("autoreply", f"Auto-Submitted: {auto_submitted}")
    for name in ("X-Autoreply", "X-Autorespond"):
        value = _value(msg, name)
        if value is not None:
            return Verdict("autoreply", f"{name}: {value}")
    suppress = _value(msg, "X-Auto-Response-Suppress")
    if suppress is not None and _SUPPRESS_VALUES & _tokens(suppress):
        return Verdict("autoreply", f"X-Auto-Response-Suppress: {suppress}")
    precedence = _value(msg, "Precedence")
    if precedence is not None and precedence.lower() == "auto_reply":
        return Verdict("autoreply", f"Precedence: {precedence}")
    if msg.content_type == "multipart/report":  # read receipts (MDN), abuse reports (ARF)...
        report_type = _content_type_param(msg, "report-type") or "unknown"
        return Verdict("autoreply", f"Content-Type: multipart/report; report-type={report_type}")
    if _AUTOREPLY_SUBJECT.match(msg.subject):
        return Verdict("autoreply", f"Subject: {msg.subject}")
    return None


def _list(msg: ParsedMessage, _loop_id: str) -> Verdict | None:
    for name in ("List-Id", "List-Unsubscribe"):
        value = _value(msg, name)
        if value is not None:
            return Verdict("list", f"{name}: {value}")
    precedence = _value(msg, "Precedence")
    if precedence is not None and precedence.lower() in _LIST_PRECEDENCE:
        return Verdict("list", f"Precedence: {precedence}")
    return None


def _value(msg: ParsedMessage, name: str) -> str | None:
    """A header's value, stripped; None when absent (an empty value still counts as present)."""
    value = msg.header(name)
    return value.strip() if value is not None else None


def _tokens(value: str) -> set[str]:
    return {t.strip().lower() for t in re.split(r"[,;\s]+", value) if t.strip()}


def _is_mailer_daemon(msg: ParsedMessage) -> bool:
    """From is MAILER-DAEMON or postmaster, also as a bare name ("MAILER-DAEMON", "MAILER DAEMON <>")."""
    if msg.sender is None:
        return False
    if msg.sender.addr.rpartition("@")[0] in _BOUNCE_LOCAL_PARTS:
        return True
    name = msg.sender.name.lower()
    if name in _BOUNCE_SENDER_NAMES:
        return True
    return not msg.sender.addr and any(w in name.replace(" ", "-") for w in _BOUNCE_LOCAL_PARTS)


def _content_type_param(msg: ParsedMessage, param: str) -> str | None:
    """A parameter of the top-level Content-Type (the parsed message keeps only the type)."""
    value = msg.header("Content-Type")
    if not value:
        return None
    holder = Message()
    holder["Content-Type"] = value
    try:
        found = holder.get_param(param)
    except (ValueError, TypeError, LookupError, UnicodeError):  # RFC 2231 garbage
        return None
    return str(found).strip().lower() if isinstance(found, str) else None
