"""OCR of one page image (moving into modules by job: this step only renames the file)."""
from parsers.ocr.preparation import (
    LANG, STEPS, Lexicon, OcrResult, OcrTimeout, Steps, _engine, _result, _skew_angle, greyscale, join_split_emails,
    looks_sideways, ocr, prepare, repair_word, turned_upright, with_steps,
)
