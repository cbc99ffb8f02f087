"""OCR of one page image: clean it up for tesseract, then read it (pol+eng).

`prepare` turns a fax page into what tesseract reads best and `ocr` reads it once with the
tesseract kept loaded in the process (libtesseract's C API; a tesseract run per page
through pytesseract where the library is missing), returning the text and per-word
confidences, with sure misreadings repaired (`repair_word`, and tesseract's own Polish
word list: `Lexicon`). Each step is kept because it measured better on rendered HOT-01
forms: `bench/ocr_bench.py --ablate` switches them off one at a time and prints the
effect on speed (wall and CPU), fields read and character error rate.

Where each job lives: `steps` (what is done, the measured defaults), `preparation` (the
page made ready), `engine` (tesseract in the process or as a process), `lexicon` (its
word list), `text` (the words into lines, repaired: `parsers.misreadings`) and
`orientation` (pages fed sideways or upside down).
"""
from parsers.misreadings import join_split_emails, repair_word
from parsers.ocr.engine import OcrTimeout
from parsers.ocr.lexicon import Lexicon
from parsers.ocr.orientation import looks_sideways, turned_upright
from parsers.ocr.preparation import greyscale, prepare
from parsers.ocr.steps import LANG, STEPS, Steps, with_steps
from parsers.ocr.text import OcrResult, ocr

__all__ = [
    "LANG", "STEPS", "Lexicon", "OcrResult", "OcrTimeout", "Steps", "greyscale", "join_split_emails", "looks_sideways",
    "ocr", "prepare", "repair_word", "turned_upright", "with_steps",
]
