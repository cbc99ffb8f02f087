"""Raw RFC 5322 bytes -> a frozen ParsedMessage: decoded, normalised, never raising on bad MIME.

The MIME tree comes from the stdlib ``email`` parser (compat32, the fastest one); the
hardened pieces of mail-parser are used where they add value: mailbox parsing with
recovery diagnostics (``get_addresses``) and RFC 5322 date parsing with diagnostics
(``parse_mail_date``). A full ``MailParser`` run is not used: it costs ~0.7 ms on a small
message (received-header IP analysis, two header dictionaries, base64 re-encoding of
every attachment) and keeps base64 strings of attachments around.
"""
from __future__ import annotations

import binascii
import codecs
import email
import email.errors
import hashlib
import html
import logging
import mimetypes
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email import quoprimime
from email.generator import BytesGenerator
from email.message import Message
from email.utils import parsedate_to_datetime
from io import BytesIO
from typing import Iterator

from inscriptis import get_text
from mailparser.dates import parse_mail_date
from mailparser.utils import get_addresses

# mail-parser logs per-part chatter ("Email content 'alternative' not handled") at
# WARNING; keep command output and the journal clean.
logging.getLogger("mailparser").setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    addr: str  # lowercased, "" when unparseable


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str  # decoded (RFC 2047/2231); synthesised when the part has none
    content_type: str
    data: bytes
    sha256: str


@dataclass(frozen=True, slots=True)
class ParseLimits:
    max_attachments: int = 100
    max_depth: int = 20


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    message_id: str  # without angle brackets
    message_id_synthesized: bool
    content_hash: str  # sha256 over the body and key headers: re-delivery keeps it
    subject: str
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    return_path: str | None  # "" for the null path <>
    date: datetime | None  # aware, UTC
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]  # every top-level field, decoded, in order
    content_type: str
    text: str
    attachments: tuple[Attachment, ...]
    embedded_message_ids: tuple[str, ...]  # Message-IDs of attached/bounced messages
    defects: tuple[str, ...]

    def header(self, name: str) -> str | None:
        """First value of a header field, case-insensitively."""
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)


class UnparseableMessage(ValueError):
    """The bytes are not a mail message at all, or break a configured limit."""


# --------------------------------------------------------------------------- constants

SYNTHETIC_ID_DOMAIN = "synthesized.hotline"
_MAIL_HEADERS = frozenset(
    "from to cc subject date message-id received return-path content-type "
    "mime-version sender reply-to".split()
)
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Outlook .msg, old Office files
_EMBEDDED_HEADER_TYPES = frozenset({"text/rfc822-headers", "message/global-headers"})
_EMBEDDED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_BODY_TYPES = frozenset({"text/plain", "text/html"})
_EXTENSIONS = {
    "text/plain": ".txt",
    "text/html": ".html",
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "message/global-delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "text/rfc822-headers": ".txt",
    "application/octet-stream": ".bin",
    "image/jpeg": ".jpg",
    "image/tiff": ".tif",
}
_MIMETYPES = mimetypes.MimeTypes()  # built-in table only: same answer on every host
_ENCODED_WORD = re.compile(r"=\?([^?]*?)\?([qQbB])\?(.*?)\?=")
_FOLD = re.compile(r"\r\n(?=[ \t])|\n(?=[ \t])|\r(?=[ \t])")
_ANGLE_ID = re.compile(r"<([^<>]*)>")
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_TAGS = re.compile(r"<[^>]*>")
_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")


# --------------------------------------------------------------------------- public API

def parse(raw: bytes, limits: ParseLimits = ParseLimits()) -> ParsedMessage:
    """Parse raw message bytes; only ``UnparseableMessage`` ever escapes."""
    try:
        return _parse(bytes(raw), limits)
    except UnparseableMessage:
        raise
    except RecursionError as exc:
        raise UnparseableMessage(
            f"MIME nesting too deep for the parser (limits.max_depth={limits.max_depth})"
        ) from exc
    except Exception as exc:  # last line of defence: a worker must never crash on input
        raise UnparseableMessage(f"internal parser error: {type(exc).__name__}: {exc}") from exc


