"""Is a message from a person, or from a machine we must never answer?

RFC 3834 says automatic responses must not be sent to automatic messages; bounces,
out-of-office replies, mailing lists and our own mail looping back are all answered
with silence. The order of the checks is: own mail, bounce, auto-reply, list.

Only what machines declare decides that a message is automatic: RFC 3834's
Auto-Submitted, the null Return-Path of RFC 5321, a delivery report's structure
(RFC 3464/6522), the X-Autoreply/Precedence markers of common responders, list headers.
A subject ("Nieobecność pracownika" is an everyday HR question), a sender called
postmaster or "Mailer-Daemon", or Outlook's X-Auto-Response-Suppress (set on ordinary
mail too) only make a message `suspect`: it is a person's question that gets a ticket
and reaches the consultants, but no automatic acknowledgement, and is flagged for review.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from parsers.mime import ParsedMessage

Kind = Literal["normal", "suspect", "autoreply", "bounce", "list", "own"]
PERSON = frozenset({"normal", "suspect"})  # kinds that are treated as a person's mail


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
    r"|nieobecność\s*:"  # "Nieobecność pracownika" is a question, "Nieobecność: Re: ..." a responder
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
    for check in (_own, _bounce, _autoreply, _list, _suspect):
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
    """A delivery report by its structure, or mail declared automatic that also looks
    like a bounce (a qmail or Exim notice in plain text, sent with Return-Path <>)."""
    report_type = _content_type_param(msg, "report-type")
    if msg.content_type == "multipart/report" and report_type == "delivery-status":
        return Verdict("bounce", "Content-Type: multipart/report; report-type=delivery-status")
    if msg.content_type in _DSN_TYPES:
        return Verdict("bounce", f"Content-Type: {msg.content_type}")
    dsn_part = next((a for a in msg.attachments if a.content_type in _DSN_TYPES), None)
    if dsn_part is not None:
        return Verdict("bounce", f"{dsn_part.content_type} part {dsn_part.filename}")
    marker, hint = _declared(msg), _bounce_hint(msg)
    if marker is not None and hint is not None:
        return Verdict("bounce", f"{marker} with {hint}")
    return None


def _autoreply(msg: ParsedMessage, _loop_id: str) -> Verdict | None:
    marker = _declared(msg)
    if marker is not None:
        return Verdict("autoreply", marker)
    for name in ("X-Autoreply", "X-Autorespond"):
        value = _value(msg, name)
        if value is not None:
            return Verdict("autoreply", f"{name}: {value}")
    precedence = _value(msg, "Precedence")
    if precedence is not None and precedence.lower() == "auto_reply":
        return Verdict("autoreply", f"Precedence: {precedence}")
    return None


def _declared(msg: ParsedMessage) -> str | None:
    """The standard declarations of automatic mail: RFC 3834's Auto-Submitted (other than
    "no"), the null reverse-path that RFC 5321 and 3834 require of such mail (sendmail
    writes it as <MAILER-DAEMON>), and RFC 6522's report structure (read receipts, abuse
    reports, delivery reports without their report-type)."""
    auto_submitted = _value(msg, "Auto-Submitted")
    if auto_submitted is not None and auto_submitted.split(";")[0].strip().lower() != "no":
        return f"Auto-Submitted: {auto_submitted}"
    if msg.return_path is not None and msg.return_path.lower() in ("", "mailer-daemon"):
        return f"Return-Path: <{msg.return_path}>"
    if msg.content_type == "multipart/report":
        report_type = _content_type_param(msg, "report-type") or "unknown"
        return f"Content-Type: multipart/report; report-type={report_type}"
    return None


def _suspect(msg: ParsedMessage, _loop_id: str) -> Verdict | None:
    """Hints that a machine wrote it, none of them declared: a person may well have."""
    hint = _bounce_hint(msg)
    if hint is not None:
        return Verdict("suspect", hint)
    if _AUTOREPLY_SUBJECT.match(msg.subject):
        return Verdict("suspect", f"Subject: {msg.subject}")
    suppress = _value(msg, "X-Auto-Response-Suppress")
    if suppress is not None and _SUPPRESS_VALUES & _tokens(suppress):
        return Verdict("suspect", f"X-Auto-Response-Suppress: {suppress}")
    return None


def _bounce_hint(msg: ParsedMessage) -> str | None:
    if _is_mailer_daemon(msg):
        return f"From: {msg.header('From')}"
    if _BOUNCE_SUBJECT.match(msg.subject):
        return f"Subject: {msg.subject}"
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
