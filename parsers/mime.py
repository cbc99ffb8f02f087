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
import functools
import hashlib
import html
import logging
import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from email.generator import BytesGenerator
from email.message import Message
from email.policy import Compat32
from email.utils import getaddresses, parsedate_to_datetime
from io import BytesIO
from typing import TYPE_CHECKING, Any, Callable, Iterator

from mailparser.dates import parse_mail_date
from mailparser.utils import get_addresses

from parsers.identity import ANGLE_ID, bounded_id, clean_message_id, header_end, identify, repair_obsolete_fields, strip_envelope

if TYPE_CHECKING:
    from inscriptis.model.config import ParserConfig

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
    max_mime_depth: int = 20
    max_text_chars: int = 200_000  # of the body text kept; the raw message keeps all of it


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    message_id: str  # without angle brackets
    message_id_synthesized: bool
    content_hash: str  # sha256 over all but trace headers and the body: re-delivery keeps it
    subject: str
    sender: Address | None  # the first mailbox of From
    senders: tuple[Address, ...]  # every mailbox of every From field: an answer needs exactly one
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
    text_cut: bool = False  # the body text was longer than limits.max_text_chars: `text` is its start

    def header(self, name: str) -> str | None:
        """First value of a header field, case-insensitively."""
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)


class UnparseableMessage(ValueError):
    """The bytes are not a mail message at all, or break a configured limit."""


Decode = Callable[[str], str]

# --------------------------------------------------------------------------- constants

_MAIL_HEADERS = frozenset(
    "from to cc subject date message-id received return-path content-type "
    "mime-version sender reply-to".split()
)
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Outlook .msg, old Office files
_EMBEDDED_HEADER_TYPES = frozenset({"text/rfc822-headers", "message/global-headers"})
_EMBEDDED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_BODY_TYPES = frozenset({"text/plain", "text/html"})
_PARAM_FIELDS = frozenset({"content-type", "content-disposition"})
_CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949",  # what Outlook means by it; euc_kr lacks characters
    "x-mac-ce": "mac-latin2",
    "x-sjis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "x-gbk": "gbk",
    "x-ms-cp932": "cp932",
}
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
_TEXT_LINE_ENDS = re.compile(r"\r\n|\r|\n")
_PARAM_ERRORS = (ValueError, TypeError, LookupError, UnicodeError, IndexError, email.errors.MessageError)
_TAGS = re.compile(r"<[^>]*>")
_NAME_SPACES = re.compile(r"[\r\n\t]+")
_SPACE_RUN = re.compile(r" {2,}")
_LAST_ANGLE_ADDR = re.compile(r"<\s*([^<>\s@]+@[^<>\s@]+?)\s*>[^<>]*$")
MAX_BYTES_PER_CHAR = 4  # UTF-8, UTF-16 and UTF-32 never need more for one character
HTML_MARKUP_PER_CHAR = 20  # markup read per character of text kept: styled Outlook HTML runs about 10
_DOT_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_SIMPLE_MAILBOX = re.compile(
    rf"""[ \t]*(?:(?P<name>[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~ \t-]*|"[^"\\\r\n]*")[ \t]*"""
    rf"""<(?P<angle>{_DOT_ATOM}@{_DOT_ATOM})>|(?P<bare>{_DOT_ATOM}@{_DOT_ATOM}))[ \t]*"""
)


# --------------------------------------------------------------------------- public API

def parse(raw: bytes, limits: ParseLimits = ParseLimits()) -> ParsedMessage:
    """Parse raw message bytes; only ``UnparseableMessage`` ever escapes."""
    try:
        return _parse(bytes(raw), limits)
    except UnparseableMessage:
        raise
    except RecursionError as exc:
        raise UnparseableMessage(
            f"MIME nesting too deep for the parser (limits.max_mime_depth={limits.max_mime_depth})"
        ) from exc
    except Exception as exc:  # last line of defence: a worker must never crash on input
        raise UnparseableMessage(f"internal parser error: {type(exc).__name__}: {exc}") from exc


def decode_header_value(value: str, fallback_charset: str | None = None) -> str:
    """Unfold and decode one raw header value (RFC 2047, raw 8-bit) to text, never raising."""
    return _HeaderDecoder(fallback_charset).decode(value)


