"""Liveness and readiness, outside the API base path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import text

from app.core.extensions import db, get_redis

bp = Blueprint("health", __name__)

ReadinessCheck = Callable[[], dict[str, Any]]


def init_app(app: Flask, checks: dict[str, ReadinessCheck]) -> None:
    """Readiness checks of the domains' own dependencies (the search backend), named as
    `/readyz` reports them; the database and Redis are checked here."""
    app.extensions["sprout.readiness"] = dict(checks)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Response:
    """Each dependency reported on its own, so an operator sees which one is down."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True, "backend": db.engine.dialect.name}
    except Exception as exc:  # any driver error means "not ready"
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    finally:
        db.session.rollback()
    connection = get_redis()
    if connection is None:
        checks["redis"] = {"ok": True, "backend": "none (jobs inline, shared state on disk)"}
    else:
        try:
            connection.ping()
            checks["redis"] = {"ok": True, "backend": "redis"}
        except Exception as exc:
            checks["redis"] = {"ok": False, "error": type(exc).__name__}
    readiness: dict[str, ReadinessCheck] = current_app.extensions["sprout.readiness"]
    for name, check in readiness.items():
        try:
            checks[name] = check()
        except Exception as exc:
            checks[name] = {"ok": False, "error": type(exc).__name__}
    ready = all(check["ok"] for check in checks.values())
    response = jsonify({"status": "ready" if ready else "unavailable", "checks": checks})
    response.status_code = 200 if ready else 503
    return response
