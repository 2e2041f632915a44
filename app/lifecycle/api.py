"""HTTP handlers of the lifecycle domain."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("lifecycle", __name__, url_prefix="/api/v1")
