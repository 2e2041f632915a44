"""The pure image pipeline: validate an upload, orient it, strip metadata, make variants.

No Flask, no database: bytes in, decoded images and encoded bytes out, so the upload handler,
the variant job and the seed importer all share one set of rules and tests need no app.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO
from typing import Final

import imagehash
import pillow_heif
from PIL import Image, ImageCms, ImageOps

from app.media.text_cover import (
    CJKFont,
    CJKFontNotFound,
    TextCover,
    find_cjk_font,
    render_text_cover,
)

__all__ = [
    "SUPPORTED_FORMATS",
    "VARIANT_WIDTHS",
    "CJKFont",
    "CJKFontNotFound",
    "EncodedVariant",
    "ImageRejected",
    "PreparedImage",
    "SanitizedImage",
    "TextCover",
    "dominant_color",
    "find_cjk_font",
    "make_variants",
    "perceptual_hash",
    "prepare_image",
    "render_text_cover",
    "sanitize_upload",
    "to_srgb",
    "variant_size",
]

# --- tunables (the one place for these) -------------------------------------------------

#: Variant name -> target width in pixels; never upscaled.
VARIANT_WIDTHS: Final[Mapping[str, int]] = {"thumb": 320, "medium": 720, "large": 1080}
WEBP_QUALITY: Final = 82
WEBP_METHOD: Final = 4
JPEG_QUALITY: Final = 90
#: WebP cannot encode a side longer than this; tall variants are scaled to fit.
WEBP_MAX_SIDE: Final = 16383
#: JPEG cannot encode a side longer than this; larger uploads are refused up front.
MAX_SIDE: Final = 65500
#: Side of the thumbnail the dominant colour is computed on.
DOMINANT_SAMPLE_SIDE: Final = 64
DOMINANT_PALETTE_SIZE: Final = 5
FALLBACK_COLOR: Final = "#eeeeee"

# --- format registry ---------------------------------------------------------------------

# HEIF/HEIC comes from pillow_heif; thumbnails, depth and auxiliary images are never used, so
# they are not decoded. Registered once, at import.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
Image.init()

#: Pillow format id -> the source format we report.
_SOURCE_FORMATS: Final[dict[str, str]] = {
    "JPEG": "JPEG",
    "MPO": "JPEG",  # multi-picture JPEG (phones, 3D cameras): the first picture is the photo
    "PNG": "PNG",
    "WEBP": "WEBP",
    "GIF": "GIF",
    "HEIF": "HEIF",
    "AVIF": "AVIF",
}
#: Only these Pillow plugins may even look at the bytes (no EPS/Ghostscript, TIFF, BMP...).
_OPEN_FORMATS: Final[tuple[str, ...]] = tuple(
    fmt for fmt in ("JPEG", "PNG", "WEBP", "GIF", "HEIF", "AVIF") if fmt in Image.OPEN
)
#: Source formats this build can actually decode (AVIF depends on Pillow's build).
SUPPORTED_FORMATS: Final[frozenset[str]] = frozenset(_SOURCE_FORMATS[fmt] for fmt in _OPEN_FORMATS)

#: What a hostile file can make a decoder raise; each one means "not a decodable image".
_DECODE_ERRORS: Final[tuple[type[BaseException], ...]] = (
    OSError,  # includes UnidentifiedImageError and "image file is truncated"
    ValueError,
    SyntaxError,  # Pillow's "not a XXX file" and broken chunk structure
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    RuntimeError,  # libheif errors surface as RuntimeError in some pillow_heif versions
)


class ImageRejected(Exception):
    """An upload we refuse, carrying the HTTP status and the API error code to answer with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ImageRejected({self.status}, {self.code!r}, {self.message!r})"


@dataclass(frozen=True)
class SanitizedImage:
    """A decoded, oriented, sRGB upload and its metadata-free re-encoding (the "original")."""

    image: Image.Image
    source_format: str
    width: int
    height: int
    dominant_color: str
    encoded: bytes
    content_type: str
    extension: str
    #: DCT perceptual hash (`perceptual_hash`), for finding the same picture re-posted.
    phash: int


@dataclass(frozen=True)
class EncodedVariant:
    """One resized rendition, ready to store."""

    data: bytes
    width: int
    height: int
    content_type: str = "image/webp"
    extension: str = "webp"


@dataclass(frozen=True)
class PreparedImage:
    """A picture made on the server (seed content), encoded with its variants. Plain data, so
    worker processes can make them and hand them back."""

    source_format: str
    width: int
    height: int
    dominant_color: str
    encoded: bytes
    content_type: str
    extension: str
    phash: int
    variants: dict[str, EncodedVariant]


