"""Fax documents (PDF, TIFF) -> text per page: the text layer, the form fields, or OCR.

Split in two so the gateway can spread the expensive part over its worker processes:
`split_document` (cheap: decode, check limits, find text layers and page images) and
`ocr_page` (one page, CPU-bound, runs in any worker).

Every limit is checked before the bytes it guards are decoded: an image's size comes from
its header (TIFF IFD, PDF image dictionary), so a decompression bomb is refused unread.
"""
from __future__ import annotations

import io
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageOps, TiffImagePlugin
from pypdf import PageObject, PdfReader
from pypdf.generic import ArrayObject, ContentStream, DictionaryObject, IndirectObject, StreamObject

from parsers.documents import DocumentError, DocumentText, FaxLimits, PageImage, PageText, SplitDocument
from parsers.text import controls

if TYPE_CHECKING:
    from parsers import ocr  # loaded where a page is read: OpenCV and numpy cost a plain e-mail 0.1 s


# A page's own text layer counts when it has this many letters; fewer is a fax gateway's
# stamp ("Page 1/2", a date) on top of a scanned image, which must still be OCR'd.
TEXT_LAYER_MIN_LETTERS = 40
MAX_FIELDS, MAX_FIELD_CHARS = 500, 20_000
MAX_FORM_DEPTH = 8  # form XObjects inside form XObjects: deeper ones (or a loop) hold no fax page
PNG_LEVEL = 1  # pages travel once to a worker: fast beats small
GOOD_CONFIDENCE = 70.0  # below it (mean word confidence) a page may be upside down: check
CONFIG_KEYS = {"max_pixels": "fax.max_pixels",
               "max_bytes": "fax.max_document_bytes", "seconds_per_page": "fax.ocr_seconds_per_page",
               "max_document_pixels": "fax.max_document_pixels"}  # fmt: skip
_CONTROL = controls("\t\n\r")  # a page's text keeps its line breaks, to be split later


def _over(name: str, limits: FaxLimits) -> str:
    """`limits.max_pixels=40000000 (config fax.max_pixels)`: names both for the reader."""
    source = limits.max_pages_from if name == "max_pages" else f"config {CONFIG_KEYS[name]}"
    return f"limits.{name}={getattr(limits, name)} ({source})"


class _PixelBudget:
    """Pixels a document may still decode (fax.max_document_pixels), spent page by page
    before each page is decoded: pages within max_pixels each can still add up."""

    def __init__(self, limits: FaxLimits) -> None:
        self.limits, self.left = limits, limits.max_document_pixels

    def spend(self, page: int, pixels: int) -> str | None:
        """None when the page's pixels fit (and are spent), else why the page is not read."""
        if pixels > self.left:
            return (f"page {page}: {pixels} pixels, over {_over('max_document_pixels', self.limits)} "
                    "with the pages before it: not decoded")  # fmt: skip
        self.left -= pixels
        return None


# --------------------------------------------------------------------------- API
def split_document(data: bytes, filename: str, content_type: str, limits: FaxLimits) -> SplitDocument:
    """The cheap pass: decode the container, apply the limits, and sort the pages into those
    with text already and those to OCR. The type comes from the bytes: content types lie."""
    if len(data) > limits.max_bytes:
        raise DocumentError(f"document is {len(data)} bytes, over {_over('max_bytes', limits)}")
    kind = sniff(data)
    if kind == "pdf":
        return _split_pdf(data, filename, limits)
    if kind is not None:
        with warnings.catch_warnings():  # Pillow warns on damaged tags; the problems say enough
            warnings.simplefilter("ignore")
            return _split_raster(data, filename, kind, limits)
    declared = content_type or "no content type"
    raise DocumentError(f"not a PDF, TIFF or image: starts with {data[:8]!r} (declared {declared})")


