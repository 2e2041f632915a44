"""OpenAPI 3.1 generated from the endpoint registry and its pydantic schemas, plus a docs page."""

from __future__ import annotations

import re
from typing import Any

import swagger_ui_bundle
from flask import Blueprint, Response, current_app, send_from_directory
from pydantic import BaseModel, ValidationError

from app.core.routing import REGISTRY, EndpointSpec

bp = Blueprint("docs", __name__)

ERROR_TEXT = {
    400: "Validation error",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    422: "Semantic error",
    429: "Rate limited",
    503: "A dependency is unavailable",
}

MULTIPART_UPLOAD = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "edits": {"type": "string", "description": "JSON: filter, stickers, tags"},
        "watermark": {"type": "string", "description": "`true` for the personalised watermark"},
    },
}


# What every cursor list says about its paging, written once for all of them.
PAGE_PARAMETERS = {
    "limit": "How many items a page holds.",
    "cursor": "Opaque: the `next_cursor` of the previous page (none for the first page). A "
    "cursor not issued by this list is 400 `invalid_cursor`.",
}
PAGE_RESPONSE = {
    "type": "object",
    "required": ["items", "next_cursor"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object"}},
        "next_cursor": {
            "type": "string",
            "nullable": True,
            "description": "Pass as `cursor` for the next page; null on the last page.",
        },
    },
}


def _path(spec: EndpointSpec) -> str:
    rule = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", spec.blueprint_prefix + spec.rule)
    return rule[len("/api/v1") :] if rule.startswith("/api/v1") else rule


def to_openapi_30(node: Any) -> Any:
    """Pydantic writes JSON Schema 2020-12; the bundled Swagger UI reads OpenAPI 3.0."""
    if isinstance(node, list):
        return [to_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: to_openapi_30(value) for key, value in node.items()}
    options = node.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        node.pop("anyOf")
        if len(rest) == 1 and "$ref" in rest[0]:
            node["allOf"] = rest
        elif len(rest) == 1:
            node.update(rest[0])
        else:
            node["anyOf"] = rest
        node["nullable"] = True
    if "const" in node:
        node["enum"] = [node.pop("const")]
    return node


def _schema_ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = to_openapi_30(model.model_json_schema(ref_template="#/components/schemas/{model}"))
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _error_codes(spec: EndpointSpec) -> set[int]:
    """What the route declares plus what the shared machinery can answer for any route: a bad
    query or body (400), a bad token (401) or a banned account's (403), a muted account's write
    (403), an id that cannot exist (404), a body too large or not JSON (413, 415), a rate
    limit (429)."""
    codes = set(spec.errors) | {400}
    if spec.auth != "none":
        codes |= {401, 403}
    if spec.role or spec.refuses_muted:
        codes.add(403)
    if "<" in spec.rule:
        codes.add(404)
    if spec.body is not None or spec.content_type != "application/json":
        codes |= {413, 415}
    if spec.rate_limit:
        codes.add(429)
    return codes


def _body_required(model: type[BaseModel]) -> bool:
    """An empty body is read as `{}`, so a body is optional when `{}` is valid."""
    try:
        model.model_validate({})
    except ValidationError:
        return True
    return False


def build_document() -> dict[str, Any]:
    components: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "details"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "details": {"type": "object"},
                    },
                }
            },
        }
    }
    paths: dict[str, Any] = {}
    for spec in REGISTRY:
        operation: dict[str, Any] = {
            "summary": spec.summary,
            "tags": [spec.tag],
            "operationId": f"{spec.methods[0].lower()}_{_path(spec)}".replace("/", "_")
            .replace("{", "")
            .replace("}", ""),
            "responses": {},
        }
        params = re.findall(r"<(?:([a-z]+):)?([a-z_]+)>", spec.rule)
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer" if conv == "int" else "string"},
            }
            for conv, name in params
        ]
        if spec.query is not None:
            query_schema = spec.query.model_json_schema()
            for name, prop in query_schema.get("properties", {}).items():
                parameter = {
                    "name": name,
                    "in": "query",
                    "required": name in query_schema.get("required", []),
                    "schema": to_openapi_30(prop),
                }
                if spec.paginated and name in PAGE_PARAMETERS:
                    parameter["description"] = PAGE_PARAMETERS[name]
                parameters.append(parameter)
        if parameters:
            operation["parameters"] = parameters
        if spec.body is not None:
            operation["requestBody"] = {
                "required": _body_required(spec.body),
                "content": {spec.content_type: {"schema": _schema_ref(spec.body, components)}},
            }
        elif spec.content_type == "multipart/form-data":
            operation["requestBody"] = {
                "required": True,
                "content": {"multipart/form-data": {"schema": MULTIPART_UPLOAD}},
            }
        ok: dict[str, Any] = {"description": "OK"}
        if spec.response is not None:
            ok["content"] = {"application/json": {"schema": _schema_ref(spec.response, components)}}
        elif spec.paginated:
            components["CursorPage"] = PAGE_RESPONSE
            ok["content"] = {
                "application/json": {"schema": {"$ref": "#/components/schemas/CursorPage"}}
            }
        operation["responses"][str(spec.status)] = ok
        for status in spec.also:
            operation["responses"][str(status)] = ok
        if spec.auth == "required":
            operation["security"] = [{"bearer": []}]
        elif spec.auth == "optional":
            operation["security"] = [{}, {"bearer": []}]
        if spec.role:
            operation["description"] = f"Requires the `{spec.role}` role."
        for code in sorted(_error_codes(spec)):
            operation["responses"][str(code)] = {
                "description": ERROR_TEXT.get(code, "Error"),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        path_item = paths.setdefault(_path(spec), {})
        path_item[spec.methods[0].lower()] = operation
        if not (spec.blueprint_prefix + spec.rule).startswith("/api/v1"):
            path_item["servers"] = [{"url": "/"}]  # e.g. share links live at the root
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Sprout API",
            "version": "1.0.0",
            "description": "A Xiaohongshu-style UGC community: image notes, waterfall feeds, "
            "follows, search, growth and moderation. Errors use one envelope: "
            '`{"error": {"code", "message", "details"}}`.',
        },
        "servers": [{"url": "/api/v1"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@bp.get("/api/v1/openapi.json")
def openapi_json() -> dict[str, Any]:
    cached = current_app.extensions.get("sprout.openapi")
    if cached is None:
        cached = current_app.extensions["sprout.openapi"] = build_document()
    return cached


DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Sprout API</title>
<link rel="stylesheet" href="/api/v1/docs/static/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/api/v1/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/api/v1/openapi.json", dom_id: "#ui"});</script>
</body></html>"""


@bp.get("/api/v1/docs")
def docs_page() -> Response:
    return Response(DOCS_PAGE, mimetype="text/html")


@bp.get("/api/v1/docs/static/<path:filename>")
def docs_static(filename: str) -> Response:
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)
