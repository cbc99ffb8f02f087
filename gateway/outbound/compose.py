"""Outgoing messages: acknowledgements (e-mail and fax), notices to consultants, and
the consultants' answers to users (e-mail, fax, or a call-back task).

Pure functions from frozen facts to ``EmailMessage`` objects; the outbox stores
``msg.as_bytes()`` and the worker sends them. Nothing here touches the network or the
database, so every header can be checked in a test.

Every message carries ``Auto-Submitted`` (RFC 3834) and our ``X-Loop``, so neither we
nor a well-behaved responder answers it, and ``X-Auto-Response-Suppress: All`` for
Exchange, which ignores RFC 3834. The one exception is a consultant's answer: it is a
person's message, so it has no ``Auto-Submitted`` (the user's filters and responders
treat it as one), but still our ``X-Loop``. No ``Precedence: bulk``: RFC 3834 leaves
Precedence unstandardised, and a personal reply marked "bulk" is what spam filters score
down.

Every message also says what it is (``X-Hotline-Kind``, a ``MailKind``) and, when it
concerns a ticket, which (``X-Hotline-Ticket``): SPEC "Mail we send", for mail filters.

User-supplied text (subjects, names, addresses from forms) reaches headers only through
gateway/outbound/headers.py, which drops CR, LF and other control characters.
"""
from __future__ import annotations

import base64
import email.utils
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage, Message
from typing import Literal

from gateway.outbound.headers import (
    POLICY,
    MailKind,
    SUBJECT_LIMIT,
    bare_subject,
    clean_header_text,
    clean_message_id,
    hotline_headers,
    parse_address,
    reply_subject,
    tagged_subject,
    thread_references,
)
from gateway.knowledge.suggest import Suggestions
from gateway.outbound.templates import Templates, pick_language, templates
from parsers.refs import canonical_number
from parsers.reply import REPLY_MARKERS  # the first line of a notification: the reply parser cuts there
from parsers.text import BIDI_CONTROLS, controls, shorten

EXCERPT_LIMIT = 1000
ERROR_LIMIT = 2000
TEXT_LIMIT = 100_000  # characters of a user's question shown to consultants
# control characters but newline and tab, and bidi controls (they disguise text)
_BODY_CONTROLS = controls("\t\n", c1=True, extra=BIDI_CONTROLS)
LINE_LIMIT = 320  # one displayed value: an address, a contact, a file name, a problem
ANSWER_MAX_PAGES = 10
NOTIFICATION_KINDS = ("new", "followup")
Attachment = tuple[str, str, bytes]  # (file name, content type, data)
_ANSWER_PDF_NAME = {"pl": "odpowiedz", "en": "answer"}
_OPAQUE = ("application", "octet-stream")

_MIME_TOKEN = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


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
    checkpoint: str | None = None  # the reply log's latest signed checkpoint: each user keeps a witness


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


@dataclass(frozen=True, slots=True)
class Notification:
    """What the consultants are told of a new ticket or a user's follow-up."""

    facts: AckFacts  # the ticket
    kind: Literal["new", "followup"]
    channel: str  # how the question came: "email" | "fax"
    sender: str  # the From of the user's message, display form (may be a fax gateway)
    contacts: tuple[str, ...]  # return contacts, e.g. ("e-mail: jan@x.pl", "fax: +48221234568")
    text: str  # the question (new) or the follow-up text
    review: tuple[str, ...]  # why a person must check it (needs_review reasons); empty = fine
    status: str  # the ticket's status now
    suggestions: Suggestions | None = None  # the knowledge base's best sections and similar answered tickets


@dataclass(frozen=True, slots=True)
class OmittedFile:
    """An attachment left out of a notification for its size, as the body lists it."""

    name: str
    size: str  # "12,5 MB"


@dataclass(frozen=True, slots=True)
class CommandProblems:
    """The facts of the command-error template."""

    number: str
    subject: str  # the consultant's subject without tags and "Re:"
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HeldMessage:
    """The facts of the held-message notice template."""

    number: str | None
    reason: str
    sender: str
    subject: str


