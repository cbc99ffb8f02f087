"""A prepared page read: tesseract's words put into lines, sure misreadings repaired
(`parsers.misreadings`), the mean word confidence."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from parsers.misreadings import accented, join_split_emails, repair_word
from parsers.ocr.engine import _engine, _run_cli
from parsers.ocr.lexicon import Lexicon
from parsers.ocr.reread import reread_weak_lines
from parsers.ocr.steps import STEPS, Steps


@dataclass(frozen=True, slots=True)
class OcrResult:
    text: str
    confidence: float  # mean word confidence, 0..100
    words: tuple[tuple[str, float], ...]


def ocr(image: Image.Image, timeout: float, steps: Steps = STEPS) -> OcrResult:
    """Tesseract on a prepared page: text in reading order, and word confidences.

    Read by the tesseract loaded in this process (see `engine._Engine`), or, without
    libtesseract or with `steps.engine == "cli"`, by a tesseract run. Raises OcrTimeout
    when tesseract is still reading after `timeout` seconds. With the loaded tesseract,
    lines it was unsure of are read again from their crops (`reread`).
    """
    deadline = time.monotonic() + timeout
    dpi = round(image.info.get("dpi", (300, 300))[0])
    engine = _engine(steps.lang) if steps.engine == "api" else None
    if engine is None:
        data = _run_cli(image, dpi, timeout, steps)
    else:
        pixels = np.asarray(image.convert("L"))
        data = engine.read(pixels, dpi, timeout, steps)
        if steps.reread_below > 0:
            data = reread_weak_lines(engine, pixels, dpi, data, deadline, steps)
    if engine is None or not (steps.repair and steps.lexicon):
        return _result(data, steps.repair)
    return _result(data, steps.repair, engine.lexicon(), engine.lexicon("eng") if "eng" in steps.lang.split("+") else None)


def _result(data: dict[str, list[object]], repair: bool, lexicon: Lexicon | None = None,
            english: Lexicon | None = None) -> OcrResult:  # fmt: skip
    """Words to lines (by block, paragraph and line number), one line per text line.

    With the word list, a word the English model read gets its Polish letters back when
    the list says so (see `parsers.misreadings.accented`).
    """
    lines: dict[tuple[int, int, int], list[tuple[str, float]]] = {}
    languages = data.get("lang") or [""] * len(data["text"])
    for i, raw in enumerate(data["text"]):
        word, conf = str(raw).strip(), float(str(data["conf"][i]))
        if not word or conf < 0:
            continue
        if repair and lexicon is not None and languages[i] == "eng":
            word = accented(word, lexicon, english)
        key = (int(str(data["block_num"][i])), int(str(data["par_num"][i])), int(str(data["line_num"][i])))
        lines.setdefault(key, []).append((word, conf))
    if repair:
        lines = {key: [(repair_word(w, lexicon), c) for w, c in join_split_emails(ws)] for key, ws in lines.items()}
    words = [w for ws in lines.values() for w in ws]
    text = "\n".join(" ".join(w for w, _ in ws) for ws in lines.values())
    mean = sum(c for _, c in words) / len(words) if words else 0.0
    return OcrResult(text=text, confidence=round(mean, 1), words=tuple(words))