def prepare_image(image: Image.Image, source_format: str = "PNG") -> PreparedImage:
    """Everything `sanitize_upload` and the variants job produce, for a trusted image."""
    clean = to_srgb(image)
    encoded, content_type, extension = _encode_original(clean)
    return PreparedImage(
        source_format=source_format,
        width=clean.width,
        height=clean.height,
        dominant_color=dominant_color(clean),
        encoded=encoded,
        content_type=content_type,
        extension=extension,
        phash=perceptual_hash(clean),
        variants=make_variants(clean),
    )


# --- sanitising ----------------------------------------------------------------------------


def sanitize_upload(
    data: bytes, *, max_bytes: int, max_pixels: int, min_side: int
) -> SanitizedImage:
    """Validate and clean an upload; raise ImageRejected for anything we will not serve.

    Order matters: size before parsing, header dimensions before decoding (a few hundred bytes
    can declare gigapixels), and the decode itself inside the error net, since the bytes are
    attacker-controlled.
    """
    if len(data) > max_bytes:
        raise ImageRejected(413, "image_too_large", f"the file is larger than {max_bytes} bytes")
    if not data:
        raise ImageRejected(415, "unsupported_image_format", "the file is empty")

    opened = _open_checked(data, max_pixels=max_pixels)
    try:
        source_format = _SOURCE_FORMATS[opened.format or ""]
        _decode(opened)
        image = _apply_orientation(opened)
        if min(image.size) < min_side:
            raise ImageRejected(
                422,
                "image_too_small",
                f"the image is {image.width}x{image.height}; each side must be at least "
                f"{min_side} pixels",
            )
        clean = to_srgb(image)  # always a new image, independent of `opened`
    finally:
        opened.close()

    encoded, content_type, extension = _encode_original(clean)
    return SanitizedImage(
        image=clean,
        source_format=source_format,
        width=clean.width,
        height=clean.height,
        dominant_color=dominant_color(clean),
        encoded=encoded,
        content_type=content_type,
        extension=extension,
        phash=perceptual_hash(clean),
    )


def perceptual_hash(image: Image.Image) -> int:
    """The 64-bit DCT hash of the picture as a signed integer (it fits a BIGINT column).

    Re-encoding, resizing, a watermark or a colour shift move it by a few bits; different
    pictures differ in about half of them (measurements in docs/moderation.md).
    """
    unsigned = int(str(imagehash.phash(image)), 16)
    return unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned


def _open_checked(data: bytes, *, max_pixels: int) -> Image.Image:
    """Parse only the header (lazy open) and refuse unknown formats and pixel bombs."""
    with warnings.catch_warnings():
        # Pillow's own bomb guard warns above MAX_IMAGE_PIXELS and raises above twice that;
        # either way this is a pixel bomb.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(BytesIO(data), formats=_OPEN_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(
                413, "image_too_many_pixels", "the image declares too many pixels"
            ) from exc
        except Image.UnidentifiedImageError as exc:
            raise ImageRejected(
                415,
                "unsupported_image_format",
                "not a supported image; send JPEG, PNG, WebP, GIF, HEIC"
                + (" or AVIF" if "AVIF" in SUPPORTED_FORMATS else ""),
            ) from exc
        except _DECODE_ERRORS as exc:
            # Recognised the signature but the header itself is broken.
            raise ImageRejected(422, "image_decode_failed", "the image header is damaged") from exc

    if image.format not in _SOURCE_FORMATS:  # defensive: formats= should already ensure this
        image.close()
        raise ImageRejected(415, "unsupported_image_format", f"{image.format} is not accepted")
    width, height = image.size
    if width <= 0 or height <= 0:
        image.close()
        raise ImageRejected(422, "image_decode_failed", "the image has no pixels")
    if width * height > max_pixels or max(width, height) > MAX_SIDE:
        image.close()
        raise ImageRejected(
            413,
            "image_too_many_pixels",
            f"the image is {width}x{height}; at most {max_pixels} pixels and "
            f"{MAX_SIDE} per side are accepted",
        )
    return image


