"""Administration: platform statistics and running the ranking jobs on demand."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.admin import services as admin_stats
from app.core.routing import current_actor, endpoint
from app.feeds import discover

bp = Blueprint("admin", __name__, url_prefix="/api/v1")


@endpoint(
    bp,
    "/admin/stats",
    "GET",
    summary="Counts, community health (DAU, WAU, weekly active rate) and signup sources (admin)",
    auth="required",
    role="admin",
    errors=[401, 403],
)
def stats() -> Any:
    return admin_stats.platform_stats(current_actor())


@endpoint(
    bp,
    "/admin/ranking/rebuild",
    "POST",
    summary="Run the periodic ranking jobs now: impressions, hot scores and lists, item-CF",
    auth="required",
    role="admin",
    errors=[401, 403],
)
def rebuild_ranking() -> Any:
    return discover.rebuild_ranking(current_actor())
