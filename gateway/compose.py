"""Outgoing messages: acknowledgements (e-mail and fax) and notices to consultants.

Pure functions from frozen facts to ``EmailMessage`` objects; the outbox stores
``msg.as_bytes()`` and the worker sends them. Nothing here touches the network or the
database, so every header can be checked in a test.

Every message carries ``Auto-Submitted`` (RFC 3834) and our ``X-Loop``, so neither we
nor a well-behaved responder answers it, and ``X-Auto-Response-Suppress: All`` for
Exchange, which ignores RFC 3834. No ``Precedence: bulk``: RFC 3834 leaves Precedence
unstandardised, and a personal reply marked "bulk" is what spam filters score down.

User-supplied text (subjects, names, addresses from forms) reaches headers only through
``clean_header_text``, which drops CR, LF and other control characters: the stdlib
refuses a linefeed in a header value, but a refusal would lose the acknowledgement,
and a cleaned subject does not.
"""
from __future__ import annotations

import email.utils
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email.errors import HeaderParseError
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy

from gateway.pdf import render_pdf
from gateway.templates import Templates, pick_language, templates
from parsers.phone import normalise_number
from parsers.refs import canonical_number, subject_tag

SUBJECT_LIMIT = 200  # characters of a subject we write, tag included
MAX_REFERENCES = 20  # the thread root and the newest ids are kept (RFC 5322 3.6.4)
MAX_ID_LENGTH = 250
EXCERPT_LIMIT = 1000
ERROR_LIMIT = 2000
_ELLIPSIS = "…"

_ID = re.compile(r"[!-;=?-~]+")  # printable ASCII without space, '<' and '>'
_ANGLE_IDS = re.compile(r"<([^<>]*)>")
_TAG = re.compile(r"\[\s*HOT\s*[#-]\s*(\d{4})\s*-\s*(\d{6})\s*\]", re.IGNORECASE)
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|odp|aw|sv|antw|vs|r)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})


@dataclass(frozen=True, slots=True)
class AckFacts:
    """What an acknowledgement (and a call-back task) says; times are aware UTC."""

    number: str  # "HOT-2026-000123"
    language: str  # "pl" | "en"
    subject: str  # the ticket subject (user-supplied: sanitised before any header use)
    reference: str | None  # the form's znak
    user_name: str | None
    office: str | None
    received_at: datetime  # aware UTC
    effective_received_at: datetime
    ack_due_at: datetime
    timezone: str  # e.g. "Europe/Warsaw": times are shown in it
    hours: tuple[str, str]  # ("08:00", "16:00")


@dataclass(frozen=True, slots=True)
class Envelope:
    """Our side of every message."""

    from_: str  # 'Hot-line <hotline@example.org>'
    loop_id: str  # our X-Loop value, e.g. 'hotline@example.org'
    message_id: str  # without <>, from parsers.refs.make_message_id (the caller's job)
    date: datetime  # aware


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """The facts of the delivery-failed notice template."""

    number: str
    address: str
    error: str


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


def _make_policy() -> Policy:
    """email.policy.SMTP (CRLF, RFC 2047 for non-ASCII) with our id-list and subject headers."""
    registry = HeaderRegistry()  # our own: the stdlib's default registry is shared
    registry.map_to_type("in-reply-to", _IdListHeader)
    registry.map_to_type("references", _IdListHeader)
    registry.map_to_type("subject", _SubjectHeader)
    return email_policy.SMTP.clone(header_factory=registry)


POLICY = _make_policy()


# --- header values ------------------------------------------------------------------


def clean_header_text(value: str, limit: int = SUBJECT_LIMIT) -> str:
    """One line of text fit for a header: no control or line-breaking characters,
    no bidi overrides (they disguise subjects), whitespace collapsed, at most ``limit``."""
    chars = (
        " " if unicodedata.category(ch) in _LINE_BREAKING else ch
        for ch in value
        if ch not in _BIDI_CONTROLS
    )
    return shorten(" ".join("".join(chars).split()), limit)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in "…" when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + _ELLIPSIS


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
        return _ANGLE_IDS.findall(references) or references.split()
    return references


def reply_subject(number: str, original: str, fallback: str = "") -> str:
    """``[HOT#2026-000123] original``: the tag once, in front, whatever the original held.

    Tags of this ticket and "Re:"/"Odp:" prefixes are removed from the original, so a
    reply to a tagged mail does not grow "Re: [HOT#..] Re: [HOT#..]".
    """
    tag = subject_tag(number)
    text = _bare_subject(number, original) or _bare_subject(number, fallback)
    return f"{tag} {shorten(text, SUBJECT_LIMIT - len(tag) - 1)}".rstrip()


def _bare_subject(number: str, subject: str) -> str:
    """A subject on one line without this ticket's tags and without reply prefixes."""
    wanted = canonical_number(number)[4:]
    text = clean_header_text(subject, limit=10 * SUBJECT_LIMIT)
    text = _TAG.sub(lambda m: "" if f"{m[1]}-{m[2]}" == wanted else m[0], text)
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
    if any(unicodedata.category(ch) in _LINE_BREAKING for ch in value):
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


# --- messages -----------------------------------------------------------------------