@dataclass(frozen=True, slots=True)
class Reminder:
    """An SLA reminder (a stage such as "0.5") or escalation (the "breach" stage) of one
    clock; the consultant can answer straight from it (its Reply-To is the ticket's)."""

    facts: AckFacts  # the ticket
    clock: Literal["ack", "response", "resolution"]
    stage: str  # "0.5", "0.8", "breach"
    due_at: datetime  # aware UTC, shown in facts.timezone
    left: str  # working time left ("2h 30m"), or "" at breach
    late: str  # working time late, or ""
    question: str

    @property
    def escalation(self) -> bool:
        return self.stage == "breach"


@dataclass(frozen=True, slots=True)
class _File:
    """An attachment ready for ``add_attachment``: a safe name and a valid content type."""

    name: str
    maintype: str
    subtype: str
    params: dict[str, str]
    data: bytes


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
    msg = _new_message(env, [to], subject, "auto-replied", MailKind.ACK, facts.number)
    _thread(msg, in_reply_to, references)
    msg.set_content(_witnessed(lib.render("ack.txt", lang, facts, channel="email"), facts, lang), cte="quoted-printable")
    msg.add_alternative(
        _witnessed_html(lib.render("ack.html", lang, facts, channel="email"), facts, lang), subtype="html",
        cte="quoted-printable",
    )  # fmt: skip
    return _checkpoint_header(msg, facts)


def ack_fax(
    facts: AckFacts, env: Envelope, to: str, *, library: Templates | None = None
) -> EmailMessage:
    """The acknowledgement for the e-mail-to-fax gateway: a short body and a one-page PDF.

    ``to`` is the gateway address (see ``fax_gateway_address``).
    """
    lib = library or templates()
    lang = pick_language(facts.language)
    ack = lib.render_parts("ack.txt", lang, facts, channel="fax")
    from gateway.outbound.pdf import render_pdf  # fpdf loads in 0.2 s: only when a fax is made

    pdf = render_pdf(ack.subject, _witnessed(ack.body, facts, lang), created=env.date, language=lang)
    cover = lib.render("ack_fax.txt", lang, facts)
    filename = f"{canonical_number(facts.number)}.pdf"
    subject = tagged_subject(facts.number, ack.subject)
    msg = _fax(env, to, subject, cover, pdf, filename, "auto-replied", MailKind.ACK, facts.number)
    return _checkpoint_header(msg, facts)


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
    excerpt = _body_text(question_excerpt, EXCERPT_LIMIT)
    return _call_task(lib, "callback.txt", language, facts, env, to, phone, excerpt=excerpt)


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
        error=_body_text(error, ERROR_LIMIT),
    )
    notice = lib.render_parts("delivery_failed.txt", language, failure)
    return _notice(env, to, MailKind.DELIVERY_FAILED, failure.number, notice.subject, notice.body)


def notification(
    n: Notification,
    env: Envelope,
    to: Sequence[str],
    reply_to: str,
    attachments: Sequence[Attachment],
    *,
    language: str = "pl",
    max_attach_bytes: int = 20_000_000,
    library: Templates | None = None,
) -> EmailMessage:
    """Tells consultants of a new ticket or a follow-up, ready to be answered with Reply.

    ``reply_to`` is the per-ticket token address: a consultant's Reply goes there, which
    is how the answer is recognised. ``attachments`` (the fax, the OCR text) go along
    while their total stays within ``max_attach_bytes``; the others are listed in the
    body, since a mail server refusing the notification would hide the ticket instead.
    In the consultants' ``language``, like every notice.
    """
    if n.kind not in NOTIFICATION_KINDS:
        raise ValueError(f"notification kind must be one of {NOTIFICATION_KINDS}, got {n.kind!r}")
    lib = library or templates()
    lang = pick_language(language)
    attached, omitted = _within_limit(_files(attachments), max_attach_bytes)
    shown = _displayed(n)
    notice = lib.render_parts(
        "notification.txt",
        lang,
        shown.facts,
        note=shown,
        marker=REPLY_MARKERS[lang],
        omitted=[OmittedFile(f.name, _size_text(len(f.data), lang)) for f in omitted],
    )
    kind = MailKind.NOTIFICATION if n.kind == "new" else MailKind.FOLLOWUP
    msg = _notice(env, to, kind, n.facts.number, notice.subject, notice.body, reply_to=reply_to)
    _attach(msg, attached)
    return msg


