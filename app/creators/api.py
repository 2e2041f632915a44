"""HTTP handlers of the creators domain."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("creators", __name__, url_prefix="/api/v1")
