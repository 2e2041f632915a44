"""The operators' dashboard: activity, sign-ups, content and moderation health as charts."""

from __future__ import annotations

from flask import Response
from flask_babel import gettext as _

from app.console.blueprint import bp, page, staff_page


@bp.route("/dashboard")
@staff_page("admin")
def dashboard() -> Response:
    return page("console/section.html", title=_("Dashboard"))
