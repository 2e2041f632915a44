"""The one way a route is declared: parse, authenticate, rate-limit, call, serialise.

`endpoint(...)` records what it declares, so the OpenAPI document is generated from the same
schemas that validate requests. A list declares its cursor (`paginated=`): the helper reads
`limit` and `cursor`, hands the handler a typed `PageRequest`, and writes the `PageResult` it
gets back as `{"items", "next_cursor", ...}`, so no handler touches the cursor codec.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

import orjson
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from pydantic import BaseModel, ValidationError

from app.accounts.models import User
from app.core.errors import Forbidden, Unauthorized, UnsupportedMedia, ValidationFailed
from app.core.extensions import db, rate_limiter
from app.core.pagination import Cursor, PageResult
from app.core.schemas import Page, load_json

AuthMode = Literal["required", "optional", "none"]
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

JsonBody = dict[str, Any]
"""A JSON object answer; handlers return it, a `PageResult` of them for lists, None for 204,
or a `Response` of their own (a redirect)."""


class RawJson(bytes):
    """JSON already serialised (cards kept as bytes): an answer, or a page's `items` array,
    sent as it is instead of being decoded and encoded again."""


Reply = JsonBody | RawJson | PageResult[JsonBody] | PageResult[Any] | Response | None

# A list's cursor codec, or a choice of codec by the parsed query (e.g. `sort=hot|new`).
CursorSpec = Cursor | Callable[[Any], Cursor]


@dataclass
class EndpointSpec:
    rule: str
    methods: list[str]
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    auth: AuthMode
    role: str | None
    errors: list[int] = field(default_factory=list)
    content_type: str = "application/json"
    blueprint_prefix: str = ""
    rate_limit: str | None = None  # the limit it counts against (429), if any
    refuses_muted: bool = False  # a write a muted account is refused (403 `account_muted`)
    paginated: bool = False  # a cursor list: `limit`, `cursor` in, `items`, `next_cursor` out
    # other success statuses with the same body (200 when a POST finds what it would make)
    also: tuple[int, ...] = ()


REGISTRY: list[EndpointSpec] = []


class Mute(Protocol):
    until: datetime | None
    reason_code: str


@dataclass(frozen=True)
class Gatekeeping:
    """What the endpoint helper asks of the domains, handed over by `create_app`: whose a
    bearer token is (accounts; raises 401 when it is invalid) and the mute in force
    on an account (moderation). Core stays below the domains that answer."""

    identify: Callable[[str], int]  # the user id behind a token (401/403 otherwise)
    current_mute: Callable[[int], Mute | None]


def init_app(app: Flask, gatekeeping: Gatekeeping) -> None:
    app.extensions["sprout.gatekeeping"] = gatekeeping


def _gatekeeping() -> Gatekeeping:
    return current_app.extensions["sprout.gatekeeping"]


def current_actor() -> User | None:
    """The signed-in user, loaded on first use: the hot reads need only `current_actor_id`."""
    actor = getattr(g, "actor", None)
    if actor is None and getattr(g, "actor_id", None) is not None:
        actor = g.actor = db.session.get(User, g.actor_id)
        if actor is None:  # deleted since the token was read
            raise Unauthorized("The token is missing, expired or revoked.", code="invalid_token")
    return actor


def current_actor_id() -> int | None:
    return getattr(g, "actor_id", None)


@runtime_checkable
class HasId(Protocol):
    """Who a read is for, where only the id matters (feeds, experiment arms): a `User` or
    a `Viewer` both serve."""

    @property
    def id(self) -> int: ...


@dataclass(frozen=True)
class Viewer:
    """The signed-in user as the feeds' reads need them: the id. Loading the whole user
    (`current_actor`) costs a query those reads do without."""

    id: int


def current_viewer() -> Viewer | None:
    actor_id = current_actor_id()
    return Viewer(actor_id) if actor_id is not None else None


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _resolve_actor(auth: AuthMode) -> None:
    g.actor = g.actor_id = None
    token = bearer_token()
    if token is None:
        if auth == "required":
            raise Unauthorized("Sign in first: send `Authorization: Bearer <token>`.")
        return
    if auth != "none":
        g.actor_id = _gatekeeping().identify(token)


def _refuse_if_muted(actor_id: int | None) -> None:
    if actor_id is None:
        return
    mute = _gatekeeping().current_mute(actor_id)
    if mute is not None:
        until = mute.until.isoformat().replace("+00:00", "Z") if mute.until else None
        raise Forbidden(
            "This account is muted" + (f" until {until}." if until else " permanently."),
            code="account_muted",
            details={"reason": mute.reason_code, "until": until},
        )


def client_ip() -> str:
    return request.remote_addr or "unknown"


def _pydantic_details(exc: ValidationError) -> dict[str, Any]:
    return {
        "fields": [
            {
                "field": ".".join(str(part) for part in err["loc"]) or "body",
                "message": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors(include_url=False, include_input=False)
        ]
    }


def parse_json_body(model: type[BaseModel]) -> BaseModel:
    """An empty body is `{}`; any other must be a JSON object sent as `application/json`
    (415 otherwise, as API.md says), at most `MAX_JSON_DEPTH` levels deep."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        payload: Any = {}
    else:
        if not request.is_json:
            raise UnsupportedMedia(
                "Send the body as JSON with `Content-Type: application/json`.",
                details={"content_type": request.mimetype or None},
            )
        try:
            payload = load_json(raw)
        except ValueError as exc:  # UnicodeDecodeError included
            raise ValidationFailed(
                "The body is not valid JSON.",
                code="malformed_json",
                details={"reason": str(exc)[:200]},
            ) from exc
    if not isinstance(payload, dict):
        raise ValidationFailed("The body must be a JSON object.", code="malformed_json")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise ValidationFailed("The request is not valid.", details=_pydantic_details(exc)) from exc


