"""OCR of one page image: clean it up for tesseract, then read it (pol+eng).

`prepare` turns a fax page into what tesseract reads best and `ocr` reads it once with the
tesseract kept loaded in the process (libtesseract's C API; a tesseract run per page
through pytesseract where the library is missing), returning the text and per-word
confidences, with sure misreadings repaired (`repair_word`, and tesseract's own Polish
word list: `Lexicon`). Each step is kept because it measured better on rendered HOT-01
forms: `bench/ocr_bench.py --ablate` switches them off one at a time and prints the
effect on speed (wall and CPU), fields read and character error rate.
"""
from __future__ import annotations

import atexit
import ctypes
import itertools
import math
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pytesseract
from PIL import Image

# One page is one tesseract process on one core: the gateway's workers run pages in
# parallel, and tesseract's own OpenMP threads on top of that only fight over the cores
# (3.5x slower on 2 busy cores). pytesseract hands os.environ to tesseract, so this covers
# every call made from a process that imported this module.
os.environ["OMP_THREAD_LIMIT"] = "1"
# The same for OpenCV's own thread pool: with every core running a page, its threads only
# add overhead (measured: 20 % more CPU per page in `prepare` with them).
cv2.setNumThreads(1)

LANG = "pol+eng"
MIN_DPI, MAX_DPI = 50.0, 2400.0
MAX_OCR_DPI = 400.0  # finer scans are averaged down: more pixels only cost time


@dataclass(frozen=True, slots=True)
class Steps:
    """What `prepare` does and how tesseract is called; the defaults are what measured best."""

    despeckle: bool = True  # drop isolated 1-2 pixel dots (line noise) on fine pages
    square: bool = True  # stretch non-square fax pixels (204x98 dpi) to square
    deskew: bool = True  # level small skews (up to 3 degrees)
    lines: bool = True  # remove ruled and dotted lines and boxes
    crop: bool = True  # cut the blank margins off
    blur: float = 0.8  # Gaussian sigma: smooths the staircase edges of 1-bit fax glyphs
    blur_stretched: float = 1.3  # the same for normal-mode pages, stretched 2x: coarser steps
    grey: bool = True  # give tesseract the smoothed grey page, not a 1-bit one
    scale: float = 1.0  # extra scale after squaring (1.47 = 204 -> 300 dpi)
    psm: int = 4  # tesseract page segmentation: 4 = one column of lines of varying size
    lang: str = LANG
    invert: bool = False  # tesseract's try-inverted-text pass: costly, useless on faxes
    engine: str = "api"  # "api": libtesseract kept loaded in the process; "cli": a tesseract run per page
    repair: bool = True  # fix sure misreadings: e-mail "@", case-sign letters (repair_word)
    lexicon: bool = True  # a word not in tesseract's Polish word list, one misread letter from one that is


STEPS = Steps()


@dataclass(frozen=True, slots=True)
class OcrResult:
    text: str
    confidence: float  # mean word confidence, 0..100
    words: tuple[tuple[str, float], ...]


class OcrTimeout(TimeoutError):
    """Tesseract did not finish within the page's time budget (it was killed)."""


