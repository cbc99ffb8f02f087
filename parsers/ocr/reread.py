"""A line tesseract was unsure of, read again from its own crop at a higher scale.

On a whole fax page tesseract reads most lines surely and slips on a few (a "Q" for the
"@" of an address, "I1" for "II" in a case sign, a lost Polish letter); a slip comes with
a low word confidence. Such a line is cut out of the prepared page, enlarged and read as
one line (psm 7): tesseract sees the glyphs bigger and the page's layout cannot split the
line. The second reading replaces the first only when tesseract is surer of it.

Measured (forms bench, tune seed, 20 fine + 20 normal faxes, fields fine / normal, CPU s
a normal page): without 95.0 / 79.2 % (0.32 s); lines under 60 at 2x 94.2 / 80.0 %; under
75 at 3x 95.0 / 79.2 %; under 75 at 1.5x 95.0 / 81.7 % (0.37 s): the defaults. What it
wins is mostly normal pages' address lines.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Protocol

import cv2
import numpy as np

from parsers.ocr.engine import OcrTimeout
from parsers.ocr.steps import Steps

Columns = dict[str, list[object]]  # tesseract's TSV as columns (pytesseract's Output.DICT shape)
LineKey = tuple[int, int, int]  # block, paragraph, line


class Reader(Protocol):
    def read(self, pixels: np.ndarray, dpi: int, timeout: float, steps: Steps) -> Columns: ...


def reread_weak_lines(reader: Reader, page: np.ndarray, dpi: int, data: Columns, deadline: float,
                      steps: Steps) -> Columns:  # fmt: skip
    """`data` with each weak line (a word under `steps.reread_below`) read again from its
    crop at `steps.reread_scale`, where the new reading is surer; at most
    `steps.reread_lines` lines, the weakest first, while time is left before `deadline`
    (time.monotonic): the page's first reading stands when it runs out."""
    lines = _lines(data)
    weak = sorted((k for k, rows in lines.items() if min(_conf(data, i) for i in rows) < steps.reread_below),
                  key=lambda k: min(_conf(data, i) for i in lines[k]))[: steps.reread_lines]  # fmt: skip
    if not weak:
        return data
    line_steps = replace(steps, psm=7)
    replaced: dict[LineKey, Columns] = {}
    for key in weak:
        crop = _crop(page, [_box(data, i) for i in lines[key]], steps.reread_scale)
        if crop is None:
            continue
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            again = reader.read(crop, round(dpi * steps.reread_scale), left, line_steps)
        except OcrTimeout:
            break
        words = [i for i, t in enumerate(again["text"]) if str(t).strip() and float(str(again["conf"][i])) >= 0]
        if words and _mean(again, words) > _mean(data, lines[key]) + steps.reread_gain:
            replaced[key] = {name: [again[name][i] for i in words] for name in again}
    return _merged(data, lines, replaced) if replaced else data


def _lines(data: Columns) -> dict[LineKey, list[int]]:
    """The word rows of each text line, in reading order."""
    out: dict[LineKey, list[int]] = {}
    for i, text in enumerate(data["text"]):
        if str(text).strip() and float(str(data["conf"][i])) >= 0:
            key = (int(str(data["block_num"][i])), int(str(data["par_num"][i])), int(str(data["line_num"][i])))
            out.setdefault(key, []).append(i)
    return out


def _conf(data: Columns, i: int) -> float:
    return float(str(data["conf"][i]))


def _mean(data: Columns, rows: list[int]) -> float:
    return sum(_conf(data, i) for i in rows) / len(rows)


def _box(data: Columns, i: int) -> tuple[int, int, int, int]:
    left, top = int(str(data["left"][i])), int(str(data["top"][i]))
    return left, top, left + int(str(data["width"][i])), top + int(str(data["height"][i]))


def _crop(page: np.ndarray, boxes: list[tuple[int, int, int, int]], scale: float) -> np.ndarray | None:
    """The line's box with a margin of half its height, enlarged `scale` times."""
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
    margin = max(4, (bottom - top) // 2)
    top, bottom = max(0, top - margin), min(page.shape[0], bottom + margin)
    left, right = max(0, left - margin), min(page.shape[1], right + margin)
    if bottom - top < 8 or right - left < 8:
        return None
    crop = page[top:bottom, left:right]
    return cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)


def _merged(data: Columns, lines: dict[LineKey, list[int]], replaced: dict[LineKey, Columns]) -> Columns:
    """The page's rows with each replaced line's words swapped for the new ones (keeping
    the line's place: its block, paragraph and line numbers)."""
    out: Columns = {name: [] for name in data}
    first_row = {rows[0]: key for key, rows in lines.items() if key in replaced}
    dropped = {i for key, rows in lines.items() if key in replaced for i in rows}
    for i in range(len(data["text"])):
        if i in first_row:
            key, new = first_row[i], replaced[first_row[i]]
            for j in range(len(new["text"])):
                for name in data:
                    value = new.get(name, [""] * len(new["text"]))[j]
                    out[name].append(data[name][i] if name in ("block_num", "par_num", "line_num") else value)
        elif i not in dropped:
            for name in data:
                out[name].append(data[name][i])
    return out