def answer_email(
    facts: AckFacts,
    env: Envelope,
    to: str,
    text: str,
    original_subject: str,
    in_reply_to: str | None,
    references: Sequence[str],
    attachments: Sequence[Attachment],
    *,
    library: Templates | None = None,
) -> EmailMessage:
    """A consultant's answer to the user, threaded to the user's mail.

    A person's message, so no Auto-Submitted. ``text`` is the consultant's words: it is
    put in the body as written (newlines normalised; control characters and trailing
    blanks on lines dropped), between the template's short header and the footer on how
    to follow up.
    """
    lib = library or templates()
    lang = pick_language(facts.language)
    answer = lib.render_parts("answer.txt", lang, facts, **_answer_context(env, text, ()))
    subject = reply_subject(facts.number, original_subject, fallback=facts.subject)
    msg = _new_message(env, [to], subject, None, MailKind.ANSWER, facts.number)
    _thread(msg, in_reply_to, references)
    msg.set_content(_witnessed(answer.body, facts, lang), cte="quoted-printable")
    _attach(msg, _files(attachments))
    return _checkpoint_header(msg, facts)


def answer_fax(
    facts: AckFacts,
    env: Envelope,
    to: str,
    text: str,
    attachment_names: Sequence[str],
    *,
    library: Templates | None = None,
) -> EmailMessage:
    """A consultant's answer for the e-mail-to-fax gateway: a PDF of up to
    ``ANSWER_MAX_PAGES`` pages, numbered, in the user's language.

    ``attachment_names`` are the files that cannot go by fax: the PDF lists them, so the
    user knows to ask for them. ``to`` is the gateway address (see ``fax_gateway_address``).
    """
    lib = library or templates()
    lang = pick_language(facts.language)
    number = canonical_number(facts.number)
    context = _answer_context(env, text, attachment_names, channel="fax")
    answer = lib.render_parts("answer.txt", lang, facts, **context)
    from gateway.outbound.pdf import render_document  # fpdf: only when a fax is made

    pdf = render_document(
        answer.subject, _witnessed(answer.body, facts, lang), max_pages=ANSWER_MAX_PAGES, footer=number,
        created=env.date, language=lang,
    )  # fmt: skip
    cover = lib.render("answer_fax.txt", lang, facts)
    filename = f"{number}-{_ANSWER_PDF_NAME[lang]}.pdf"
    msg = _fax(env, to, tagged_subject(number, answer.subject), cover, pdf, filename, None, MailKind.ANSWER, number)
    return _checkpoint_header(msg, facts)


def answer_callback_notice(
    facts: AckFacts,
    env: Envelope,
    to: Sequence[str],
    phone: str,
    text: str,
    *,
    language: str = "pl",
    library: Templates | None = None,
) -> EmailMessage:
    """Tells consultants to phone the user at ``phone`` and give them the answer ``text``:
    the user asked for answers by phone, which the gateway cannot do itself."""
    lib = library or templates()
    answer = _body_text(text, TEXT_LIMIT)
    return _call_task(lib, "answer_callback.txt", language, facts, env, to, phone, text=answer)


def command_error(
    env: Envelope,
    to: str,
    number: str,
    problems: Sequence[str],
    original_subject: str,
    in_reply_to: str | None,
    *,
    language: str = "pl",
    library: Templates | None = None,
) -> EmailMessage:
    """Tells a consultant that their reply's mail commands were wrong and nothing went to
    the user; threaded to their reply, and marked auto-replied, which it is."""
    lib = library or templates()
    facts = CommandProblems(
        number=canonical_number(number),
        subject=bare_subject(number, original_subject),
        problems=tuple(clean_header_text(p, limit=LINE_LIMIT) for p in problems) or ("-",),
    )
    notice = lib.render_parts("command_error.txt", language, facts)
    msg = _notice(
        env, [to], MailKind.COMMAND_ERROR, facts.number, notice.subject, notice.body,
        auto_submitted="auto-replied",
    )  # fmt: skip
    _thread(msg, in_reply_to, [])
    return msg


