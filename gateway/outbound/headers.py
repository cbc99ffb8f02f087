"""Header values we write: safe from CR/LF injection, threaded, tagged, folded well.

The policy is email.policy.SMTP (CRLF, RFC 2047 for non-ASCII) with two header classes
of our own; every value that comes from outside (subjects, names, addresses, Message-IDs
from users' mail) goes through a function here before it reaches a header. The stdlib
refuses a linefeed in a header value, but a refusal would lose an acknowledgement, and a
cleaned value does not.
"""
from __future__ import annotations

import email.utils
import re
import unicodedata
from collections.abc import Iterable, Sequence
from email import policy as email_policy
from email.errors import HeaderParseError
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.policy import Policy
from enum import StrEnum

from parsers.identity import ANGLE_ID, MAX_ID_LENGTH
from parsers.phone import normalise_number
from parsers.refs import SUBJECT_TAG, canonical_number, subject_tag
from parsers.text import BIDI_CONTROLS, control_class, shorten

SUBJECT_LIMIT = 200  # characters of a subject we write, tag included
MAX_REFERENCES = 20  # the thread root and the newest ids are kept (RFC 5322 3.6.4)
_ID = re.compile(r"[!-;=?-~]+")  # printable ASCII without space, '<' and '>'
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|odp|aw|sv|antw|vs|r)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})
_BIDI = re.compile(f"[{''.join(sorted(BIDI_CONTROLS))}]")
# a run of characters that are neither whitespace nor LINE_BREAKING (Cc, Zl, Zp)
_WORD = re.compile(f"[^\\s{control_class(c1=True, separators=True)}]+")


# --- the policy ---------------------------------------------------------------------


class _IdListHeader(UnstructuredHeader, BaseHeader):
    """In-Reply-To/References folded between ids only.

    The stdlib treats these as unstructured text and RFC 2047-encodes any id longer than
    the line, which breaks threading in every client; ids are validated ASCII here, so
    folding at the spaces between them is always safe.
    """

    max_count = 1

    def fold(self, *, policy: Policy) -> str:
        limit = policy.max_line_length or 998
        lines = [f"{self.name}:"]
        for token in str(self).split():
            if len(lines[-1]) + 1 + len(token) > limit and lines[-1].strip() != f"{self.name}:":
                lines.append("")
            lines[-1] += " " + token
        return policy.linesep.join(lines) + policy.linesep


class _SubjectHeader(UnstructuredHeader, BaseHeader):
    """Subject without the stdlib's empty first line.

    When the value fits a continuation line but not the first, the stdlib folds right
    after "Subject:", and readers (the stdlib too) then see a leading space. Joining the
    first two lines gives at most 78 + 9 characters, far under the 998 limit.
    """

    def fold(self, *, policy: Policy) -> str:
        folded = super().fold(policy=policy)
        empty_first = f"{self.name}:{policy.linesep} "
        if folded.startswith(empty_first):
            folded = f"{self.name}: " + folded[len(empty_first) :]
        return folded


