"""Creative tools on small images generated here (no app, no database, no files on disk)."""

from __future__ import annotations

import itertools
import math
from io import BytesIO

import pytest
from PIL import Image, ImageChops, ImageDraw

from app.media.creative import (
    FILTERS,
    MAX_STICKERS,
    MAX_TAGS,
    STICKER_PACKS,
    Edits,
    EditsInvalid,
    ImageTag,
    StickerPlacement,
    apply_edits,
    apply_filter,
    parse_edits,
    render_sticker,
    watermark,
)
from app.media.text_cover import CJKFont, find_cjk_font

WIDTH, HEIGHT = 320, 400


def colourful(width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    """Hue across, brightness down, plus grey and saturated blocks: every filter has work."""
    hue = Image.linear_gradient("L").rotate(90).resize((width, height))
    value = Image.linear_gradient("L").resize((width, height)).point(lambda v: 60 + v * 0.7)
    saturation = Image.new("L", (width, height), 200)
    image = Image.merge("HSV", (hue, saturation, value)).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 80, 80), fill="#808080")
    draw.rectangle((240, 300, 300, 380), fill="#ff2020")
    return image


def grey(width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    return Image.new("RGB", (width, height), "#6a7a8a")


def png_bytes(image: Image.Image) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def changed_box(before: Image.Image, after: Image.Image) -> tuple[int, int, int, int] | None:
    return ImageChops.difference(before, after).getbbox()


# --- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FILTERS))
def test_filter_keeps_size_and_mode(name: str) -> None:
    source = colourful()
    result = apply_filter(source, name)
    assert result.size == source.size
    assert result.mode == "RGB"
    assert result is not source


@pytest.mark.parametrize("name", [name for name in FILTERS if name != "original"])
def test_filter_changes_pixels(name: str) -> None:
    source = colourful()
    assert changed_box(source, apply_filter(source, name)) is not None


def test_original_filter_is_identity() -> None:
    source = colourful()
    assert png_bytes(apply_filter(source, "original")) == png_bytes(source)


def test_filters_differ_from_each_other() -> None:
    source = colourful()
    outputs = {name: png_bytes(apply_filter(source, name)) for name in FILTERS}
    for first, second in itertools.combinations(FILTERS, 2):
        assert outputs[first] != outputs[second], (first, second)


def test_filters_have_chinese_labels() -> None:
    assert list(FILTERS) == ["original", "warm", "cool", "mono", "vivid", "fade", "film"]
    assert FILTERS["original"] == "原图"
    assert all(label.strip() for label in FILTERS.values())


def test_mono_is_grey_and_filter_accepts_other_modes() -> None:
    mono = apply_filter(colourful(), "mono")
    red, green, blue = mono.split()
    assert red.tobytes() == green.tobytes() == blue.tobytes()
    rgba = colourful().convert("RGBA")
    assert apply_filter(rgba, "warm").mode == "RGB"


def test_unknown_filter_is_refused() -> None:
    with pytest.raises(EditsInvalid) as caught:
        apply_filter(colourful(), "sepia")
    assert caught.value.field == "filter"


# --- stickers ----------------------------------------------------------------------------------

ALL_STICKERS = [(pack, name) for pack, names in STICKER_PACKS.items() for name in names]


@pytest.mark.parametrize(("pack", "name"), ALL_STICKERS)
def test_every_sticker_renders(pack: str, name: str) -> None:
    sticker = render_sticker(pack, name, 96)
    assert sticker.mode == "RGBA"
    assert sticker.size == (96, 96)
    alpha = sticker.getchannel("A")
    assert alpha.getbbox() is not None
    opaque = sum(alpha.histogram()[200:])
    assert opaque > 96 * 96 * 0.1  # a real shape, not a speck
    assert alpha.getpixel((0, 0)) == 0  # transparent background around it
    assert len(sticker.convert("RGB").getcolors(96 * 96) or []) > 2  # more than one colour


def test_sticker_packs_are_distinct_and_stickers_differ() -> None:
    assert set(STICKER_PACKS) == {"basic", "cute", "premium"}
    names = [name for _, name in ALL_STICKERS]
    assert len(names) == len(set(names))
    rendered = {png_bytes(render_sticker(pack, name, 64)) for pack, name in ALL_STICKERS}
    assert len(rendered) == len(ALL_STICKERS)


def test_render_sticker_is_deterministic_and_returns_copies() -> None:
    first = render_sticker("basic", "heart", 80)
    first.paste((0, 0, 0, 255), (0, 0, 80, 80))  # spoiling a returned image ...
    second = render_sticker("basic", "heart", 80)
    assert png_bytes(second) != png_bytes(first)  # ... does not spoil the cache
    assert png_bytes(second) == png_bytes(render_sticker("basic", "heart", 80))


@pytest.mark.parametrize(
    ("pack", "name", "size", "error"),
    [
        ("nope", "heart", 64, EditsInvalid),
        ("basic", "cat", 64, EditsInvalid),
        ("basic", "heart", 0, ValueError),
        ("basic", "heart", 100_000, ValueError),
    ],
)
def test_render_sticker_refuses_bad_arguments(
    pack: str, name: str, size: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        render_sticker(pack, name, size)


# --- apply_edits -------------------------------------------------------------------------------


def test_sticker_lands_where_asked() -> None:
    source = grey()
    edits = Edits(stickers=(StickerPlacement("basic", "heart", x=0.3, y=0.4, scale=0.2),))
    result = apply_edits(source, edits)
    assert result.size == source.size and result.mode == "RGB"
    box = changed_box(source, result)
    assert box is not None
    centre_x, centre_y, half = 0.3 * WIDTH, 0.4 * HEIGHT, 0.2 * WIDTH / 2
    left, top, right, bottom = box
    assert centre_x - half - 1 <= left < centre_x < right <= centre_x + half + 1
    assert centre_y - half - 1 <= top < centre_y < bottom <= centre_y + half + 1
    assert result.getpixel((round(centre_x), round(centre_y))) != source.getpixel((0, 0))
    assert result.getpixel((WIDTH - 1, HEIGHT - 1)) == source.getpixel((WIDTH - 1, HEIGHT - 1))


def test_rotated_sticker_stays_near_its_centre() -> None:
    source = grey()
    placement = StickerPlacement("premium", "crown", x=0.5, y=0.5, scale=0.3, rotation=45)
    box = changed_box(source, apply_edits(source, Edits(stickers=(placement,))))
    assert box is not None
    reach = 0.3 * WIDTH / 2 * math.sqrt(2) + 2
    left, top, right, bottom = box
    assert left >= WIDTH / 2 - reach and right <= WIDTH / 2 + reach
    assert top >= HEIGHT / 2 - reach and bottom <= HEIGHT / 2 + reach


@pytest.mark.parametrize(("x", "y"), [(0.0, 1.0), (1.0, 0.0), (0.0, 0.0), (1.0, 1.0)])
def test_sticker_is_clipped_at_the_edges(x: float, y: float) -> None:
    source = grey()
    placement = StickerPlacement("cute", "cloud", x=x, y=y, scale=0.5, rotation=-30)
    result = apply_edits(source, Edits(stickers=(placement,)))
    assert result.size == source.size
    box = changed_box(source, result)
    assert box is not None
    corner_x, corner_y = round(x * (WIDTH - 1)), round(y * (HEIGHT - 1))
    assert box[0] <= corner_x < box[2] and box[1] <= corner_y < box[3]


def test_apply_edits_does_not_mutate_input() -> None:
    source = colourful()
    before = png_bytes(source)
    edits = parse_edits(
        {
            "filter": "film",
            "stickers": [{"pack": "basic", "sticker": "star", "x": 0.5, "y": 0.5}],
            "tags": [{"label": "拿铁", "x": 0.2, "y": 0.2}],
        }
    )
    result = apply_edits(source, edits)
    assert result is not source
    assert png_bytes(source) == before
    assert source.mode == "RGB" and source.size == (WIDTH, HEIGHT)


def test_tags_are_not_drawn() -> None:
    source = colourful()
    tagged = Edits(tags=(ImageTag("拿铁", 0.5, 0.5),))
    assert png_bytes(apply_edits(source, tagged)) == png_bytes(source)


def test_apply_edits_is_deterministic() -> None:
    edits = parse_edits(
        {
            "filter": "vivid",
            "stickers": [
                {"pack": "cute", "sticker": "cat", "x": 0.2, "y": 0.8, "scale": 0.3},
                {"pack": "premium", "sticker": "badge", "x": 0.9, "y": 0.1, "rotation": 33.3},
            ],
        }
    )
    assert png_bytes(apply_edits(colourful(), edits)) == png_bytes(apply_edits(colourful(), edits))


# --- parse_edits -------------------------------------------------------------------------------

VALID = {
    "filter": "warm",
    "stickers": [
        {"pack": "basic", "sticker": "heart", "x": 0.25, "y": 0.75, "scale": 0.3, "rotation": -45},
        {"pack": "premium", "sticker": "crown", "x": 1, "y": 0},
    ],
    "tags": [{"label": "  上海·武康路 ", "x": 0.5, "y": 0.5}],
    "future_key": "ignored",
}


def test_parse_edits_accepts_a_valid_payload() -> None:
    edits = parse_edits(VALID)
    assert edits.filter == "warm"
    assert edits.stickers[0] == StickerPlacement("basic", "heart", 0.25, 0.75, 0.3, -45.0)
    second = edits.stickers[1]
    assert (second.scale, second.rotation) == (0.2, 0.0)  # the defaults
    assert isinstance(second.x, float) and second.x == 1.0
    assert edits.tags == (ImageTag("上海·武康路", 0.5, 0.5),)
    assert edits.packs_used == frozenset({"basic", "premium"})
    assert parse_edits(edits.to_dict()) == edits


def test_parse_edits_defaults() -> None:
    assert parse_edits({}) == Edits()
    assert parse_edits({"filter": None, "stickers": None, "tags": None}) == Edits()
    assert Edits().packs_used == frozenset()


def test_parse_edits_accepts_the_limits() -> None:
    sticker = {"pack": "basic", "sticker": "sun", "x": 0, "y": 1, "scale": 0.05, "rotation": 180}
    tag = {"label": "x" * 20, "x": 1, "y": 0}
    edits = parse_edits({"stickers": [sticker] * MAX_STICKERS, "tags": [tag] * MAX_TAGS})
    assert len(edits.stickers) == MAX_STICKERS and len(edits.tags) == MAX_TAGS


def sticker(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {"pack": "basic", "sticker": "heart", "x": 0.5, "y": 0.5}
    base.update(changes)
    return {"stickers": [base]}


def tag(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {"label": "咖啡", "x": 0.5, "y": 0.5}
    base.update(changes)
    return {"tags": [base]}


GOOD_STICKER = {"pack": "basic", "sticker": "heart", "x": 0.5, "y": 0.5}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param(None, "edits", id="none"),
        pytest.param([], "edits", id="list"),
        pytest.param("warm", "edits", id="string"),
        pytest.param({"filter": "sepia"}, "filter", id="unknown-filter"),
        pytest.param({"filter": 3}, "filter", id="filter-not-string"),
        pytest.param({"stickers": {"pack": "basic"}}, "stickers", id="stickers-not-list"),
        pytest.param({"stickers": ["heart"]}, "stickers[0]", id="sticker-not-object"),
        pytest.param(sticker(pack="gold"), "stickers[0].pack", id="unknown-pack"),
        pytest.param(sticker(pack=None), "stickers[0].pack", id="missing-pack"),
        pytest.param(sticker(sticker="dragon"), "stickers[0].sticker", id="unknown-sticker"),
        pytest.param(sticker(sticker="cat"), "stickers[0].sticker", id="sticker-other-pack"),
        pytest.param(sticker(x="0.5"), "stickers[0].x", id="x-string"),
        pytest.param(sticker(x=True), "stickers[0].x", id="x-bool"),
        pytest.param(sticker(x=None), "stickers[0].x", id="x-missing"),
        pytest.param(sticker(x=math.nan), "stickers[0].x", id="x-nan"),
        pytest.param(sticker(y=math.inf), "stickers[0].y", id="y-inf"),
        pytest.param(sticker(y=10**400), "stickers[0].y", id="y-huge-int"),
        pytest.param(sticker(x=-0.01), "stickers[0].x", id="x-negative"),
        pytest.param(sticker(y=1.01), "stickers[0].y", id="y-above-one"),
        pytest.param(sticker(scale=0.04), "stickers[0].scale", id="scale-small"),
        pytest.param(sticker(scale=0.51), "stickers[0].scale", id="scale-large"),
        pytest.param(sticker(scale=False), "stickers[0].scale", id="scale-bool"),
        pytest.param(sticker(rotation=180.5), "stickers[0].rotation", id="rotation-high"),
        pytest.param(sticker(rotation=-181), "stickers[0].rotation", id="rotation-low"),
        pytest.param(sticker(rotation=-math.inf), "stickers[0].rotation", id="rotation-inf"),
        pytest.param(
            {"stickers": [GOOD_STICKER] * (MAX_STICKERS + 1)}, "stickers", id="too-many-stickers"
        ),
        pytest.param(
            {"stickers": [GOOD_STICKER, {**GOOD_STICKER, "x": 2}]},
            "stickers[1].x",
            id="second-sticker",
        ),
        pytest.param({"tags": "咖啡"}, "tags", id="tags-not-list"),
        pytest.param({"tags": [["咖啡", 0.5, 0.5]]}, "tags[0]", id="tag-not-object"),
        pytest.param(
            {"tags": [{"label": "a", "x": 0, "y": 0}] * (MAX_TAGS + 1)}, "tags", id="too-many-tags"
        ),
        pytest.param(tag(label=""), "tags[0].label", id="label-empty"),
        pytest.param(tag(label="   "), "tags[0].label", id="label-blank"),
        pytest.param(tag(label="x" * 21), "tags[0].label", id="label-long"),
        pytest.param(tag(label="咖\x00啡"), "tags[0].label", id="label-nul"),
        pytest.param(tag(label="咖\n啡"), "tags[0].label", id="label-newline"),
        pytest.param(tag(label="咖\u2028啡"), "tags[0].label", id="label-line-separator"),
        pytest.param(tag(label=12), "tags[0].label", id="label-number"),
        pytest.param(tag(x=1.5), "tags[0].x", id="tag-x-range"),
        pytest.param(tag(y="top"), "tags[0].y", id="tag-y-string"),
        pytest.param(tag(y=math.nan), "tags[0].y", id="tag-y-nan"),
    ],
)
def test_parse_edits_rejects(payload: object, field: str) -> None:
    with pytest.raises(EditsInvalid) as caught:
        parse_edits(payload)
    assert caught.value.field == field
    assert str(caught.value).startswith(field + " ")
    assert isinstance(caught.value, ValueError)


def test_dataclasses_validate_direct_construction() -> None:
    with pytest.raises(EditsInvalid) as caught:
        Edits(filter="sepia")
    assert caught.value.field == "filter"
    with pytest.raises(EditsInvalid):
        StickerPlacement("basic", "heart", x=0.5, y=0.5, scale=0.9)
    with pytest.raises(EditsInvalid):
        ImageTag("\t", 0.5, 0.5)


# --- watermark ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cjk_font() -> CJKFont:
    return find_cjk_font()


@pytest.mark.parametrize("source", [grey(), colourful(), Image.new("RGB", (WIDTH, HEIGHT))])
def test_watermark_only_touches_the_bottom_right(source: Image.Image, cjk_font: CJKFont) -> None:
    before = png_bytes(source)
    result = watermark(source, "@小芽美食局", font=cjk_font)
    assert result.size == source.size and result.mode == "RGB"
    assert png_bytes(source) == before  # input untouched
    box = changed_box(source, result)
    assert box is not None
    left, top, right, bottom = box
    assert left >= WIDTH * 0.5 and top >= HEIGHT * 0.85
    assert right <= WIDTH and bottom <= HEIGHT
    assert right >= WIDTH * 0.9 and bottom >= HEIGHT * 0.9  # hugs the corner, with a margin
    assert right < WIDTH and bottom < HEIGHT


def test_watermark_draws_light_text(cjk_font: CJKFont) -> None:
    source = Image.new("RGB", (WIDTH, HEIGHT), "black")
    result = watermark(source, "@小芽美食局", font=cjk_font)
    brightest = result.convert("L").getextrema()[1]
    assert 180 <= brightest < 255  # white, at partial opacity


def test_watermark_scales_with_width(cjk_font: CJKFont) -> None:
    small = changed_box(grey(320, 400), watermark(grey(320, 400), "@sprout", font=cjk_font))
    large = changed_box(grey(1280, 400), watermark(grey(1280, 400), "@sprout", font=cjk_font))
    assert small is not None and large is not None
    assert (large[2] - large[0]) > 2.5 * (small[2] - small[0])


def test_watermark_is_deterministic_and_handles_odd_text(cjk_font: CJKFont) -> None:
    first = watermark(colourful(), "@小芽美食局", font=cjk_font)
    second = watermark(colourful(), "@小芽美食局", font=cjk_font)
    assert png_bytes(first) == png_bytes(second)
    source = colourful()
    assert png_bytes(watermark(source, "  \n ", font=cjk_font)) == png_bytes(source)
    long_name = watermark(grey(64, 64), "@" + "很长的昵称" * 20, font=cjk_font)
    assert long_name.size == (64, 64)
