"""Cover cards for text-only notes: a calm colour, the title set large, centred and wrapped.

The feed is a waterfall of pictures, so a note without images still needs one. The card is
deterministic for a seed (the note id), so re-rendering it in a retried job gives the same
bytes and the same colour.
"""

from __future__ import annotations

import hashlib
import os
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw, ImageFont

# --- tunables ------------------------------------------------------------------------------

#: (background, text) pairs; every pair keeps large-text contrast of at least 3:1.
COVER_PALETTE: Final[tuple[tuple[str, str], ...]] = (
    ("#ffe8e0", "#3d2c29"),  # peach
    ("#fce4ec", "#4a2633"),  # blush
    ("#e8f5e9", "#1f3a2a"),  # mint
    ("#e3f2fd", "#1c3049"),  # sky
    ("#fff8e1", "#4a3b1a"),  # cream
    ("#f3e5f5", "#3a2145"),  # lavender
    ("#e0f7fa", "#173f45"),  # aqua
    ("#ede7df", "#3b342c"),  # linen
    ("#ffd166", "#3b2f0b"),  # sunflower
    ("#e85d5d", "#ffffff"),  # coral
    ("#05866a", "#ffffff"),  # jade
    ("#2e4057", "#f5f1e8"),  # ink blue
)
COVER_MAX_LINES: Final = 6
#: Horizontal and vertical padding as a share of the card width/height.
COVER_PAD_X: Final = 0.10
COVER_PAD_Y: Final = 0.12
#: Font size range as a share of the card width; the size shrinks until the title fits.
COVER_FONT_MAX: Final = 0.12
COVER_FONT_MIN: Final = 0.04
COVER_FONT_STEP: Final = 0.9
COVER_LINE_SPACING: Final = 1.4
COVER_JPEG_QUALITY: Final = 92
ELLIPSIS: Final = "…"

FONT_ENV_VAR: Final = "SPROUT_CJK_FONT"
#: System fonts with Chinese glyphs, best first, as (path, index inside a .ttc collection).
SYSTEM_CJK_FONTS: Final[tuple[tuple[str, int], ...]] = (
    # Noto Sans CJK collections: index 2 is the Simplified Chinese face.
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/System/Library/Fonts/PingFang.ttc", 0),
)

# Kinsoku: characters that must not begin a line stick to the previous unit, and those that
# must not end one stick to the next.
_NO_LINE_START: Final = frozenset("，。、！？；：」』）》〉】〕…—～·％,.!?;:)]}%”’")
_NO_LINE_END: Final = frozenset("「『（《〈【〔“‘([{")


_RENDER_LOCK = threading.Lock()


class CJKFontNotFound(RuntimeError):
    """No font that can draw Chinese was found; covers would render as boxes, so we stop."""


@dataclass(frozen=True)
class CJKFont:
    """A font file (and face index inside a collection) known to draw Chinese."""

    path: Path
    index: int = 0

    def at(self, size: int) -> ImageFont.FreeTypeFont:
        """The face at a pixel size (cached: covers are rendered again and again)."""
        return _load_font(str(self.path), self.index, size)


@dataclass(frozen=True)
class TextCover:
    """A rendered cover card, shaped like SanitizedImage so callers store it the same way."""

    image: Image.Image
    width: int
    height: int
    dominant_color: str
    encoded: bytes
    content_type: str
    extension: str
    background: str
    foreground: str
    font_size: int
    lines: tuple[str, ...]
    #: Pixel box (left, top, right, bottom) that every drawn pixel stays inside.
    text_box: tuple[int, int, int, int]
    source_format: str = "TEXT_COVER"


@lru_cache(maxsize=64)
def _load_font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size=size, index=index)


