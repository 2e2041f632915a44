"""Editorial pages: picks on a timeline, boosts, previews, campaigns, search curation."""

from __future__ import annotations

from flask import Response
from flask_babel import gettext as _

from app.console.blueprint import bp, page, staff_page


@bp.route("/editorial")
@staff_page("editor")
def editorial_home() -> Response:
    return page("console/section.html", title=_("Editorial"))