def parse_query(model: type[BaseModel]) -> BaseModel:
    values: dict[str, Any] = {}
    for key in request.args:
        items = request.args.getlist(key)
        values[key] = items if len(items) > 1 else items[0]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ValidationFailed(
            "The query parameters are not valid.", details=_pydantic_details(exc)
        ) from exc


def _cursor_for(spec: CursorSpec, query: Any) -> Cursor:
    return spec if isinstance(spec, Cursor) else spec(query)


def page_body(result: PageResult[Any], cursor: Cursor) -> JsonBody:
    """The one JSON shape of a list page."""
    return {"items": result.items, "next_cursor": cursor.next_cursor(result), **result.fields}


def raw_page_body(result: PageResult[Any], cursor: Cursor) -> RawJson:
    """`page_body` for a page whose items are a serialised array (`RawJson`)."""
    rest = orjson.dumps({"next_cursor": cursor.next_cursor(result), **result.fields})
    return RawJson(b'{"items":%b,%b' % (result.items, rest[1:]))


def endpoint(
    bp: Blueprint,
    rule: str,
    method: str,
    *,
    summary: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    also: tuple[int, ...] = (),
    auth: AuthMode = "optional",
    role: str | None = None,
    rate_limit: str | None = None,
    content_type: str = "application/json",
    errors: list[int] | None = None,
    allow_muted: bool = False,
    paginated: CursorSpec | None = None,
) -> Callable[[Callable[..., Reply]], Callable[..., Response]]:
    """Declare a route. Writes by signed-in users count against the `write` limit by default
    and are refused to muted users (403 `account_muted`) unless `allow_muted` (signing out,
    appealing).

    `paginated` makes it a cursor list: the query (`Page` unless a `Page` subclass is given)
    is parsed, its cursor decoded with that codec (400 `invalid_cursor` when tampered), and
    the handler gets `page: PageRequest`, and `query` only when one was declared."""
    limit_name = rate_limit
    if limit_name is None and method in WRITE_METHODS and auth == "required":
        limit_name = "write"
    query_model = query
    if paginated is not None:
        query_model = query or Page
        if not issubclass(query_model, Page):
            raise TypeError(f"{rule}: a paginated query extends Page (`limit`, `cursor`)")

    def decorate(fn: Callable[..., Reply]) -> Callable[..., Response]:
        spec = EndpointSpec(
            rule=rule,
            methods=[method],
            summary=summary,
            tag=bp.name,
            body=body,
            query=query_model,
            response=response,
            status=status,
            also=also,
            auth=auth,
            role=role,
            errors=errors or [],
            content_type=content_type,
            blueprint_prefix=bp.url_prefix or "",
            rate_limit=limit_name,
            refuses_muted=method in WRITE_METHODS and not allow_muted and auth != "none",
            paginated=paginated is not None,
        )
        REGISTRY.append(spec)

        @functools.wraps(fn)
        def view(**kwargs: Any) -> Response:
            if method == "GET":
                db.read_only()
            _resolve_actor(auth)
            if method in WRITE_METHODS and not allow_muted:
                _refuse_if_muted(current_actor_id())
            if limit_name is not None:
                actor_id = current_actor_id()
                identity = f"user:{actor_id}" if actor_id else f"ip:{client_ip()}"
                rate_limiter().hit(limit_name, identity)
            if body is not None:
                kwargs["body"] = parse_json_body(body)
            cursor: Cursor | None = None
            if query_model is not None:
                parsed = parse_query(query_model)
                if query is not None:
                    kwargs["query"] = parsed
                if paginated is not None:
                    assert isinstance(parsed, Page)
                    cursor = _cursor_for(paginated, parsed)
                    kwargs["page"] = cursor.request(parsed.limit, parsed.cursor)
            result = fn(**kwargs)
            if isinstance(result, Response):
                return result
            if result is None:
                return Response(status=204)
            if isinstance(result, PageResult):
                if cursor is None:
                    raise TypeError(f"{rule}: a page returned from a route without `paginated`")
                if isinstance(result.items, RawJson):
                    result = raw_page_body(result, cursor)
                else:
                    result = page_body(result, cursor)
            if isinstance(result, RawJson):
                return Response(bytes(result), status=status, mimetype="application/json")
            response_obj = jsonify(result)
            response_obj.status_code = status
            return response_obj

        bp.add_url_rule(
            rule, endpoint=f"{fn.__name__}_{method.lower()}", view_func=view, methods=[method]
        )
        return view

    return decorate