def find_cjk_font() -> CJKFont:
    """Locate a Chinese-capable font: $SPROUT_CJK_FONT, the packaged Noto Sans SC, system fonts.

    A set-but-broken $SPROUT_CJK_FONT is an error rather than a silent fallback, so a
    misconfiguration is noticed.
    """
    configured = os.environ.get(FONT_ENV_VAR, "").strip()
    if configured:
        font = CJKFont(Path(configured), _ttc_index(configured))
        if not font.path.is_file():
            raise CJKFontNotFound(f"{FONT_ENV_VAR}={configured!r} is not a file")
        if not _draws_chinese(font):
            raise CJKFontNotFound(f"{FONT_ENV_VAR}={configured!r} has no glyph for 中")
        return font

    tried: list[str] = []
    try:
        import pylopdf_fonts_zh_cn

        packaged = Path(pylopdf_fonts_zh_cn.sans_path())
    except (ImportError, OSError, AttributeError) as exc:
        tried.append(f"pylopdf_fonts_zh_cn ({exc})")
    else:
        font = CJKFont(packaged, 0)
        if font.path.is_file() and _draws_chinese(font):
            return font
        tried.append(str(packaged))

    for path, index in SYSTEM_CJK_FONTS:
        font = CJKFont(Path(path), index)
        if font.path.is_file() and _draws_chinese(font):
            return font
        tried.append(path)
    raise CJKFontNotFound(
        f"no font that renders Chinese; set {FONT_ENV_VAR}, install pylopdf-fonts-zh-cn or "
        f"fonts-noto-cjk. Tried: {', '.join(tried)}"
    )


def _ttc_index(path: str) -> int:
    return 2 if Path(path).name.startswith("NotoSansCJK") and path.endswith(".ttc") else 0


def _draws_chinese(font: CJKFont) -> bool:
    try:
        return font_has_glyph(font.at(32), "中")
    except OSError:
        return False


def _render_signature(font: ImageFont.FreeTypeFont, text: str) -> tuple[float, bytes]:
    """Advance and pixels of `text` drawn alone: enough to tell a glyph from .notdef."""
    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("L", (max(1, int(right - left) + 2), max(1, int(bottom - top) + 2)))
    ImageDraw.Draw(canvas).text((-left + 1, -top + 1), text, font=font, fill=255)
    return font.getlength(text), canvas.tobytes()


@lru_cache(maxsize=8192)
def _glyph_check(path: str, index: int, size: int, char: str) -> bool:
    font = _load_font(path, index, size)
    # U+FFFF is a noncharacter: no font maps it, so it always renders as .notdef.
    return _render_signature(font, char) != _render_signature(font, "\uffff")


def font_has_glyph(font: ImageFont.FreeTypeFont, char: str) -> bool:
    """True if the font draws `char` with a real glyph rather than the .notdef box."""
    path = font.path if isinstance(font.path, str) else str(font.path)
    return _glyph_check(path, font.index, 32, char)


def clean_title(title: str, font: ImageFont.FreeTypeFont) -> str:
    """Drop what the font cannot draw (most emoji, joiners, controls) and tidy whitespace.

    Missing glyphs would show as tofu boxes; dropping them reads better than boxes.
    """
    kept: list[str] = []
    for char in unicodedata.normalize("NFC", title):
        if char == "\n":
            kept.append("\n")
        elif char.isspace():
            kept.append(" ")
        elif unicodedata.category(char)[0] == "C":  # control, format, private use, unassigned
            continue
        elif font_has_glyph(font, char):
            kept.append(char)
    lines = [" ".join(part.split()) for part in "".join(kept).split("\n")]
    return "\n".join(line for line in lines if line)


def _is_wide(char: str) -> bool:
    """CJK ideographs, kana, hangul and full-width forms: a line may break around each one."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def _tokenize(text: str) -> list[str]:
    """Split into unbreakable units: single wide characters, Latin words, spaces, newlines."""
    tokens: list[str] = []
    word = ""
    for char in text:
        if char == "\n" or char == " " or _is_wide(char):
            if word:
                tokens.append(word)
                word = ""
            if char == " " and tokens and tokens[-1] == " ":
                continue
            tokens.append(char)
        else:
            word += char
    if word:
        tokens.append(word)

    merged: list[str] = []
    for token in tokens:
        previous = merged[-1] if merged else ""
        glue = previous not in ("", " ", "\n") and token not in (" ", "\n")
        if glue and (token[0] in _NO_LINE_START or previous[-1] in _NO_LINE_END):
            merged[-1] = previous + token
        else:
            merged.append(token)
    return merged


def wrap_title(
    text: str, font: ImageFont.FreeTypeFont, max_width: float, stroke: int = 0
) -> list[str]:
    """Greedy line filling: CJK breaks between characters, Latin only between words.

    A Latin word longer than a whole line is the one case that is split mid-word.
    """

    def fits(candidate: str) -> bool:
        return font.getlength(candidate) + 2 * stroke <= max_width

    lines: list[str] = []
    current = ""
    for token in _tokenize(text):
        if token == "\n":
            if current.strip():
                lines.append(current.strip())
            current = ""
            continue
        if token == " ":
            if current:
                current += " "
            continue
        if fits((current + token).strip()):
            current += token
            continue
        if current.strip():
            lines.append(current.strip())
        current = ""
        if fits(token):
            current = token
            continue
        for char in token:  # an over-long word: split by character
            if current and not fits(current + char):
                lines.append(current)
                current = ""
            current += char
    if current.strip():
        lines.append(current.strip())
    return lines


def _truncate(
    lines: Sequence[str], font: ImageFont.FreeTypeFont, max_width: float, stroke: int
) -> list[str]:
    """Keep COVER_MAX_LINES lines, ending the last one with an ellipsis that fits."""
    kept = list(lines[:COVER_MAX_LINES])
    if len(lines) <= COVER_MAX_LINES:
        return kept
    last = kept[-1]
    while last and font.getlength(last + ELLIPSIS) + 2 * stroke > max_width:
        last = last[:-1]
    kept[-1] = last.rstrip() + ELLIPSIS
    return kept


def pick_colors(seed: str) -> tuple[str, str]:
    """A stable (background, text) pair for a seed; sha256 since hash() varies per process."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return COVER_PALETTE[int.from_bytes(digest[:8], "big") % len(COVER_PALETTE)]


