"""Moderation routes (so far the reason taxonomy and the keyword list)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.api.presenters import iso
from app.api.routing import current_actor, endpoint
from moderation import keywords
from moderation.schemas import KeywordIn
from moderation.taxonomy import taxonomy

bp = Blueprint("moderation", __name__, url_prefix="/api/v1")


@endpoint(
    bp,
    "/report-reasons",
    "GET",
    summary="The report-reason taxonomy: nine categories, their reasons with codes, zh/en "
    "labels and severity, and the aggravating circumstances",
)
def report_reasons() -> Any:
    data = taxonomy()
    return {
        "categories": [
            {
                "code": category["code"],
                "zh": category["zh"],
                "en": category["en"],
                "severity": category["severity"],
                "reasons": [
                    {
                        "code": reason["code"],
                        "zh": reason["zh"],
                        "en": reason["en"],
                        "aggravating": reason.get("aggravating", []),
                    }
                    for reason in category["reasons"]
                ],
            }
            for category in data.categories
        ],
        "aggravating": list(data.aggravating.values()),
        "penalty_ladder": list(data.ladder),
    }


def _view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "word": row.display,
        "normalized": row.word,
        "action": row.action,
        "category": row.category,
        "created_at": iso(row.created_at),
    }


@endpoint(
    bp,
    "/moderation/keywords",
    "GET",
    summary="The filtered-word list (moderator)",
    auth="required",
    role="moderator",
    errors=[401, 403],
)
def list_keywords() -> Any:
    return {"items": [_view(row) for row in keywords.list_keywords(current_actor())]}


@endpoint(
    bp,
    "/moderation/keywords",
    "POST",
    summary="Add a filtered word: `action` review, block, or allow (an ordinary word that "
    "runs across a keyword) (moderator)",
    body=KeywordIn,
    status=201,
    auth="required",
    role="moderator",
    errors=[400, 401, 403, 409],
)
def add_keyword(body: KeywordIn) -> Any:
    row = keywords.add_keyword(current_actor(), body.word, body.action, body.category)
    return _view(row)


@endpoint(
    bp,
    "/moderation/keywords/<int:keyword_id>",
    "DELETE",
    summary="Remove a filtered word (moderator)",
    auth="required",
    role="moderator",
    errors=[401, 403, 404],
)
def delete_keyword(keyword_id: int) -> Any:
    keywords.delete_keyword(current_actor(), keyword_id)
    return None