# --------------------------------------------------------------------------- top level

def _parse(raw: bytes, limits: ParseLimits) -> ParsedMessage:
    ident = identify(raw)
    raw = strip_envelope(raw)
    msg = _message_from_bytes(raw)
    fields = _Fields(msg)
    defects = _Defects()
    hdr = _HeaderDecoder(lambda: _declared_charset(msg), defects)
    body = _Body(msg, limits, hdr)
    text = body.text()
    sender = _addresses(fields.all("from"), "From", hdr, keep_unparseable=True)
    return ParsedMessage(
        message_id=ident.message_id,
        message_id_synthesized=ident.synthesized,
        content_hash=ident.content_hash,
        subject=hdr.decode(fields.first("subject") or ""),
        sender=sender[0] if sender else None,
        senders=sender,
        to=_addresses(fields.all("to"), "To", hdr),
        cc=_addresses(fields.all("cc"), "Cc", hdr),
        reply_to=_addresses(fields.all("reply-to"), "Reply-To", hdr),
        return_path=_return_path(fields.first("return-path")),
        date=_date(fields.first("date"), defects),
        in_reply_to=_id_list(hdr.decode(fields.first("in-reply-to") or "")),
        references=_id_list(hdr.decode(fields.first("references") or "")),
        headers=tuple((name, hdr.decode(value)) for name, value in fields.items),
        content_type=msg.get_content_type(),
        text=text,
        attachments=body.attachments,
        embedded_message_ids=body.embedded_ids,
        defects=defects.as_tuple(),
        text_cut=body.cut,
    )


def _message_from_bytes(raw: bytes) -> Message:
    """Stdlib parse plus the checks that tell a mail message from arbitrary bytes."""
    if not raw.strip():
        raise UnparseableMessage("empty input: no RFC 5322 header fields found")
    if raw.startswith(_OLE2_MAGIC):
        raise UnparseableMessage(
            "no RFC 5322 header fields found: an OLE2 compound file (Outlook .msg?)"
        )
    msg = email.message_from_bytes(repair_obsolete_fields(raw), _class=_TolerantMessage)
    if not any(name.lower() in _MAIL_HEADERS for name in msg.keys()):
        raise UnparseableMessage("no RFC 5322 header fields found (not a mail message)")
    return msg


class _TolerantMessage(Message):
    """A Message whose parameter accessors never raise: a malformed parameter is an absent one.

    The stdlib raises ValueError/TypeError on some RFC 2231 garbage (a NUL in the charset,
    ``name*`` mixed with ``name*0``), even from inside the parser when it looks up the
    boundary; the parser builds every part with this class instead.
    """

    def get_param(self, param: str, failobj: Any = None, header: str = "content-type", unquote: bool = True) -> Any:
        try:
            return super().get_param(param, failobj, header, unquote)
        except _PARAM_ERRORS:
            return failobj

    def get_params(self, failobj: Any = None, header: str = "content-type", unquote: bool = True) -> Any:
        try:
            return super().get_params(failobj, header, unquote)
        except _PARAM_ERRORS:
            return failobj

    def get_boundary(self, failobj: Any = None) -> Any:
        try:
            return super().get_boundary(failobj)
        except _PARAM_ERRORS:
            return failobj

    def get_filename(self, failobj: Any = None) -> Any:
        try:
            return super().get_filename(failobj)
        except _PARAM_ERRORS:
            return failobj

    def get_content_charset(self, failobj: Any = None) -> Any:
        try:
            return super().get_content_charset(failobj)
        except _PARAM_ERRORS:
            return failobj


class _VerbatimHeaders(Compat32):
    """Writes header fields as they arrived when flattening an attached message.

    compat32 refolds every field through email.header.Header, which raises on a value
    with an embedded line break and rewrites the original bytes.
    """

    def fold_binary(self, name: str, value: Any) -> bytes:
        text = _TEXT_LINE_ENDS.sub(self.linesep, str(value)).rstrip("\r\n")
        return f"{name}: {text}{self.linesep}".encode("utf-8", "surrogateescape")


_VERBATIM = _VerbatimHeaders(linesep="\r\n")