def ocr_page(page: PageImage, seconds: float, engine: str = "api") -> PageText:
    """Runs in a worker process: one page prepared and read within `seconds`, by
    tesseract's library kept loaded (`engine="api"`) or by a tesseract process ("cli").

    A page whose lines run up and down is turned first; one that reads badly is tried
    again turned, if tesseract's orientation detection sees a turn (a fax fed upside
    down). A page over time comes back empty with `timed_out` set (the caller keeps the
    image).
    """
    from parsers import ocr

    deadline = time.monotonic() + seconds
    try:
        steps = ocr.STEPS if engine == "api" else ocr.with_steps(engine=engine)
        with Image.open(io.BytesIO(page.png)) as image:
            prepared = _prepare(image, page, steps)
        if ocr.looks_sideways(prepared):  # turn it first: reading it sideways costs seconds
            prepared = ocr.turned_upright(prepared, _left(deadline)) or prepared
        result = ocr.ocr(prepared, timeout=_left(deadline), steps=steps)
        if _reads_badly(result):
            result = _try_turned(prepared, result, deadline)
    except ocr.OcrTimeout:
        return PageText(page.number, "", 0.0, "ocr", timed_out=True)
    except Exception as exc:  # a bad page, or no tesseract: never the whole batch of messages
        reason = f"page {page.number}: OCR failed: {type(exc).__name__}: {exc}"
        return PageText(page.number, "", 0.0, "ocr", problem=reason)
    return PageText(page.number, result.text, result.confidence, "ocr")


def _prepare(image: Image.Image, page: PageImage, steps: ocr.Steps) -> Image.Image:
    """The page ready for tesseract; a photo is straightened and evenly lit first."""
    from parsers import ocr
    from parsers.ocr.photo import flatten

    if not (page.photo and steps.photo):
        return ocr.prepare(image, page.x_dpi, page.y_dpi, steps)
    flat, dpi = flatten(ocr.greyscale(image))
    return ocr.prepare(Image.fromarray(flat), dpi or page.x_dpi, dpi or page.y_dpi, steps)


def _left(deadline: float) -> float:
    from parsers import ocr

    left = deadline - time.monotonic()
    if left <= 0:
        raise ocr.OcrTimeout("no time left for the page")
    return left


def _reads_badly(result: ocr.OcrResult) -> bool:
    return result.confidence < GOOD_CONFIDENCE or len(result.words) < 5


def _try_turned(prepared: Image.Image, result: ocr.OcrResult, deadline: float) -> ocr.OcrResult:
    """The reading of the page turned upright, when there is a turn and it reads better."""
    from parsers import ocr

    turned = ocr.turned_upright(prepared, _left(deadline))
    if turned is None:
        return result
    again = ocr.ocr(turned, timeout=_left(deadline))
    return again if again.confidence > result.confidence + 5 and len(again.words) >= len(result.words) // 2 else result


def read_document(data: bytes, filename: str, content_type: str, limits: FaxLimits = FaxLimits()) -> DocumentText:
    """Split, then OCR the pages one after another in this process (tests, one-off use)."""
    split = split_document(data, filename, content_type, limits)
    ocred = [ocr_page(image, limits.seconds_per_page) for image in split.images]
    problems = [*split.problems]
    problems += [f"page {p.number}: OCR timed out, over {_over('seconds_per_page', limits)}" for p in ocred if p.timed_out]
    problems += [p.problem for p in ocred if p.problem]
    pages = tuple(sorted([*split.texts, *ocred], key=lambda p: p.number))
    return DocumentText(filename, pages, split.fields, tuple(problems))


def sniff(data: bytes) -> str | None:
    """"pdf", "tiff", "png", "jpeg", "gif", or None, from the first bytes."""
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


# --------------------------------------------------------------------------- TIFF and images
def _split_raster(data: bytes, filename: str, kind: str, limits: FaxLimits) -> SplitDocument:
    """Each frame of a (multi-page) TIFF or image, G3/G4 included, checked then decoded."""
    image = _open_image(data, kind, limits)
    images: list[PageImage] = []
    problems: list[str] = []
    budget = _PixelBudget(limits)
    for number, frame in _frames(image, kind, limits, problems):
        page = _raster_page(number, frame, limits, budget, photo=kind in PHOTO_KINDS)
        if isinstance(page, str):
            problems.append(page)
        else:
            images.append(page)
    if not images:
        raise DocumentError("; ".join(problems) or f"{kind.upper()} has no pages")
    return SplitDocument(filename, (), tuple(images), (), tuple(problems))


