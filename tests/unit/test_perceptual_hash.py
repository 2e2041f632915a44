"""Near-identical pictures for moderation: the perceptual hash of a picture and of the copies
reposting accounts make (re-encoded, resized, watermarked, recoloured) stay within
`MODERATION.image_match_bits`, and different pictures stay further apart. Crops, borders and
mirrors move the hash too far: those copies are left to reports.
`python -m tests.unit.test_perceptual_hash` prints the distances."""

from __future__ import annotations

import io
import itertools
import random
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from app.media.pipeline import perceptual_hash
from moderation.config import MODERATION

SCENES = 24


def scene(seed: int, width: int = 600, height: int = 800) -> Image.Image:
    """A photo-like picture: shapes on a coloured ground, with sensor noise and soft edges."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(6, 20)):
        x, y = rng.randrange(width), rng.randrange(height)
        box = [x, y, x + rng.randrange(40, 360), y + rng.randrange(40, 360)]
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    noise = Image.effect_noise((width, height), 16).convert("RGB")
    return Image.blend(image, noise, 0.08).filter(ImageFilter.GaussianBlur(1.5))


def reencoded(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def watermarked(image: Image.Image) -> Image.Image:
    copy = image.copy()
    ImageDraw.Draw(copy).text((30, copy.height - 90), "@好物分享 vx123", fill="white", font_size=48)
    return copy


COPIES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "jpeg quality 30": lambda image: reencoded(image, 30),
    "half size": lambda image: image.resize((image.width // 2, image.height // 2)),
    "watermark": watermarked,
    "brighter 15%": lambda image: ImageEnhance.Brightness(image).enhance(1.15),
    "less contrast": lambda image: ImageEnhance.Contrast(image).enhance(0.8),
    "grey": lambda image: image.convert("L").convert("RGB"),
}


def distance(left: int, right: int) -> int:
    return ((left ^ right) & (2**64 - 1)).bit_count()


def copy_distances() -> dict[str, list[int]]:
    pictures = [scene(seed) for seed in range(SCENES)]
    hashes = [perceptual_hash(picture) for picture in pictures]
    return {
        name: [
            distance(perceptual_hash(make(picture)), digest)
            for picture, digest in zip(pictures, hashes, strict=True)
        ]
        for name, make in COPIES.items()
    }


def distinct_distances() -> list[int]:
    hashes = [perceptual_hash(scene(seed)) for seed in range(SCENES)]
    return [distance(a, b) for a, b in itertools.combinations(hashes, 2)]


def test_the_hash_is_a_signed_64_bit_integer():
    for seed in range(8):
        assert -(2**63) <= perceptual_hash(scene(seed)) < 2**63


def test_copies_stay_within_the_match_threshold():
    for name, distances in copy_distances().items():
        assert max(distances) <= MODERATION.image_match_bits, (name, distances)


def test_different_pictures_are_further_apart():
    assert min(distinct_distances()) > MODERATION.image_match_bits


if __name__ == "__main__":
    for name, distances in copy_distances().items():
        print(f"{name:16s} max {max(distances):2d}  mean {sum(distances) / len(distances):.1f}")
    apart = sorted(distinct_distances())
    print(
        f"different pictures ({len(apart)} pairs): min {apart[0]}, 1st percentile "
        f"{apart[len(apart) // 100]}, median {apart[len(apart) // 2]}"
    )
