"""User administration: find a user, roles, penalties, points."""

from __future__ import annotations

from flask import Response
from flask_babel import gettext as _

from app.console.blueprint import bp, page, staff_page


@bp.route("/users")
@staff_page("moderator", "admin")
def users_home() -> Response:
    return page("console/section.html", title=_("Users"))
