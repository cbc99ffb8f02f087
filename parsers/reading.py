"""What a message says: its MIME parse, its channel, and for faxes and forms the documents
read (text layer, form fields, OCR) and the HOT-01 fields.

Reading happens in two passes so the gateway can spread OCR over its worker processes:
`first_pass` (one message: parse, decide the channel, split documents into pages) and
`finish` (after the pages were OCR'd, anywhere: assemble the text, parse the form).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from parsers import hot01
from parsers.callerid import caller_id, compile_patterns
from parsers.documents import DocumentError, DocumentText, FaxLimits, PageImage, PageText, SplitDocument
from parsers.mime import Attachment, ParsedMessage, ParseLimits, UnparseableMessage, parse

DOCUMENT_TYPES = ("application/pdf", "image/tiff", "image/tif")
DOCUMENT_SUFFIXES = (".pdf", ".tif", ".tiff")  # gateways also send them as octet-stream
OFFICE_TYPES = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.oasis.opendocument.text", "application/rtf", "text/rtf", "application/msword")
OFFICE_SUFFIXES = (".docx", ".odt", ".rtf", ".doc")
PHOTO_TYPES = ("image/jpeg", "image/jpg", "image/png")
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
# A photo or scan of a printed page is upright and big enough to read; a screenshot of an
# error, a logo or a signature image is not, and is not sent to OCR.
PAGE_MIN_PIXELS, PAGE_MIN_ASPECT = 500_000, 1.2
EMAIL_FORM_PAGES = 2  # the form is one sheet: an e-mail's long attachment is not OCR'd whole


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
    note: str | None = None  # an e-mail's covering note, when the form came from its attachment


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
    typed = hot01.parse_form(msg.text) if hot01.looks_like_form(msg.text) else None
    for att in msg.attachments if is_fax or typed is None else ():  # a form in the body wins
        if not is_document(att, is_fax):
            continue
        try:
            doc = split_attachment(att, config.fax_limits if is_fax else _email_limits(config.fax_limits))
        except DocumentError as exc:
            problems.append(f"{att.filename}: {exc}")
            continue
        except Exception as exc:  # a decoder's bug costs the document's text, never the message
            problems.append(f"{att.filename}: not read: {type(exc).__name__}: {exc}")
            continue
        if is_fax or not doc.images or all(_page_like(image) for image in doc.images):
            documents.append(doc)
    number = caller_id(msg, compile_patterns(config.caller_patterns)) if is_fax else None
    typed = typed if not (is_fax and documents) else None
    return FirstPass(msg, "fax" if is_fax else "email", number, tuple(documents), tuple(problems), typed)


def is_document(att: Attachment, is_fax: bool = True) -> bool:
    """A fax's PDF or TIFF; on e-mail also a word processor's file or a photo (a form attached)."""
    name, kind = att.filename.lower(), att.content_type.lower()
    if kind in DOCUMENT_TYPES or name.endswith(DOCUMENT_SUFFIXES) or kind in OFFICE_TYPES or name.endswith(OFFICE_SUFFIXES):
        return True
    return not is_fax and (kind in PHOTO_TYPES or name.endswith(PHOTO_SUFFIXES))


def split_attachment(att: Attachment, limits: FaxLimits) -> SplitDocument:
    """The cheap pass over one attachment, by what its bytes are (content types lie)."""
    from parsers import office

    if office.sniff_office(att.data) is not None:
        return office.split_office(att.data, att.filename, limits)
    from parsers.fax import split_document  # pypdf and Pillow: only for a document

    return split_document(att.data, att.filename, att.content_type, limits)


def _email_limits(limits: FaxLimits) -> FaxLimits:
    """The fax limits, with an e-mail's attachment cut at the form's length when that is less."""
    if limits.max_pages <= EMAIL_FORM_PAGES:
        return limits
    return replace(limits, max_pages=EMAIL_FORM_PAGES, max_pages_from=f"an e-mail's form is one sheet: its first "
                   f"{EMAIL_FORM_PAGES} pages are read")  # fmt: skip


def _page_like(image: PageImage) -> bool:
    width, height = image.size
    return width * height >= PAGE_MIN_PIXELS and height >= PAGE_MIN_ASPECT * width


def finish(first: FirstPass, ocr: Mapping[tuple[int, int], PageText]) -> Reading:
    """Assemble each document's pages (OCR'd ones from `ocr`, keyed by document index and
    page number) and read the HOT-01 form from the documents, else from a typed body."""
    documents = tuple(_assemble(i, doc, ocr) for i, doc in enumerate(first.documents))
    form, source = _form(first, documents)
    if first.channel == "email":  # an attachment that is no form is the user's business, not ours
        documents = tuple(d for d in documents if d is source)
    problems = [*first.problems, *(p for d in documents for p in d.problems)]
    problems += [f"{d.filename}: page {p.number} timed out in OCR" for d in documents for p in d.pages if p.timed_out]
    note = first.message.text.strip() or None if first.channel == "email" and source is not None else None
    return Reading(first.message, first.channel, first.caller_id, documents, form, tuple(problems), note)


def _assemble(index: int, doc: SplitDocument, ocr: Mapping[tuple[int, int], PageText]) -> DocumentText:
    pages = [*doc.texts, *(ocr[(index, image.number)] for image in doc.images if (index, image.number) in ocr)]
    return DocumentText(doc.filename, tuple(sorted(pages, key=lambda p: p.number)), doc.fields, doc.problems)


def _form(first: FirstPass, documents: tuple[DocumentText, ...]) -> tuple[hot01.Hot01Form | None, DocumentText | None]:
    """The form and the document it came from (None: the body, or no form)."""
    for doc in documents:
        text = "\n".join([*(f"{name}: {value}" for name, value in doc.fields), doc.text])
        ocr_pages = [p.confidence for p in doc.pages if p.source == "ocr"]
        confidence = sum(ocr_pages) / len(ocr_pages) if ocr_pages else None
        form = hot01.parse_form(text, confidence)
        if form.is_form:
            return form, doc
    if first.typed_form is not None:
        return first.typed_form, None
    if documents and hot01.looks_like_form(first.message.text):  # the documents held no form
        return hot01.parse_form(first.message.text), None
    if first.channel == "fax":  # a fax that is no form: its whole text is the question
        text = "\n\n".join(d.text for d in documents).strip() or first.message.text
        confidences = [p.confidence for d in documents for p in d.pages if p.source == "ocr"]
        return hot01.parse_form(text, sum(confidences) / len(confidences) if confidences else None), None
    return None, None
