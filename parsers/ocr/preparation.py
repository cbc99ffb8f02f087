"""A fax page made into what tesseract reads best: square pixels, level, without speckle,
form lines and blank margins, smoothed. Each step is kept because it measured better
(`bench/ocr_bench.py --ablate`)."""
from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from parsers.ocr.steps import STEPS, Steps

# One page per core (the gateway's workers run pages in parallel): OpenCV's own thread
# pool on top only adds overhead (measured: 20 % more CPU per page in `prepare` with it).
cv2.setNumThreads(1)

MIN_DPI, MAX_DPI = 50.0, 2400.0
MAX_OCR_DPI = 400.0  # finer scans are averaged down: more pixels only cost time


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