def _open_image(data: bytes, kind: str, limits: FaxLimits) -> Image.Image:
    """Open (header only); Pillow's own bomb check is turned into our limit's message."""
    _allow_pixels(limits.max_pixels)
    try:
        return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise DocumentError(f"image is too large to decode, over {_over('max_pixels', limits)}: {exc}") from exc
    except Exception as exc:  # Pillow raises many kinds on a broken header
        codec = _tiff_compression(data) if kind == "tiff" else None
        if codec is not None and codec not in SUPPORTED_TIFF:
            name = TIFF_CODECS.get(codec, "unknown")
            raise DocumentError(f"TIFF compression {codec} ({name}) is not supported") from exc
        raise DocumentError(f"corrupt {kind.upper()}: {type(exc).__name__}: {exc}") from exc


PHOTO_KINDS = ("jpeg", "png")  # a camera's or a scanner's picture, not a fax machine's page
TIFF_CODECS = {1: "none", 2: "CCITT RLE", 3: "CCITT G3", 4: "CCITT G4", 5: "LZW", 6: "old JPEG", 7: "JPEG",
               8: "Deflate", 9: "JBIG (T.85)", 10: "JBIG2 (T.43)", 32773: "PackBits", 34661: "JBIG",
               34712: "JPEG 2000"}  # fmt: skip
SUPPORTED_TIFF = {1, 2, 3, 4, 5, 7, 8, 32773, 32946}


def _tiff_compression(data: bytes) -> int | None:
    """The first page's Compression tag, read from the IFD alone (for a clear refusal)."""
    try:
        ifd = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
        stream = io.BytesIO(data)
        stream.seek(ifd.next)
        ifd.load(stream)
        return int(ifd.get(259, 1))
    except Exception:
        return None


def _allow_pixels(max_pixels: int) -> None:
    """Pillow refuses images over 2 x MAX_IMAGE_PIXELS on open; never below our own limit."""
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels


def _frames(image: Image.Image, kind: str, limits: FaxLimits, problems: list[str]) -> Iterator[tuple[int, Image.Image]]:
    """(number, frame) for the first max_pages frames; a problem for the rest or a bad IFD."""
    try:
        count = getattr(image, "n_frames", 1)
    except Exception as exc:
        problems.append(f"{kind.upper()} page directory is damaged: {type(exc).__name__}: {exc}")
        count = 1
    if count > limits.max_pages:
        problems.append(f"pages {limits.max_pages + 1}-{count} not read: over {_over('max_pages', limits)}")
    for index in range(min(count, limits.max_pages)):
        try:
            image.seek(index)
        except Exception as exc:
            problems.append(f"page {index + 1} and later not read: {type(exc).__name__}: {exc}")
            return
        yield index + 1, image


def _raster_page(number: int, frame: Image.Image, limits: FaxLimits, budget: _PixelBudget,
                 photo: bool = False) -> PageImage | str:  # fmt: skip
    """One frame, its size checked before it is decoded; a string says why it was skipped."""
    width, height = frame.size
    if width * height > limits.max_pixels:
        return f"page {number}: {width} x {height} pixels, over {_over('max_pixels', limits)}: not decoded"
    if refused := budget.spend(number, width * height):
        return refused
    try:
        frame.load()
        x_dpi, y_dpi = _frame_dpi(frame)
        upright = ImageOps.exif_transpose(frame)
    except Exception as exc:  # a truncated strip, an unsupported codec (JBIG), a bad table
        return f"page {number}: cannot be decoded: {type(exc).__name__}: {exc}"
    if upright.size != frame.size:  # turned by 90 degrees: the resolutions swap too
        x_dpi, y_dpi = y_dpi, x_dpi
    return PageImage(number, _png(upright), x_dpi, y_dpi, photo=photo and upright.mode != "1")


