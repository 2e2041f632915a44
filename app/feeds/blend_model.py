"""The learned blend (`ranking.learn`): fitted by a periodic job on the deployment's
engagement events, stored as the ranking model `blend` (its parameters as JSON) and read by
every process through the model cache (`FeedsState.blend`)."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

from app.core.jobs import job
from app.core.models import utcnow
from app.feeds.ranking_data import engagement_events, note_features, store_model
from app.feeds.state import feeds_state
from ranking.learn import BlendParams, dataset_from_events, fit_blend

log = logging.getLogger(__name__)

MODEL_NAME = "blend"


@job("low", durable=False)
def rebuild_blend() -> dict[str, Any]:
    """Fit the discover blend on the last `cf_history_days` of engagement (the item-CF
    window) and store it for every process. With too few events the fit keeps the defaults
    and says so (`note`); they are stored all the same, so what is served is visible."""
    started = time.perf_counter()
    now_dt = utcnow()
    events = engagement_events(
        since=now_dt - timedelta(days=feeds_state().config.cf_history_days), include_opens=False
    )
    notes = note_features({event.note_id for event in events})
    loaded = time.perf_counter() - started
    ds, _ = dataset_from_events(events, notes)
    if len(ds.ts) == 0:
        params = BlendParams.defaults(note="defaults: no engagement events to fit on")
    else:
        params = fit_blend(ds, fitted_at=now_dt.timestamp(), progress=log.debug)
    blob = json.dumps(params.to_dict(), sort_keys=True).encode("utf-8")
    stats = {
        "fitted": params.fitted,
        "note": params.note,
        "weights": dict(params.weights),
        "hot_half_life_seconds": params.hot_half_life_seconds,
        "validation": dict(params.validation),
        "slices": dict(params.slices),
        "events": len(events),
        "rows": len(ds.ts),
        "load_seconds": round(loaded, 3),
        "fit_seconds": round(time.perf_counter() - started - loaded, 3),
    }
    store_model(MODEL_NAME, blob, stats, now_dt)
    return {**stats, "seconds": round(time.perf_counter() - started, 3)}


def current_params() -> BlendParams | None:
    """This process's copy of the stored blend (None before the first fit)."""
    return feeds_state().blend.get()


def hot_half_life() -> float:
    """The hot half-life in use: the fitted one when a fit was kept, else the configured one."""
    params = current_params()
    return (
        params.hot_half_life_seconds if params is not None else BlendParams().hot_half_life_seconds
    )


def describe_blend() -> dict[str, Any]:
    """What `?explain=1` shows of the blend parameters in use."""
    params = current_params()
    if params is None:
        return {
            "in_use": "defaults",
            "note": "no blend model stored yet",
            **_summary(BlendParams()),
        }
    return {"in_use": "fitted" if params.fitted else "defaults", **_summary(params)}


def _summary(params: BlendParams) -> dict[str, Any]:
    data = params.to_dict()
    if params.extra is not None:
        data["note"] = (data["note"] + "; " if data["note"] else "") + (
            f"the {params.extra} component is offline only: not served"
        )
    return data
