"""Pages fed sideways or upside down: a cheap test, and tesseract's orientation detection."""
from __future__ import annotations

import numpy as np
import pytesseract
from PIL import Image

from parsers.ocr.engine import OcrTimeout


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
