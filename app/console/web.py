"""Sign-in, sign-out, the console's home and the language switch; importing this module
adds every section's pages to the blueprint."""

from __future__ import annotations

from flask import Response, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.accounts.models import User
from app.console import dashboard, editorial, moderation, users  # noqa: F401  (their routes)
from app.console.blueprint import (
    LANGUAGE_COOKIE,
    LANGUAGES,
    bp,
    console_user,
    current_language,
    page,
    safe_next,
)
from app.console.session import sign_in, sign_out
from app.core.errors import AppError

#: The sections in the navigation: (endpoint, label, roles that may open it).
SECTIONS = (
    ("console.moderation_queue", _l("Moderation"), ("moderator",)),
    ("console.editorial_home", _l("Editorial"), ("editor",)),
    ("console.dashboard", _l("Dashboard"), ("admin",)),
    ("console.users_home", _l("Users"), ("moderator", "admin")),
)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


def sections_for(user: User | None) -> list[tuple[str, str]]:
    """The sections this account may open (the navigation shows only those)."""
    if user is None:
        return []
    return [
        (endpoint, str(label))
        for endpoint, label, roles in SECTIONS
        if any(user.has_role(role) for role in roles)
    ]


@bp.app_context_processor
def _navigation() -> dict[str, object]:
    return {
        "console_sections": sections_for,
        "console_languages": LANGUAGES,
        "lang": current_language(),
    }


@bp.route("/")
def home() -> Response:
    user = console_user()
    if user is None:
        return redirect(url_for("console.login"))
    mine = sections_for(user)
    if len(mine) == 1:
        return redirect(url_for(mine[0][0]))
    return page("console/home.html", title=_("Console"), sections=mine)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    form = LoginForm()
    target = safe_next(request.values.get("next"), url_for("console.home"))
    error = None
    if form.validate_on_submit():
        try:
            sign_in(form.username.data or "", form.password.data or "")
        except AppError as exc:
            error = {
                "invalid_credentials": _("Wrong username or password."),
                "account_banned": _("This account is banned."),
                "rate_limited": _("Too many attempts. Wait a moment and try again."),
            }.get(exc.code, exc.message)
        else:
            return redirect(target, code=303)
    status = 400 if request.method == "POST" else 200
    return page(
        "console/login.html", status=status, title=_("Sign in"), form=form, error=error, next=target
    )


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    sign_out()
    return redirect(url_for("console.login"), code=303)


@bp.route("/lang/<code>")
def language(code: str) -> Response:
    """Switch the console's language (a preference cookie; nothing else changes)."""
    target = safe_next(request.args.get("next"), url_for("console.home"))
    response = redirect(target)
    if code in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, code, max_age=365 * 86400, path="/console", samesite="Lax"
        )
    return response
