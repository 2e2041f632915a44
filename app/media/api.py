"""Image uploads (multipart field `file`) and image records."""

from __future__ import annotations

from flask import Blueprint, request

from app.core.errors import UnsupportedMedia, ValidationFailed
from app.core.presenters import image_view
from app.core.routing import JsonBody, current_actor, endpoint
from app.media import services as media
from app.media.schemas import ImageOut

bp = Blueprint("media", __name__, url_prefix="/api/v1")


@endpoint(
    bp,
    "/media/images",
    "POST",
    summary="Upload an image (JPEG, PNG, WebP, GIF, HEIC…); optional form fields `edits` "
    "(JSON: filter, stickers, tags) and `watermark` (true: the personalised watermark)",
    response=ImageOut,
    status=201,
    auth="required",
    content_type="multipart/form-data",
    errors=[400, 403, 413, 415, 422, 429],
)
def upload_image() -> JsonBody:
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMedia("Send the image as multipart/form-data in the field `file`.")
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("The multipart field `file` is missing.", code="file_required")
    watermark = (request.form.get("watermark") or "").strip().lower() in {"1", "true", "yes"}
    image = media.upload_image(current_actor(), upload.read(), request.form.get("edits"), watermark)
    return image_view(image)


@endpoint(
    bp,
    "/media/images/<int:image_id>",
    "GET",
    summary="An image record: everyone sees one shown by a published note or as an avatar; "
    "any other (fresh uploads, drafts, held notes) only its owner and moderators, 404 to "
    "the rest",
    response=ImageOut,
    errors=[404],
)
def get_image(image_id: int) -> JsonBody:
    return image_view(media.get_image(current_actor(), image_id))