class _Fields:
    """Raw top-level header values (str; 8-bit bytes kept as surrogate escapes), indexed once."""

    def __init__(self, msg: Message) -> None:
        self.items = [(name, str(value)) for name, value in msg.raw_items()]
        self._index: dict[str, list[str]] = {}
        for name, value in self.items:
            self._index.setdefault(name.lower(), []).append(value)

    def first(self, name: str) -> str | None:
        values = self._index.get(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return self._index.get(name, [])


def _declared_charset(msg: Message) -> str | None:
    """The first declared text charset: the best guess for raw 8-bit bytes in header fields."""
    for part in _iter_parts(msg):
        charset = part.get_content_charset()
        if charset and _text_codec(charset) and charset not in ("us-ascii", "ascii"):
            return charset
    return None


def _iter_parts(msg: Message) -> Iterator[Message]:
    """Pre-order parts without recursion (nesting depth is attacker-controlled)."""
    stack = [msg]
    while stack:
        part = stack.pop()
        yield part
        stack.extend(reversed(_children(part)))


def _children(part: Message) -> list[Message]:
    """Sub-parts; get_payload() is only called on containers (on leaves it may decode, and raise)."""
    return [p for p in part.get_payload() if isinstance(p, Message)] if part.is_multipart() else []


# --------------------------------------------------------------------------- identity

def _id_list(value: str) -> tuple[str, ...]:
    """Message-IDs of In-Reply-To/References: <...> tokens, else whitespace words."""
    ids = ["".join(m.split()) for m in ANGLE_ID.findall(value)]
    if not ids:
        ids = [w.strip("<>,") for w in value.split()]
    return tuple(dict.fromkeys(bounded_id(i) for i in ids if i))


def _return_path(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    match = ANGLE_ID.search(value)
    return (match.group(1) if match else value).strip()


def _date(raw: str | None, defects: _Defects) -> datetime | None:
    """Aware UTC datetime; strict parse first, lenient stdlib parse as a noted recovery."""
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
    values: list[str], field: str, hdr: _HeaderDecoder, keep_unparseable: bool = False
) -> tuple[Address, ...]:
    """All mailboxes of every occurrence of a field, names decoded, addresses lowercased."""
    found: list[Address] = []
    for raw in values:
        text = hdr.decode_8bit(_FOLD.sub("", raw))
        pairs, reasons = _mailboxes(text)
        for reason in reasons:
            hdr.defects.add(f"{field}: {reason}: {_printable(raw)}")
        if not pairs and (pair := _last_angle_address(text)):
            hdr.defects.add(f"{field}: no mailbox parsed, the last <address> taken: {_printable(raw)}")
            pairs = (pair,)
        found += [_address(display, addr, hdr) for display, addr in pairs]
        if not pairs and keep_unparseable and text.strip():
            found.append(Address(name=clean_name(hdr.decode(text)), addr=""))
    return tuple(found)


def _last_angle_address(text: str) -> tuple[str, str] | None:
    """("display", "addr") of the last <addr-spec> in a field no parser reads: a raw colon
    in a name ("Urząd: Referat <a@b.pl>", or one inside an encoded word) reads as an
    unclosed group, and the whole From was lost, and with it the acknowledgement."""
    match = _LAST_ANGLE_ADDR.search(text)
    if match is None:
        return None
    return text[: match.start()].strip().strip('"').strip(), match.group(1)


Mailboxes = tuple[tuple[tuple[str, str], ...], tuple[str, ...]]


def _mailboxes(text: str) -> Mailboxes:
    """(display, addr) pairs and defect reasons; short fields are cached, as senders repeat."""
    return _cached_mailboxes(text) if len(text) <= 512 else _parse_mailboxes(text)


@functools.lru_cache(maxsize=4096)
def _cached_mailboxes(text: str) -> Mailboxes:
    return _parse_mailboxes(text)


def _parse_mailboxes(text: str) -> Mailboxes:
    """Plain "Name <a@b.c>" / "a@b.c" lists take a regex fast path; anything else goes to
    mail-parser's recovering mailbox parser (~50-100 us a mailbox)."""
    simple = _simple_mailboxes(text)
    if simple is not None:
        return simple, ()
    diagnostics: list[dict] = []
    try:
        pairs = get_addresses(text, defects=diagnostics, decode_names=True)
    except _PARAM_ERRORS as exc:  # mail-parser lets HeaderParseError out of bad encoded words
        pairs = getaddresses([text])
        diagnostics = [{"reason": f"mail-parser failed ({type(exc).__name__}); stdlib parse used"}]
    reasons = tuple(str(d.get("reason", "address defect")) for d in diagnostics)
    return tuple((n, a) for n, a in pairs if a), reasons


def _simple_mailboxes(text: str) -> tuple[tuple[str, str], ...] | None:
    """Mailboxes of a list of only atoms, plain quoted names and dot-atom addresses, else None."""
    found, pos, end = [], 0, len(text)
    while pos < end:
        match = _SIMPLE_MAILBOX.match(text, pos)
        if match is None:
            if text[pos:].strip(" \t,"):
                return None
            break  # empty list items (a trailing comma) carry nothing
        name = (match.group("name") or "").strip()
        found.append((name[1:-1] if name.startswith('"') else name, match.group("angle") or match.group("bare")))
        pos = match.end()
        if pos < end and text[pos] != ",":
            return None
        pos += 1
    return tuple(found)


def _address(display: str, addr: str, hdr: _HeaderDecoder) -> Address:
    name = clean_name(hdr.decode(display) if "=?" in display else display)
    addr = addr.strip().lower()
    return Address(name="" if name.lower() == addr else name, addr=addr)


def clean_name(value: str) -> str:
    """A display name or file name as stored: NFC; CR, LF and TAB (from encoded words) as
    one space; bidi overrides and isolates and every other control or format character
    dropped (they hide a name's real order, `invoice\u202efdp.exe`, or break a log line)."""
    spaced = _NAME_SPACES.sub(" ", unicodedata.normalize("NFC", value))
    kept = "".join(ch for ch in spaced if unicodedata.category(ch) not in ("Cc", "Cf"))
    return _SPACE_RUN.sub(" ", kept).strip()


def _printable(value: str, limit: int = 120) -> str:
    """Raw header evidence for a defect string: escaped, and short (a field can be 100 KB)."""
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


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


@functools.lru_cache(maxsize=256)
def _text_codec(charset: str) -> codecs.CodecInfo | None:
    """The codec for a charset label if it is a real text encoding (not base64, rot13...).

    Mail clients use labels Python does not know (iso-8859-8-i, x-mac-cyrillic,
    windows-874, cp-1250); they are mapped to the codec they mean.
    """
    label = charset.strip().strip("\"'").split("*")[0].lower()
    label = _CHARSET_ALIASES.get(label, label)
    for candidate in (label, *_charset_variants(label)):
        try:
            info = codecs.lookup(candidate)
        except (LookupError, ValueError, TypeError):
            continue
        return info if getattr(info, "_is_text_encoding", True) else None
    return None


def _charset_variants(label: str) -> list[str]:
    """Spellings to try for an unknown label: without x-, without a -i/-e suffix, cpNNNN."""
    variants = [label[2:]] if label.startswith("x-") else []
    variants += [v[:-2] for v in (label, *variants) if v.endswith(("-i", "-e"))]
    digits = re.fullmatch(r"(?:x-)?(?:cp|win|windows)[-_]?(\d{3,4})", label)
    if digits:
        variants.append(f"cp{digits.group(1)}")
    return variants


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

    def __init__(
        self, fallback_charset: str | Callable[[], str | None] | None, defects: _Defects | None = None
    ) -> None:
        self._fallback = fallback_charset
        self.defects = defects if defects is not None else _Defects()
        self._memo: dict[str, str] = {}  # Subject, From... are decoded for two fields each

    def decode(self, value: str) -> str:
        decoded = self._memo.get(value)
        if decoded is None:
            decoded = self._memo[value] = self._decode(value)
        return decoded

    def _decode(self, value: str) -> str:
        if value.isascii() and "=?" not in value and "\n" not in value and "\r" not in value:
            return value.strip()
        text = _FOLD.sub("", value).replace("\r", " ").replace("\n", " ")
        text = self._decode_words(text) if "=?" in text else self.decode_8bit(text)
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
        if callable(self._fallback):
            self._fallback = self._fallback()
        fallback = self._fallback
        if fallback:
            return decode_bytes(data, fallback)
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
            gap, pos = self.decode_8bit(text[pos:match.start()]), match.end()
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
        out.append(self.decode_8bit(text[pos:]))
        return "".join(out)

    def _flush(self, out: list[str], run: list[bytes], charset: str | None) -> None:
        if run:
            out.append(decode_bytes(b"".join(run), charset, self.defects))

    def _word_bytes(self, encoding: str, payload: str) -> bytes | None:
        """The octets of one encoded word (raw 8-bit inside kept as is), or None."""
        try:
            data = payload.encode("utf-8", "surrogateescape")
            if encoding in "qQ":
                return binascii.a2b_qp(data, header=True)
            return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
        except (binascii.Error, UnicodeError, ValueError):
            self.defects.add(f"undecodable encoded word: {_printable(payload, 60)}")
            return None


# --------------------------------------------------------------------------- MIME body

@dataclass(slots=True)
class _Node:
    """One MIME part with the attributes classification needs, computed once."""

    part: Message
    depth: int
    in_body: bool  # may contribute text (not under an attachment container)
    in_attached_message: bool  # inside an attached message/rfc822: its parts are not ours
    ctype: str
    disposition: str | None
    filename: str | None  # RFC 2231 and raw 8-bit decoded; RFC 2047 words still encoded
    leaf: bool


def _node(part: Message, depth: int, in_body: bool, attached: bool, decode_8bit: Decode) -> _Node:
    ctype = part.get_content_type()
    container = part.is_multipart()
    if ctype.startswith("multipart/") and not container:
        ctype = "text/plain"  # a multipart without usable boundaries: keep its text
    leaf = not container or ctype.startswith("message/")
    return _Node(
        part, depth, in_body, attached,
        ctype=ctype,
        disposition=part.get_content_disposition(),
        filename=_raw_filename(part, decode_8bit) if leaf else None,
        leaf=leaf,
    )


def _html_text(markup: str) -> str:
    """The text of an HTML part. inscriptis (with lxml) is imported here, on the first HTML
    part: a plain e-mail piped to `hotline ingest -` does not pay its 15 ms."""
    from inscriptis import get_text

    return get_text(markup, _flat_tables())


@functools.cache
def _flat_tables() -> ParserConfig:
    """inscriptis without its table layout: a row is a line, its cells a space apart.
    Laying a table out pads every row to the widest one, so one long cell turned a 2 MB
    table into 196 million characters; this costs what the cells hold."""
    from inscriptis.css_profiles import CSS_PROFILES
    from inscriptis.html_properties import Display
    from inscriptis.model.config import ParserConfig
    from inscriptis.model.html_element import HtmlElement
    from inscriptis.model.tag import CustomHtmlTagHandlerMapping

    css = CSS_PROFILES["strict"].copy()
    css["tr"] = HtmlElement(display=Display.block)
    css["td"] = css["th"] = HtmlElement(suffix=" ")
    tags = ("table", "tr", "td", "th")
    handlers = CustomHtmlTagHandlerMapping({t: _no_layout for t in tags}, {t: _no_layout for t in tags})
    return ParserConfig(css=css, custom_html_tag_handler_mapping=handlers)


def _no_layout(*_: Any) -> None:
    """In place of inscriptis' table handlers: tables are laid out by the CSS above."""


class _Body:
    """Walks the MIME tree once: text parts, attachments and embedded Message-IDs."""

    def __init__(self, msg: Message, limits: ParseLimits, hdr: _HeaderDecoder) -> None:
        self.defects = defects = hdr.defects
        self.hdr = hdr
        self.plain: list[str] = []
        self.html: list[str] = []
        self.embedded: dict[str, None] = {}
        self.max_chars = limits.max_text_chars
        self.cut_types: set[str] = set()  # content types of which a part was cut
        self.cut = False
        nodes = _walk(msg, limits, hdr.decode_8bit)
        for node in nodes:
            defects.add_part(node.part)
        wanted = [n for n in nodes if _wants_attachment(n)]
        if len(wanted) > limits.max_attachments:
            raise UnparseableMessage(
                f"{len(wanted)} attachments exceed limits.max_attachments={limits.max_attachments}"
            )
        self.attachments = tuple(self._attachment(n, i) for i, n in enumerate(wanted, 1))
        for node in nodes:
            self._collect_embedded_id(node)
            if _is_body_text(node):
                self._add_text(node.part, node.ctype)
        if not self.plain and not self.html:  # e.g. the body is a text/plain part with a name
            for node in filter(_is_named_body_text, nodes):
                self._add_text(node.part, node.ctype)
        self.embedded_ids = tuple(self.embedded)

    def _add_text(self, part: Message, ctype: str) -> None:
        """A text part, cut before it is decoded: a 25 MB body costs what is kept of it."""
        per_char = HTML_MARKUP_PER_CHAR if ctype == "text/html" else 1
        chars = per_char * (self.max_chars + 1)
        data = _leaf_bytes(part)
        if len(data) > MAX_BYTES_PER_CHAR * chars:
            data = data[: MAX_BYTES_PER_CHAR * chars]
            self.cut_types.add(ctype)
        text = decode_bytes(data, part.get_content_charset(), self.defects)
        if len(text) > chars:
            text = text[:chars]
            self.cut_types.add(ctype)
        if not text.strip():
            return
        (self.html if ctype == "text/html" else self.plain).append(text)

    def text(self) -> str:
        """All plain parts; HTML rendered to text only when there is no plain part; at most
        limits.max_text_chars (`cut` says whether it was cut)."""
        parts = self.plain or [self._html_to_text(h) for h in self.html]
        self.cut = ("text/plain" if self.plain else "text/html") in self.cut_types
        text = "\n".join(p for p in parts if p)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if len(text) > self.max_chars:
            text, self.cut = text[: self.max_chars], True
        return text

    def _html_to_text(self, markup: str) -> str:
        """Readable text of an HTML body, without the layout padding of rendered tables."""
        try:
            text = _html_text(markup)
        except Exception as exc:  # lxml refuses some garbage; fall back to tag stripping
            self.defects.add(f"HTML not convertible ({type(exc).__name__}): tags stripped")
            text = html.unescape(_TAGS.sub(" ", markup))
        text = "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")
        return text + "\n" if text else ""

    def _attachment(self, node: _Node, index: int) -> Attachment:
        part = node.part
        data = _message_bytes(part) if node.ctype.startswith("message/") else _leaf_bytes(part)
        name = self.hdr.decode(node.filename) if node.filename else ""
        return Attachment(
            filename=_clean_filename(name) or f"attachment-{index}{_extension(node.ctype)}",
            content_type=node.ctype,
            data=data,
            sha256=hashlib.sha256(data).hexdigest(),
        )

    def _collect_embedded_id(self, node: _Node) -> None:
        """Message-IDs of attached messages and returned headers: bounces point back this way."""
        if node.ctype in _EMBEDDED_MESSAGE_TYPES:
            inner = _inner_message(node.part)
        elif node.ctype in _EMBEDDED_HEADER_TYPES:
            inner = email.message_from_bytes(_leaf_bytes(node.part).lstrip(), _class=_TolerantMessage)
        else:
            return
        if inner is not None:
            mid = clean_message_id(_HeaderDecoder(None).decode(_Fields(inner).first("message-id") or ""))
            if mid:
                self.embedded.setdefault(mid, None)


