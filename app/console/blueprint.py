"""The console's blueprint and what every page shares: who is signed in, the role check,
CSRF on every form, the security headers, the language.

Sections (`moderation`, `editorial`, `dashboard`, `users`) add their routes to `bp` with
`@bp.route` and `@staff_page(role)`; `app.console.web` imports them all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel, refresh
from flask_wtf.csrf import CSRFError, CSRFProtect

from app.accounts.models import User
from app.core.errors import AppError

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

csrf = CSRFProtect()
babel = Babel()

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANGUAGE_COOKIE = "sprout_console_lang"
#: Each part of the console keeps its own catalogue (`translations/<part>/zh/...`), merged
#: by Flask-Babel, so sections can be translated independently.
TRANSLATIONS = Path(__file__).parent / "translations"

#: No inline script or style anywhere: htmx is a static file, charts are images.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

P = ParamSpec("P")
R = TypeVar("R")


class _ConsoleSessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over TLS (the API never uses
    the session: it is the console's alone)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


@bp.record_once
def _init(state: Any) -> None:
    app: Flask = state.app
    settings = app.config["SPROUT"]
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False,  # the JSON API uses bearer tokens; the console checks
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        SESSION_COOKIE_NAME="sprout_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/console",
        PERMANENT_SESSION_LIFETIME=12 * 3600,
    )
    app.session_interface = _ConsoleSessionInterface()
    csrf.init_app(app)
    directories = sorted(str(p) for p in TRANSLATIONS.iterdir() if p.is_dir())
    babel.init_app(
        app,
        locale_selector=current_language,
        default_locale=DEFAULT_LANGUAGE,
        default_timezone=settings.console_timezone,
        default_translation_directories=";".join(directories) or "translations",
    )


def current_language() -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


@bp.before_request
def _before() -> Response | None:
    """Every console request: who is signed in (their token still valid: sign-out, bans and
    revocations apply at once), and CSRF on anything that changes state."""
    from app.console.session import signed_in_user

    refresh()  # the language is the request's own (a test's shared context included)
    g.console_user = signed_in_user()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def console_user() -> User | None:
    return g.get("console_user")


def staff_actor() -> User:
    """The signed-in account, inside a `staff_page` (which let only signed-in staff in)."""
    user = console_user()
    assert user is not None
    return user


def display_names(user_ids: Iterable[int | None]) -> dict[int, str]:
    """Who did it: nickname (else username) per account id, in one query."""
    from sqlalchemy import select

    from app.core.extensions import db
    from app.core.sql import id_in

    ids = list({i for i in user_ids if i is not None})
    if not ids:
        return {}
    rows = db.session.execute(
        select(User.id, User.username, User.nickname).where(id_in(User.id, ids))
    )
    return {row.id: row.nickname or row.username for row in rows}


def staff_page(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """The page needs a signed-in account with one of `roles` (admin has them all):
    anonymous visitors go to the sign-in form, anyone else gets a 403 page with nothing of
    the staff data."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R | Response]:
        @functools.wraps(fn)
        def view(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            user = console_user()
            if user is None:
                return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
            if not any(user.has_role(role) for role in roles):
                return forbidden_page()
            return fn(*args, **kwargs)

        view.console_roles = roles  # type: ignore[attr-defined]
        return view

    return decorate


def forbidden_page() -> Response:
    from flask_babel import gettext as _

    return page(
        "console/error.html",
        status=403,
        title=_("Not allowed"),
        message=_("Your account does not have access to this page."),
    )


def page(template: str, *, status: int = 200, **context: Any) -> Response:
    """Render a console page (the navigation knows who is signed in)."""
    response = Response(render_template(template, user=console_user(), **context))
    response.status_code = status
    return response


def safe_next(target: str | None, default: str) -> str:
    """Only a path inside the console: never an open redirect to another site."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console"):
        return default
    return target


def back(default_endpoint: str, **values: Any) -> Response:
    """After a form: to the page it was posted from (the `next` field), else `default`."""
    target = safe_next(request.form.get("next"), url_for(default_endpoint, **values))
    return redirect(target, code=303)


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> Response:
    from flask_babel import gettext as _

    return page(
        "console/error.html",
        status=400,
        title=_("The form expired"),
        message=_("The form was sent without its security token. Reload the page and try again."),
    )


@bp.errorhandler(AppError)
def _app_error(exc: AppError) -> Response:
    """A service refused (not allowed, not found, invalid): the same page, with its message."""
    from flask_babel import gettext as _

    from app.console.errors import explain
    from app.core.extensions import db

    db.session.rollback()
    message, detail = explain(exc)
    return page(
        "console/error.html",
        status=exc.status,
        title=_("That did not work"),
        message=message,
        detail=detail,
        code=exc.code,
    )