def held_notice(
    env: Envelope,
    to: Sequence[str],
    number: str | None,
    reason: str,
    sender: str,
    subject: str,
    *,
    language: str = "pl",
    library: Templates | None = None,
) -> EmailMessage:
    """Tells consultants that a message claiming to be a consultant's answer was held,
    not forwarded: its sender and subject are whatever the sender chose, so both are
    cleaned, and the notice asks a person to check rather than offering a shortcut."""
    lib = library or templates()
    facts = HeldMessage(
        number=canonical_number(number) if number else None,
        reason=_body_text(reason, ERROR_LIMIT),
        sender=clean_header_text(sender, limit=LINE_LIMIT) or "-",
        subject=clean_header_text(subject, limit=SUBJECT_LIMIT) or "-",
    )
    notice = lib.render_parts("held.txt", language, facts)
    return _notice(env, to, MailKind.HELD, facts.number, notice.subject, notice.body)


def reminder(
    r: Reminder,
    env: Envelope,
    to: Sequence[str],
    reply_to: str | None,
    *,
    language: str = "pl",
    library: Templates | None = None,
) -> EmailMessage:
    """An SLA reminder or escalation, in the consultants' language; X-Hotline-Clock and
    X-Hotline-Stage let mail clients file them apart."""
    lib = library or templates()
    shown = replace(r, question=_body_text(r.question, EXCERPT_LIMIT))
    notice = lib.render_parts("reminder.txt", language, shown)
    kind = MailKind.ESCALATION if r.escalation else MailKind.REMINDER
    msg = _notice(env, to, kind, r.facts.number, notice.subject, notice.body, reply_to=reply_to)
    msg["X-Hotline-Clock"] = r.clock
    msg["X-Hotline-Stage"] = clean_header_text(r.stage, limit=20)
    return msg


def _displayed(n: Notification) -> Notification:
    """``n`` with every outside value fit for the body: one-line subject (without our tag
    and "Re:", which the tag in front replaces), sender and contacts, the text without
    control characters, a visible "-" where nothing was given."""
    return replace(
        n,
        facts=replace(n.facts, subject=bare_subject(n.facts.number, n.facts.subject)),
        sender=clean_header_text(n.sender, limit=LINE_LIMIT) or "-",
        contacts=_lines(n.contacts),
        text=_body_text(n.text, TEXT_LIMIT),
        review=_lines(n.review),
        status=clean_header_text(n.status, limit=40),
        channel=clean_header_text(n.channel, limit=40),
    )


def _answer_context(
    env: Envelope, text: str, unsent: Sequence[str], channel: str = "email"
) -> dict[str, object]:
    """What the answer template needs: the answer as written (CR/LF and control
    characters aside), the date of sending, the files that could not go with it."""
    names = [_file_name(name, i) for i, name in enumerate(unsent, start=1)]
    answer = _clean_body_text(text).strip("\n")
    return {"channel": channel, "text": answer, "date": env.date, "unsent": names}


def _lines(values: Sequence[str]) -> tuple[str, ...]:
    """Outside values shown one per line: each on one line, empty ones left out."""
    return tuple(v for v in (clean_header_text(v, limit=LINE_LIMIT) for v in values) if v)


def _call_task(
    lib: Templates,
    template: str,
    language: str,
    facts: AckFacts,
    env: Envelope,
    to: Sequence[str],
    phone: str,
    **extra: str,
) -> EmailMessage:
    """A task for consultants to phone the user: the number is shown, never dialled, but
    it reaches the subject, so it is cleaned like any header text."""
    phone_text = clean_header_text(phone, limit=40)
    notice = lib.render_parts(template, language, facts, phone=phone_text, **extra)
    return _notice(env, to, MailKind.CALLBACK, facts.number, notice.subject, notice.body)


def _notice(
    env: Envelope,
    to: Sequence[str],
    kind: MailKind,
    number: str | None,
    subject: str,
    body: str,
    *,
    auto_submitted: str = "auto-generated",
    reply_to: str | None = None,
) -> EmailMessage:
    """A plain-text message to consultants, tagged with the ticket when there is one."""
    subject = tagged_subject(number, subject) if number else subject
    msg = _new_message(env, to, subject, auto_submitted, kind, number, reply_to=reply_to)
    msg.set_content(body, cte="quoted-printable")
    return msg


