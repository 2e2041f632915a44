"""Text drawn in pictures, read offline (RapidOCR: PaddleOCR's models on ONNX Runtime, shipped
inside the wheel): the lines read and where, in the picture's own pixels.

The engine loads lazily, once per process (0.4 s, ~200 MB), and reads one picture at a time
(a lock: its sessions keep per-call state). Pictures larger than `MAX_SIDE` are scaled down
first (the detector works at ~736 px anyway) and the boxes scaled back up.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps

MAX_SIDE = 1600  # longer sides are scaled down to this before reading
MIN_SCORE = 0.5  # lines the recogniser is less sure of are dropped

_engine: Any = None
_engine_lock = threading.Lock()
_read_lock = threading.Lock()


@dataclass(frozen=True)
class Line:
    """One line of text read: the text, its confidence, and its box as four [x, y] corners
    (clockwise from the top left of the text) in the original picture's pixels."""

    text: str
    score: float
    box: tuple[tuple[int, int], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "score": round(self.score, 3),
            "box": [list(p) for p in self.box],
        }


def _get_engine() -> Any:
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                from rapidocr_onnxruntime import RapidOCR

                _engine = RapidOCR()
    return _engine


def read_lines(picture: PILImage.Image) -> list[Line]:
    """Every line of text in the picture (Chinese, Latin letters, digits), top to bottom."""
    rgb = ImageOps.exif_transpose(picture).convert("RGB")
    width, height = rgb.size
    scale = 1.0
    if max(width, height) > MAX_SIDE:
        scale = max(width, height) / MAX_SIDE
        rgb = rgb.resize((round(width / scale), round(height / scale)), PILImage.Resampling.LANCZOS)
    engine = _get_engine()
    with _read_lock:
        result, _ = engine(np.asarray(rgb))
    lines = []
    for box, text, score in result or []:
        text = str(text).strip()
        if not text or float(score) < MIN_SCORE:
            continue
        corners = tuple(
            (
                min(width, max(0, round(float(x) * scale))),
                min(height, max(0, round(float(y) * scale))),
            )
            for x, y in box
        )
        lines.append(Line(text, float(score), corners))
    lines.sort(key=lambda line: (min(y for _, y in line.box), min(x for x, _ in line.box)))
    return lines


def read_bytes(data: bytes) -> list[Line]:
    """`read_lines` of an encoded picture (JPEG, PNG, WebP)."""
    with PILImage.open(io.BytesIO(data)) as picture:
        picture.load()
        return read_lines(picture)
