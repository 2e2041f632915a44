from __future__ import annotations

import io

from PIL import Image

from tests.conftest import assert_error


def phone_photo(*, width: int = 400, height: int = 300) -> bytes:
    """A JPEG as a phone writes it: GPS coordinates and Orientation=6 (rotate 90° on display)."""
    image = Image.new("RGB", (width, height), (200, 30, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (31.0, 14.0, 0.0)
    gps[3], gps[4] = "E", (121.0, 28.0, 0.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def upload(api, user, data, name="photo.jpg"):
    return api.post(
        "/media/images",
        user,
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_phone_photo_is_oriented_stripped_and_gets_variants(api, app):
    api.register("uploader")
    raw = phone_photo()
    assert b"GPS" in raw or b"N\x00" in raw
    response = upload(api, "uploader", raw)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    # Orientation 6 turns a 400x300 sensor image into a 300x400 portrait.
    assert (body["width"], body["height"]) == (300, 400)
    assert body["dominant_color"].startswith("#") and len(body["dominant_color"]) == 7
    # Jobs run inline here, so the variants already exist.
    record = api.get(f"/media/images/{body['id']}", "uploader").get_json()
    assert record["status"] == "ready"
    assert set(record["variants"]) == {"thumb", "medium", "large"}
    assert record["variants"]["thumb"]["width"] == 300  # never upscaled
    from app.core.extensions import db, get_storage
    from app.media.models import Image as ImageRow

    row = db.session.get(ImageRow, body["id"])
    stored = get_storage().open(row.storage_key)
    assert Image.open(io.BytesIO(stored)).getexif() == {}
    assert b"Exif" not in stored and b"PhoneMaker" not in stored
    served = api.client.get(record["url"])
    assert served.status_code == 200
    assert Image.open(io.BytesIO(served.data)).format == "WEBP"


def test_rejects_fake_oversize_and_missing_files(api):
    api.register("mallory")
    assert_error(upload(api, "mallory", b"just text, honest", "cat.jpg"), 415)
    truncated = phone_photo()[:400]
    response = upload(api, "mallory", truncated)
    assert response.status_code in (415, 422)
    assert_error(
        api.post("/media/images", "mallory", data={}, content_type="multipart/form-data"),
        400,
        "file_required",
    )
    assert_error(api.post("/media/images", "mallory", json={"file": "x"}), 415)
    assert_error(
        api.post(
            "/media/images",
            data={"file": (io.BytesIO(phone_photo()), "a.jpg")},
            content_type="multipart/form-data",
        ),
        401,
    )
    assert_error(api.get("/media/images/987654"), 404, "image_not_found")


def test_upload_over_the_byte_limit_is_413(database_url, tmp_path):
    from tests.conftest import Api, make_app

    app = make_app(database_url, tmp_path, upload_max_bytes=10_000)
    with app.app_context():
        api = Api(app.test_client())
        api.register("bigfile")
        big = io.BytesIO()
        Image.effect_noise((400, 400), 90).convert("RGB").save(big, "PNG")
        assert len(big.getvalue()) > 10_000
        assert_error(upload(api, "bigfile", big.getvalue(), "noise.png"), 413)
