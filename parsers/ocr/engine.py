"""Tesseract run on a prepared page, two ways: kept loaded in the process through
libtesseract's C API (ctypes), or a tesseract process per page (pytesseract) where the
library is missing or `Steps.engine` is "cli". Both give the words as pytesseract's
image_to_data does.

tesserocr 2.13 (PyPI) was measured in place of the ctypes binding (forms bench, tune
seed, 20 fine + 20 normal faxes, same preparation): fields 92.5 / 76.7 % against 95.0 /
79.2 %, CPU 0.27 / 0.29 s a page against 0.35 / 0.32. Its wheel brings its own
tesseract (5.5.4, not Debian's 5.3.0) and reads three fields fewer in each group: kept
out."""
from __future__ import annotations

import atexit
import ctypes
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytesseract
from PIL import Image

from parsers.ocr.lexicon import Lexicon
from parsers.ocr.steps import Steps

# One page is one tesseract process on one core: the gateway's workers run pages in
# parallel, and tesseract's own OpenMP threads on top of that only fight over the cores
# (3.5x slower on 2 busy cores). pytesseract hands os.environ to tesseract, so this covers
# every call made from a process that imported this module.
os.environ["OMP_THREAD_LIMIT"] = "1"


class OcrTimeout(TimeoutError):
    """Tesseract did not finish within the page's time budget (it was killed)."""


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
