"""HTTP handlers of the creators domain: KOL/KOC candidates and verification."""

from __future__ import annotations

from flask import Blueprint

from app.accounts.models import User
from app.core.pagination import ID_CURSOR, Cursor, Int, Number, PageRequest, PageResult
from app.core.presenters import iso, user_view
from app.core.routing import JsonBody, current_actor, endpoint
from app.creators import services as creators
from app.creators.models import CreatorVerification
from app.creators.schemas import (
    CandidatePage,
    CreatorsQuery,
    DecisionIn,
    MyVerificationOut,
    VerificationIn,
    VerificationOut,
    VerificationPage,
    VerificationsQuery,
)
from app.media.models import Image

bp = Blueprint("creators", __name__, url_prefix="/api/v1")

#: Candidates page by (score, user id), best first.
SCORE_CURSOR = Cursor(Number(), Int())


def _actor() -> User:
    actor = current_actor()
    assert actor is not None  # auth="required"
    return actor


def verification_view(
    row: CreatorVerification, user: User | None, avatars: dict[int, Image]
) -> JsonBody:
    return {
        "id": row.id,
        "user": user_view(user, avatars.get(user.avatar_image_id or 0)) if user else None,
        "category": row.category,
        "label": row.label,
        "statement": row.statement,
        "status": row.status,
        "decision_note": row.decision_note,
        "decided_by": row.decided_by_id,
        "decided_at": iso(row.decided_at),
        "revoked_at": iso(row.revoked_at),
        "created_at": iso(row.created_at),
    }


@endpoint(
    bp,
    "/editor/creators",
    "GET",
    summary="KOL/KOC candidates with their score, the numbers behind it and the reasons (editor)",
    query=CreatorsQuery,
    response=CandidatePage,
    auth="required",
    role="editor",
    errors=[400, 401, 403],
    paginated=SCORE_CURSOR,
)
def list_candidates(query: CreatorsQuery, page: PageRequest) -> PageResult[JsonBody]:
    found = creators.rank_creators(_actor(), page, channel=query.channel, tier=query.tier)
    return found.page.map(
        lambda c: {
            "user": user_view(
                found.users[c.user_id],
                found.avatars.get(found.users[c.user_id].avatar_image_id or 0),
            ),
            "tier": c.tier,
            "score": c.score,
            "metrics": c.metrics,
            "reasons": c.reasons,
        }
    ).with_fields(window_days=found.window_days, channel=found.channel)


@endpoint(
    bp,
    "/me/verification",
    "POST",
    summary="Ask to be verified (认证加V) in a category; one pending request at a time",
    body=VerificationIn,
    response=VerificationOut,
    status=201,
    auth="required",
    errors=[400, 401, 403, 409, 415],
)
def request_verification(body: VerificationIn) -> JsonBody:
    actor = _actor()
    row = creators.request_verification(actor, body.category, body.statement)
    return verification_view(row, actor, {})


@endpoint(
    bp,
    "/me/verification",
    "GET",
    summary="One's verification: the latest request, its status and the badge held",
    response=MyVerificationOut,
    auth="required",
    errors=[401],
)
def my_verification() -> JsonBody:
    actor = _actor()
    mine = creators.my_verification(actor)
    return {
        "status": mine.latest.status if mine.latest else "none",
        "verified": actor.verified,
        "verification": (
            {"category": mine.badge.category, "label": mine.badge.label} if mine.badge else None
        ),
        "request": verification_view(mine.latest, actor, {}) if mine.latest else None,
        "categories": creators.categories(),
    }


@endpoint(
    bp,
    "/editor/verifications",
    "GET",
    summary="Verification requests in a state (default pending), oldest first (editor)",
    query=VerificationsQuery,
    response=VerificationPage,
    auth="required",
    role="editor",
    errors=[400, 401, 403],
    paginated=ID_CURSOR,
)
def list_verifications(query: VerificationsQuery, page: PageRequest) -> PageResult[JsonBody]:
    found = creators.list_verifications(_actor(), query.status, page)
    return found.page.map(
        lambda row: verification_view(row, found.users.get(row.user_id), found.avatars)
    )


@endpoint(
    bp,
    "/editor/verifications/<int:verification_id>/decision",
    "POST",
    summary="Approve or refuse a pending request, or revoke an approved one (editor)",
    body=DecisionIn,
    response=VerificationOut,
    auth="required",
    role="editor",
    errors=[400, 401, 403, 404, 409, 415],
)
def decide_verification(verification_id: int, body: DecisionIn) -> JsonBody:
    row, user, avatars = creators.decide_verification(
        _actor(), verification_id, body.outcome, body.note
    )
    return verification_view(row, user, avatars)


@endpoint(
    bp,
    "/editor/verifications/<int:verification_id>",
    "DELETE",
    summary="Revoke an approved verification: the badge goes (editor)",
    response=VerificationOut,
    auth="required",
    role="editor",
    errors=[401, 403, 404, 409],
)
def revoke_verification(verification_id: int) -> JsonBody:
    row, user, avatars = creators.decide_verification(_actor(), verification_id, "revoke")
    return verification_view(row, user, avatars)