def _frame_dpi(frame: Image.Image) -> tuple[float, float]:
    """The resolution tags, else a guess from the fax page width (1728 px = 204 dpi)."""
    dpi = frame.info.get("dpi") or frame.info.get("resolution")
    try:
        x, y = (float(v) for v in dpi)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        x = y = 0.0
    if x > 1 and y > 1:
        return x, y
    width, height = frame.size
    if width in (1728, 2048, 2432):  # fax scan lines: A4, B4, A3 at 8 pels/mm
        return 204.0, 98.0 if height < 0.9 * width else 196.0
    return 0.0, 0.0  # unknown: ocr.prepare assumes square pixels


def _png(image: Image.Image) -> bytes:
    """Lossless page for the worker: 1-bit stays 1-bit, anything else becomes greyscale."""
    if image.mode in ("1", "L"):
        page = image
    else:
        from parsers import ocr

        page = Image.fromarray(ocr.greyscale(image))
    out = io.BytesIO()
    page.save(out, format="PNG", compress_level=PNG_LEVEL)
    return out.getvalue()


# --------------------------------------------------------------------------- PDF
def _split_pdf(data: bytes, filename: str, limits: FaxLimits) -> SplitDocument:
    reader, pages = _open_pdf(data)
    problems = []
    if len(pages) > limits.max_pages:
        problems.append(f"pages {limits.max_pages + 1}-{len(pages)} not read: over {_over('max_pages', limits)}")
    fields = _form_fields(reader)
    texts: list[PageText] = []
    images: list[PageImage] = []
    budget = _PixelBudget(limits)
    for number in range(1, min(len(pages), limits.max_pages) + 1):
        try:
            page = pages[number - 1]
            found = _pdf_page(page, number, limits, budget)
        except Exception as exc:  # one broken page costs that page, not the document
            problems.append(f"page {number}: cannot be read: {type(exc).__name__}: {exc}")
            continue
        if isinstance(found, PageText):
            texts.append(found)
        elif isinstance(found, PageImage):
            images.append(found)
        else:
            problems.extend(found)
    if not texts and not images:
        raise DocumentError("; ".join(problems) or "PDF has no pages")
    return SplitDocument(filename, tuple(texts), tuple(images), fields, tuple(problems))


def _open_pdf(data: bytes) -> tuple[PdfReader, list[PageObject]]:
    """The reader and its pages; corrupt or password-protected files are a DocumentError."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("encrypted PDF: it needs a password")
        return reader, list(reader.pages)
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many kinds on a broken file
        name = type(exc).__name__
        if _looks_encrypted(data) or name == "DependencyError":
            raise DocumentError(f"encrypted PDF that cannot be opened: {name}: {exc}") from exc
        raise DocumentError(f"corrupt PDF: {name}: {exc}") from exc


def _looks_encrypted(data: bytes) -> bool:
    return b"/Encrypt" in data[-4096:] or b"/Encrypt" in data[:4096]


def _pdf_page(page: PageObject, number: int, limits: FaxLimits, budget: _PixelBudget) -> PageText | PageImage | list[str]:
    """A page's text layer (with filled-in form values in place), else its scanned image."""
    widgets = _widget_values(page)
    text = _clean(page.extract_text() or "") if not widgets else ""
    if widgets:
        return PageText(number, _merge_fields(page, widgets), 100.0, "form-fields")
    if sum(c.isalpha() for c in text) >= TEXT_LAYER_MIN_LETTERS:
        return PageText(number, text, 100.0, "text-layer")
    found = _page_image(page, number, limits, budget)
    if found is None:  # neither text nor image: an empty page, or vector drawing only
        return PageText(number, text, 100.0 if text.strip() else 0.0, "text-layer")
    return found


def _clean(text: str) -> str:
    return _CONTROL.sub("", text).strip()