def _wants_attachment(node: _Node) -> bool:
    """Every leaf of our own message that is not body text, plus named inline text."""
    if node.in_attached_message or not node.leaf:
        return False
    if not _is_body_text(node):
        return True
    return node.disposition == "inline" and bool(node.filename)  # body and a file, as mail-parser does


def _is_body_text(node: _Node) -> bool:
    if not node.in_body or node.in_attached_message or not node.leaf:
        return False
    if node.ctype not in _BODY_TYPES or node.disposition == "attachment":
        return False
    return node.disposition == "inline" or not node.filename


def _is_named_body_text(node: _Node) -> bool:
    """Named text not marked as an attachment: the body when there is nothing else."""
    return (
        node.in_body and not node.in_attached_message and node.leaf
        and node.ctype in _BODY_TYPES and node.disposition != "attachment"
    )


def _raw_filename(part: Message, decode_8bit: Decode) -> str | None:
    """filename / name parameter with RFC 2231 applied (RFC 2047 is decoded later).

    Raw 8-bit names are decoded first: the stdlib would turn them into U+FFFD.
    """
    try:
        if any(k.lower() in _PARAM_FIELDS and not v.isascii() for k, v in part.raw_items()):
            part = _param_view(part, decode_8bit)
        name = part.get_filename()
    except _PARAM_ERRORS:
        return None
    return str(name) if name else None


