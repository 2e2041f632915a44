"""Creative tools on uploads (filters, sticker packs, image tags, the personalised watermark),
applied by the variants job and gated by level privileges."""

from __future__ import annotations

import io
import json

from PIL import Image

from tests.conftest import assert_error


def photo() -> bytes:
    image = Image.new("RGB", (640, 480), (90, 140, 200))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def upload(api, user: str, **form: str):
    return api.post(
        "/media/images",
        user,
        data={"file": (io.BytesIO(photo()), "photo.jpg"), **form},
        content_type="multipart/form-data",
    )


def set_level(username_id: int, level: int) -> None:
    from app.accounts.models import User
    from app.core.extensions import db

    db.session.get(User, username_id).level = level
    db.session.commit()


def variant_pixels(record: dict, name: str = "thumb") -> Image.Image:
    from app.core.extensions import get_storage

    key = record["variants"][name]["url"].split("/media/files/", 1)[1]
    return Image.open(io.BytesIO(get_storage().open(key))).convert("RGB")


EDITS = {
    "filter": "warm",
    "stickers": [{"pack": "basic", "sticker": "heart", "x": 0.5, "y": 0.5, "scale": 0.3}],
    "tags": [{"label": "牛油果吐司", "x": 0.4, "y": 0.6}],
}


def test_sticker_packs_and_the_watermark_are_privileges(api):
    user = api.register("maker")["id"]
    denied = assert_error(upload(api, "maker", edits=json.dumps(EDITS)), 403, "privilege_required")
    assert denied["details"] == {"privilege": "sticker_pack:basic", "level_required": 2}
    denied = assert_error(upload(api, "maker", watermark="true"), 403, "privilege_required")
    assert denied["details"] == {"privilege": "watermark", "level_required": 3}
    # Filters and image tags are for everyone.
    free = {"filter": "mono", "tags": EDITS["tags"]}
    plain = upload(api, "maker", edits=json.dumps(free))
    assert plain.status_code == 201, plain.get_json()
    set_level(user, 3)
    edited = upload(api, "maker", edits=json.dumps(EDITS), watermark="true")
    assert edited.status_code == 201, edited.get_json()
    record = api.get(f"/media/images/{edited.get_json()['id']}", "maker").get_json()
    assert record["status"] == "ready"
    assert record["tags"] == [{"label": "牛油果吐司", "x": 0.4, "y": 0.6}]
    untouched = upload(api, "maker").get_json()
    untouched = api.get(f"/media/images/{untouched['id']}", "maker").get_json()
    centre = variant_pixels(record).getpixel((160, 120))
    assert centre != variant_pixels(untouched).getpixel((160, 120))  # the sticker is there
    corner = variant_pixels(record, "large").crop((560, 440, 640, 480))
    plain_corner = variant_pixels(untouched, "large").crop((560, 440, 640, 480))
    assert corner.tobytes() != plain_corner.tobytes()  # the watermark, bottom right


def test_bad_edits_are_400_and_store_nothing(api):
    from sqlalchemy import func, select

    from app.core.extensions import db
    from app.media.models import Image as ImageRow

    api.register("maker")
    for edits in (
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"filter": "sepia-max"}),
        json.dumps({"stickers": [{"pack": "basic", "sticker": "dragon", "x": 0.5, "y": 0.5}]}),
        json.dumps({"tags": [{"label": "", "x": 0.5, "y": 0.5}]}),
        json.dumps({"tags": [{"label": "ok", "x": 2, "y": 0.5}]}),
    ):
        assert_error(upload(api, "maker", edits=edits), 400, "invalid_edits")
    assert db.session.scalar(select(func.count()).select_from(ImageRow)) == 0


def test_image_tags_are_searchable(api):
    api.register("maker")
    image = upload(api, "maker", edits=json.dumps({"tags": EDITS["tags"]})).get_json()
    note = api.post(
        "/notes",
        "maker",
        json={"title": "今天的早餐", "image_ids": [image["id"]], "status": "published"},
    ).get_json()
    found = api.get("/search/notes?q=牛油果吐司").get_json()["items"]
    assert [item["id"] for item in found] == [note["id"]]
    assert note["images"][0]["tags"][0]["label"] == "牛油果吐司"
    # the stored card (the note read again, a card by id) shows them as the write did
    for read in (api.get(f"/notes/{note['id']}"), api.get(f"/notes?ids={note['id']}")):
        card = read.get_json()
        card = card["items"][0] if "items" in card else card
        assert card["images"][0]["tags"] == EDITS["tags"]
