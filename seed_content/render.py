"""Pictures for the seed packs, drawn here (no photographs, so no licence questions): a
gradient in the channel's colours, a motif, the caption on a label and the account's name.
Deterministic: the same item always gives the same pixels, so reloading changes nothing."""

from __future__ import annotations

import hashlib
import math
import random
from typing import Final

from PIL import Image, ImageDraw

from app.media.text_cover import CJKFont, find_cjk_font

WIDTH: Final = 720
HEIGHT: Final = 960
AVATAR_SIDE: Final = 400
# Two gradient colours and an accent per channel.
CHANNEL_COLOURS: Final[dict[str, tuple[str, str, str]]] = {
    "beauty": ("#F8C8D4", "#F4A6B8", "#C2185B"),
    "food": ("#FFE0B2", "#FFB74D", "#E65100"),
    "travel": ("#B3E5FC", "#4FC3F7", "#01579B"),
    "fashion": ("#E1BEE7", "#BA68C8", "#4A148C"),
    "home": ("#DCEDC8", "#AED581", "#33691E"),
    "tech": ("#CFD8DC", "#90A4AE", "#263238"),
    "fitness": ("#C8E6C9", "#66BB6A", "#1B5E20"),
    "reading": ("#FFF3E0", "#D7CCC8", "#4E342E"),
    "parenting": ("#FFF9C4", "#FFE082", "#F57F17"),
    "pets": ("#FFECB3", "#FFCC80", "#6D4C41"),
}


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _rng(seed: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))


def _gradient(top: str, bottom: str, width: int, height: int) -> Image.Image:
    start, end = _rgb(top), _rgb(bottom)
    column = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / max(1, height - 1)
        column.putpixel(
            (0, y), tuple(round(a + (b - a) * t) for a, b in zip(start, end, strict=True))
        )
    return column.resize((width, height))


def _motif(image: Image.Image, motif: str, accent: str, rng: random.Random) -> None:
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    colour = (*_rgb(accent), 46)
    light = (255, 255, 255, 70)
    w, h = image.size
    if motif == "circles":
        for _ in range(7):
            r = rng.randrange(60, 260)
            x, y = rng.randrange(w), rng.randrange(h)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=rng.choice([colour, light]))
    elif motif == "stripes":
        step = rng.randrange(50, 90)
        for x in range(-h, w, step):
            draw.line([(x, 0), (x + h, h)], fill=colour, width=step // 3)
    elif motif == "grid":
        step = rng.randrange(60, 100)
        for x in range(0, w, step):
            draw.line([(x, 0), (x, h)], fill=light, width=3)
        for y in range(0, h, step):
            draw.line([(0, y), (w, y)], fill=light, width=3)
    elif motif == "waves":
        for band in range(6):
            base, phase = h * (band + 1) / 7, rng.random() * math.tau
            points = [(x, base + 30 * math.sin(x / 70 + phase)) for x in range(0, w + 10, 10)]
            draw.line(points, fill=colour if band % 2 else light, width=14, joint="curve")
    elif motif == "blocks":
        for _ in range(9):
            x, y = rng.randrange(-50, w), rng.randrange(-50, h)
            draw.rounded_rectangle(
                [x, y, x + rng.randrange(80, 260), y + rng.randrange(80, 260)],
                radius=24,
                fill=rng.choice([colour, light]),
            )
    else:  # dots
        step = 48
        for y in range(step // 2, h, step):
            for x in range(step // 2 + (y // step % 2) * step // 2, w, step):
                draw.ellipse([x - 7, y - 7, x + 7, y + 7], fill=light)
    image.paste(layer, (0, 0), layer)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: CJKFont, max_width: int, size: int) -> int:
    while size > 24 and draw.textlength(text, font=font.at(size)) > max_width:
        size -= 4
    return size


def render_picture(
    channel: str, caption: str, motif: str, seed: str, signature: str, font: CJKFont | None = None
) -> Image.Image:
    """One picture of a seed note (RGB, WIDTH × HEIGHT)."""
    font = font or find_cjk_font()
    top, bottom, accent = CHANNEL_COLOURS[channel]
    rng = _rng(seed)
    image = _gradient(top, bottom, WIDTH, HEIGHT)
    _motif(image, motif, accent, rng)
    draw = ImageDraw.Draw(image)
    size = _fit(draw, caption, font, WIDTH - 160, 76)
    face = font.at(size)
    box = draw.textbbox((0, 0), caption, font=face)
    text_w, text_h = box[2] - box[0], box[3] - box[1]
    x, y = (WIDTH - text_w) // 2, int(HEIGHT * 0.62)
    pad = 36
    draw.rounded_rectangle(
        [x - pad, y - pad, x + text_w + pad, y + text_h + pad + 10],
        radius=28,
        fill=(255, 255, 255),
    )
    draw.text((x - box[0], y - box[1]), caption, font=face, fill=_rgb(accent))
    small = font.at(30)
    mark = f"@{signature}"
    draw.text(
        (WIDTH - 40 - draw.textlength(mark, font=small), HEIGHT - 70),
        mark,
        font=small,
        fill=(255, 255, 255),
    )
    return image


def render_avatar(background: str, glyph: str, font: CJKFont | None = None) -> Image.Image:
    """An official account's avatar: the glyph on a disc of its colour."""
    font = font or find_cjk_font()
    image = Image.new("RGB", (AVATAR_SIDE, AVATAR_SIDE), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.ellipse([0, 0, AVATAR_SIDE - 1, AVATAR_SIDE - 1], fill=_rgb(background))
    face = font.at(200 if len(glyph) == 1 else 130)
    box = draw.textbbox((0, 0), glyph, font=face)
    draw.text(
        (
            (AVATAR_SIDE - (box[2] - box[0])) / 2 - box[0],
            (AVATAR_SIDE - (box[3] - box[1])) / 2 - box[1],
        ),
        glyph,
        font=face,
        fill=(255, 255, 255),
    )
    return image