def decode_header_value(value: str, fallback_charset: str | None = None) -> str:
    """Unfold and decode one raw header value (RFC 2047, raw 8-bit) to text, never raising."""
    return _HeaderDecoder(fallback_charset).decode(value)


def synthesize_message_id(content_hash: str) -> str:
    """Stable Message-ID for a message without one, so re-delivery de-duplicates."""
    return f"{content_hash[:32]}@{SYNTHETIC_ID_DOMAIN}"


# --------------------------------------------------------------------------- top level

def _parse(raw: bytes, limits: ParseLimits) -> ParsedMessage:
    raw = _strip_mbox_from_line(raw)
    msg = _message_from_bytes(raw)
    defects = _Defects()
    hdr = _HeaderDecoder(_declared_charset(msg), defects)
    body = _Body(msg, limits, defects)
    content_hash = _content_hash(raw, msg)
    message_id = _message_id(msg, hdr)
    date = _date(msg, defects)
    sender = _addresses(msg, "from", hdr, keep_unparseable=True)
    return ParsedMessage(
        message_id=message_id or synthesize_message_id(content_hash),
        message_id_synthesized=not message_id,
        content_hash=content_hash,
        subject=hdr.decode(_first_raw(msg, "subject") or ""),
        sender=sender[0] if sender else None,
        to=_addresses(msg, "to", hdr),
        cc=_addresses(msg, "cc", hdr),
        reply_to=_addresses(msg, "reply-to", hdr),
        return_path=_return_path(msg),
        date=date,
        in_reply_to=_id_list(hdr.decode(_first_raw(msg, "in-reply-to") or "")),
        references=_id_list(hdr.decode(_first_raw(msg, "references") or "")),
        headers=tuple((name, hdr.decode(value)) for name, value in msg.raw_items()),
        content_type=msg.get_content_type(),
        text=body.text(),
        attachments=body.attachments,
        embedded_message_ids=body.embedded_ids,
        defects=defects.as_tuple(),
    )


def _strip_mbox_from_line(raw: bytes) -> bytes:
    """Drop the mbox envelope line: it is not part of the message and varies per mailbox."""
    if not raw.startswith(b"From "):
        return raw
    match = _LINE_ENDS.search(raw)
    return raw[match.end():] if match else b""


def _message_from_bytes(raw: bytes) -> Message:
    """Stdlib parse plus the checks that tell a mail message from arbitrary bytes."""
    if not raw.strip():
        raise UnparseableMessage("empty input: no RFC 5322 header fields found")
    if raw.startswith(_OLE2_MAGIC):
        raise UnparseableMessage(
            "no RFC 5322 header fields found: an OLE2 compound file (Outlook .msg?)"
        )
    msg = email.message_from_bytes(raw)
    if not any(name.lower() in _MAIL_HEADERS for name in msg.keys()):
        raise UnparseableMessage("no RFC 5322 header fields found (not a mail message)")
    return msg


def _first_raw(msg: Message, name: str) -> str | None:
    """First raw value of a field as str (8-bit bytes kept as surrogate escapes)."""
    lname = name.lower()
    return next((str(v) for k, v in msg.raw_items() if k.lower() == lname), None)


def _all_raw(msg: Message, name: str) -> list[str]:
    lname = name.lower()
    return [str(v) for k, v in msg.raw_items() if k.lower() == lname]


def _declared_charset(msg: Message) -> str | None:
    """The top-level charset: the best guess for raw 8-bit bytes in header fields."""
    charset = msg.get_content_charset()
    return charset if charset and _text_codec(charset) else None


# --------------------------------------------------------------------------- identity

def _content_hash(raw: bytes, msg: Message) -> str:
    """sha256 of key header values and the CRLF-normalised body: Received:-independent."""
    digest = hashlib.sha256()
    for name in ("from", "to", "subject", "date"):
        value = _first_raw(msg, name) or ""
        digest.update(" ".join(value.split()).encode("utf-8", "surrogateescape") + b"\0")
    digest.update(_crlf(_body_bytes(raw)))
    return digest.hexdigest()