def _decode(image: Image.Image) -> None:
    """Really decode the pixels (first frame only), turning any decoder failure into a 422."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image.seek(0)
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(
                413, "image_too_many_pixels", "the image declares too many pixels"
            ) from exc
        except _DECODE_ERRORS as exc:
            raise ImageRejected(
                422, "image_decode_failed", "the image data is damaged or truncated"
            ) from exc


def _apply_orientation(image: Image.Image) -> Image.Image:
    """Rotate/flip per EXIF Orientation, since the tag is about to be stripped.

    A corrupt EXIF block is not worth rejecting a photo over: the image is kept as stored.
    """
    try:
        oriented = ImageOps.exif_transpose(image)
    except Exception:  # EXIF is attacker-controlled; orientation is cosmetic
        return image
    return oriented if oriented is not None else image


def to_srgb(image: Image.Image) -> Image.Image:
    """Return a new RGB or RGBA image in sRGB with no metadata attached.

    An embedded ICC profile is applied (so colours survive dropping it); alpha is kept only
    if some pixel is actually not opaque.
    """
    icc = image.info.get("icc_profile")
    alpha: Image.Image | None = None
    if image.has_transparency_data:
        alpha = image.convert("RGBA").getchannel("A")
        if alpha.getextrema()[0] == 255:  # declared alpha, but every pixel is opaque
            alpha = None

    color = _color_base(image)
    converted: Image.Image | None = None
    if icc:
        try:
            source_profile = ImageCms.ImageCmsProfile(BytesIO(icc))
            converted = ImageCms.profileToProfile(
                color,
                source_profile,
                _SRGB_PROFILE,
                renderingIntent=ImageCms.Intent.PERCEPTUAL,
                outputMode="RGB",
            )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            converted = None  # broken or mismatched profile: assume the pixels are sRGB
    rgb = converted if converted is not None else color.convert("RGB")
    if alpha is not None:
        rgb.putalpha(alpha)
    rgb.info = {}  # no EXIF, XMP, ICC, comments or text chunks travel any further
    return rgb


_SRGB_PROFILE: Final = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _color_base(image: Image.Image) -> Image.Image:
    """The colour channels in a mode an ICC transform understands (L, RGB or CMYK)."""
    mode = image.mode
    if mode in ("L", "RGB", "CMYK"):
        return image
    if mode in ("LA", "La"):
        return image.convert("L")
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit greyscale PNG: scale to 8 bits instead of clipping everything above 255.
        return image.convert("I").point(lambda value: value / 256).convert("L")
    return image.convert("RGB")


def _encode_original(image: Image.Image) -> tuple[bytes, str, str]:
    """Re-encode the clean image: PNG when it has real transparency, JPEG otherwise."""
    buffer = BytesIO()
    if image.mode == "RGBA":
        image.save(buffer, format="PNG", compress_level=6)
        return buffer.getvalue(), "image/png", "png"
    # Baseline + optimised Huffman: progressive costs ~3x the CPU for the (rarely served)
    # original.
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue(), "image/jpeg", "jpg"


def dominant_color(image: Image.Image) -> str:
    """The most common colour as "#rrggbb", for the placeholder shown before an image loads.

    Median-cut quantisation of a small copy gives a representative colour of the largest
    region; a plain average of a colourful photo is often a muddy grey that appears nowhere.
    Fully transparent pixels are ignored (their RGB is meaningless).
    """
    sample = image.convert("RGBA") if image.mode != "RGB" else image
    sample = sample.copy()
    sample.thumbnail(
        (DOMINANT_SAMPLE_SIDE, DOMINANT_SAMPLE_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0
    )
    if sample.mode == "RGBA":
        raw = sample.tobytes()
        rgb = b"".join(raw[i : i + 3] for i in range(0, len(raw), 4) if raw[i + 3])
        if not rgb:
            return FALLBACK_COLOR
        sample = Image.frombytes("RGB", (len(rgb) // 3, 1), rgb)
    quantized = sample.quantize(colors=DOMINANT_PALETTE_SIZE, method=Image.Quantize.MEDIANCUT)
    counts = quantized.getcolors(maxcolors=256) or []
    palette = quantized.getpalette() or []
    if not counts or not palette:
        return FALLBACK_COLOR
    _, index = max(counts, key=lambda item: item[0])
    red, green, blue = palette[index * 3 : index * 3 + 3]
    return f"#{red:02x}{green:02x}{blue:02x}"


# --- variants ----------------------------------------------------------------------------


def variant_size(width: int, height: int, target_width: int) -> tuple[int, int]:
    """Size of a variant: the target width, never upscaled, aspect kept, within WebP limits."""
    new_width = min(target_width, width)
    new_height = max(1, round(height * new_width / width))
    if new_height > WEBP_MAX_SIDE:  # very long screenshots: fit the height instead
        new_height = WEBP_MAX_SIDE
        new_width = max(1, round(width * new_height / height))
    return new_width, new_height


def make_variants(image: Image.Image) -> dict[str, EncodedVariant]:
    """Encode every VARIANT_WIDTHS rendition as WebP (alpha kept if the image has it)."""
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    variants: dict[str, EncodedVariant] = {}
    for name, target_width in VARIANT_WIDTHS.items():
        size = variant_size(image.width, image.height, target_width)
        resized = (
            image
            if size == image.size
            else image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        )
        buffer = BytesIO()
        resized.save(buffer, format="WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
        variants[name] = EncodedVariant(data=buffer.getvalue(), width=size[0], height=size[1])
    return variants
