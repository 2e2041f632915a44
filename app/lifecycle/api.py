"""HTTP handlers of the lifecycle domain: stages, recall campaigns, retention cohorts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.core.pagination import ID_CURSOR, PageRequest, PageResult
from app.core.routing import JsonBody, current_actor, endpoint
from app.lifecycle import services as lifecycle
from app.lifecycle.models import RecallCampaign
from app.lifecycle.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignPage,
    CampaignReportOut,
    LifecycleOut,
    RecomputeOut,
    RetentionOut,
    RetentionQuery,
)

bp = Blueprint("lifecycle", __name__, url_prefix="/api/v1")


def campaign_view(campaign: RecallCampaign, counts: dict[str, int]) -> JsonBody:
    return {
        "id": campaign.id,
        "stage": campaign.stage,
        "title": campaign.title,
        "message": campaign.message,
        "holdout_share": campaign.holdout_share,
        "status": campaign.status,
        "starts_at": campaign.starts_at,
        "targeted_at": campaign.targeted_at,
        "finished_at": campaign.finished_at,
        "created_by": campaign.created_by_id,
        "created_at": campaign.created_at,
        "counts": counts,
    }


@endpoint(
    bp,
    "/admin/lifecycle",
    "GET",
    summary="Users by lifecycle stage (new, active, at_risk, churned, returned), overall and "
    "per sign-up source, as the daily recompute last found them (editors and admins)",
    response=LifecycleOut,
    auth="required",
    role="editor",
    errors=[401, 403],
)
def lifecycle_overview() -> JsonBody:
    return lifecycle.lifecycle_overview(current_actor())


@endpoint(
    bp,
    "/admin/lifecycle/recompute",
    "POST",
    summary="Recompute every user's stage now, as the daily job does (admin)",
    response=RecomputeOut,
    auth="required",
    role="admin",
    errors=[401, 403],
)
def recompute_lifecycle() -> JsonBody:
    return lifecycle.recompute_now(current_actor())


@endpoint(
    bp,
    "/admin/recall-campaigns",
    "POST",
    summary="Recall the users in a stage: each gets notes picked for them by the ranking, as "
    "a notification and a push, except a random holdout (admin)",
    body=CampaignIn,
    response=CampaignOut,
    status=201,
    auth="required",
    role="admin",
    errors=[400, 401, 403, 415],
)
def create_campaign(body: CampaignIn) -> JsonBody:
    campaign = lifecycle.create_campaign(current_actor(), body)
    return campaign_view(campaign, lifecycle.campaign_counts(campaign.id))


@endpoint(
    bp,
    "/admin/recall-campaigns",
    "GET",
    summary="Recall campaigns, newest first, with their counts (admin)",
    response=CampaignPage,
    auth="required",
    role="admin",
    errors=[400, 401, 403],
    paginated=ID_CURSOR,
)
def list_campaigns(page: PageRequest) -> PageResult[JsonBody]:
    def view(row: tuple[RecallCampaign, dict[str, int]]) -> JsonBody:
        return campaign_view(*row)

    return lifecycle.list_campaigns(current_actor(), page).map(view)


@endpoint(
    bp,
    "/admin/recall-campaigns/<int:campaign_id>",
    "GET",
    summary="A recall campaign's report: targeted, treated, holdout, muted, skipped, and the "
    "return rate within 7 days of the send, treated against holdout, with the difference "
    "and its 95% interval (admin)",
    response=CampaignReportOut,
    auth="required",
    role="admin",
    errors=[401, 403, 404],
)
def campaign_report(campaign_id: int) -> JsonBody:
    campaign, report = lifecycle.campaign_report(current_actor(), campaign_id)
    counts: Any = report.pop("counts")
    return {**campaign_view(campaign, counts), **report}


@endpoint(
    bp,
    "/admin/stats/retention",
    "GET",
    summary="Weekly (ISO week) sign-up cohorts and the share of each active (a visit) in "
    "every later week; `by=source` splits them by sign-up source (admin)",
    query=RetentionQuery,
    response=RetentionOut,
    auth="required",
    role="admin",
    errors=[400, 401, 403],
)
def retention(query: RetentionQuery) -> JsonBody:
    return lifecycle.retention(current_actor(), query.by, query.weeks)