def ack_email(
    facts: AckFacts,
    env: Envelope,
    to: str,
    original_subject: str,
    in_reply_to: str | None,
    references: Sequence[str],
    *,
    library: Templates | None = None,
) -> EmailMessage:
    """The acknowledgement as a reply to the user's mail: text and HTML alternatives."""
    lib = library or templates()
    lang = pick_language(facts.language)
    subject = reply_subject(facts.number, original_subject, fallback=facts.subject)
    msg = _new_message(env, [to], subject, auto_submitted="auto-replied")
    _thread(msg, in_reply_to, references)
    msg.set_content(lib.render("ack.txt", lang, facts, channel="email"), cte="quoted-printable")
    msg.add_alternative(
        lib.render("ack.html", lang, facts, channel="email"), subtype="html", cte="quoted-printable"
    )
    return msg


def ack_fax(
    facts: AckFacts, env: Envelope, to: str, *, library: Templates | None = None
) -> EmailMessage:
    """The acknowledgement for the e-mail-to-fax gateway: a short body and a one-page PDF.

    ``to`` is the gateway address (see ``fax_gateway_address``).
    """
    lib = library or templates()
    lang = pick_language(facts.language)
    ack = lib.render_parts("ack.txt", lang, facts, channel="fax")
    pdf = render_pdf(ack.subject, ack.body, created=env.date, language=lang)
    msg = _new_message(env, [to], tagged_subject(facts.number, ack.subject), "auto-replied")
    msg.set_content(lib.render("ack_fax.txt", lang, facts), cte="quoted-printable")
    msg.add_attachment(
        pdf, maintype="application", subtype="pdf", filename=f"{canonical_number(facts.number)}.pdf"
    )
    return msg


def callback_notice(
    facts: AckFacts,
    env: Envelope,
    to: Sequence[str],
    phone: str,
    question_excerpt: str,
    *,
    language: str = "pl",
    library: Templates | None = None,
) -> EmailMessage:
    """Tells consultants to call the user back at ``phone`` before ``facts.ack_due_at``.

    In the consultants' ``language`` (not the user's): it is an internal task.
    """
    lib = library or templates()
    excerpt = shorten(_clean_body_text(question_excerpt).strip(), EXCERPT_LIMIT)
    phone_text = clean_header_text(phone, limit=40)
    notice = lib.render_parts(
        "callback.txt", language, facts, phone=phone_text, excerpt=excerpt or "-"
    )
    return _notice(env, to, facts.number, notice.subject, notice.body)


def delivery_failed_notice(
    number: str,
    language: str,
    env: Envelope,
    to: Sequence[str],
    address: str,
    error: str,
    *,
    library: Templates | None = None,
) -> EmailMessage:
    """Tells consultants that a message to ``address`` for ticket ``number`` was not delivered."""
    lib = library or templates()
    failure = DeliveryFailure(
        number=canonical_number(number),
        address=clean_header_text(address, limit=320),
        error=shorten(_clean_body_text(error).strip(), ERROR_LIMIT) or "-",
    )
    notice = lib.render_parts("delivery_failed.txt", language, failure)
    return _notice(env, to, failure.number, notice.subject, notice.body)


def _notice(
    env: Envelope, to: Sequence[str], number: str, subject: str, body: str
) -> EmailMessage:
    msg = _new_message(env, to, tagged_subject(number, subject), "auto-generated")
    msg.set_content(body, cte="quoted-printable")
    return msg


def _new_message(
    env: Envelope, to: Sequence[str], subject: str, auto_submitted: str
) -> EmailMessage:
    """The headers every message of ours has."""
    if isinstance(to, str) or not to:
        raise ValueError(f"recipients must be a non-empty list of addresses, got {to!r}")
    if env.date.tzinfo is None or env.date.utcoffset() is None:
        raise ValueError(f"Envelope.date must be timezone-aware: {env.date!r}")
    message_id = clean_message_id(env.message_id)
    if message_id is None:
        raise ValueError(f"invalid Message-ID: {env.message_id!r}")
    msg = EmailMessage(policy=POLICY)
    msg["From"] = parse_address(env.from_)
    msg["To"] = tuple(parse_address(a) for a in to)
    msg["Date"] = email.utils.format_datetime(env.date)
    msg["Message-ID"] = f"<{message_id}>"
    msg["Subject"] = clean_header_text(subject, limit=2 * SUBJECT_LIMIT)
    msg["Auto-Submitted"] = auto_submitted
    msg["X-Loop"] = clean_header_text(env.loop_id)
    msg["X-Auto-Response-Suppress"] = "All"
    return msg


def _thread(msg: EmailMessage, in_reply_to: str | None, references: Sequence[str]) -> None:
    """In-Reply-To and References, so the user's client threads the acknowledgement."""
    chain = thread_references(references, in_reply_to)
    parent = clean_message_id(in_reply_to) if in_reply_to else None
    if parent:
        msg["In-Reply-To"] = f"<{parent}>"
    if chain:
        msg["References"] = " ".join(f"<{i}>" for i in chain)


def _clean_body_text(text: str) -> str:
    """Body text from outside (a question, an SMTP error): newlines kept, controls dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        ch
        for ch in text
        if ch in "\n\t" or (unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
    )
