"""Serves locally stored media (embedded mode). In production a CDN or S3 serves these."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, send_from_directory

from app.core.config import Settings

bp = Blueprint("media_files", __name__)


@bp.get("/media/files/<path:key>")
def media_file(key: str) -> Response:
    settings: Settings = current_app.config["SPROUT"]
    if settings.s3_bucket:
        abort(404)
    root = settings.media_dir or settings.data_dir / "media"
    # send_from_directory refuses paths that escape the root.
    response = send_from_directory(root, key, max_age=31536000)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