# ----------------------------------------------------------------- PDF images
def _page_image(page: PageObject, number: int, limits: FaxLimits, budget: _PixelBudget) -> PageImage | list[str] | None:
    """The page's scanned image (the largest, or same-width strips stacked), sizes checked
    first, turned upright as the page shows it, with its resolution from its placement.

    The page's images are checked together, from their dictionaries, before any is decoded:
    strips each under fax.max_pixels can stack to a gigapixel page."""
    keys = _image_keys(page)
    sizes = [(w, h) for _, w, h in keys]
    if refused := _over_pixels(f"page {number}", sizes, limits) or budget.spend(number, sum(w * h for w, h in sizes)):
        return [refused]
    problems: list[str] = []
    found = []
    for key, _, _ in keys:
        try:
            image = page.images[key].image
        except Exception as exc:  # JBIG2 without jbig2dec, a broken stream, an odd colour space
            problems.append(f"page {number}: image cannot be decoded: {type(exc).__name__}: {exc}")
            continue
        if image is not None:
            found.append((key, image))
    # a dictionary may understate what its stream decodes to: the decoded sizes count too
    if refused := _over_pixels(f"page {number}", [im.size for _, im in found], limits, "decoded"):
        return [*problems, refused]
    if not found:
        return problems or None
    key, image = _compose(found)
    matrix = _placement(page, key)
    if matrix is None:
        return PageImage(number, _png(image), *_mediabox_dpi(page, image))
    image, x_dpi, y_dpi = _upright(image, matrix)
    return PageImage(number, _png(image), x_dpi, y_dpi)


def _over_pixels(where: str, sizes: list[tuple[int, int]], limits: FaxLimits, state: str = "not decoded") -> str | None:
    """Why images of these sizes are refused together, or None when they fit max_pixels."""
    total = sum(w * h for w, h in sizes)
    if total <= limits.max_pixels:
        return None
    if len(sizes) == 1:
        (w, h), = sizes
        return f"{where}: image of {w} x {h} pixels, over {_over('max_pixels', limits)}: {state}"
    return f"{where}: {len(sizes)} images of {total} pixels together, over {_over('max_pixels', limits)}: {state}"


def _image_keys(page: PageObject) -> list[tuple[Any, int, int]]:
    """(key for page.images, width, height) of every image on the page, read from the image
    dictionaries undecoded: XObjects (also inside forms) and inline images. pypdf's
    `page.images` decodes every inline image as soon as it is touched, so it is not asked."""
    return [*_xobject_images(page, []), *((f"~{i}~", w, h) for i, (w, h) in enumerate(_inline_sizes(page)))]


def _xobject_images(node: Any, path: list[str], depth: int = 0) -> Iterator[tuple[Any, int, int]]:
    """Image XObjects under `node`'s resources, keyed as pypdf does (`/Im0`, `[/Fm0, /Im0]`)."""
    resources = node.get("/Resources")
    resources = resources.get_object() if resources is not None else None
    xobjects = resources.get("/XObject") if isinstance(resources, DictionaryObject) else None
    xobjects = xobjects.get_object() if xobjects is not None else None
    if not isinstance(xobjects, DictionaryObject) or depth > MAX_FORM_DEPTH:
        return
    for name, ref in xobjects.items():
        obj = ref.get_object()
        if not isinstance(obj, StreamObject):
            continue
        if obj.get("/Subtype") == "/Image":
            yield (name if not path else [*path, name]), _dimension(obj, "/Width"), _dimension(obj, "/Height")
        elif obj.get("/Subtype") == "/Form":
            yield from _xobject_images(obj, [*path, name], depth + 1)


def _inline_sizes(page: PageObject) -> list[tuple[int, int]]:
    """(width, height) of each inline image (BI ... ID ... EI), in the order pypdf numbers them."""
    contents = page.get_contents()
    if contents is None:
        return []
    sizes = []
    for operands, operator in ContentStream(contents, page.pdf).operations:
        if operator == b"INLINE IMAGE":
            settings = operands["settings"]
            sizes.append((_dimension(settings, "/W", "/Width"), _dimension(settings, "/H", "/Height")))
    return sizes


def _dimension(dictionary: Any, *names: str) -> int:
    """An image's width or height as its dictionary states it (0 when absent or nonsense)."""
    for name in names:
        try:
            return max(int(dictionary.get(name).get_object()), 0)
        except (AttributeError, TypeError, ValueError):
            continue
    return 0


