"""Creative tools for uploaded photos: named filters, vector stickers, image tags, watermark.

Pure Pillow and stdlib, no Flask, no database: the media job applies the edits a client sent
with its upload, so everything here validates untrusted input and renders deterministically
(a retried job produces the same bytes).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

# FreeType faces are cached and shared with the cover renderer, and FreeType is not
# thread-safe: text is drawn under the same lock the covers use.
from app.media.text_cover import _RENDER_LOCK as _FREETYPE_LOCK
from app.media.text_cover import CJKFont, clean_title, find_cjk_font

__all__ = [
    "FILTERS",
    "MAX_STICKERS",
    "MAX_TAGS",
    "STICKER_PACKS",
    "Edits",
    "EditsInvalid",
    "ImageTag",
    "StickerPlacement",
    "apply_edits",
    "apply_filter",
    "parse_edits",
    "render_sticker",
    "watermark",
]

# --- tunables (the one place for these) -------------------------------------------------

MAX_STICKERS: Final = 10
MAX_TAGS: Final = 10
#: Sticker width as a share of the image width.
STICKER_SCALE_MIN: Final = 0.05
STICKER_SCALE_MAX: Final = 0.5
STICKER_SCALE_DEFAULT: Final = 0.2
ROTATION_LIMIT: Final = 180.0
TAG_LABEL_MAX: Final = 20
#: Stickers are drawn at most this many pixels wide and scaled up beyond it, which bounds
#: the memory the sticker cache can hold.
STICKER_MAX_SIDE: Final = 1024
#: Stickers are drawn supersampled on a canvas up to this side, then reduced (anti-aliasing).
STICKER_DRAW_SIDE: Final = 2048
STICKER_CACHE_SIZE: Final = 32
#: White die-cut border around every sticker, as a share of the sticker side.
STICKER_BORDER: Final = 0.012
#: Watermark font size as a share of the image width, and its floor in pixels.
WATERMARK_SIZE_RATIO: Final = 0.035
WATERMARK_MIN_PX: Final = 12
WATERMARK_MARGIN_RATIO: Final = 0.03
WATERMARK_OPACITY: Final = 0.85
WATERMARK_SHADOW_OPACITY: Final = 0.5
WATERMARK_ELLIPSIS: Final = "…"

#: Filter name -> label shown to users, in the order clients list them.
FILTERS: Final[Mapping[str, str]] = {
    "original": "原图",
    "warm": "暖阳",
    "cool": "清冷",
    "mono": "黑白",
    "vivid": "鲜艳",
    "fade": "胶片褪色",
    "film": "复古",
}

#: Pack name -> sticker names; sticker names are unique across packs.
STICKER_PACKS: Final[Mapping[str, tuple[str, ...]]] = {
    "basic": ("heart", "star", "sparkle", "sun", "flower"),
    "cute": ("cat", "cloud", "rainbow", "bubble"),
    "premium": ("crown", "ribbon", "diamond", "badge"),
}

_BLOCKED_LABEL_CATEGORIES: Final = frozenset({"Cc", "Cs", "Zl", "Zp"})


# --- edits: data and validation -------------------------------------------------------------


class EditsInvalid(ValueError):
    """Client-sent edits we refuse; `field` names the offending value (e.g. stickers[2].x)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        self.message = f"{field} {problem}"
        super().__init__(self.message)

    def within(self, prefix: str) -> EditsInvalid:
        """The same error reported from inside a container, e.g. 'x' -> 'stickers[2].x'."""
        return EditsInvalid(f"{prefix}.{self.field}", self.problem)

    def __repr__(self) -> str:
        return f"EditsInvalid({self.field!r}, {self.problem!r})"


