"""Build raw test messages as bytes.

``make_message`` covers well-formed mail built with the stdlib ``email`` package; the
``raw_*`` helpers and the specialised builders produce the malformed and machine-made
mail (bounces, auto-replies, deep nesting) that a real mailbox receives.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from email import message_from_bytes
from email.charset import BASE64, QP, Charset
from email.encoders import encode_base64
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr

DEFAULT_DATE = "Mon, 02 Mar 2026 10:15:00 +0100"
HeaderItems = Mapping[str, str] | Sequence[tuple[str, str]]
# (filename, content_type, data); filename None for a nameless part
AttachmentSpec = tuple[str | None, str, bytes]


def make_message(
    subject: str | None = "Pytanie",
    sender: str | None = "Jan Kowalski <jan@example.pl>",
    to: str | None = "hotline@example.org",
    body: str | None = "Dzień dobry,\nmam pytanie.\n",
    charset: str = "utf-8",
    headers: HeaderItems | None = None,
    attachments: Iterable[AttachmentSpec] = (),
    html: str | None = None,
    message_id: str | None = "<q1.20260302@example.pl>",
    date: str | None = DEFAULT_DATE,
    cc: str | None = None,
    encode_subject: bool = True,
    filename_style: str = "rfc2231",
) -> bytes:
    """A well-formed message: text and/or HTML body, optional attachments.

    ``subject`` and display names are RFC 2047-encoded in ``charset`` when they are not
    ASCII (``encode_subject=False`` writes them raw, as 8-bit bytes in that charset).
    ``filename_style`` is "rfc2231" (``filename*=``) or "rfc2047" (an encoded word in a
    quoted filename, as Outlook does).
    """
    root = _body_part(body, html, charset)
    specs = list(attachments)
    if specs:
        mixed = MIMEMultipart("mixed")
        mixed.attach(root)
        for spec in specs:
            mixed.attach(attachment_part(*spec, filename_style=filename_style))
        root = mixed
    _set_headers(root, subject, sender, to, cc, message_id, date, charset, encode_subject)
    for name, value in _items(headers):
        root[name] = value
    return to_bytes(root)


def _body_part(body: str | None, html: str | None, charset: str) -> Message:
    """text/plain, text/html, or multipart/alternative of both."""
    parts = [text_part(body, "plain", charset)] if body is not None else []
    if html is not None:
        parts.append(text_part(html, "html", charset))
    if not parts:
        return text_part("", "plain", charset)
    if len(parts) == 1:
        return parts[0]
    alternative = MIMEMultipart("alternative")
    for part in parts:
        alternative.attach(part)
    return alternative


def text_part(text: str, subtype: str = "plain", charset: str = "utf-8") -> Message:
    """A text part in any charset Python can encode, including ones email.charset lacks."""
    cs = Charset(charset)
    if cs.body_encoding is None and charset.lower() not in ("us-ascii", "ascii"):
        cs.body_encoding = QP if charset.lower().startswith("iso-8859") else BASE64
    cs.output_charset = charset  # windows-1250 and friends: keep the name as given
    cs.output_codec = charset
    part = MIMEText("", subtype, "us-ascii")
    del part["Content-Transfer-Encoding"]
    part.set_payload(text, cs)
    return part


def attachment_part(
    filename: str | None, content_type: str, data: bytes, filename_style: str = "rfc2231"
) -> Message:
    """A base64 attachment; the file name encoded the way real clients do."""
    maintype, _, subtype = content_type.partition("/")
    if maintype == "message" and subtype == "rfc822":
        part: Message = MIMEMessage(message_from_bytes(data))
    elif maintype == "text":
        part = MIMEText(data.decode("utf-8"), subtype, "utf-8")
    elif maintype == "application":
        part = MIMEApplication(data, subtype)
    else:
        part = MIMEBase(maintype, subtype)
        part.set_payload(data)
        encode_base64(part)
    if filename is not None:
        if filename_style == "rfc2047" and not filename.isascii():
            part["Content-Disposition"] = f'attachment; filename="{Header(filename, "utf-8").encode()}"'
        else:
            part.add_header("Content-Disposition", "attachment", filename=_param(filename))
    elif maintype not in ("message",):
        part["Content-Disposition"] = "attachment"
    return part


def _param(value: str) -> str | tuple[str, str, str]:
    """ASCII stays a plain parameter; anything else becomes RFC 2231 ``name*=utf-8''...``."""
    return value if value.isascii() else ("utf-8", "", value)


def _set_headers(
    msg: Message,
    subject: str | None,
    sender: str | None,
    to: str | None,
    cc: str | None,
    message_id: str | None,
    date: str | None,
    charset: str,
    encode: bool,
) -> None:
    """Top-level headers, in the order a mail client writes them."""
    fields = [("From", sender), ("To", to), ("Cc", cc), ("Subject", subject), ("Date", date),
              ("Message-ID", message_id)]
    for name, value in reversed(fields):
        if value is None:
            continue
        if not encode:
            value = raw_8bit(value, charset)
        elif name in ("From", "To", "Cc"):
            value = encode_addresses(value, charset)
        elif name == "Subject" and not value.isascii():
            value = Header(value, charset).encode()
        msg._headers.insert(0, (name, value))  # before Content-Type, like clients do
    if "MIME-Version" not in msg:
        msg["MIME-Version"] = "1.0"


def encode_addresses(value: str, charset: str = "utf-8") -> str:
    """Encode non-ASCII display names of a simple 'Name <addr>, ...' list (RFC 2047)."""
    out = []
    for item in value.split(","):
        name, _, rest = item.strip().rpartition("<")
        if name and not name.isascii():
            out.append(formataddr((name.strip().strip('"'), rest.rstrip(">")), charset))
        else:
            out.append(item.strip())
    return ", ".join(out)


def _items(headers: HeaderItems | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers)


def to_bytes(msg: Message, eol: bytes = b"\r\n") -> bytes:
    """Serialise with the given line ending."""
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", eol)


def raw_8bit(value: str, charset: str) -> str:
    """A header value that the generator writes as raw 8-bit bytes in ``charset``."""
    return value.encode(charset).decode("ascii", "surrogateescape")


# --------------------------------------------------------------------------- raw builders

def raw_message(
    headers: HeaderItems,
    body: bytes | str = b"",
    eol: bytes = b"\r\n",
) -> bytes:
    """Exactly the given header fields and body, byte for byte (for malformed mail).

    Header values and a str body are encoded as utf-8; pass bytes for anything else.
    Line ends in ``body`` are left alone, so CR-only and mixed endings can be built.
    """
    lines = []
    for name, value in _items(headers):
        raw_value = value if isinstance(value, bytes) else value.encode("utf-8")
        lines.append(name.encode("ascii") + b": " + raw_value)
    data = body if isinstance(body, bytes) else body.encode("utf-8")
    return eol.join(lines) + eol + eol + data


def with_prepended_headers(raw: bytes, headers: HeaderItems) -> bytes:
    """Add trace fields at the top, as each relay does (Received:, Return-Path:, Delivered-To:)."""
    eol = b"\r\n" if b"\r\n" in raw else b"\n"
    added = b"".join(n.encode() + b": " + v.encode() + eol for n, v in _items(headers))
    return added + raw


def mbox_from_line(raw: bytes, envelope: str = "jan@example.pl") -> bytes:
    """The message as the first entry of an mbox file."""
    return f"From {envelope} Mon Mar  2 10:15:00 2026\n".encode() + raw


def nested_multipart(depth: int, leaf_text: str = "deep inside") -> bytes:
    """A message whose text part sits ``depth`` multipart levels down."""
    inner = "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + leaf_text + "\r\n"
    for level in reversed(range(depth)):
        inner = (
            f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n'
            f"--b{level}\r\n{inner}--b{level}--\r\n"
        )
    head = "From: a@example.pl\r\nTo: hotline@example.org\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    return (head + inner).encode()


def many_attachments(count: int) -> bytes:
    """A message with ``count`` small named attachments."""
    files = [(f"file{i}.txt", "application/octet-stream", f"file {i}".encode()) for i in range(count)]
    return make_message(subject="many files", attachments=files)


def dsn_bounce(
    original_message_id: str,
    original_subject: str = "Re: [HOT#2026-000123] Pytanie",
    recipient: str = "nobody@example.pl",
    reporting_mta: str = "mx.example.org",
    attach_full_message: bool = False,
) -> bytes:
    """An RFC 3464 delivery status notification (multipart/report) about one of our messages,
    laid out as Postfix writes it; the original comes back as headers or as a full message."""
    original = (
        f"From: Hot-line <hotline@example.org>\r\nTo: {recipient}\r\n"
        f"Subject: {original_subject}\r\nMessage-ID: <{original_message_id}>\r\n"
        f"Date: {DEFAULT_DATE}\r\n"
    )
    returned = (
        f"Content-Type: message/rfc822\r\n\r\n{original}\r\nOur answer.\r\n"
        if attach_full_message
        else f"Content-Type: text/rfc822-headers\r\n\r\n{original}"
    )
    text = (
        f"Return-Path: <>\r\n"
        f"From: MAILER-DAEMON@{reporting_mta} (Mail Delivery System)\r\n"
        f"To: hotline@example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {DEFAULT_DATE}\r\nMessage-ID: <bounce.1@{reporting_mta}>\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"\r\n\r\n'
        "--dsn\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"This is the mail system at host {reporting_mta}.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        f"be delivered to one or more recipients.\r\n\r\n<{recipient}>: host not found\r\n"
        "--dsn\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; {reporting_mta}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.2\r\n\r\n"
        f"--dsn\r\n{returned}\r\n--dsn--\r\n"
    )
    return text.encode("utf-8")


def out_of_office(
    subject: str = "Automatic reply: Pytanie",
    headers: HeaderItems | None = (("Auto-Submitted", "auto-replied"),),
) -> bytes:
    """An out-of-office reply as Exchange sends it (headers configurable)."""
    return make_message(
        subject=subject,
        sender="Anna Nowak <anna@example.pl>",
        body="Jestem na urlopie do 10 marca.\n",
        headers=headers,
        message_id="<ooo.1@example.pl>",
    )


def read_receipt(original_message_id: str) -> bytes:
    """An RFC 8098 disposition notification (read receipt)."""
    text = (
        "From: jan@example.pl\r\nTo: hotline@example.org\r\nSubject: Read: Pytanie\r\n"
        f"Date: {DEFAULT_DATE}\r\nMessage-ID: <mdn.1@example.pl>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="mdn"\r\n\r\n'
        "--mdn\r\nContent-Type: text/plain\r\n\r\nYour message was displayed.\r\n"
        "--mdn\r\nContent-Type: message/disposition-notification\r\n\r\n"
        f"Final-Recipient: rfc822; jan@example.pl\r\nOriginal-Message-ID: <{original_message_id}>\r\n"
        "Disposition: manual-action/MDN-sent-manually; displayed\r\n\r\n--mdn--\r\n"
    )
    return text.encode("utf-8")