def render_text_cover(
    title: str,
    *,
    seed: str,
    width: int = 1080,
    height: int = 1440,
    font: CJKFont | None = None,
) -> TextCover:
    """Render the cover card for a text note; deterministic for (title, seed, size, font).

    Serialised: the cached FreeType faces are shared and FreeType is not thread-safe, and
    the app serves requests (and runs inline jobs) on several threads.
    """
    with _RENDER_LOCK:
        return _render_text_cover(title, seed=seed, width=width, height=height, font=font)


def _render_text_cover(
    title: str, *, seed: str, width: int, height: int, font: CJKFont | None
) -> TextCover:
    cjk = font or find_cjk_font()
    background, foreground = pick_colors(seed)
    pad_x, pad_y = round(width * COVER_PAD_X), round(height * COVER_PAD_Y)
    max_width, max_height = width - 2 * pad_x, height - 2 * pad_y

    bar_width, bar_height = round(width * 0.08), max(4, round(height * 0.006))
    size = max(8, round(width * COVER_FONT_MAX))
    min_size = max(8, round(width * COVER_FONT_MIN))
    while True:
        face = cjk.at(size)
        stroke = max(1, size // 40)  # a hairline stroke in the text colour: a gentle bold
        text = clean_title(title, face)
        lines = wrap_title(text, face, max_width, stroke)
        ascent, descent = face.getmetrics()
        line_height = round(size * COVER_LINE_SPACING) + 2 * stroke
        bar_gap = round(size * 0.6)
        content_height = bar_height + bar_gap + len(lines) * line_height
        fits = len(lines) <= COVER_MAX_LINES and content_height <= max_height
        if fits or size <= min_size:
            break
        size = max(min_size, int(size * COVER_FONT_STEP))
    lines = _truncate(lines, face, max_width, stroke)

    content_height = bar_height + bar_gap + len(lines) * line_height
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    # The accent bar and the title are centred as one block, a little above the middle
    # (the optical centre).
    top = max(pad_y, round((height - content_height) / 2 - height * 0.03))
    if lines:
        draw.rounded_rectangle(
            ((width - bar_width) // 2, top, (width + bar_width) // 2, top + bar_height),
            radius=bar_height // 2,
            fill=foreground,
        )
    text_top = top + bar_height + bar_gap
    for number, line in enumerate(lines):
        # Baseline placement centres each line's ascent+descent inside its line box.
        baseline = text_top + number * line_height + (line_height - ascent - descent) / 2 + ascent
        draw.text(
            (width / 2, baseline),
            line,
            font=face,
            fill=foreground,
            anchor="ms",
            stroke_width=stroke,
            stroke_fill=foreground,
        )

    buffer = BytesIO()
    # 4:4:4 chroma keeps the edges of coloured text on a coloured ground crisp.
    image.save(buffer, format="JPEG", quality=COVER_JPEG_QUALITY, subsampling=0, optimize=True)
    return TextCover(
        image=image,
        width=width,
        height=height,
        dominant_color=background,
        encoded=buffer.getvalue(),
        content_type="image/jpeg",
        extension="jpg",
        background=background,
        foreground=foreground,
        font_size=size,
        lines=tuple(lines),
        text_box=(pad_x, pad_y, width - pad_x, height - pad_y),
    )