def _body_bytes(raw: bytes) -> bytes:
    """Everything after the first blank line, whatever the line-ending convention."""
    first_cr, first_lf = raw.find(b"\r"), raw.find(b"\n")
    cr_only = first_cr != -1 and (first_lf == -1 or first_lf > first_cr + 1)
    pattern = rb"\r\r" if cr_only else rb"\n\r?\n"
    match = re.search(pattern, raw)
    return raw[match.end():] if match else b""


def _crlf(data: bytes) -> bytes:
    """CRLF-normalise without copying when the data already is (large attachments)."""
    crlf = data.count(b"\r\n")
    if crlf == data.count(b"\n") == data.count(b"\r"):
        return data
    if b"\r" not in data:
        return data.replace(b"\n", b"\r\n")
    return _LINE_ENDS.sub(b"\r\n", data)


def _message_id(msg: Message, hdr: _HeaderDecoder) -> str:
    """The Message-ID without brackets, "" when absent or empty."""
    value = hdr.decode(_first_raw(msg, "message-id") or "")
    match = _ANGLE_ID.search(value)
    if match:
        return "".join(match.group(1).split())
    words = value.split()
    return words[0].strip("<>") if words else ""


def _id_list(value: str) -> tuple[str, ...]:
    """Message-IDs of In-Reply-To/References: <...> tokens, else whitespace words."""
    ids = ["".join(m.split()) for m in _ANGLE_ID.findall(value)]
    if not ids:
        ids = [w.strip("<>,") for w in value.split()]
    return tuple(dict.fromkeys(i for i in ids if i))


def _return_path(msg: Message) -> str | None:
    value = _first_raw(msg, "return-path")
    if value is None:
        return None
    value = " ".join(value.split())
    match = _ANGLE_ID.search(value)
    return (match.group(1) if match else value).strip()


def _date(msg: Message, defects: _Defects) -> datetime | None:
    """Aware UTC datetime; strict parse first, lenient stdlib parse as a noted recovery."""
    raw = _first_raw(msg, "date")
    if raw is None:
        defects.add("no Date header")
        return None
    result = parse_mail_date(raw)
    for reason in result.reasons:
        defects.add(f"Date: {reason}: {_printable(raw)}")
    if result.value is not None:
        return result.value
    try:
        value = parsedate_to_datetime(" ".join(raw.split()))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    defects.add("Date: recovered with the lenient stdlib parser")
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _addresses(
    msg: Message, name: str, hdr: _HeaderDecoder, keep_unparseable: bool = False
) -> tuple[Address, ...]:
    """All mailboxes of every occurrence of a field, names decoded, addresses lowercased."""
    found: list[Address] = []
    for raw in _all_raw(msg, name):
        diagnostics: list[dict] = []
        text = hdr.decode_8bit(_FOLD.sub("", raw))
        pairs = get_addresses(text, defects=diagnostics, decode_names=True)
        for diag in diagnostics:
            hdr.defects.add(f"{name.title()}: {diag.get('reason', 'address defect')}: {_printable(raw)}")
        found += [_address(display, addr, hdr) for display, addr in pairs if addr]
        if not any(addr for _, addr in pairs) and keep_unparseable and text.strip():
            found.append(Address(name=hdr.decode(text), addr=""))
    return tuple(found)


def _address(display: str, addr: str, hdr: _HeaderDecoder) -> Address:
    name = hdr.decode(display) if "=?" in display else display.strip()
    addr = addr.strip().lower()
    return Address(name="" if name.lower() == addr else name, addr=addr)


def _printable(value: str) -> str:
    return repr(value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))


# --------------------------------------------------------------------------- decoding

class _Defects:
    """Ordered, de-duplicated defect strings."""

    def __init__(self) -> None:
        self._seen: dict[str, None] = {}

    def add(self, text: str) -> None:
        self._seen.setdefault(text, None)

    def add_part(self, part: Message) -> None:
        """The stdlib parser's defects of one part, named with the part's type."""
        for defect in part.defects:
            doc = (type(defect).__doc__ or "").strip().splitlines()
            summary = f": {doc[0]}" if doc else ""
            self.add(f"{part.get_content_type()}: {type(defect).__name__}{summary}")

    def as_tuple(self) -> tuple[str, ...]:
        return tuple(self._seen)


