"""Administration: platform statistics and running the ranking jobs on demand."""

from __future__ import annotations

from flask import Blueprint

from app.admin import services as admin_services
from app.core.routing import JsonBody, current_actor, endpoint

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
def stats() -> JsonBody:
    return admin_services.platform_stats(current_actor())


@endpoint(
    bp,
    "/admin/ranking/rebuild",
    "POST",
    summary="Run the periodic ranking jobs now: impressions, hot scores and lists, item-CF",
    auth="required",
    role="admin",
    errors=[401, 403],
)
def rebuild_ranking() -> JsonBody:
    return admin_services.rebuild_ranking(current_actor())
