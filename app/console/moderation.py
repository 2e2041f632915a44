"""Moderation pages: the queue, cases, decisions, appeals, keywords, the audit log."""

from __future__ import annotations

from flask import Response
from flask_babel import gettext as _

from app.console.blueprint import bp, page, staff_page


@bp.route("/moderation")
@staff_page("moderator")
def moderation_queue() -> Response:
    return page("console/section.html", title=_("Moderation"))