def _compose(images: list[tuple[Any, Image.Image]]) -> tuple[Any, Image.Image]:
    """One page image: fax software sometimes writes a page as strips of equal width. The
    sheet has the pixels of its strips, which were checked together against max_pixels."""
    widths = {im.width for _, im in images}
    if len(images) > 1 and len(widths) == 1 and all(im.height < im.width for _, im in images):
        mode = "1" if all(im.mode == "1" for _, im in images) else "L"
        sheet = Image.new(mode, (images[0][1].width, sum(im.height for _, im in images)), 255)
        top = 0
        for _, strip in images:
            sheet.paste(strip if strip.mode == mode else strip.convert(mode), (0, top))
            top += strip.height
        return None, sheet  # no single placement: the page size gives the resolution
    return max(images, key=lambda item: item[1].width * item[1].height)


Matrix = tuple[float, float, float, float, float, float]


def _placement(page: PageObject, key: Any) -> Matrix | None:
    """The transformation in force where the page draws image `key` (`/Im0 Do`), or None."""
    if not isinstance(key, str) or key.startswith("~"):
        return None
    contents = page.get_contents()
    if contents is None:
        return None
    ctm: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    stack: list[Matrix] = []
    for operands, operator in ContentStream(contents, page.pdf).operations:
        if operator == b"q":
            stack.append(ctm)
        elif operator == b"Q":
            ctm = stack.pop() if stack else ctm
        elif operator == b"cm" and len(operands) == 6:
            ctm = _multiply(tuple(float(v) for v in operands), ctm)  # type: ignore[arg-type]
        elif operator == b"Do" and operands and operands[0] == key:
            return _multiply(ctm, _rotation(int(page.get("/Rotate", 0) or 0)))
    return None


def _multiply(m: Matrix, n: Matrix) -> Matrix:
    """m then n, in PDF's row-vector convention."""
    a, b, c, d, e, f = m
    A, B, C, D, E, F = n
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def _rotation(degrees: int) -> Matrix:
    """The page's /Rotate (clockwise on screen) as a matrix."""
    turns = (degrees // 90) % 4
    return [(1.0, 0.0, 0.0, 1.0), (0.0, -1.0, 1.0, 0.0), (-1.0, 0.0, 0.0, -1.0), (0.0, 1.0, -1.0, 0.0)][turns] + (0.0, 0.0)


# How the image's column and row steps run on screen (x right, y down) -> Pillow transpose.
_TRANSPOSE = {
    ((1, 0), (0, 1)): None, ((-1, 0), (0, -1)): Image.Transpose.ROTATE_180,
    ((-1, 0), (0, 1)): Image.Transpose.FLIP_LEFT_RIGHT, ((1, 0), (0, -1)): Image.Transpose.FLIP_TOP_BOTTOM,
    ((0, -1), (1, 0)): Image.Transpose.ROTATE_90, ((0, 1), (-1, 0)): Image.Transpose.ROTATE_270,
    ((0, 1), (1, 0)): Image.Transpose.TRANSPOSE, ((0, -1), (-1, 0)): Image.Transpose.TRANSVERSE,
}  # fmt: skip


def _upright(image: Image.Image, m: Matrix) -> tuple[Image.Image, float, float]:
    """The image turned as the page shows it, and its resolution from its size on the page.

    PDF draws an image into the unit square through the matrix: its columns run along
    (a, b) and its rows (first row at the top) along -(c, d), in y-up page space.
    """
    a, b, c, d = m[:4]
    width_pt, height_pt = (a * a + b * b) ** 0.5, (c * c + d * d) ** 0.5
    if width_pt < 1 or height_pt < 1:
        return image, 0.0, 0.0
    x_dpi, y_dpi = image.width * 72 / width_pt, image.height * 72 / height_pt
    col = _axis(a, -b)  # screen y runs down
    row = _axis(-c, d)
    turn = _TRANSPOSE.get((col, row))
    if turn is None:
        return image, x_dpi, y_dpi
    turned = image.transpose(turn)
    if col[0] == 0:  # turned by 90 degrees: the resolutions swap
        x_dpi, y_dpi = y_dpi, x_dpi
    return turned, x_dpi, y_dpi


def _axis(x: float, y: float) -> tuple[int, int]:
    """The screen axis a direction mostly runs along, as a unit step."""
    if abs(x) >= abs(y):
        return (1 if x >= 0 else -1, 0)
    return (0, 1 if y >= 0 else -1)


def _mediabox_dpi(page: PageObject, image: Image.Image) -> tuple[float, float]:
    """Resolution from the image size over the page size (a fax image fills its page)."""
    box = page.mediabox
    width_in, height_in = float(box.width) / 72, float(box.height) / 72
    if width_in <= 0 or height_in <= 0:
        return 0.0, 0.0
    return image.width / width_in, image.height / height_in


# ----------------------------------------------------------------- AcroForm
def _form_fields(reader: PdfReader) -> tuple[tuple[str, str], ...]:
    """Filled-in AcroForm fields as (full name, value), empty and "Off" ones left out."""
    try:
        fields = reader.get_fields() or {}
    except Exception:  # a broken field tree costs the fields, not the pages
        return ()
    out = []
    for name, field in list(fields.items())[:MAX_FIELDS]:
        value = _field_value(field.get("/V"))
        if value:
            out.append((str(name), value))
    return tuple(out)


def _field_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, IndirectObject):
        value = value.get_object()
    if isinstance(value, (list, ArrayObject)):
        return ", ".join(v for v in (_field_value(v) for v in value) if v)
    text = _clean(str(value))
    if text.startswith("/"):  # a check box or radio state
        text = "" if text == "/Off" else text[1:]
    return text[:MAX_FIELD_CHARS]


