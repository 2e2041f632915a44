"""The Sprout service. `create_app(settings)` is the one place where things are wired."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from app.core import jobs
from app.core.config import Settings, load_settings
from app.core.errors import AppError
from app.core.extensions import RateLimiter, db, init_redis
from app.core.json_provider import OrjsonProvider

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    503: "service_unavailable",
}


def _error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(exc: AppError) -> Response:
        from app.core.extensions import db as database

        database.session.rollback()
        return _error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response:
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return _error_response(
            413, "payload_too_large", "The request body is too large.", {"max_bytes": limit}
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        """The envelope instead of werkzeug's HTML, keeping the exception's own headers (a
        405's `Allow`, a 401's `WWW-Authenticate`)."""
        status = exc.code or 500
        headers = {
            key: value
            for key, value in exc.get_headers(request.environ)
            if key.lower() != "content-type"
        }
        return _error_response(
            status, HTTP_CODES.get(status, "http_error"), exc.description or exc.name, None, headers
        )

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError) -> Response:
        return _error_response(
            400,
            "validation_error",
            "The request is not valid.",
            {"errors": exc.errors(include_url=False, include_input=False)},
        )

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError) -> Response:
        """A dropped or refused database connection is a dependency outage (503, retry),
        not a bug; the pool replaces the connection for the next request."""
        from app.core.extensions import db as database

        database.session.rollback()
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
            return _error_response(
                503,
                "database_unavailable",
                "The database is unavailable; try again shortly.",
                headers={"Retry-After": "1"},
            )
        return _unexpected(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        from app.core.extensions import db as database

        database.session.rollback()
        return _error_response(500, "internal_error", "Something went wrong on our side.")


class IdConverter(IntegerConverter):
    """`<int:…>` in our routes matches only ids that can exist (1 to 2**31 - 1, `MAX_ID`: the
    id columns are 32-bit): anything else is a 404 from routing, so the database never sees
    an out-of-range integer. A regex, not min/max: werkzeug answers a converter's rejection
    with 405 when another method's rule shares the path."""

    regex = (
        r"(?:[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}"
        r"|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}"
        r"|21474836[0-3][0-9]|214748364[0-7])"
    )


def register_blueprints(app: Flask) -> None:
    from app.blueprints import blueprint_modules

    for module in blueprint_modules():
        app.register_blueprint(module.bp)


def register_moderation_hooks(app: Flask) -> None:
    """What moderation's decisions set off in the domains that own it (`moderation.hooks`)."""
    from app.accounts.services import account_status_changed, revoke_all_tokens
    from app.notes.services import moderated
    from app.notifications.jobs import notify_system
    from moderation import ModerationHooks, register_hooks

    register_hooks(
        app,
        ModerationHooks(
            published_changed=moderated.published_changed,
            content_changed=moderated.content_changed,
            account_banned=revoke_all_tokens,
            account_status_changed=account_status_changed,
            notify=notify_system,
            engagement_counted=moderated.engagement_counted,
            engagement_removed=moderated.engagement_removed,
        ),
    )


def register_gatekeeping(app: Flask) -> None:
    """What core's request machinery asks of the domains: who holds a token, whether an
    account is muted, and how the search backend is doing (`/readyz`)."""
    from app.accounts.services import identify
    from app.core import health, routing
    from app.search.engine import get_search
    from moderation import current_mute

    routing.init_app(app, routing.Gatekeeping(identify=identify, current_mute=current_mute))
    health.init_app(app, {"search": lambda: get_search().health()})


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    settings = settings or load_settings()
    if overrides:
        settings = settings.with_overrides(**overrides)
    app = Flask(__name__)
    app.config["SPROUT"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    # Multipart overhead on top of the largest accepted image.
    app.config["MAX_CONTENT_LENGTH"] = settings.upload_max_bytes + 64 * 1024
    app.json = OrjsonProvider(app)
    app.url_map.strict_slashes = False
    app.url_map.converters["int"] = IdConverter

    db.init_app(app, settings)
    init_redis(app, settings)
    app.extensions["sprout.limiter"] = RateLimiter(settings)
    register_error_handlers(app)
    from app.core.jobs import outbox
    from app.media.jobs import repair_stuck_images, repair_unread_pictures
    from app.search.jobs import repair_unindexed_notes

    outbox.init_app(
        app, repairs=[repair_stuck_images, repair_unread_pictures, repair_unindexed_notes]
    )
    from app.media.jobs import on_text_read
    from app.notes.services.moderated import picture_text_read

    on_text_read(app, picture_text_read)  # notes are screened and reindexed on picture text
    register_moderation_hooks(app)
    register_gatekeeping(app)
    register_blueprints(app)
    from app import cli

    cli.init_app(app)
    return app


jobs.set_app_factory(create_app)