def _text_codec(charset: str) -> codecs.CodecInfo | None:
    """The codec for a charset name if it is a real text encoding (not base64, rot13...)."""
    try:
        info = codecs.lookup(charset.strip().strip('"').split("*")[0])
    except (LookupError, ValueError, TypeError):
        return None
    return info if getattr(info, "_is_text_encoding", True) else None


def decode_bytes(data: bytes, charset: str | None, defects: _Defects | None = None) -> str:
    """Bytes -> str in the declared charset with replacement; unknown charsets via utf-8.

    us-ascii (declared or default) is read as utf-8: 8-bit text labelled ascii is utf-8
    far more often than anything else.
    """
    codec = _text_codec(charset) if charset else None
    if charset and codec is None and defects is not None:
        defects.add(f"unknown charset {charset!r}: decoded as utf-8 with replacement characters")
    if codec is not None and codec.name != "ascii":
        try:
            return data.decode(codec.name, "replace")
        except (UnicodeError, ValueError, TypeError, LookupError):
            pass  # codecs such as idna refuse "replace"
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if defects is not None and codec is not None:
            defects.add(f"8-bit bytes not valid in charset {charset!r}: decoded as utf-8 with replacement characters")
        return data.decode("utf-8", "replace")


class _HeaderDecoder:
    """RFC 2047 words, raw 8-bit bytes and folding -> text, recording what went wrong."""

    def __init__(self, fallback_charset: str | None, defects: _Defects | None = None) -> None:
        self.fallback = fallback_charset
        self.defects = defects if defects is not None else _Defects()

    def decode(self, value: str) -> str:
        text = self.decode_8bit(_FOLD.sub("", value))
        text = text.replace("\r", " ").replace("\n", " ")
        if "=?" in text:
            text = self._decode_words(text)
        return text.strip()

    def decode_8bit(self, value: str) -> str:
        """Surrogate-escaped raw bytes (non-RFC 2047 headers) -> text: utf-8, else the body charset."""
        if value.isascii() or not re.search("[\udc80-\udcff]", value):
            return value
        data = value.encode("utf-8", "surrogateescape")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        if self.fallback:
            return decode_bytes(data, self.fallback)
        self.defects.add("raw 8-bit header bytes that are not utf-8: decoded with replacement characters")
        return data.decode("utf-8", "replace")

    def _decode_words(self, text: str) -> str:
        """Decode encoded words; adjacent words of one charset are joined before decoding
        (senders split multi-byte characters across words), whitespace between encoded
        words is dropped (RFC 2047 section 6.2)."""
        out: list[str] = []
        run: list[bytes] = []
        run_charset = ""
        pos = 0
        for match in _ENCODED_WORD.finditer(text):
            gap, pos = text[pos:match.start()], match.end()
            data = self._word_bytes(match.group(2), match.group(3))
            charset = match.group(1).split("*")[0].strip().lower()
            adjacent = bool(run) and not gap.strip()
            if data is not None and adjacent and charset == run_charset:
                run.append(data)
                continue
            self._flush(out, run, run_charset)
            run = []
            if data is None:
                out.append(gap + match.group(0))
                continue
            if not adjacent:
                out.append(gap)
            run, run_charset = [data], charset
        self._flush(out, run, run_charset)
        out.append(text[pos:])
        return "".join(out)

    def _flush(self, out: list[str], run: list[bytes], charset: str | None) -> None:
        if run:
            out.append(decode_bytes(b"".join(run), charset, self.defects))

    def _word_bytes(self, encoding: str, payload: str) -> bytes | None:
        """The octets of one encoded word, or None when it cannot be decoded."""
        try:
            if encoding in "qQ":
                return quoprimime.header_decode(payload).encode("latin-1")
            padded = payload + "=" * (-len(payload) % 4)
            return binascii.a2b_base64(padded.encode("ascii"))
        except (binascii.Error, UnicodeError, ValueError):
            self.defects.add(f"undecodable encoded word: {payload[:60]!r}")
            return None