def _param_view(part: Message, decode_8bit: Decode) -> Message:
    """A header-only copy of a part's Content-Type/-Disposition with 8-bit bytes decoded."""
    view = _TolerantMessage()
    for name, value in part.raw_items():
        if name.lower() in _PARAM_FIELDS:
            view[name] = decode_8bit(str(value))
    return view


def _walk(msg: Message, limits: ParseLimits, decode_8bit: Decode) -> list[_Node]:
    """Iterative pre-order walk (the stdlib walk recurses) with depth and context."""
    nodes: list[_Node] = []
    stack = [_node(msg, 0, True, False, decode_8bit)]
    while stack:
        node = stack.pop()
        if node.depth > limits.max_mime_depth:
            raise UnparseableMessage(
                f"MIME nesting depth {_nesting_depth(node)} exceeds limits.max_mime_depth={limits.max_mime_depth}"
            )
        nodes.append(node)
        children = _children(node.part)
        in_body = node.in_body and node.disposition != "attachment"
        attached = node.in_attached_message or node.ctype.startswith("message/")
        stack.extend(_node(c, node.depth + 1, in_body, attached, decode_8bit) for c in reversed(children))
    return nodes


def _nesting_depth(node: _Node) -> int:
    """Full depth below a node that broke the limit, for a precise error message."""
    deepest, stack = node.depth, [(node.part, node.depth)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((p, depth + 1) for p in _children(part))
    return deepest


def _leaf_bytes(part: Message) -> bytes:
    """Transfer-decoded bytes of a leaf, decoding base64 in one pass without extra copies."""
    if part.is_multipart():
        return _message_bytes(part)
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte == "base64":
        try:
            payload = part.get_payload()  # decodes 8-bit text with its charset, which may refuse
        except _PARAM_ERRORS:
            payload = None
        try:
            return binascii.a2b_base64(payload) if isinstance(payload, str) else _decoded_payload(part)
        except (binascii.Error, ValueError):
            pass  # bad padding or 8-bit garbage: the stdlib repairs what it can
    return _decoded_payload(part)


def _decoded_payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except (*_PARAM_ERRORS, binascii.Error):
        return b""
    return data if isinstance(data, bytes) else b""


def _message_bytes(part: Message) -> bytes:
    """The body of a message/* part as bytes (an attached .eml, a delivery report)."""
    buffer = BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=_VERBATIM).flatten(part)
    except (*_PARAM_ERRORS, AttributeError, KeyError):
        return b""  # the attachment is dropped, the message is not
    flat = buffer.getvalue()
    # skip the part's own header fields; a part may have none (multipart/digest defaults)
    data = flat[len(_VERBATIM.linesep):] if not part.keys() else flat[header_end(flat)[1] :]
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte in ("base64", "quoted-printable"):  # illegal for message/*, but seen
        carrier = email.message_from_bytes(
            b"Content-Transfer-Encoding: " + cte.encode() + b"\n\n" + data, _class=_TolerantMessage
        )
        data = _leaf_bytes(carrier)
    return data


def _inner_message(part: Message) -> Message | None:
    """The message carried by a message/rfc822 part, re-parsed when it was transfer-encoded."""
    children = _children(part)
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if children and cte not in ("base64", "quoted-printable"):
        return children[0]
    data = _message_bytes(part) if part.is_multipart() else _leaf_bytes(part)
    return email.message_from_bytes(data.lstrip(), _class=_TolerantMessage) if data.strip() else None


def _clean_filename(name: str) -> str:
    """Basename, cleaned like a display name: senders put paths (C:\\...) and junk in names."""
    name = clean_name(name).replace("\\", "/").rsplit("/", 1)[-1].strip()
    return "" if name in (".", "..") else name


def _extension(ctype: str) -> str:
    return _EXTENSIONS.get(ctype) or _MIMETYPES.guess_extension(ctype) or ".bin"
