"""A phone's photo of a printed form made into a flat, evenly lit page before OCR.

A photo shows the sheet at an angle on a darker desk and lit from one side: Otsu's one
threshold for the whole picture then blackens the dim side and keeps the desk. So the
sheet's four corners are found (the largest bright quadrilateral), the sheet is warped
flat to A4 proportions, and the light is evened by dividing by the page's own background
(a wide median of the picture: paper everywhere, letters too small to count). A scan,
where the sheet fills the picture, has no such outline and is only evened.
"""
from __future__ import annotations

import cv2
import numpy as np

A4 = 297 / 210
PAGE_DPI = 200.0  # the flattened page's resolution: letters of 10-12 pt at 25-35 px
MIN_SHARE = 0.2  # the sheet covers at least this much of the picture


def flatten(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """The sheet straightened (when its outline is found) and evenly lit, with its dpi."""
    corners = _sheet_corners(grey)
    if corners is not None:
        width = round(8.27 * PAGE_DPI)
        height = round(width * A4)
        target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
        grey = cv2.warpPerspective(grey, cv2.getPerspectiveTransform(corners, target), (width, height),
                                   flags=cv2.INTER_AREA, borderValue=255)  # fmt: skip
        return _even_light(grey), PAGE_DPI
    return _even_light(grey), 0.0


def _sheet_corners(grey: np.ndarray) -> np.ndarray | None:
    """The sheet's corners (top left, top right, bottom right, bottom left), or None."""
    scale = 800 / max(grey.shape)
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    _, bright = cv2.threshold(cv2.GaussianBlur(small, (5, 5), 0), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))  # the letters filled in
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    sheet = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(sheet)
    if area < MIN_SHARE * small.size or area > 0.98 * small.size:  # no sheet, or the sheet is the picture
        return None
    quad = cv2.approxPolyDP(cv2.convexHull(sheet), 0.02 * cv2.arcLength(sheet, True), True)
    if len(quad) != 4:
        return None
    points = quad.reshape(4, 2).astype(np.float32) / scale
    total, diff = points.sum(axis=1), np.diff(points, axis=1).ravel()
    return np.array([points[np.argmin(total)], points[np.argmin(diff)], points[np.argmax(total)],
                     points[np.argmax(diff)]], dtype=np.float32)  # fmt: skip


def _even_light(grey: np.ndarray) -> np.ndarray:
    """The page divided by its background (light falling off across the sheet)."""
    scale = 400 / max(grey.shape)
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    background = cv2.medianBlur(cv2.dilate(small, np.ones((5, 5), np.uint8)), 21)
    background = cv2.resize(background, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
    even = grey.astype(np.float32) * 255.0 / np.maximum(background.astype(np.float32), 1.0)
    return np.clip(even, 0, 255).astype(np.uint8)