def _fax(
    env: Envelope,
    to: str,
    subject: str,
    cover: str,
    pdf: bytes,
    filename: str,
    auto_submitted: str | None,
    kind: MailKind,
    number: str,
) -> EmailMessage:
    """A message for the e-mail-to-fax gateway: a short cover text and the PDF it faxes."""
    msg = _new_message(env, [to], subject, auto_submitted, kind, number)
    msg.set_content(cover, cte="quoted-printable")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return msg


_WITNESS = {
    "pl": "Punkt kontrolny rejestru odpowiedzi. Prosimy go zachować: pozwala sprawdzić, że rejestr "
          "pytań i odpowiedzi nie został później zmieniony (hotline register verify --checkpoint).",
    "en": "Reply log checkpoint. Please keep it: it lets anyone check that the register of questions "
          "and answers was not altered afterwards (hotline register verify --checkpoint).",
}  # fmt: skip


_DAILY = {
    "pl": ("Punkt kontrolny rejestru odpowiedzi z dnia {day}",
           "Rejestr odpowiedzi liczy {size} wpisów. Prosimy zachować ten punkt kontrolny: "
           "hotline register verify --checkpoint PLIK wykaże każde późniejsze skrócenie lub przepisanie rejestru."),
    "en": ("Reply log checkpoint of {day}",
           "The reply log holds {size} entries. Please keep this checkpoint: "
           "hotline register verify --checkpoint FILE shows any later cut or rewrite of the log."),
}  # fmt: skip


def daily_checkpoint(env: Envelope, to: Sequence[str], checkpoint: str, size: int, day: str, language: str) -> EmailMessage:
    """The day's signed checkpoint for the auditors: one more witness, kept outside our reach."""
    subject, text = _DAILY[pick_language(language)]
    return _notice(env, to, MailKind.CHECKPOINT, None, subject.format(day=day), f"{text.format(size=size)}\n\n{checkpoint}")


def _witnessed(text: str, facts: AckFacts, lang: str) -> str:
    """The text with the latest checkpoint at its end, after a signature separator (replies
    quoting us leave it out), so that the user's copy is a witness of the log."""
    if facts.checkpoint is None:
        return text
    return f"{text.rstrip()}\n\n-- \n{_WITNESS[lang]}\n\n{facts.checkpoint}"


def _witnessed_html(page: str, facts: AckFacts, lang: str) -> str:
    """The HTML part with the same checkpoint block as the text, before </body> (so it is
    there whatever the admin's template says): the checkpoint in a <pre>, its lines alone on
    theirs, so a page the user saves is a checkpoint `register verify --checkpoint` reads."""
    if facts.checkpoint is None:
        return page
    block = (f'<hr style="border: 0; border-top: 1px solid #ccc; margin-top: 24px;">\n'
             f'<p style="color: #555; font-size: 12px;">{html.escape(_WITNESS[lang])}</p>\n'
             f'<pre style="font-size: 12px;">\n{html.escape(facts.checkpoint, quote=False)}</pre>\n')  # fmt: skip
    head, body_end, tail = page.rpartition("</body>")
    return f"{head}{block}{body_end}{tail}" if body_end else f"{page.rstrip()}\n{block}"


def _checkpoint_header(msg: EmailMessage, facts: AckFacts) -> EmailMessage:
    """X-Hotline-Checkpoint: the signed note in base64 (one line), for tools that collect them."""
    if facts.checkpoint is not None:
        msg["X-Hotline-Checkpoint"] = base64.b64encode(facts.checkpoint.encode("utf-8")).decode("ascii")
    return msg


def _new_message(
    env: Envelope,
    to: Sequence[str],
    subject: str,
    auto_submitted: str | None,
    kind: MailKind,
    number: str | None,
    *,
    reply_to: str | None = None,
) -> EmailMessage:
    """The headers every message of ours has; ``auto_submitted=None`` for a person's
    message (a consultant's answer), which must not look automatic to the user. ``kind``
    and the ticket ``number`` (None when the message concerns none) are for mail filters."""
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
    if reply_to is not None:
        msg["Reply-To"] = parse_address(reply_to)
    msg["Subject"] = clean_header_text(subject, limit=2 * SUBJECT_LIMIT)
    if auto_submitted is not None:
        msg["Auto-Submitted"] = auto_submitted
    msg["X-Loop"] = clean_header_text(env.loop_id)
    msg["X-Auto-Response-Suppress"] = "All"
    for name, value in hotline_headers(kind, number):
        msg[name] = value
    return msg