def _real(value: object, field: str) -> float:
    """A finite real number; bools are refused although they are ints."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EditsInvalid(field, "must be a number")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        number = math.inf
    if not math.isfinite(number):
        raise EditsInvalid(field, "must be a finite number")
    return number


def _number(value: object, field: str, low: float, high: float) -> float:
    number = _real(value, field)
    if not low <= number <= high:
        raise EditsInvalid(field, f"must be between {low:g} and {high:g}")
    return number


def _string(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise EditsInvalid(field, "must be a string")
    return value


@dataclass(frozen=True)
class StickerPlacement:
    """A sticker centred at (x, y), relative 0..1; `scale` is its width over the image width.

    Positive rotation turns clockwise, as CSS and the clients do.
    """

    pack: str
    sticker: str
    x: float
    y: float
    scale: float = STICKER_SCALE_DEFAULT
    rotation: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.pack, str) or self.pack not in STICKER_PACKS:
            raise EditsInvalid("pack", f"must be one of {', '.join(STICKER_PACKS)}")
        if not isinstance(self.sticker, str) or self.sticker not in STICKER_PACKS[self.pack]:
            raise EditsInvalid("sticker", f"is not a sticker of pack {self.pack!r}")
        object.__setattr__(self, "x", _number(self.x, "x", 0.0, 1.0))
        object.__setattr__(self, "y", _number(self.y, "y", 0.0, 1.0))
        scale = _number(self.scale, "scale", STICKER_SCALE_MIN, STICKER_SCALE_MAX)
        object.__setattr__(self, "scale", scale)
        rotation = _number(self.rotation, "rotation", -ROTATION_LIMIT, ROTATION_LIMIT)
        object.__setattr__(self, "rotation", rotation)


@dataclass(frozen=True)
class ImageTag:
    """An image tag (图片标签): a label pinned at (x, y), kept as data and drawn by clients."""

    label: str
    x: float
    y: float

    def __post_init__(self) -> None:
        if not isinstance(self.label, str):
            raise EditsInvalid("label", "must be a string")
        label = unicodedata.normalize("NFC", self.label).strip()
        if not 1 <= len(label) <= TAG_LABEL_MAX:
            raise EditsInvalid("label", f"must be 1 to {TAG_LABEL_MAX} characters long")
        if any(unicodedata.category(char) in _BLOCKED_LABEL_CATEGORIES for char in label):
            raise EditsInvalid("label", "must not contain control characters or line breaks")
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "x", _number(self.x, "x", 0.0, 1.0))
        object.__setattr__(self, "y", _number(self.y, "y", 0.0, 1.0))


@dataclass(frozen=True)
class Edits:
    """Everything a client asked to do to one photo; the default changes nothing."""

    filter: str = "original"
    stickers: tuple[StickerPlacement, ...] = ()
    tags: tuple[ImageTag, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.filter, str) or self.filter not in FILTERS:
            raise EditsInvalid("filter", f"must be one of {', '.join(FILTERS)}")
        object.__setattr__(self, "stickers", tuple(self.stickers))
        object.__setattr__(self, "tags", tuple(self.tags))
        if len(self.stickers) > MAX_STICKERS:
            raise EditsInvalid("stickers", f"must hold at most {MAX_STICKERS} stickers")
        if len(self.tags) > MAX_TAGS:
            raise EditsInvalid("tags", f"must hold at most {MAX_TAGS} tags")
        if not all(isinstance(item, StickerPlacement) for item in self.stickers):
            raise EditsInvalid("stickers", "must hold StickerPlacement items")
        if not all(isinstance(item, ImageTag) for item in self.tags):
            raise EditsInvalid("tags", "must hold ImageTag items")

    @property
    def packs_used(self) -> frozenset[str]:
        """Sticker packs these edits draw from (premium packs may need an entitlement check)."""
        return frozenset(placement.pack for placement in self.stickers)

    def to_dict(self) -> dict[str, object]:
        """The normalised JSON form; `parse_edits(edits.to_dict()) == edits`."""
        return {
            "filter": self.filter,
            "stickers": [
                {
                    "pack": s.pack,
                    "sticker": s.sticker,
                    "x": s.x,
                    "y": s.y,
                    "scale": s.scale,
                    "rotation": s.rotation,
                }
                for s in self.stickers
            ],
            "tags": [{"label": t.label, "x": t.x, "y": t.y} for t in self.tags],
        }


def _items(raw: Mapping[str, object], key: str, limit: int) -> list[Mapping[str, object]]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise EditsInvalid(key, "must be a list")
    if len(value) > limit:
        raise EditsInvalid(key, f"must hold at most {limit} items")
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise EditsInvalid(f"{key}[{index}]", "must be an object")
    return list(value)


def parse_edits(raw: object) -> Edits:
    """Validate an untrusted JSON-ish payload into Edits; unknown keys are ignored.

    Absent or null optional values take their defaults (scale 0.2, rotation 0).
    """
    if not isinstance(raw, Mapping):
        raise EditsInvalid("edits", "must be an object")
    filter_name = raw.get("filter")
    filter_name = "original" if filter_name is None else _string(filter_name, "filter")

    stickers: list[StickerPlacement] = []
    for index, item in enumerate(_items(raw, "stickers", MAX_STICKERS)):
        prefix = f"stickers[{index}]"
        scale, rotation = item.get("scale"), item.get("rotation")
        try:
            stickers.append(
                StickerPlacement(
                    pack=_string(item.get("pack"), "pack"),
                    sticker=_string(item.get("sticker"), "sticker"),
                    x=_real(item.get("x"), "x"),
                    y=_real(item.get("y"), "y"),
                    scale=STICKER_SCALE_DEFAULT if scale is None else _real(scale, "scale"),
                    rotation=0.0 if rotation is None else _real(rotation, "rotation"),
                )
            )
        except EditsInvalid as exc:
            raise exc.within(prefix) from None

    tags: list[ImageTag] = []
    for index, item in enumerate(_items(raw, "tags", MAX_TAGS)):
        try:
            tags.append(
                ImageTag(
                    label=_string(item.get("label"), "label"),
                    x=_real(item.get("x"), "x"),
                    y=_real(item.get("y"), "y"),
                )
            )
        except EditsInvalid as exc:
            raise exc.within(f"tags[{index}]") from None

    return Edits(filter=filter_name, stickers=tuple(stickers), tags=tuple(tags))


# --- filters ---------------------------------------------------------------------------------


def _curve(fn: Callable[[int], float]) -> list[int]:
    """A 256-entry lookup table, clamped to 0..255."""
    return [min(255, max(0, round(fn(v)))) for v in range(256)]


def _s_curve(strength: float) -> Callable[[int], float]:
    """Contrast around mid-grey that eases into black and white instead of clipping."""

    def fn(v: int) -> float:
        t = v / 255
        eased = t * t * (3 - 2 * t)  # smoothstep
        return 255 * (t + strength * (eased - t))

    return fn


_WARM_LUT: Final = (
    _curve(lambda v: v * 1.06 + 10) + _curve(lambda v: v * 1.01 + 3) + _curve(lambda v: v * 0.86)
)
_COOL_LUT: Final = (
    _curve(lambda v: v * 0.88) + _curve(lambda v: v * 0.99 + 3) + _curve(lambda v: v * 1.05 + 12)
)
_MONO_LUT: Final = _curve(_s_curve(0.35))
#: Lifted blacks and softened whites: the matte look of a faded print.
_FADE_LUT: Final = _curve(lambda v: 38 + v * (228 - 38) / 255) * 3
_FILM_LUT: Final = (
    _curve(lambda v: 18 + _s_curve(0.5)(v) * 0.90)
    + _curve(lambda v: 12 + _s_curve(0.45)(v) * 0.88)
    + _curve(lambda v: 24 + _s_curve(0.35)(v) * 0.78)
)


def _filter_original(image: Image.Image) -> Image.Image:
    return image.copy()


def _filter_warm(image: Image.Image) -> Image.Image:
    return ImageEnhance.Color(image.point(_WARM_LUT)).enhance(1.1)


def _filter_cool(image: Image.Image) -> Image.Image:
    return ImageEnhance.Color(image.point(_COOL_LUT)).enhance(0.9)


def _filter_mono(image: Image.Image) -> Image.Image:
    return ImageOps.grayscale(image).point(_MONO_LUT).convert("RGB")


def _filter_vivid(image: Image.Image) -> Image.Image:
    saturated = ImageEnhance.Color(image).enhance(1.45)
    return saturated.point(_curve(_s_curve(0.25)) * 3)


def _filter_fade(image: Image.Image) -> Image.Image:
    return ImageEnhance.Color(image).enhance(0.72).point(_FADE_LUT)


def _filter_film(image: Image.Image) -> Image.Image:
    """Warm, contrasty and a little sepia, with a vignette: an old print."""
    graded = ImageEnhance.Color(image).enhance(0.8).point(_FILM_LUT)
    sepia = ImageOps.colorize(ImageOps.grayscale(graded), black="#2a1a0c", white="#fff1d6")
    toned = Image.blend(graded, sepia, 0.3)
    # radial_gradient is 0 at the centre and 255 towards the corners.
    falloff = Image.radial_gradient("L").resize(image.size, Image.Resampling.BILINEAR)
    vignette = falloff.point(
        _curve(lambda v: 255 * (max(0.0, v / 255 - 0.35) / 0.65) ** 1.6 * 0.55)
    )
    return Image.composite(Image.new("RGB", image.size, "#140c06"), toned, vignette)


_FILTER_FUNCS: Final[Mapping[str, Callable[[Image.Image], Image.Image]]] = {
    "original": _filter_original,
    "warm": _filter_warm,
    "cool": _filter_cool,
    "mono": _filter_mono,
    "vivid": _filter_vivid,
    "fade": _filter_fade,
    "film": _filter_film,
}


def _to_rgb(image: Image.Image) -> Image.Image:
    """A new RGB copy; transparent areas land on white, as they show in the feed."""
    if image.mode == "RGB":
        return image.copy()
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat.alpha_composite(rgba)
        return flat.convert("RGB")
    return image.convert("RGB")


def apply_filter(image: Image.Image, name: str) -> Image.Image:
    """Apply a named filter; returns a new RGB image of the same size."""
    if name not in _FILTER_FUNCS:
        raise EditsInvalid("filter", f"must be one of {', '.join(FILTERS)}")
    result = _FILTER_FUNCS[name](_to_rgb(image))
    if result.mode != "RGB":  # pragma: no cover - every filter returns RGB
        result = result.convert("RGB")
    return result


# --- stickers --------------------------------------------------------------------------------


class _Pen:
    """Draws in unit coordinates (0..1 of the square canvas) so shapes scale with the side."""

    def __init__(self, canvas: Image.Image) -> None:
        self.side = canvas.width
        self.draw = ImageDraw.Draw(canvas)

    def _p(self, points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x * self.side, y * self.side) for x, y in points]

    def _w(self, width: float) -> int:
        return max(1, round(width * self.side))

    def polygon(self, points: Sequence[tuple[float, float]], fill: str) -> None:
        self.draw.polygon(self._p(points), fill=fill)

    def circle(self, cx: float, cy: float, r: float, fill: str) -> None:
        self.ellipse(cx, cy, r, r, fill)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, fill: str) -> None:
        self.draw.ellipse(self._p([(cx - rx, cy - ry), (cx + rx, cy + ry)]), fill=fill)

    def line(self, points: Sequence[tuple[float, float]], fill: str, width: float) -> None:
        self.draw.line(self._p(points), fill=fill, width=self._w(width), joint="curve")

    def pieslice(
        self,
        cx: float,
        cy: float,
        r: float,
        start: float,
        end: float,
        fill: str | tuple[int, int, int, int],
    ) -> None:
        self.draw.pieslice(self._p([(cx - r, cy - r), (cx + r, cy + r)]), start, end, fill=fill)

    def rounded_rectangle(
        self, box: tuple[float, float, float, float], radius: float, fill: str
    ) -> None:
        left, top, right, bottom = box
        corners = self._p([(left, top), (right, bottom)])
        self.draw.rounded_rectangle(corners, radius=radius * self.side, fill=fill)


def _star_points(
    cx: float, cy: float, outer: float, inner: float, points: int, start: float = -90.0
) -> list[tuple[float, float]]:
    """Alternating outer and inner vertices: stars, sparkles, rosettes and sun rays."""
    result: list[tuple[float, float]] = []
    for k in range(points * 2):
        angle = math.radians(start + k * 180.0 / points)
        r = outer if k % 2 == 0 else inner
        result.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return result


def _draw_heart(pen: _Pen) -> None:
    points = []
    for k in range(160):
        t = 2 * math.pi * k / 160
        x = 16 * math.sin(t) ** 3
        y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
        points.append((0.5 + x * 0.025, 0.5 + (y - 2.5) * 0.025))
    pen.polygon(points, "#ff4d6d")
    pen.ellipse(0.33, 0.33, 0.06, 0.04, "#ff8fa3")


def _draw_star(pen: _Pen) -> None:
    pen.polygon(_star_points(0.5, 0.54, 0.42, 0.17, 5), "#ffc233")
    pen.polygon(_star_points(0.5, 0.54, 0.2, 0.08, 5), "#ffe08a")


def _draw_sparkle(pen: _Pen) -> None:
    pen.polygon(_star_points(0.42, 0.56, 0.34, 0.07, 4), "#ffd43b")
    pen.polygon(_star_points(0.76, 0.25, 0.15, 0.035, 4), "#ffe066")
    pen.circle(0.78, 0.7, 0.05, "#ffe066")


def _draw_sun(pen: _Pen) -> None:
    pen.polygon(_star_points(0.5, 0.5, 0.42, 0.27, 12), "#fb8500")
    pen.circle(0.5, 0.5, 0.27, "#ffb703")
    pen.circle(0.42, 0.46, 0.03, "#5c3d00")
    pen.circle(0.58, 0.46, 0.03, "#5c3d00")
    pen.pieslice(0.5, 0.52, 0.1, 20, 160, "#5c3d00")
    pen.pieslice(0.5, 0.5, 0.1, 20, 160, "#ffb703")


def _draw_flower(pen: _Pen) -> None:
    for k in range(5):
        angle = math.radians(-90 + 72 * k)
        pen.circle(0.5 + 0.19 * math.cos(angle), 0.5 + 0.19 * math.sin(angle), 0.17, "#ff8fab")
    pen.circle(0.5, 0.5, 0.12, "#ffd166")
    pen.circle(0.46, 0.46, 0.035, "#fff1b8")


def _draw_cat(pen: _Pen) -> None:
    pen.polygon([(0.18, 0.48), (0.22, 0.12), (0.46, 0.32)], "#f4a261")
    pen.polygon([(0.82, 0.48), (0.78, 0.12), (0.54, 0.32)], "#f4a261")
    pen.polygon([(0.24, 0.4), (0.26, 0.2), (0.38, 0.32)], "#ffb4a2")
    pen.polygon([(0.76, 0.4), (0.74, 0.2), (0.62, 0.32)], "#ffb4a2")
    pen.ellipse(0.5, 0.56, 0.34, 0.28, "#f4a261")
    pen.ellipse(0.38, 0.52, 0.035, 0.05, "#2b2d42")
    pen.ellipse(0.62, 0.52, 0.035, 0.05, "#2b2d42")
    pen.polygon([(0.46, 0.6), (0.54, 0.6), (0.5, 0.65)], "#e5989b")
    pen.line([(0.5, 0.65), (0.45, 0.69)], "#2b2d42", 0.012)
    pen.line([(0.5, 0.65), (0.55, 0.69)], "#2b2d42", 0.012)
    for dy in (-0.03, 0.03):
        pen.line([(0.3, 0.63), (0.1, 0.6 + 2 * dy)], "#2b2d42", 0.01)
        pen.line([(0.7, 0.63), (0.9, 0.6 + 2 * dy)], "#2b2d42", 0.01)


def _draw_cloud(pen: _Pen) -> None:
    for cx, cy, r in ((0.3, 0.58, 0.16), (0.5, 0.45, 0.22), (0.71, 0.56, 0.17)):
        pen.circle(cx, cy, r, "#bde0fe")
    pen.rounded_rectangle((0.14, 0.52, 0.88, 0.74), 0.11, "#bde0fe")
    pen.circle(0.42, 0.56, 0.025, "#34495e")
    pen.circle(0.58, 0.56, 0.025, "#34495e")
    pen.ellipse(0.35, 0.63, 0.04, 0.022, "#ffafcc")
    pen.ellipse(0.65, 0.63, 0.04, 0.022, "#ffafcc")


def _draw_rainbow(pen: _Pen) -> None:
    colours = ("#ff595e", "#ff924c", "#ffca3a", "#8ac926", "#1982c4", "#6a4c93")
    for k, colour in enumerate(colours):
        pen.pieslice(0.5, 0.68, 0.4 - 0.05 * k, 180, 360, colour)
    pen.pieslice(0.5, 0.68, 0.1, 180, 360, (0, 0, 0, 0))
    for cx in (0.17, 0.83):
        pen.circle(cx - 0.05, 0.72, 0.07, "#e9f1fb")
        pen.circle(cx + 0.05, 0.72, 0.07, "#e9f1fb")
        pen.circle(cx, 0.66, 0.08, "#e9f1fb")


def _draw_bubble(pen: _Pen) -> None:
    pen.polygon([(0.28, 0.64), (0.2, 0.88), (0.5, 0.66)], "#ffc8dd")
    pen.rounded_rectangle((0.1, 0.18, 0.9, 0.7), 0.16, "#ffc8dd")
    for cx in (0.33, 0.5, 0.67):
        pen.circle(cx, 0.44, 0.05, "#6d597a")


def _draw_crown(pen: _Pen) -> None:
    tips = [(0.16, 0.3), (0.5, 0.2), (0.84, 0.3)]
    outline = [(0.18, 0.74), (0.82, 0.74), tips[2], (0.68, 0.5), tips[1], (0.32, 0.5), tips[0]]
    pen.polygon(outline, "#ffc300")
    pen.rounded_rectangle((0.16, 0.68, 0.84, 0.8), 0.03, "#e09f00")
    for cx, cy in tips:
        pen.circle(cx, cy, 0.05, "#e63946")
    pen.circle(0.5, 0.74, 0.035, "#4cc9f0")


def _draw_ribbon(pen: _Pen) -> None:
    pen.polygon([(0.46, 0.5), (0.3, 0.88), (0.38, 0.83), (0.43, 0.9), (0.54, 0.52)], "#c9184a")
    pen.polygon([(0.54, 0.5), (0.7, 0.88), (0.62, 0.83), (0.57, 0.9), (0.46, 0.52)], "#c9184a")
    pen.polygon([(0.5, 0.45), (0.14, 0.22), (0.1, 0.46), (0.16, 0.66)], "#ff4d6d")
    pen.polygon([(0.5, 0.45), (0.86, 0.22), (0.9, 0.46), (0.84, 0.66)], "#ff4d6d")
    pen.ellipse(0.5, 0.45, 0.09, 0.1, "#c9184a")


def _draw_diamond(pen: _Pen) -> None:
    top, girdle, tip = 0.24, 0.42, (0.5, 0.86)
    pen.polygon([(0.3, top), (0.7, top), (0.88, girdle), tip, (0.12, girdle)], "#8ecae6")
    pen.polygon([(0.3, top), (0.7, top), (0.88, girdle), (0.12, girdle)], "#caf0f8")
    edge, width = "#219ebc", 0.012
    pen.line([(0.12, girdle), (0.88, girdle)], edge, width)
    pen.line([(0.3, top), (0.38, girdle), tip], edge, width)
    pen.line([(0.7, top), (0.62, girdle), tip], edge, width)
    pen.line([(0.38, girdle), (0.5, top), (0.62, girdle)], edge, width)


def _draw_badge(pen: _Pen) -> None:
    pen.polygon([(0.36, 0.55), (0.22, 0.92), (0.33, 0.87), (0.41, 0.95), (0.5, 0.62)], "#3a86ff")
    pen.polygon([(0.64, 0.55), (0.78, 0.92), (0.67, 0.87), (0.59, 0.95), (0.5, 0.62)], "#3a86ff")
    pen.polygon(_star_points(0.5, 0.42, 0.34, 0.29, 18), "#ffbe0b")
    pen.circle(0.5, 0.42, 0.24, "#fb5607")
    pen.line([(0.39, 0.43), (0.47, 0.51), (0.62, 0.34)], "#ffffff", 0.045)


_STICKER_DRAWERS: Final[Mapping[str, Callable[[_Pen], None]]] = {
    "heart": _draw_heart,
    "star": _draw_star,
    "sparkle": _draw_sparkle,
    "sun": _draw_sun,
    "flower": _draw_flower,
    "cat": _draw_cat,
    "cloud": _draw_cloud,
    "rainbow": _draw_rainbow,
    "bubble": _draw_bubble,
    "crown": _draw_crown,
    "ribbon": _draw_ribbon,
    "diamond": _draw_diamond,
    "badge": _draw_badge,
}


@lru_cache(maxsize=STICKER_CACHE_SIZE)
def _render_sticker_cached(pack: str, name: str, size: int) -> Image.Image:
    draw_side = max(size, min(size * 4, STICKER_DRAW_SIDE))
    shape = Image.new("RGBA", (draw_side, draw_side), (0, 0, 0, 0))
    _STICKER_DRAWERS[name](_Pen(shape))
    # A die-cut white border keeps every sticker readable on any photo: the blurred alpha,
    # thresholded, is the shape grown by about two blur radii.
    grown = shape.getchannel("A").filter(ImageFilter.GaussianBlur(STICKER_BORDER * draw_side))
    border = Image.new("RGBA", shape.size, (255, 255, 255, 0))
    border.putalpha(grown.point(lambda v: 255 if v > 8 else 0))
    border.alpha_composite(shape)
    if draw_side != size:
        border = border.resize((size, size), Image.Resampling.LANCZOS)
    return border


def render_sticker(pack: str, name: str, size: int) -> Image.Image:
    """A sticker as a transparent RGBA square of `size` pixels, drawn with vector shapes.

    Rendering is cached; each call returns a copy so a caller cannot spoil the cache.
    """
    if pack not in STICKER_PACKS:
        raise EditsInvalid("pack", f"must be one of {', '.join(STICKER_PACKS)}")
    if name not in STICKER_PACKS[pack]:
        raise EditsInvalid("sticker", f"is not a sticker of pack {pack!r}")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= STICKER_MAX_SIDE:
        raise ValueError(f"sticker size must be an int from 1 to {STICKER_MAX_SIDE}")
    return _render_sticker_cached(pack, name, size).copy()


def _composite_clipped(base: Image.Image, layer: Image.Image, left: int, top: int) -> None:
    """Alpha-composite `layer` onto RGBA `base` at (left, top), cutting off what falls outside.

    Image.alpha_composite refuses negative offsets, so the visible part is selected first.
    """
    src_left, src_top = max(0, -left), max(0, -top)
    src_right = min(layer.width, base.width - left)
    src_bottom = min(layer.height, base.height - top)
    if src_left >= src_right or src_top >= src_bottom:
        return
    base.alpha_composite(
        layer,
        dest=(max(0, left), max(0, top)),
        source=(src_left, src_top, src_right, src_bottom),
    )


def _place_sticker(base: Image.Image, placement: StickerPlacement) -> None:
    side = max(1, round(placement.scale * base.width))
    sticker = render_sticker(placement.pack, placement.sticker, min(side, STICKER_MAX_SIDE))
    if side > STICKER_MAX_SIDE:
        sticker = sticker.resize((side, side), Image.Resampling.LANCZOS)
    if placement.rotation:
        sticker = sticker.rotate(
            -placement.rotation, resample=Image.Resampling.BICUBIC, expand=True
        )
    centre_x, centre_y = placement.x * base.width, placement.y * base.height
    left = round(centre_x - sticker.width / 2)
    top = round(centre_y - sticker.height / 2)
    _composite_clipped(base, sticker, left, top)


def apply_edits(image: Image.Image, edits: Edits) -> Image.Image:
    """Filter, then stickers in order (later ones on top); a new RGB image of the same size.

    Tags are not drawn: clients show them as interactive pins over the photo.
    """
    filtered = apply_filter(image, edits.filter)
    if not edits.stickers:
        return filtered
    canvas = filtered.convert("RGBA")
    for placement in edits.stickers:
        _place_sticker(canvas, placement)
    return canvas.convert("RGB")


# --- watermark -------------------------------------------------------------------------------


def _fit_label(text: str, cjk: CJKFont, width: int) -> tuple[str, int]:
    """The cleaned label and font size; shrinks to the floor, then truncates with an ellipsis.

    Call with _FREETYPE_LOCK held.
    """
    size = max(WATERMARK_MIN_PX, round(width * WATERMARK_SIZE_RATIO))
    max_width = width - 2 * max(1, round(width * WATERMARK_MARGIN_RATIO))
    face = cjk.at(size)
    label = clean_title(" ".join(text.split()), face)
    while size > WATERMARK_MIN_PX and face.getlength(label) > max_width:
        size = max(WATERMARK_MIN_PX, int(size * 0.9))
        face = cjk.at(size)
    if face.getlength(label) > max_width:
        while label and face.getlength(label + WATERMARK_ELLIPSIS) > max_width:
            label = label[:-1]
        label = label.rstrip() + WATERMARK_ELLIPSIS if label else ""
    return label, size


def watermark(image: Image.Image, text: str, font: CJKFont | None = None) -> Image.Image:
    """Stamp `text` (e.g. "@小芽美食局") at the bottom right; a new RGB image, same size.

    White at partial opacity over a soft dark shadow reads on light and dark photos alike
    without hiding them. Glyphs the font cannot draw are dropped rather than shown as boxes.
    """
    base = _to_rgb(image)
    width, height = base.size
    cjk = font or find_cjk_font()
    margin = max(1, round(width * WATERMARK_MARGIN_RATIO))
    with _FREETYPE_LOCK:
        label, size = _fit_label(text, cjk, width)
        if not label:
            return base
        face = cjk.at(size)
        blur = max(1.0, size * 0.08)
        offset = max(1, round(size * 0.06))
        pad = math.ceil(blur * 3) + offset
        left, top, right, bottom = face.getbbox(label, anchor="rd")
        layer_size = (right - left + 2 * pad, bottom - top + 2 * pad)
        anchor = (pad - left, pad - top)
        ink = Image.new("L", layer_size, 0)
        ImageDraw.Draw(ink).text(anchor, label, font=face, fill=255, anchor="rd")
        shadow_ink = Image.new("L", layer_size, 0)
        shadow_anchor = (anchor[0] + offset, anchor[1] + offset)
        ImageDraw.Draw(shadow_ink).text(shadow_anchor, label, font=face, fill=255, anchor="rd")

    shadow_alpha = shadow_ink.filter(ImageFilter.GaussianBlur(blur))
    shadow = Image.new("RGBA", layer_size, (0, 0, 0, 0))
    shadow.putalpha(shadow_alpha.point(lambda v: round(v * WATERMARK_SHADOW_OPACITY)))
    text_layer = Image.new("RGBA", layer_size, (255, 255, 255, 0))
    text_layer.putalpha(ink.point(lambda v: round(v * WATERMARK_OPACITY)))
    shadow.alpha_composite(text_layer)

    canvas = base.convert("RGBA")
    _composite_clipped(canvas, shadow, width - margin - anchor[0], height - margin - anchor[1])
    return canvas.convert("RGB")
