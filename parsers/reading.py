"""What a message says: its MIME parse, its channel, and for faxes and forms the documents
read (text layer, form fields, OCR) and the HOT-01 fields.

Reading happens in two passes so the gateway can spread OCR over its worker processes:
`first_pass` (one message: parse, decide the channel, split documents into pages) and
`finish` (after the pages were OCR'd, anywhere: assemble the text, parse the form).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from parsers import hot01
from parsers.callerid import caller_id, compile_patterns
from parsers.documents import DocumentError, DocumentText, FaxLimits, PageText, SplitDocument
from parsers.mime import Attachment, ParsedMessage, ParseLimits, UnparseableMessage, parse

DOCUMENT_TYPES = ("application/pdf", "image/tiff", "image/tif")
DOCUMENT_SUFFIXES = (".pdf", ".tif", ".tiff")  # gateways also send them as octet-stream


@dataclass(frozen=True, slots=True)
class ReadConfig:
    """The settings a worker process needs (plain and picklable)."""

    limits: ParseLimits
    max_bytes: int
    gateway_senders: frozenset[str]
    caller_patterns: tuple[str, ...]
    fax_limits: FaxLimits


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str


@dataclass(frozen=True, slots=True)
class FirstPass:
    message: ParsedMessage
    channel: str
    caller_id: str | None
    documents: tuple[SplitDocument, ...]
    problems: tuple[str, ...]
    typed_form: hot01.Hot01Form | None  # a form typed into the body (read here, in the worker)


@dataclass(frozen=True, slots=True)
class Reading:
    message: ParsedMessage
    channel: str  # email | fax
    caller_id: str | None  # the sending fax machine, E.164
    documents: tuple[DocumentText, ...]
    form: hot01.Hot01Form | None  # None: neither a fax nor a typed form
    problems: tuple[str, ...]  # pages not read, corrupt documents: a reason to review


Parsed = Reading | Rejected  # what reading a message gives: routed, or quarantined with the reason


def first_pass(raw: bytes, channel: str | None, config: ReadConfig) -> FirstPass | Rejected:
    """Runs in a worker process: any failure becomes a reason, never an exception."""
    if len(raw) > config.max_bytes:
        return Rejected(f"message is {len(raw)} bytes, over limits.max_message_bytes={config.max_bytes}")
    try:
        msg = parse(raw, config.limits)
        return _split(msg, channel, config)
    except UnparseableMessage as exc:
        return Rejected(str(exc))
    except Exception as exc:  # a parser bug must not lose the message: it is quarantined
        return Rejected(f"parser error: {type(exc).__name__}: {exc}")


def _split(msg: ParsedMessage, channel: str | None, config: ReadConfig) -> FirstPass:
    sender = msg.sender.addr if msg.sender else ""
    is_fax = channel == "fax" or (channel is None and sender in config.gateway_senders)
    documents, problems = [], []
    if msg.text_cut:
        problems.append(f"text cut to its first {config.limits.max_text_chars} characters (limits.max_text_chars): "
                        "the stored raw message holds all of it")  # fmt: skip
    for att in msg.attachments if is_fax else ():
        if not is_document(att):
            continue
        from parsers.fax import split_document  # pypdf and Pillow: only for a document

        try:
            documents.append(split_document(att.data, att.filename, att.content_type, config.fax_limits))
        except DocumentError as exc:
            problems.append(f"{att.filename}: {exc}")
        except Exception as exc:  # a decoder's bug costs the document's text, never the message
            problems.append(f"{att.filename}: not read: {type(exc).__name__}: {exc}")
    number = caller_id(msg, compile_patterns(config.caller_patterns)) if is_fax else None
    typed = hot01.parse_form(msg.text) if not documents and hot01.looks_like_form(msg.text) else None
    return FirstPass(msg, "fax" if is_fax else "email", number, tuple(documents), tuple(problems), typed)


def is_document(att: Attachment) -> bool:
    name = att.filename.lower()
    return att.content_type.lower() in DOCUMENT_TYPES or name.endswith(DOCUMENT_SUFFIXES)


def finish(first: FirstPass, ocr: Mapping[tuple[int, int], PageText]) -> Reading:
    """Assemble each document's pages (OCR'd ones from `ocr`, keyed by document index and
    page number) and read the HOT-01 form from the documents, else from a typed body."""
    documents = tuple(_assemble(i, doc, ocr) for i, doc in enumerate(first.documents))
    problems = [*first.problems, *(p for d in documents for p in d.problems)]
    problems += [f"{d.filename}: page {p.number} timed out in OCR" for d in documents for p in d.pages if p.timed_out]
    return Reading(first.message, first.channel, first.caller_id, documents, _form(first, documents), tuple(problems))


def _assemble(index: int, doc: SplitDocument, ocr: Mapping[tuple[int, int], PageText]) -> DocumentText:
    pages = [*doc.texts, *(ocr[(index, image.number)] for image in doc.images if (index, image.number) in ocr)]
    return DocumentText(doc.filename, tuple(sorted(pages, key=lambda p: p.number)), doc.fields, doc.problems)


def _form(first: FirstPass, documents: tuple[DocumentText, ...]) -> hot01.Hot01Form | None:
    for doc in documents:
        text = "\n".join([*(f"{name}: {value}" for name, value in doc.fields), doc.text])
        ocr_pages = [p.confidence for p in doc.pages if p.source == "ocr"]
        confidence = sum(ocr_pages) / len(ocr_pages) if ocr_pages else None
        form = hot01.parse_form(text, confidence)
        if form.is_form:
            return form
    if first.typed_form is not None:
        return first.typed_form
    if documents and hot01.looks_like_form(first.message.text):  # the documents held no form
        return hot01.parse_form(first.message.text)
    if first.channel == "fax":  # a fax that is no form: its whole text is the question
        text = "\n\n".join(d.text for d in documents).strip() or first.message.text
        confidences = [p.confidence for d in documents for p in d.pages if p.source == "ocr"]
        return hot01.parse_form(text, sum(confidences) / len(confidences) if confidences else None)
    return None