# --------------------------------------------------------------------------- MIME body

@dataclass(slots=True)
class _Node:
    part: Message
    depth: int
    in_body: bool  # may contribute text (not under an attachment container)
    in_attached_message: bool  # inside an attached message/rfc822: its parts are not ours


class _Body:
    """Walks the MIME tree once: text parts, attachments and embedded Message-IDs."""

    def __init__(self, msg: Message, limits: ParseLimits, defects: _Defects) -> None:
        self.defects = defects
        self.plain: list[str] = []
        self.html: list[str] = []
        self.embedded: dict[str, None] = {}
        nodes = list(_walk(msg))
        _check_depth(nodes, limits)
        for node in nodes:
            defects.add_part(node.part)
        wanted = [n for n in nodes if self._wants_attachment(n)]
        if len(wanted) > limits.max_attachments:
            raise UnparseableMessage(
                f"{len(wanted)} attachments exceed limits.max_attachments={limits.max_attachments}"
            )
        attach_ids = {id(n.part) for n in wanted}
        found: list[Attachment] = []
        for node in nodes:
            self._collect_embedded_id(node.part)
            if id(node.part) in attach_ids:
                found.append(self._attachment(node.part, len(found) + 1))
            if self._is_body_text(node):
                self._add_text(node.part)
        self.attachments = tuple(found)
        self.embedded_ids = tuple(self.embedded)

    # ---- classification
    @staticmethod
    def _is_leaf(node: _Node) -> bool:
        payload = node.part.get_payload()
        return not isinstance(payload, list) or _is_message_type(node.part)

    def _wants_attachment(self, node: _Node) -> bool:
        if node.in_attached_message or not self._is_leaf(node):
            return False
        return not self._is_body_text(node) or self._is_named_inline_text(node.part)

    def _is_body_text(self, node: _Node) -> bool:
        part = node.part
        if not node.in_body or node.in_attached_message or not self._is_leaf(node):
            return False
        if _is_message_type(part) or _content_type(part) not in _BODY_TYPES:
            return False
        disposition = part.get_content_disposition()
        if disposition == "attachment":
            return False
        return disposition == "inline" or not part.get_filename()

    @staticmethod
    def _is_named_inline_text(part: Message) -> bool:
        """Named inline text is both body and a file (as mail-parser does)."""
        return part.get_content_disposition() == "inline" and bool(part.get_filename())

    # ---- content
    def _add_text(self, part: Message) -> None:
        text = decode_bytes(_leaf_bytes(part), part.get_content_charset(), self.defects)
        if not text.strip():
            return
        if _content_type(part) == "text/html":
            self.html.append(text)
        else:
            self.plain.append(text)

    def text(self) -> str:
        """All plain parts; HTML rendered to text only when there is no plain part."""
        parts = self.plain or [self._html_to_text(h) for h in self.html]
        text = "\n".join(p for p in parts if p)
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def _html_to_text(self, markup: str) -> str:
        try:
            return get_text(markup)
        except Exception as exc:  # lxml refuses some garbage; fall back to tag stripping
            self.defects.add(f"HTML not convertible ({type(exc).__name__}): tags stripped")
            return html.unescape(_TAGS.sub(" ", markup))

    def _attachment(self, part: Message, index: int) -> Attachment:
        ctype = _content_type(part)
        data = _message_bytes(part) if _is_message_type(part) else _leaf_bytes(part)
        return Attachment(
            filename=self._filename(part, ctype, index),
            content_type=ctype,
            data=data,
            sha256=hashlib.sha256(data).hexdigest(),
        )

    def _filename(self, part: Message, ctype: str, index: int) -> str:
        try:
            name = part.get_filename()
        except (ValueError, TypeError, LookupError, UnicodeError):
            self.defects.add("undecodable attachment file name")
            name = None
        name = _clean_filename(_HeaderDecoder(None, self.defects).decode(str(name))) if name else ""
        return name or f"attachment-{index}{_extension(ctype)}"

    def _collect_embedded_id(self, part: Message) -> None:
        """Message-IDs of attached messages and returned headers: bounces point back this way."""
        ctype = _content_type(part)
        if ctype in _EMBEDDED_MESSAGE_TYPES:
            inner = _inner_message(part)
        elif ctype in _EMBEDDED_HEADER_TYPES:
            inner = email.message_from_bytes(_leaf_bytes(part).lstrip())
        else:
            return
        if inner is not None:
            mid = _message_id(inner, _HeaderDecoder(None))
            if mid:
                self.embedded.setdefault(mid, None)