class _Registry(HeaderRegistry):
    """The stdlib builds a new header class on every lookup (37 per acknowledgement, a
    fifth of its cost); one class per header name is enough."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        if key not in self._classes:
            self._classes[key] = super().__getitem__(name)
        return self._classes[key]

    def map_to_type(self, name: str, cls: type[BaseHeader]) -> None:
        super().map_to_type(name, cls)
        self._classes.pop(name.lower(), None)


def _make_policy() -> Policy:
    """email.policy.SMTP (CRLF, RFC 2047 for non-ASCII) with our id-list and subject headers."""
    registry = _Registry()  # our own: the stdlib's default registry is shared
    registry.map_to_type("in-reply-to", _IdListHeader)
    registry.map_to_type("references", _IdListHeader)
    registry.map_to_type("subject", _SubjectHeader)
    return email_policy.SMTP.clone(header_factory=registry)


POLICY = _make_policy()


# --- header values ------------------------------------------------------------------


class MailKind(StrEnum):
    """``X-Hotline-Kind``: what a message we send is (SPEC "Mail we send"), so that mail
    clients and filters can sort our mail without reading subjects in two languages."""

    ACK = "ack"
    ANSWER = "answer"
    NOTIFICATION = "notification"  # a new ticket, to the consultants
    FOLLOWUP = "followup"  # a user's follow-up, to the consultants
    CALLBACK = "callback"  # a task to phone the user (to confirm receipt or give the answer)
    HELD = "held"
    COMMAND_ERROR = "command-error"
    DELIVERY_FAILED = "delivery-failed"
    REMINDER = "reminder"  # an SLA clock's stage came due (with X-Hotline-Clock and X-Hotline-Stage)
    ESCALATION = "escalation"  # an SLA clock breached
    CHECKPOINT = "checkpoint"  # the reply log's daily signed checkpoint, to the auditors


def hotline_headers(kind: MailKind, number: str | None) -> list[tuple[str, str]]:
    """``X-Hotline-Kind`` and, when the message concerns a ticket, ``X-Hotline-Ticket``
    with its canonical number (ValueError for anything else: no outside text gets in)."""
    fields = [("X-Hotline-Kind", MailKind(kind).value)]
    if number is not None:
        fields.append(("X-Hotline-Ticket", canonical_number(number)))
    return fields



def clean_header_text(value: str, limit: int = SUBJECT_LIMIT) -> str:
    """One line of text fit for a header: no control or line-breaking characters,
    no bidi overrides (they disguise subjects), whitespace collapsed, at most ``limit``.
    Words are read only until the limit is passed: a 25 MB subject costs what its first
    ``limit`` characters cost."""
    words: list[str] = []
    size = 0
    for match in _WORD.finditer(value):
        if word := _BIDI.sub("", match.group()):
            words.append(word)
            size += len(word) + 1
            if size > limit + 1:
                break
    return shorten(" ".join(words), limit)


def clean_message_id(value: str) -> str | None:
    """``"<a@b>"`` or ``"a@b"`` -> ``"a@b"``; None for anything unsafe in a header
    (spaces, CR/LF, brackets inside, non-ASCII, over-long)."""
    text = value.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    if not text or len(text) > MAX_ID_LENGTH or not _ID.fullmatch(text):
        return None
    return text


def thread_references(
    references: Sequence[str] | str, in_reply_to: str | None, limit: int = MAX_REFERENCES
) -> list[str]:
    """The References of a reply: the original's References, then its Message-ID.

    Invalid ids are dropped, duplicates removed (the parent always last), and a long
    chain keeps its root and the newest ids, as RFC 5322 suggests.
    """
    parent = clean_message_id(in_reply_to) if in_reply_to else None
    ids = [i for i in map(clean_message_id, _id_tokens(references)) if i and i != parent]
    chain = list(dict.fromkeys(ids)) + ([parent] if parent else [])
    if len(chain) > limit:
        chain = chain[:1] + chain[len(chain) - (limit - 1) :]
    return chain


def _id_tokens(references: Sequence[str] | str) -> Iterable[str]:
    """A list of ids as given, or a raw header value split into its ids."""
    if isinstance(references, str):
        return ANGLE_ID.findall(references) or references.split()
    return references


def reply_subject(number: str, original: str, fallback: str = "") -> str:
    """``[HOT#2026-000123] original``: the tag once, in front, whatever the original held.

    Tags of this ticket and "Re:"/"Odp:" prefixes are removed from the original, so a
    reply to a tagged mail does not grow "Re: [HOT#..] Re: [HOT#..]".
    """
    tag = subject_tag(number)
    text = bare_subject(number, original) or bare_subject(number, fallback)
    return f"{tag} {shorten(text, SUBJECT_LIMIT - len(tag) - 1)}".rstrip()


def bare_subject(number: str, subject: str) -> str:
    """A subject on one line without this ticket's tags and without reply prefixes."""
    wanted = canonical_number(number)[4:]
    text = clean_header_text(subject, limit=10 * SUBJECT_LIMIT)
    text = SUBJECT_TAG.sub(lambda m: "" if f"{m[1]}-{m[2]}" == wanted else m[0], text)
    return _REPLY_PREFIX.sub("", " ".join(text.split()))


def tagged_subject(number: str, text: str) -> str:
    """``[HOT#2026-000123] text`` for messages we start (fax, notices)."""
    return reply_subject(number, text)


def parse_address(value: str) -> Address:
    """One address (with or without display name) for From/To, or ValueError.

    Addresses are refused rather than cleaned: removing characters from an address
    could send the message to somebody else. An internationalised domain is written in
    IDNA ("xn--"); a non-ASCII local part would need SMTPUTF8, which we do not speak,
    so it is refused here rather than garbled by the stdlib into an encoded word.
    """
    if any(unicodedata.category(ch) in LINE_BREAKING for ch in value):
        raise ValueError(f"control character in address: {value!r}")
    found = email.utils.getaddresses([value])
    if len(found) != 1:
        raise ValueError(f"expected one e-mail address: {value!r}")
    name, addr = found[0]
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"not an e-mail address: {value!r}")
    if not local.isascii():
        raise ValueError(f"non-ASCII local part needs SMTPUTF8: {value!r}")
    try:
        ascii_domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
        return Address(display_name=name, username=local, domain=ascii_domain)
    except (UnicodeError, HeaderParseError) as exc:
        raise ValueError(f"not an e-mail address: {value!r}") from exc


def fax_gateway_address(template: str, number: str) -> str:
    """``("{number}@fax.example.org", "+48 22 123 45 68")`` -> ``"48221234568@fax.example.org"``.

    The number is normalised to E.164 and put in without "+" (what e-mail-to-fax
    gateways expect in a local part). Plain substitution, not str.format: a config
    value must not reach attributes through format fields.
    """
    if "{number}" not in template:
        raise ValueError(f"fax address template has no {{number}}: {template!r}")
    if "{" in template.replace("{number}", "") or "}" in template.replace("{number}", ""):
        raise ValueError(f"fax address template has other fields than {{number}}: {template!r}")
    e164 = normalise_number(number)
    if e164 is None:
        raise ValueError(f"not a fax number: {number!r}")
    return parse_address(template.replace("{number}", e164.lstrip("+"))).addr_spec
