"""What `prepare` does and how tesseract is called, with the defaults that measured best."""
from __future__ import annotations

from dataclasses import dataclass, replace


# Debian's models. Measured against them (forms bench, tune seed, 20 fine + 20 normal
# faxes, fields fine / normal, CPU s a page): the npm package @tesseract.js-data/pol
# 4.0.0_best_int with Debian's eng 92.5 / 77.5 % (0.34 / 0.36 s), with its best_int eng
# too 92.5 / 82.5 % (0.39 / 0.40 s), Debian's 95.0 / 79.2 % (0.35 / 0.32 s): fine pages
# lose three fields and CPU grows, so it is not fetched.
LANG = "pol+eng"


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
    photo: bool = True  # a photo's sheet straightened and its light evened first (parsers/ocr/photo.py)
    reread_below: float = 75.0  # a line with a word under this confidence is read again from its crop (reread.py); 0: never
    reread_scale: float = 1.5  # ... enlarged this much
    reread_lines: int = 6  # ... at most this many lines a page, the weakest first
    reread_gain: float = 5.0  # ... and the new reading taken when its mean confidence is this much higher


STEPS = Steps()


def with_steps(**changes: object) -> Steps:
    """The default steps with some changed (for measurements)."""
    return replace(STEPS, **changes)  # type: ignore[arg-type]
