"""The image pipeline on inputs generated here with Pillow (no app, no fixtures on disk)."""

from __future__ import annotations

import struct
import zlib
from io import BytesIO
from pathlib import Path

import pillow_heif
import pytest
from PIL import ExifTags, Image, ImageChops, ImageCms, ImageDraw, ImageFile

from app.media import pipeline
from app.media.pipeline import (
    SUPPORTED_FORMATS,
    VARIANT_WIDTHS,
    ImageRejected,
    SanitizedImage,
    make_variants,
    render_text_cover,
    sanitize_upload,
    variant_size,
)
from app.media.text_cover import (
    COVER_MAX_LINES,
    COVER_PALETTE,
    CJKFontNotFound,
    find_cjk_font,
    font_has_glyph,
    pick_colors,
    wrap_title,
)

LIMITS = {"max_bytes": 20 * 1024 * 1024, "max_pixels": 40_000_000, "min_side": 16}


def sanitize(data: bytes, **overrides: int) -> SanitizedImage:
    return sanitize_upload(data, **{**LIMITS, **overrides})


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def rejected(data: bytes, **overrides: int) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        sanitize(data, **overrides)
    return caught.value


def png_with_declared_size(width: int, height: int) -> bytes:
    """A valid small PNG whose IHDR is patched to declare another size (CRC fixed)."""
    data = bytearray(encode(Image.new("1", (16, 16)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


# --- metadata, orientation ----------------------------------------------------------------


def photo_with_gps_and_orientation() -> bytes:
    """A 300x200 JPEG, red block top-left, Orientation=6, GPS, XMP, ICC and a comment."""
    image = Image.new("RGB", (300, 200), (240, 240, 240))
    ImageDraw.Draw(image).rectangle((0, 0, 59, 39), fill=(255, 0, 0))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "SproutPhone"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 14.0, 0.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (121.0, 28.0, 0.0)
    gps[ExifTags.GPS.GPSProcessingMethod] = b"ASCII\x00\x00\x00GPS"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><secret>home</secret></x:xmpmeta>'
    data = encode(
        image,
        "JPEG",
        quality=95,
        exif=exif.tobytes(),
        icc_profile=srgb,
        xmp=xmp,
        comment=b"taken at home",
    )
    assert b"GPS" in data and b"Exif" in data and b"xmpmeta" in data
    with Image.open(BytesIO(data)) as check:
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def test_jpeg_loses_all_metadata_and_is_rotated_by_orientation() -> None:
    result = sanitize(photo_with_gps_and_orientation())

    assert result.source_format == "JPEG"
    assert (result.width, result.height) == (200, 300)  # Orientation 6: 90° clockwise
    assert result.content_type == "image/jpeg" and result.extension == "jpg"
    for marker in (b"Exif", b"GPS", b"xmpmeta", b"SproutPhone", b"ICC_PROFILE", b"at home"):
        assert marker not in result.encoded, marker
    with Image.open(BytesIO(result.encoded)) as out:
        assert out.format == "JPEG"
        assert out.size == (200, 300)
        assert len(out.getexif()) == 0
        assert "icc_profile" not in out.info and "exif" not in out.info and "xmp" not in out.info
        # The red block (top-left as stored) is top-right once rotated clockwise.
        red, green, blue = out.convert("RGB").getpixel((190, 10))
        assert red > 200 and green < 60 and blue < 60
        assert out.convert("RGB").getpixel((10, 10))[1] > 200
    assert result.image.info == {}


def test_icc_profile_is_applied_then_dropped_for_cmyk() -> None:
    cmyk = Image.new("CMYK", (64, 64), (0, 255, 255, 0))  # process red
    result = sanitize(encode(cmyk, "JPEG"))
    assert result.image.mode == "RGB"
    assert result.dominant_color.startswith("#")
    red, green, blue = result.image.getpixel((32, 32))
    assert red > 200 and green < 60 and blue < 60
    with Image.open(BytesIO(result.encoded)) as out:
        assert out.mode == "RGB" and "icc_profile" not in out.info


# --- transparency -------------------------------------------------------------------------


def test_png_with_real_transparency_stays_png_with_alpha() -> None:
    image = Image.new("RGBA", (100, 80), (0, 0, 0, 0))  # transparent black
    ImageDraw.Draw(image).rectangle((0, 0, 29, 79), fill=(20, 60, 230, 255))
    result = sanitize(encode(image, "PNG"))

    assert result.source_format == "PNG"
    assert result.image.mode == "RGBA"
    assert result.content_type == "image/png" and result.extension == "png"
    with Image.open(BytesIO(result.encoded)) as out:
        assert out.format == "PNG" and out.mode == "RGBA"
        assert out.getpixel((90, 40))[3] == 0
        assert out.getpixel((5, 40)) == (20, 60, 230, 255)
        assert len(out.getexif()) == 0
    # 70% of the pixels are transparent black; they must not win the dominant colour.
    red, _green, blue = bytes.fromhex(result.dominant_color[1:])
    assert blue > 180 and red < 80


def test_declared_but_unused_alpha_becomes_jpeg() -> None:
    result = sanitize(encode(Image.new("RGBA", (40, 40), (10, 200, 10, 255)), "PNG"))
    assert result.image.mode == "RGB"
    assert result.content_type == "image/jpeg"


def test_gif_first_frame_with_transparency() -> None:
    first = Image.new("P", (40, 40), 1)
    first.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (253 * 3))
    ImageDraw.Draw(first).rectangle((0, 0, 9, 39), fill=0)
    second = Image.new("P", (40, 40), 2)
    second.putpalette(first.getpalette() or [])
    data = encode(first, "GIF", save_all=True, append_images=[second], transparency=0)

    result = sanitize(data)
    assert result.source_format == "GIF"
    assert result.image.mode == "RGBA"
    assert result.image.getpixel((30, 20)) == (255, 0, 0, 255)  # frame 1 is red
    assert result.image.getpixel((5, 20))[3] == 0


def test_sixteen_bit_greyscale_is_scaled_not_clipped() -> None:
    grey = Image.new("I;16", (32, 32), 32768)
    result = sanitize(encode(grey, "PNG"))
    assert result.image.mode == "RGB"
    assert 120 <= result.image.getpixel((5, 5))[0] <= 136


# --- other formats ------------------------------------------------------------------------


def test_real_heic_written_by_pillow_heif() -> None:
    image = Image.new("RGB", (128, 96), (30, 160, 90))
    heif = pillow_heif.from_pillow(image)
    buffer = BytesIO()
    heif.save(buffer, quality=90)
    data = buffer.getvalue()
    assert data[4:12] in (b"ftypheic", b"ftypmif1", b"ftypheix")

    result = sanitize(data)
    assert result.source_format == "HEIF"
    assert (result.width, result.height) == (128, 96)
    assert result.content_type == "image/jpeg"
    red, green, blue = result.image.getpixel((64, 48))
    assert abs(red - 30) < 20 and abs(green - 160) < 20 and abs(blue - 90) < 20


@pytest.mark.skipif("AVIF" not in SUPPORTED_FORMATS, reason="this Pillow has no AVIF")
def test_avif_when_supported() -> None:
    data = encode(Image.new("RGB", (64, 48), (200, 50, 50)), "AVIF", quality=80)
    result = sanitize(data)
    assert result.source_format == "AVIF" and (result.width, result.height) == (64, 48)


def test_webp_is_accepted() -> None:
    result = sanitize(encode(Image.new("RGB", (50, 50), (1, 2, 3)), "WEBP"))
    assert result.source_format == "WEBP"


# --- rejections ---------------------------------------------------------------------------


def test_text_file_renamed_to_jpg_is_unsupported() -> None:
    error = rejected(b"just some notes, renamed to photo.jpg\n" * 10)
    assert (error.status, error.code) == (415, "unsupported_image_format")
    assert error.message


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO", "PPM"])
def test_other_image_formats_are_unsupported(fmt: str) -> None:
    error = rejected(encode(Image.new("RGB", (32, 32), (9, 9, 9)), fmt))
    assert (error.status, error.code) == (415, "unsupported_image_format")


def test_empty_upload_is_unsupported() -> None:
    assert rejected(b"").status == 415


def test_truncated_jpeg_fails_to_decode() -> None:
    image = Image.effect_noise((256, 256), 64).convert("RGB")
    data = encode(image, "JPEG", quality=90)
    error = rejected(data[: len(data) // 2])
    assert (error.status, error.code) == (422, "image_decode_failed")


def test_truncated_png_fails_to_decode() -> None:
    data = encode(Image.effect_noise((128, 128), 64), "PNG")
    assert rejected(data[: len(data) - 200]).code == "image_decode_failed"


@pytest.fixture
def forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any pixel decoding fail the test: bombs must be refused from the header."""

    def boom(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", boom)


@pytest.mark.usefixtures("forbid_decoding")
@pytest.mark.parametrize(
    ("width", "height", "max_pixels"),
    [
        (50_000, 50_000, 40_000_000),  # above Pillow's hard limit too
        (10_000, 10_000, 40_000_000),  # between Pillow's warning and error limits
        (5_000, 5_000, 1_000_000),  # only our own limit catches this one
        (70_000, 16, 40_000_000),  # few pixels, but wider than JPEG allows
    ],
)
def test_pixel_bomb_is_refused_before_decoding(width: int, height: int, max_pixels: int) -> None:
    data = png_with_declared_size(width, height)
    assert len(data) < 200
    error = rejected(data, max_pixels=max_pixels)
    assert (error.status, error.code) == (413, "image_too_many_pixels")


def test_oversize_bytes_are_refused_before_parsing() -> None:
    data = encode(Image.new("RGB", (64, 64)), "PNG")
    error = rejected(data, max_bytes=len(data) - 1)
    assert (error.status, error.code) == (413, "image_too_large")
    assert sanitize(data, max_bytes=len(data)).width == 64


def test_too_small_image() -> None:
    error = rejected(encode(Image.new("RGB", (300, 10)), "PNG"))
    assert (error.status, error.code) == (422, "image_too_small")


# --- dominant colour and variants ----------------------------------------------------------


def test_dominant_colour_of_mostly_red_image_is_red() -> None:
    image = Image.new("RGB", (400, 300), (210, 25, 35))
    draw = ImageDraw.Draw(image)
    for x in range(0, 400, 40):  # 25% blue stripes and some noise
        draw.rectangle((x, 0, x + 9, 299), fill=(20, 40, 200))
    image.paste(Image.effect_noise((60, 60), 80).convert("RGB"), (0, 0))
    result = sanitize(encode(image, "JPEG"))

    red, green, blue = bytes.fromhex(result.dominant_color.removeprefix("#"))
    assert len(result.dominant_color) == 7
    assert red > 150 and green < 90 and blue < 90


def test_variants_are_webp_with_expected_sizes() -> None:
    image = sanitize(encode(Image.new("RGB", (2000, 1000), (5, 120, 200)), "JPEG")).image
    variants = make_variants(image)

    assert set(variants) == set(VARIANT_WIDTHS)
    expected = {"thumb": (320, 160), "medium": (720, 360), "large": (1080, 540)}
    for name, variant in variants.items():
        assert (variant.width, variant.height) == expected[name]
        assert variant.content_type == "image/webp" and variant.extension == "webp"
        with Image.open(BytesIO(variant.data)) as out:
            assert out.format == "WEBP"
            assert out.size == expected[name]
            assert len(out.getexif()) == 0 and "icc_profile" not in out.info


def test_variants_are_never_upscaled() -> None:
    variants = make_variants(Image.new("RGB", (500, 800), (1, 1, 1)))
    assert (variants["thumb"].width, variants["thumb"].height) == (320, 512)
    assert (variants["medium"].width, variants["medium"].height) == (500, 800)
    assert (variants["large"].width, variants["large"].height) == (500, 800)


def test_variants_keep_alpha() -> None:
    variants = make_variants(Image.new("RGBA", (400, 400), (255, 0, 0, 0)))
    with Image.open(BytesIO(variants["thumb"].data)) as out:
        assert out.mode == "RGBA" and out.getpixel((10, 10))[3] == 0


def test_variant_size_respects_webp_limit_for_long_screenshots() -> None:
    assert variant_size(1080, 40_000, 1080) == (442, pipeline.WEBP_MAX_SIDE)
    assert variant_size(3, 1, 320) == (3, 1)
    assert variant_size(4000, 3, 320) == (320, 1)


# --- text covers --------------------------------------------------------------------------


def non_background_box(cover_image: Image.Image, background: str) -> tuple[int, int, int, int]:
    """Bounding box of every pixel that differs from the plain background."""
    plain = Image.new("RGB", cover_image.size, background)
    box = ImageChops.difference(cover_image.convert("RGB"), plain).getbbox()
    assert box is not None, "nothing was drawn"
    return box


def test_cjk_font_really_has_chinese_glyphs() -> None:
    font = find_cjk_font()
    face = font.at(64)
    assert face.getmask("中").getbbox()
    assert font_has_glyph(face, "中") and font_has_glyph(face, "薯")
    assert not font_has_glyph(face, "\U0001f389")  # 🎉 is not in Noto Sans SC: dropped


def test_text_cover_renders_chinese_title_inside_the_card() -> None:
    title = "周末去哪儿｜上海小众咖啡店探店合集，超好拍！Coffee lovers unite 🎉☕"
    cover = render_text_cover(title, seed="note-42")

    assert (cover.width, cover.height) == (1080, 1440)
    assert cover.content_type in ("image/jpeg", "image/webp")
    with Image.open(BytesIO(cover.encoded)) as out:
        assert out.size == (1080, 1440)
    assert 1 <= len(cover.lines) <= COVER_MAX_LINES
    joined = "".join(cover.lines).replace(" ", "")
    assert joined.startswith("周末去哪儿") and "Coffee" in joined and "🎉" not in joined
    assert not any(line.startswith(("，", "！")) for line in cover.lines)
    left, top, right, bottom = non_background_box(cover.image, cover.background)
    box_left, box_top, box_right, box_bottom = cover.text_box
    assert box_left <= left and right <= box_right and box_top <= top and bottom <= box_bottom
    assert cover.dominant_color == cover.background
    assert (cover.background, cover.foreground) in COVER_PALETTE


def test_long_title_shrinks_and_truncates_within_six_lines() -> None:
    short = render_text_cover("短标题", seed="1")
    long = render_text_cover("这是一个非常非常长的标题" * 12, seed="1")
    assert long.font_size < short.font_size
    assert len(long.lines) == COVER_MAX_LINES and long.lines[-1].endswith("…")
    left, top, right, bottom = non_background_box(long.image, long.background)
    assert long.text_box[0] <= left and right <= long.text_box[2]
    assert long.text_box[1] <= top and bottom <= long.text_box[3]


def test_latin_words_are_not_split() -> None:
    title = "A surprisingly long English headline about sourdough baking at home"
    cover = render_text_cover(title, seed="x")
    words = set(title.split())
    assert len(cover.lines) > 1
    for line in cover.lines:
        assert set(line.split()) <= words


def test_overlong_word_is_split_only_when_it_cannot_fit() -> None:
    face = find_cjk_font().at(100)
    lines = wrap_title("Supercalifragilisticexpialidocious!", face, 500)
    assert len(lines) > 1 and "".join(lines) == "Supercalifragilisticexpialidocious!"
    assert all(face.getlength(line) <= 500 for line in lines)


def test_emoji_only_title_does_not_crash() -> None:
    cover = render_text_cover("🎉🎉\u200d👩‍👩‍👧", seed="e")
    assert cover.lines == ()
    with Image.open(BytesIO(cover.encoded)) as out:
        assert out.size == (1080, 1440)


def test_cover_is_deterministic_per_seed() -> None:
    assert (
        render_text_cover("你好", seed="7").encoded == render_text_cover("你好", seed="7").encoded
    )
    assert len({pick_colors(str(seed)) for seed in range(200)}) == len(COVER_PALETTE)


def test_font_env_var_wins_and_bad_values_fail_loudly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    packaged = find_cjk_font().path
    monkeypatch.setenv("SPROUT_CJK_FONT", str(packaged))
    assert find_cjk_font().path == packaged

    monkeypatch.setenv("SPROUT_CJK_FONT", str(tmp_path / "missing.otf"))
    with pytest.raises(CJKFontNotFound):
        find_cjk_font()

    latin_only = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if latin_only.is_file():
        monkeypatch.setenv("SPROUT_CJK_FONT", str(latin_only))
        with pytest.raises(CJKFontNotFound, match="中"):
            find_cjk_font()