def with_steps(**changes: object) -> Steps:
    """The default steps with some changed (for measurements)."""
    return replace(STEPS, **changes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- prepare
def prepare(image: Image.Image, x_dpi: float, y_dpi: float, steps: Steps = STEPS) -> Image.Image:
    """A square-pixel, upright page without speckle or form lines, ready for tesseract."""
    x_dpi, y_dpi = _sane_dpi(x_dpi, y_dpi)
    ink = _binarise(greyscale(image))
    if steps.despeckle and y_dpi > 0.75 * x_dpi:  # square pixels only: see _despeckle
        ink = _despeckle(ink)
    if steps.crop:
        ink = _rough_crop(ink, x_dpi, y_dpi)
    fx = steps.scale * min(1.0, MAX_OCR_DPI / x_dpi)
    fy = fx * (x_dpi / y_dpi if steps.square else 1.0)
    angle = _skew_angle(ink, fx, fy) if steps.deskew else 0.0
    grey = _warp(ink, fx, fy, angle)
    ink = grey < 128
    if steps.lines or steps.crop:
        x_height, lines, box = _text_height_and_lines(ink, steps.lines)
        grey[lines] = 255
        if steps.crop:
            grey = _crop(grey, box, round(2 * x_height))
    sigma = steps.blur_stretched if fy > 1.5 * fx else steps.blur
    if sigma:
        grey = cv2.GaussianBlur(grey, (0, 0), sigma)
    out = Image.fromarray(grey if steps.grey else np.where(grey < 128, 0, 255).astype(np.uint8))
    dpi = round(x_dpi * fx)
    out.info["dpi"] = (dpi, dpi)
    return out


def greyscale(image: Image.Image) -> np.ndarray:
    """8-bit greyscale pixels of any Pillow image; transparent areas on white paper."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    if image.mode.startswith("I") or image.mode == "F":
        arr = np.asarray(image.convert("F"), dtype=np.float32)
        low, span = float(arr.min()), max(float(arr.max() - arr.min()), 1.0)
        return ((arr - low) * (255 / span)).astype(np.uint8)
    return np.asarray(image.convert("L"))


def _sane_dpi(x_dpi: float, y_dpi: float) -> tuple[float, float]:
    """Missing or absurd resolutions (0, 1, 10000) fall back to square pixels."""
    ok = [d for d in (x_dpi, y_dpi) if MIN_DPI <= d <= MAX_DPI]
    if len(ok) < 2:
        d = ok[0] if ok else 200.0
        return d, d
    return x_dpi, y_dpi


def _binarise(grey: np.ndarray) -> np.ndarray:
    """Ink mask (True = black) by Otsu's threshold; a fax is bilevel already."""
    if grey.size == 0 or grey.min() == grey.max():
        return np.zeros(grey.shape, dtype=bool)
    _, white = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return white == 0


def _despeckle(ink: np.ndarray) -> np.ndarray:
    """Drop ink pixels with at most one other within 2 px: fax line noise.

    At the native resolution, where a speck is 1-2 pixels; counting neighbours (a box
    filter) is ten times faster than labelling components. Real dots (i, ż, full stops)
    are bigger or close to their letter at 196 dpi; at 98 dpi the accents of ó, ń, ś are
    1-2 pixels too, so normal-mode pages are left alone (measured: 57 % of pages right
    without, 44 % with). White pinholes stay: filling them closes the eyes of e, a, @.
    """
    near = cv2.boxFilter(ink.view(np.uint8), -1, (5, 5), normalize=False, borderType=cv2.BORDER_CONSTANT)
    return ink & (near > 2)


# --------------------------------------------------------------------------- geometry
def _warp(ink: np.ndarray, fx: float, fy: float, angle: float) -> np.ndarray:
    """Scale (square the fax pixels) and rotate in one interpolated pass: grey, white paper.

    One pass keeps thin rules continuous: stretching and rotating separately breaks a
    one-pixel line of a skewed normal-mode fax into a staircase of short pieces.
    """
    paper = np.where(ink, np.uint8(0), np.uint8(255))
    if abs(fx - 1) < 0.02 and abs(fy - 1) < 0.02 and not angle:
        return paper
    h, w = ink.shape
    size = (max(1, round(w * fx)), max(1, round(h * fy)))
    if fx < 1 and fy < 1:  # big scans: average down first, a linear warp aliases when shrinking
        paper = cv2.resize(paper, size, interpolation=cv2.INTER_AREA)
        fx = fy = 1.0
        if not angle:
            return paper
    rot = cv2.getRotationMatrix2D((size[0] / 2, size[1] / 2), angle, 1.0)
    # rot @ diag(fx, fy, 1) as a column scaling: a matrix product would wake numpy's BLAS
    # threads, which then spin on the other core (measured: 1 % of a page's CPU)
    return cv2.warpAffine(paper, rot * np.array([fx, fy, 1.0]), size, flags=cv2.INTER_LINEAR, borderValue=255)


def _skew_angle(ink: np.ndarray, fx: float, fy: float, max_degrees: float = 3.0) -> float:
    """The small rotation whose row profile is sharpest (text lines and rules level)."""
    small = cv2.resize(ink.view(np.uint8) * np.uint8(255), None, fx=0.25 * fx, fy=0.25 * fy,
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    if not small.any():
        return 0.0
    h, w = small.shape
    center = (w / 2, h / 2)

    def sharpness(angle: float) -> float:
        m = cv2.getRotationMatrix2D(center, angle, 1.0)
        rows = cv2.warpAffine(small, m, (w, h), flags=cv2.INTER_LINEAR).sum(axis=1, dtype=np.float64)
        return float(np.square(np.diff(rows)).sum())

    coarse = np.arange(-max_degrees, max_degrees + 1e-9, 0.25)
    best = max(coarse, key=sharpness)
    angle = float(max(np.arange(best - 0.2, best + 0.2 + 1e-9, 0.05), key=sharpness))
    return angle if abs(angle) >= 0.15 else 0.0


def _rough_crop(ink: np.ndarray, x_dpi: float, y_dpi: float) -> np.ndarray:
    """The page without its blank margins, before any other work: a form fills half an A4
    page, and every later step (deskew, warp, line search, tesseract) costs time per pixel.

    Blank means no cell of 1/25 inch has 8 % ink, so scattered speckle does not count as
    text. The margin left, a quarter inch and what levelling a 3 degree skew moves the
    corners by, keeps every letter; `_crop` cuts exactly later.
    """
    cell_x, cell_y = max(1, round(x_dpi / 25)), max(1, round(y_dpi / 25))
    h, w = ink.shape
    grid = cv2.resize(ink.view(np.uint8) * np.uint8(255), (max(1, w // cell_x), max(1, h // cell_y)),
                      interpolation=cv2.INTER_AREA)  # fmt: skip
    rows, cols = np.flatnonzero(grid.max(axis=1) >= 20), np.flatnonzero(grid.max(axis=0) >= 20)
    if rows.size == 0:
        return ink
    top, bottom = rows[0] * cell_y, (rows[-1] + 1) * cell_y
    left, right = cols[0] * cell_x, (cols[-1] + 1) * cell_x
    my = round(0.25 * y_dpi + 0.03 * (right - left) * y_dpi / x_dpi)
    mx = round(0.25 * x_dpi + 0.03 * (bottom - top) * x_dpi / y_dpi)
    top, bottom, left, right = max(0, top - my), min(h, bottom + my), max(0, left - mx), min(w, right + mx)
    return np.ascontiguousarray(ink[top:bottom, left:right])


def _crop(grey: np.ndarray, box: tuple[int, int, int, int] | None, margin: int) -> np.ndarray:
    """The inked area plus a margin: tesseract's layout pass costs time per pixel."""
    if box is None:
        return grey[:8, :8].copy()
    left, top, right, bottom = box
    top, bottom = max(0, top - margin), min(grey.shape[0], bottom + margin)
    left, right = max(0, left - margin), min(grey.shape[1], right + margin)
    return np.ascontiguousarray(grey[top:bottom, left:right])


# --------------------------------------------------------------------------- form lines
Box = tuple[int, int, int, int]  # left, top, right, bottom (exclusive)


def _text_height_and_lines(ink: np.ndarray, find_lines: bool) -> tuple[float, np.ndarray, Box | None]:
    """Letter height, the mask of form lines (rules, boxes, dotted lines) to erase, text box.

    Tesseract drops whole lines of text that sit on a rule or inside a box, so they go;
    every size here is relative to the letter height, so it works at any resolution.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.view(np.uint8), connectivity=8)
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    letter = (h >= 6) & (h <= 150) & (w <= 3 * h) & (w >= 2)
    letter[0] = False
    x_height = float(np.median(h[letter])) if letter.sum() >= 20 else 20.0
    box = _text_box(stats[letter])
    if not find_lines:
        return x_height, np.zeros_like(ink), box
    solid = _solid_lines(ink, x_height)
    dotted = _dotted_lines(labels, w, h, x_height)
    lines = cv2.dilate((solid | dotted).view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return x_height, lines, box


def _text_box(stats: np.ndarray) -> Box | None:
    """The box around all letter-sized blobs (specks and rules left out)."""
    if stats.shape[0] == 0:
        return None
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    right, bottom = x + stats[:, cv2.CC_STAT_WIDTH], y + stats[:, cv2.CC_STAT_HEIGHT]
    return int(x.min()), int(y.min()), int(right.max()), int(bottom.max())


def _solid_lines(ink: np.ndarray, x_height: float) -> np.ndarray:
    """Long horizontal runs (rules, box tops) and tall vertical ones (box sides).

    Found on a copy thickened across the line, so a rule that wavers by a pixel or two
    (skew, fax resolution) still counts as one long run; only the ink on it is removed.
    """
    u8 = ink.view(np.uint8)
    wobble = 2 * max(1, round(0.12 * x_height)) + 1
    long_h, tall_v = max(int(6 * x_height), 25), max(int(2.4 * x_height), 15)
    rect = cv2.MORPH_RECT
    horiz = cv2.morphologyEx(cv2.dilate(u8, np.ones((wobble, 1), np.uint8)), cv2.MORPH_OPEN,
                             cv2.getStructuringElement(rect, (long_h, 1)))  # fmt: skip
    vert = cv2.morphologyEx(cv2.dilate(u8, np.ones((1, wobble), np.uint8)), cv2.MORPH_OPEN,
                            cv2.getStructuringElement(rect, (1, tall_v)))  # fmt: skip
    return ((horiz > 0) | (vert > 0)) & ink


def _dotted_lines(labels: np.ndarray, w: np.ndarray, h: np.ndarray, x_height: float) -> np.ndarray:
    """Rows of small dots: dot-sized blobs that join into a long line when closed sideways."""
    limit = max(2.0, 0.45 * x_height)
    is_dot = (w <= limit) & (h <= limit)
    is_dot[0] = False
    if not is_dot.any():
        return np.zeros(labels.shape, dtype=bool)
    dots = is_dot[labels].view(np.uint8)
    rect = cv2.MORPH_RECT
    joined = cv2.morphologyEx(dots, cv2.MORPH_CLOSE, cv2.getStructuringElement(rect, (max(int(1.2 * x_height), 5), 1)))
    run = cv2.morphologyEx(joined, cv2.MORPH_OPEN, cv2.getStructuringElement(rect, (max(int(8 * x_height), 30), 1)))
    on_line = np.zeros(is_dot.shape, dtype=bool)
    on_line[np.unique(labels[(run > 0) & (dots > 0)])] = True
    return (on_line & is_dot)[labels]


# --------------------------------------------------------------------------- tesseract
def ocr(image: Image.Image, timeout: float, steps: Steps = STEPS) -> OcrResult:
    """Tesseract on a prepared page: text in reading order, and word confidences.

    Read by the tesseract loaded in this process (see `_Engine`), or, without
    libtesseract or with `steps.engine == "cli"`, by a tesseract run. Raises OcrTimeout
    when tesseract is still reading after `timeout` seconds.
    """
    dpi = round(image.info.get("dpi", (300, 300))[0])
    engine = _engine(steps.lang) if steps.engine == "api" else None
    if engine is None:
        data = _run_cli(image, dpi, timeout, steps)
    else:
        data = engine.read(np.asarray(image.convert("L")), dpi, timeout, steps)
    if engine is None or not (steps.repair and steps.lexicon):
        return _result(data, steps.repair)
    return _result(data, steps.repair, engine.lexicon(), engine.lexicon("eng") if "eng" in steps.lang.split("+") else None)


def _run_cli(image: Image.Image, dpi: int, timeout: float, steps: Steps) -> dict[str, list[object]]:
    """One tesseract process for the page, killed after `timeout` seconds.

    The page goes to tesseract as an uncompressed PGM/PBM file (PNG encoding costs more
    than it saves).
    """
    config = f"--psm {steps.psm} --dpi {dpi} -c tessedit_do_invert={int(steps.invert)}"
    with tempfile.TemporaryDirectory(prefix="hotline-ocr-") as tmp:
        path = Path(tmp) / ("page.pbm" if image.mode == "1" else "page.pgm")
        image.convert("1" if image.mode == "1" else "L").save(path)
        try:
            data: dict[str, list[object]] = pytesseract.image_to_data(
                str(path), lang=steps.lang, config=config, timeout=max(timeout, 0.01), output_type=pytesseract.Output.DICT)
        except RuntimeError as exc:
            if "timeout" in str(exc).lower():
                raise OcrTimeout(f"tesseract took over {timeout:.1f} s") from exc
            raise
    return data


# --------------------------------------------------------------------------- libtesseract
_VOID = ctypes.c_void_p
_C_API: dict[str, tuple[list[type], type | None]] = {  # the C API functions used: (argument types, result type)
    "TessBaseAPICreate": ([], _VOID),
    "TessBaseAPIInit3": ([_VOID, ctypes.c_char_p, ctypes.c_char_p], ctypes.c_int),
    "TessBaseAPISetVariable": ([_VOID, ctypes.c_char_p, ctypes.c_char_p], ctypes.c_int),
    "TessBaseAPISetPageSegMode": ([_VOID, ctypes.c_int], None),
    "TessBaseAPISetImage": ([_VOID, _VOID, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int], None),
    "TessBaseAPISetSourceResolution": ([_VOID, ctypes.c_int], None),
    "TessBaseAPIRecognize": ([_VOID, _VOID], ctypes.c_int),
    "TessBaseAPIGetTsvText": ([_VOID, ctypes.c_int], _VOID),
    "TessDeleteText": ([_VOID], None),
    "TessBaseAPIClear": ([_VOID], None),
    "TessBaseAPIGetDatapath": ([_VOID], ctypes.c_char_p),
    "TessBaseAPIGetIterator": ([_VOID], _VOID),
    "TessResultIteratorNext": ([_VOID, ctypes.c_int], ctypes.c_int),
    "TessResultIteratorGetUTF8Text": ([_VOID, ctypes.c_int], _VOID),
    "TessResultIteratorWordRecognitionLanguage": ([_VOID], ctypes.c_char_p),
    "TessResultIteratorDelete": ([_VOID], None),
    "TessBaseAPIEnd": ([_VOID], None),
    "TessBaseAPIDelete": ([_VOID], None),
    "TessMonitorCreate": ([], _VOID),
    "TessMonitorSetDeadlineMSecs": ([_VOID, ctypes.c_int], None),
    "TessMonitorDelete": ([_VOID], None),
}
_TSV_COLUMNS = ("level", "page_num", "block_num", "par_num", "line_num", "word_num", "left", "top", "width",
                "height", "conf", "text")  # fmt: skip
_LIBRARY: list[ctypes.CDLL | None] = []
_ENGINES: dict[tuple[int, str], _Engine | None] = {}
_LOADING = threading.Lock()


def _library() -> ctypes.CDLL | None:
    """libtesseract with the C API's signatures declared, or None where it is missing."""
    if not _LIBRARY:
        try:
            lib = ctypes.CDLL("libtesseract.so.5")
            for name, (args, result) in _C_API.items():
                getattr(lib, name).argtypes, getattr(lib, name).restype = args, result
        except (OSError, AttributeError):
            lib = None
        _LIBRARY.append(lib)
    return _LIBRARY[0]


def _engine(lang: str) -> _Engine | None:
    """This process's loaded tesseract for `lang` (a forked worker loads its own)."""
    key = (os.getpid(), lang)
    with _LOADING:
        if key not in _ENGINES:
            lib = _library()
            _ENGINES[key] = _Engine(lib, lang) if lib is not None else None
    return _ENGINES[key]


class _Engine:
    """Tesseract loaded once and kept: a tesseract run spends 0.2 s CPU of its 0.6 s per
    page only loading pol+eng (the universal ambiguity tables, the dictionaries), again
    for every page. Through the C API the page goes over as pixels, the words come back
    as TSV, and a deadline (tesseract's own monitor) stops a page that runs too long."""

    def __init__(self, lib: ctypes.CDLL, lang: str) -> None:
        self.lib, self.lang = lib, lang
        self.handle = lib.TessBaseAPICreate()
        # tesseract's progress chatter ("Detected 16 diacritics") would go to the daemon's
        # stderr, i.e. the journal, as plain text between the JSON lines.
        lib.TessBaseAPISetVariable(self.handle, b"debug_file", b"/dev/null")
        if lib.TessBaseAPIInit3(self.handle, None, lang.encode()) != 0:
            lib.TessBaseAPIDelete(self.handle)
            raise RuntimeError(f"tesseract could not load the language data {lang!r}")
        self.pid = os.getpid()
        self.lock = threading.Lock()  # one page at a time: a handle is not thread-safe (ctypes drops the GIL)
        self._lexicons: dict[str, Lexicon | None] = {}
        atexit.register(self.close)

    def read(self, pixels: np.ndarray, dpi: int, timeout: float, steps: Steps) -> dict[str, list[object]]:
        """The words of an 8-bit grey page, as pytesseract's image_to_data gives them."""
        with self.lock:
            return self._read(pixels, dpi, timeout, steps)

    def _read(self, pixels: np.ndarray, dpi: int, timeout: float, steps: Steps) -> dict[str, list[object]]:
        lib, handle = self.lib, self.handle
        pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        lib.TessBaseAPISetPageSegMode(handle, steps.psm)
        lib.TessBaseAPISetVariable(handle, b"tessedit_do_invert", str(int(steps.invert)).encode())
        lib.TessBaseAPISetImage(handle, pixels.ctypes.data, pixels.shape[1], pixels.shape[0], 1, pixels.strides[0])
        lib.TessBaseAPISetSourceResolution(handle, dpi)
        monitor = lib.TessMonitorCreate()
        start = time.monotonic()
        try:
            lib.TessMonitorSetDeadlineMSecs(monitor, max(1, int(timeout * 1000)))
            failed = lib.TessBaseAPIRecognize(handle, monitor) != 0
            if failed and time.monotonic() - start >= 0.9 * timeout:
                raise OcrTimeout(f"tesseract took over {timeout:.1f} s")
            if failed:
                raise RuntimeError("tesseract could not read the page")
            columns = _tsv(self._tsv_text())
            columns["lang"] = _aligned(columns, self._languages())
            return columns
        finally:
            lib.TessMonitorDelete(monitor)
            lib.TessBaseAPIClear(handle)

    def _languages(self) -> list[tuple[str, str]]:
        """(word, language that read it) for each word, in reading order."""
        lib, out = self.lib, []
        iterator = lib.TessBaseAPIGetIterator(self.handle)
        if not iterator:
            return []
        try:
            while True:
                pointer = lib.TessResultIteratorGetUTF8Text(iterator, _RIL_WORD)
                if pointer:
                    text = ctypes.string_at(pointer).decode("utf-8", "replace").strip()
                    lib.TessDeleteText(pointer)
                    language = lib.TessResultIteratorWordRecognitionLanguage(iterator) or b""
                    if text:
                        out.append((text, language.decode()))
                if not lib.TessResultIteratorNext(iterator, _RIL_WORD):
                    return out
        finally:
            lib.TessResultIteratorDelete(iterator)

    def lexicon(self, lang: str | None = None) -> Lexicon | None:
        """A language's word list (the first one's by default), from the traineddata this
        tesseract loaded."""
        lang = lang or self.lang.split("+")[0]
        if lang not in self._lexicons:
            folder = self.lib.TessBaseAPIGetDatapath(self.handle) or b""
            self._lexicons[lang] = Lexicon.load(Path(folder.decode()) / f"{lang}.traineddata")
        return self._lexicons[lang]

    def _tsv_text(self) -> str:
        pointer = self.lib.TessBaseAPIGetTsvText(self.handle, 0)
        if not pointer:
            return ""
        try:
            return ctypes.string_at(pointer).decode("utf-8", "replace")
        finally:
            self.lib.TessDeleteText(pointer)

    def close(self) -> None:
        """Free tesseract before the process ends (else it warns of leaked dictionaries)."""
        if self.handle and os.getpid() == self.pid:
            self.lib.TessBaseAPIEnd(self.handle)
            self.lib.TessBaseAPIDelete(self.handle)
        self.handle = None


_RIL_WORD = 3  # tesseract's PageIteratorLevel for words


def _aligned(columns: dict[str, list[object]], languages: list[tuple[str, str]]) -> list[object]:
    """The language of each TSV row's word ("" for rows that are no word, or when the two
    readings of the page do not line up word for word)."""
    words = [i for i, text in enumerate(columns["text"]) if str(text).strip()]
    out: list[object] = [""] * len(columns["text"])
    if len(words) != len(languages) or any(str(columns["text"][i]).strip() != w for i, (w, _) in zip(words, languages)):
        return out
    for i, (_, language) in zip(words, languages):
        out[i] = language
    return out


def _tsv(text: str) -> dict[str, list[object]]:
    """Tesseract's TSV rows as columns, the shape of pytesseract's Output.DICT."""
    columns: dict[str, list[object]] = {name: [] for name in _TSV_COLUMNS}
    for row in text.splitlines():
        cells = row.split("\t")
        if len(cells) == len(_TSV_COLUMNS):
            for name, cell in zip(_TSV_COLUMNS, cells):
                columns[name].append(cell)
    return columns


def looks_sideways(image: Image.Image) -> bool:
    """Do the text lines run up and down? (A sharper column profile than row profile.)

    A cheap test before OCR: reading a sideways page first costs seconds of garbage.
    """
    ink = np.asarray(image.convert("L").reduce(4)) < 160
    if ink.sum() < 200:
        return False
    rows = np.square(np.diff(ink.sum(axis=1, dtype=np.float64))).sum() / ink.shape[1]
    cols = np.square(np.diff(ink.sum(axis=0, dtype=np.float64))).sum() / ink.shape[0]
    return bool(cols > 2 * rows)  # measured: upright pages 0.05-0.5, sideways 6-15


def turned_upright(image: Image.Image, timeout: float) -> Image.Image | None:
    """The page turned by the quarter turns tesseract's orientation detection (OSD) finds,
    or None when it finds none or cannot tell (too little text, a picture).

    Costs a tesseract run, so it is for pages that read badly: a fax fed upside down, a
    scan stored sideways.
    """
    try:
        osd = pytesseract.image_to_osd(image, config="--psm 0 -c min_characters_to_try=10",
                                       timeout=max(timeout, 0.01), output_type=pytesseract.Output.DICT)  # fmt: skip
    except RuntimeError as exc:  # TesseractError (too few characters) or a timeout
        if "timeout" in str(exc).lower():
            raise OcrTimeout(f"orientation detection took over {timeout:.1f} s") from exc
        return None
    rotate = int(osd.get("rotate", 0)) % 360
    if rotate not in (90, 180, 270):
        return None
    turned = image.rotate(-rotate, expand=True)
    turned.info["dpi"] = image.info.get("dpi", (300, 300))
    return turned


def _result(data: dict[str, list[object]], repair: bool, lexicon: Lexicon | None = None,
            english: Lexicon | None = None) -> OcrResult:  # fmt: skip
    """Words to lines (by block, paragraph and line number), one line per text line.

    With the word list, a word the English model read gets its Polish letters back when
    the list says so (see `Lexicon.accented`).
    """
    lines: dict[tuple[int, int, int], list[tuple[str, float]]] = {}
    languages = data.get("lang") or [""] * len(data["text"])
    for i, raw in enumerate(data["text"]):
        word, conf = str(raw).strip(), float(str(data["conf"][i]))
        if not word or conf < 0:
            continue
        if repair and lexicon is not None and languages[i] == "eng":
            word = lexicon.accented(word, english)
        key = (int(str(data["block_num"][i])), int(str(data["par_num"][i])), int(str(data["line_num"][i])))
        lines.setdefault(key, []).append((word, conf))
    if repair:
        lines = {key: [(repair_word(w, lexicon), c) for w, c in join_split_emails(ws)] for key, ws in lines.items()}
    words = [w for ws in lines.values() for w in ws]
    text = "\n".join(" ".join(w for w, _ in ws) for ws in lines.values())
    mean = sum(c for _, c in words) / len(words) if words else 0.0
    return OcrResult(text=text, confidence=round(mean, 1), words=tuple(words))


def join_split_emails(words: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """An e-mail address OCR split in two at its "@" ("e.kowalskaQ© belchatow.gov.pl") or
    after the initial ("w. mazur@olsztyn.gov.pl") is one word again, when the joined word
    is an address (`repair_email`); the pair's confidence is the lower one."""
    out: list[tuple[str, float]] = []
    for word, conf in words:
        if out and _splits_email(out[-1][0], word):
            out[-1] = (out[-1][0] + word, min(out[-1][1], conf))
        else:
            out.append((word, conf))
    return out


_AT_AT_END = re.compile(r"(?:[QGB]?[QGD]?[©@®]|[QG][QGD]?)$")
_DOMAIN_WORD = re.compile(r"^[a-ząćęłńóśźż0-9][a-ząćęłńóśźż0-9-]*(?:\.[a-ząćęłńóśźż0-9-]+)+[,;.]?$")
_LETTER_DOT = re.compile(r"^[A-Za-z]\.$")


def _splits_email(first: str, second: str) -> bool:
    if "@" not in repair_email(first + second):
        return False
    return bool(_AT_AT_END.search(first) and _DOMAIN_WORD.match(second)) or bool(_LETTER_DOT.match(first))


# The Polish model has no "@" glyph, and pol+eng sometimes keeps its reading of one: "©",
# "Q", "G", "Q©", "(Q"... An e-mail-shaped word (a local part, such a separator, a dotted
# domain ending in 2-6 letters) gets its "@" back. Inside such a word the usual misreadings
# of "l" go too: "|", "!", "]", "ł" ("gov.p!", "|.nowak", "1.baran" for "l.baran"), and
# the Polish letters the model puts into ASCII names ("s.żolkiewski", "góv.pl"). No address
# holds a "(": one between the local part and the domain is the "@" ("(W", "(QO", "(Ó").
_PL = "ąćęńóśźż"
_EMAIL = re.compile(
    rf"^(?P<lead>[(<\[]?)(?P<local>[A-Za-z0-9|!ł{_PL}][a-z0-9._%+ł{_PL}-]*?)"
    r"(?P<sep>\(?(?:[QGB]?[QGD]?[©@®]O?|[QG][QGD]?)\)?|\([OD0]\)?|\([A-ZÓ©]{1,2}\)?)"
    rf"(?P<domain>[a-z0-9ł{_PL}][a-z0-9ł{_PL}-]*(?:[.,][a-z0-9ł{_PL}-]+)*\.[a-zł{_PL}!|\]I]{{2,6}})(?P<tail>[,;:.)>\]]?)$"
)
_INITIAL = re.compile(r"^[|!I1]\.")  # "l." read as "|.", "I.", "1."


def repair_word(word: str, lexicon: Lexicon | None = None) -> str:
    """Misreadings with one sure reading in this domain: e-mail addresses, "BeSTi@", the
    letters of a case sign ("$0.2345.1.2026" -> "SO.2345.1.2026"), a comma among dotted
    digits ("RG.2438,47.2026"); with a `lexicon`, a word one misread letter from a word
    of the language ("wpłalę" -> "wpłatę")."""
    if lexicon is not None:
        word = lexicon.correct(word)
    word = _BESTIA.sub("BeSTi@", repair_email(word))
    sign = _SIGN.match(word)
    if sign and re.search(r"[A-Z$]", sign[1]):
        word = sign[1].replace("0", "O").replace("$", "S") + word[sign.end():]
    if _DOTTED.search(word) and _COMMA.search(word):
        word = _COMMA.sub(".", word)
    return word


# BeSTi@, the finance ministry's budget reporting system the offices ask about, has the
# same "@" the Polish model cannot read.
_BESTIA = re.compile(r"^BeST[iIl1|](?:[QG][©@®]?|[©@®])(?=\W|$)")
# A case sign (znak) starts with a department's letters: "SO.", "OR-", "BRM/". Read as
# "$0." or "0R." (a letter or "$" in the prefix, digits after it) it is put right.
_SIGN = re.compile(r"^([A-Z0$]{1,4})(?=[.\-/]\d)")
_DOTTED = re.compile(r"\d\.\d")
_COMMA = re.compile(r"(?<=\d),(?=\d)")


def repair_email(word: str) -> str:
    """`|.kowalskiQ©urzad.gov.p!` -> `l.kowalski@urzad.gov.pl`; other words unchanged."""
    m = _EMAIL.match(word)
    if not m:
        return word
    local = _INITIAL.sub("l.", m["local"]).translate(_AS_L_LOCAL)
    domain = _QOV.sub("gov", m["domain"].translate(_AS_L).replace(",", "."))
    repaired = f"{m['lead']}{local}@{domain}{m['tail']}"
    return repaired if repaired != word else word


_ASCII = {"ą": "a", "ć": "c", "ę": "e", "ń": "n", "ó": "o", "ś": "s", "ź": "z", "ż": "z", "ł": "l"}
# A comma between domain labels is a dot ("gniezno,gov.pl"); Polish has no "q", and the
# offices' domain is "gov.pl": "qov" is a misread "gov".
_QOV = re.compile(r"(?<![a-z0-9-])qov(?=\.)")
_AS_L_LOCAL = str.maketrans({"!": "l", "|": "l", **_ASCII})
_AS_L = str.maketrans({"!": "l", "|": "l", "]": "l", "I": "l", **_ASCII})


# --------------------------------------------------------------------------- word list
# What fax-resolution OCR reads instead of a letter (read -> meant), from the misreadings
# on rendered forms: "wpłalę", "pylania" (t), "intormację", "teletonu" (f), "zawicra",
# "cksporcie" (e), "Jahłońska" (b), "Stawomir" (ł), "Fłk" (E), "Lermin" (t). A diacritic
# is only ever added, never taken away: the word list lacks many inflected forms
# ("zaksięgowaną"), and a read "ą" is rarely a misread "a".
MISREAD = {"l": "tł", "ł": "t", "t": "łf", "i": "l", "c": "eć", "e": "ęc", "h": "b", "b": "h", "F": "E", "L": "t",
           "a": "ą", "o": "ó", "z": "żź", "s": "ś", "n": "ń", "q": "g"}  # fmt: skip
_PLAIN_WORD = re.compile(r"^(?P<lead>[\"'„‘(]*)(?P<word>[^\W\d_]{3,})(?P<tail>[.,?!:;)]*)$")


class Lexicon:
    """Tesseract's word list for a language (the LSTM's word DAWG in its traineddata), to
    look words up in: the same list tesseract's own beam search prefers words from."""

    def __init__(self, edges: np.ndarray, unichars: list[str], unicharset_size: int) -> None:
        flag_bit = int(np.ceil(np.log2(unicharset_size + 1)))
        self.letter_mask, self.flag_bit, self.next_bit = (1 << flag_bit) - 1, flag_bit, flag_bit + 3
        self.edges = edges.tolist()
        self.ids = {u: i for i, u in enumerate(unichars)}
        self.nodes: dict[int, dict[int, tuple[int, bool]]] = {}

    @classmethod
    def load(cls, traineddata: Path) -> Lexicon | None:
        """The word DAWG (component 19) and unicharset (21) of a traineddata file; None if
        it has none or cannot be read."""
        try:
            data = traineddata.read_bytes()
            count = int.from_bytes(data[:4], "little")
            offsets = np.frombuffer(data, dtype="<i8", count=count, offset=4).tolist()
            dawg, unicharset = _component(data, offsets, 19), _component(data, offsets, 21)
            if not dawg or not unicharset or int.from_bytes(dawg[:2], "little") != 42:
                return None
            size, edge_count = int.from_bytes(dawg[2:6], "little"), int.from_bytes(dawg[6:10], "little")
            edges = np.frombuffer(dawg, dtype="<u8", count=edge_count, offset=10)
            unichars = [line.split(" ")[0] for line in unicharset.decode("utf-8").splitlines()[1:]]
            return cls(edges, unichars, size)
        except (OSError, ValueError, UnicodeDecodeError):
            return None

    def _edges_of(self, node: int) -> dict[int, tuple[int, bool]]:
        """A node's forward edges: letter id -> (next node, a word may end here)."""
        if node not in self.nodes:
            out: dict[int, tuple[int, bool]] = {}
            edge = node
            while edge < len(self.edges):
                rec = self.edges[edge]
                flags = rec >> self.flag_bit
                if flags & 2:  # backward edges follow the forward ones
                    break
                out.setdefault(rec & self.letter_mask, (rec >> self.next_bit, bool(flags & 4)))
                if flags & 1:  # the node's last edge
                    break
                edge += 1
            self.nodes[node] = out
        return self.nodes[node]

    def __contains__(self, word: str) -> bool:
        node, end = 0, False
        for ch in word:
            letter = self.ids.get(ch)
            step = self._edges_of(node).get(letter) if letter is not None else None
            if step is None:
                return False
            node, end = step
        return end

    def knows(self, word: str) -> bool:
        return word in self or word.lower() in self

    def accented(self, token: str, english: Lexicon | None) -> str:
        """A word the English model read, with the Polish letters that model cannot see
        put back: tesseract keeps reading with the language that read the last word, so
        after a sign or a number the English model reads on ("Imie i nazwisko Uzytkownika",
        "Bozena", "Urzad"). Put back only when exactly one accented form is a Polish word
        and the word as read is no English one (of several forms, the one with the fewest
        diacritics: the list has typos too, "Użytkównika"); the Polish list knows many
        words typed without diacritics, so being in it says nothing."""
        m = _PLAIN_WORD.match(token)
        if m is None or not m["word"].isascii() or m["word"].isupper() or (english is not None and english.knows(m["word"])):
            return token
        found = [w for w in _accent_variants(m["word"]) if w in self or (w[0].isupper() and w.lower() in self)]
        fewest = [w for w in found if _changes(w, m["word"]) == min(_changes(f, m["word"]) for f in found)]
        return f"{m['lead']}{fewest[0]}{m['tail']}" if len(fewest) == 1 else token

    def correct(self, token: str) -> str:
        """A word not in the list that becomes exactly one word of it with one letter read
        as MISREAD says; anything else (numbers, signs, capitals, names the list lacks,
        two or more candidates) unchanged."""
        m = _PLAIN_WORD.match(token)
        if m is None or m["word"].isupper() or self.knows(m["word"]):
            return token
        word = m["word"]
        found = {word[:i] + alt + word[i + 1:] for i, ch in enumerate(word) for alt in MISREAD.get(ch, "")}
        found = {w for w in found if self.knows(w)}
        return f"{m['lead']}{found.pop()}{m['tail']}" if len(found) == 1 else token


ACCENTED = {"a": "ą", "c": "ć", "e": "ę", "l": "ł", "n": "ń", "o": "ó", "s": "ś", "z": "żź",
            "C": "Ć", "L": "Ł", "O": "Ó", "S": "Ś", "Z": "ŻŹ"}  # fmt: skip
MAX_ACCENT_TRIES = 1024


def _accent_variants(word: str) -> list[str]:
    """`word` with some letters given their Polish diacritics (not `word` itself); none
    when there would be over MAX_ACCENT_TRIES."""
    options = [c + ACCENTED.get(c, "") for c in word]
    if math.prod(len(o) for o in options) > MAX_ACCENT_TRIES:
        return []
    return ["".join(p) for p in itertools.product(*options)][1:]


def _changes(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b))


def _component(data: bytes, offsets: list[int], index: int) -> bytes:
    """One component of a traineddata file: from its offset to the next present one."""
    if index >= len(offsets) or offsets[index] < 0:
        return b""
    later = [o for o in offsets[index + 1:] if o >= 0]
    return data[offsets[index]: later[0] if later else len(data)]