def _widget_values(page: PageObject) -> list[tuple[float, float, str, str]]:
    """Filled text/choice widgets on the page: (top, left, label, value)."""
    out = []
    for ref in page.get("/Annots") or []:
        try:
            annot = ref.get_object()
            if annot.get("/Subtype") != "/Widget":
                continue
            parent = annot.get("/Parent")
            field = parent.get_object() if parent is not None and "/T" not in annot else annot
            kind = field.get("/FT") or annot.get("/FT")
            value = _field_value(field.get("/V"))
            if kind not in ("/Tx", "/Ch") or not value:
                continue
            x0, y0, x1, y1 = (float(v) for v in annot["/Rect"])
            label = _clean(str(field.get("/TU") or field.get("/T") or ""))
            out.append((max(y0, y1), min(x0, x1), label, value))
        except Exception:  # an odd annotation is skipped, the page still reads
            continue
    return out[:MAX_FIELDS]


def _merge_fields(page: PageObject, widgets: list[tuple[float, float, str, str]]) -> str:
    """The page as a reader sees it filled in: printed text and field values, line by line.

    Items are placed by position (text by its baseline, a value by its box's first line),
    grouped into lines top to bottom, left to right. Without printed labels on the page,
    each value is preceded by the field's tooltip or name.
    """
    items: list[tuple[float, float, str]] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            items.append((y, x, _clean(text)))

    try:
        page.extract_text(visitor_text=visit)
    except Exception:
        items.clear()
    labelled = bool(items)
    for top, left, label, value in widgets:
        for k, line in enumerate(value.splitlines() or [value]):
            first = line if labelled or k else f"{label}: {line}" if label else line
            items.append((top - 11 - 14 * k, left, first))
    return "\n".join(_lines(items))


def _lines(items: list[tuple[float, float, str]], tolerance: float = 6.0) -> list[str]:
    """Group positioned text into lines: top to bottom, then left to right."""
    rows: list[list[tuple[float, float, str]]] = []
    for item in sorted(items, key=lambda i: -i[0]):
        if rows and abs(rows[-1][0][0] - item[0]) <= tolerance:
            rows[-1].append(item)
        else:
            rows.append([item])
    return [" ".join(t for _, _, t in sorted(row, key=lambda i: i[1])).strip() for row in rows]