def _walk(msg: Message) -> Iterator[_Node]:
    """Iterative pre-order walk (the stdlib walk recurses) with depth and context."""
    stack = [_Node(msg, 0, True, False)]
    while stack:
        node = stack.pop()
        yield node
        payload = node.part.get_payload()
        if not isinstance(payload, list):
            continue
        part = node.part
        in_body = node.in_body and part.get_content_disposition() != "attachment"
        attached = node.in_attached_message or _is_message_type(part)
        children = [p for p in payload if isinstance(p, Message)]
        stack.extend(_Node(c, node.depth + 1, in_body, attached) for c in reversed(children))


def _check_depth(nodes: list[_Node], limits: ParseLimits) -> None:
    depth = max(n.depth for n in nodes)
    if depth > limits.max_depth:
        raise UnparseableMessage(
            f"MIME nesting depth {depth} exceeds limits.max_depth={limits.max_depth}"
        )


def _content_type(part: Message) -> str:
    ctype = part.get_content_type()
    if ctype.startswith("multipart/") and not isinstance(part.get_payload(), list):
        return "text/plain"  # a multipart without usable boundaries: keep its text
    return ctype


def _is_message_type(part: Message) -> bool:
    """message/* parts are files in their own right (.eml, delivery reports)."""
    return part.get_content_maintype() == "message"


def _leaf_bytes(part: Message) -> bytes:
    """Transfer-decoded bytes of a leaf, decoding base64 in one pass without extra copies."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return _message_bytes(part)
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte == "base64" and isinstance(payload, str):
        try:
            return binascii.a2b_base64(payload)
        except (binascii.Error, ValueError):
            pass  # bad padding or 8-bit garbage: the stdlib repairs what it can
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError, LookupError, UnicodeError, binascii.Error):
        data = None
    if isinstance(data, bytes):
        return data
    return str(payload or "").encode("utf-8", "surrogateescape")


def _message_bytes(part: Message) -> bytes:
    """The body of a message/* part as bytes (an attached .eml, a delivery report)."""
    buffer = BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False).flatten(part)
    except (ValueError, TypeError, LookupError, UnicodeError, AttributeError):
        return b""
    data = _body_bytes(buffer.getvalue())
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte in ("base64", "quoted-printable"):  # illegal for message/*, but seen
        carrier = email.message_from_bytes(b"Content-Transfer-Encoding: " + cte.encode() + b"\n\n" + data)
        data = _leaf_bytes(carrier)
    return data


def _inner_message(part: Message) -> Message | None:
    """The message carried by a message/rfc822 part, re-parsed when it was transfer-encoded."""
    payload = part.get_payload()
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if isinstance(payload, list) and payload and cte not in ("base64", "quoted-printable"):
        inner = payload[0]
        return inner if isinstance(inner, Message) else None
    data = _message_bytes(part) if isinstance(payload, list) else _leaf_bytes(part)
    return email.message_from_bytes(data.lstrip()) if data.strip() else None


def _clean_filename(name: str) -> str:
    """Basename without control characters: senders put paths (C:\\...) and junk in names."""
    name = _UNSAFE_NAME_CHARS.sub("", name).replace("\\", "/").rsplit("/", 1)[-1].strip()
    return "" if name in (".", "..") else name


def _extension(ctype: str) -> str:
    return _EXTENSIONS.get(ctype) or _MIMETYPES.guess_extension(ctype) or ".bin"