def _thread(msg: EmailMessage, in_reply_to: str | None, references: Sequence[str]) -> None:
    """In-Reply-To and References, so the recipient's client threads our message."""
    chain = thread_references(references, in_reply_to)
    parent = clean_message_id(in_reply_to) if in_reply_to else None
    if parent:
        msg["In-Reply-To"] = f"<{parent}>"
    if chain:
        msg["References"] = " ".join(f"<{i}>" for i in chain)


def _clean_body_text(text: str) -> str:
    """Body text from outside (a question, an SMTP error): newlines kept, controls dropped."""
    return _BODY_CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _body_text(text: str, limit: int) -> str:
    """Outside text for a body: cleaned, shortened to ``limit``, "-" when empty. Cleaned a
    piece at a time until the limit is passed: a huge question costs what is shown of it."""
    shown, start = "", 0
    while len(shown.rstrip()) <= limit and start < len(text):
        end = start + limit + 1
        end += text[end - 1 : end] == "\r"  # keep a CR LF together
        shown = (shown + _clean_body_text(text[start:end])).lstrip()
        start = end
    return shorten(shown.rstrip(), limit) or "-"


# --- attachments --------------------------------------------------------------------


def _files(attachments: Sequence[Attachment]) -> list[_File]:
    """``(name, content type, data)`` tuples made safe to attach: see ``_file_name``
    and ``_content_type``."""
    return [
        _File(_file_name(name, i), *_content_type(content_type, data), data)
        for i, (name, content_type, data) in enumerate(attachments, start=1)
    ]


def _file_name(name: str, position: int) -> str:
    """The last path component on one line (a name like "..\\x" or "a/b" from a user's
    mail must not suggest a folder to the client); ``attachment-N`` when nothing is left."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return clean_header_text(base, limit=LINE_LIMIT).strip(". ") or f"attachment-{position}"


def _content_type(value: str, data: bytes) -> tuple[str, str, dict[str, str]]:
    """``("text", "plain", {"charset": "utf-8"})`` from a Content-Type value.

    Anything malformed becomes application/octet-stream, and so do message/* and
    multipart/*: those may not be sent base64 (RFC 2046), and we send bytes as given.
    Text keeps its charset, or gets utf-8 when it decodes as such.
    """
    maintype, _, subtype = value.split(";", 1)[0].strip().lower().partition("/")
    if not (_MIME_TOKEN.fullmatch(maintype) and _MIME_TOKEN.fullmatch(subtype)):
        return (*_OPAQUE, {})
    if maintype in ("message", "multipart"):
        return (*_OPAQUE, {})
    if maintype != "text":
        return maintype, subtype, {}
    head = Message()
    head["Content-Type"] = clean_header_text(value, limit=LINE_LIMIT)
    charset = head.get_param("charset")
    if isinstance(charset, str) and _MIME_TOKEN.fullmatch(charset.lower()):
        return maintype, subtype, {"charset": charset.lower()}
    return maintype, subtype, ({"charset": "utf-8"} if _is_utf8(data) else {})


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _within_limit(files: Sequence[_File], limit: int) -> tuple[list[_File], list[_File]]:
    """The files that fit in ``limit`` bytes taken in order (a big one is skipped, smaller
    ones after it may still fit), and the ones left out."""
    kept: list[_File] = []
    left: list[_File] = []
    total = 0
    for f in files:
        if total + len(f.data) <= limit:
            kept.append(f)
            total += len(f.data)
        else:
            left.append(f)
    return kept, left


def _attach(msg: EmailMessage, files: Sequence[_File]) -> None:
    for f in files:
        msg.add_attachment(
            f.data, maintype=f.maintype, subtype=f.subtype, filename=f.name, params=f.params
        )


def _size_text(size: int, language: str) -> str:
    """``"12,5 MB"`` (Polish decimal comma) or ``"12.5 MB"``: for people, not exact."""
    if size < 1000:
        text = f"{size} B"
    elif size < 1_000_000:
        text = f"{size / 1000:.0f} kB"
    else:
        text = f"{size / 1_000_000:.1f} MB"
    return text.replace(".", ",") if language == "pl" else text
