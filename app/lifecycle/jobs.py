"""The lifecycle domain's jobs: the daily stage recompute, a campaign's delivery, and the
periodic look for campaigns whose start has come. `app.schedule` lists the periodic ones;
their names are what RQ and outbox rows refer to (`app.lifecycle.jobs:<name>`): keep them."""

from __future__ import annotations

from typing import Any

from app.core.jobs import enqueue, job
from app.lifecycle import delivery, stages


@job("low", durable=False)
def recompute_lifecycle() -> dict[str, Any]:
    """Every user's stage, in batches; a rerun the same day changes nothing."""
    return stages.recompute()


@job("notifications")
def deliver_recall_campaign(campaign_id: int) -> dict[str, Any]:
    """One bounded run of the campaign's delivery; enqueues itself again while recipients
    remain. Idempotent: each recipient is decided once, whatever runs it."""
    result = delivery.run(campaign_id)
    if result.get("remaining"):
        enqueue(deliver_recall_campaign, campaign_id)
    return result


@job("low", durable=False)
def start_due_recall_campaigns() -> dict[str, Any]:
    """Run (one bounded run each) the campaigns whose `starts_at` has passed and that are
    not sent yet: scheduled ones start, interrupted ones go on."""
    results = [delivery.run(campaign_id) for campaign_id in delivery.due_campaigns()]
    for result in results:
        if result.get("remaining"):
            enqueue(deliver_recall_campaign, result["campaign_id"])
    return {"campaigns": len(results), "decided": sum(r.get("decided", 0) for r in results)}
