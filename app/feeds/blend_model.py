"""The learned blend (`ranking.learn`): fitted by a periodic job on the deployment's
engagement events, stored as the ranking model `blend` (its parameters as JSON) and read by
every process through the model cache (`FeedsState.blend`).

The fit may keep an `extra` component (ALS or EASE, `ranking.signals.factors`, its
hyper-parameters chosen on the same validation slice). When it does, the job fits that model
on all the events the blend was fitted on and stores it as the ranking model `extra`
(`FeedsState.extra`); when it does not, a stored one is marked stale (an empty blob), so
every process stops serving it."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import scipy.sparse as sp

from app.core.jobs import job
from app.core.models import utcnow
from app.feeds.ranking_data import engagement_events, model_built_at, note_features, store_model
from app.feeds.state import feeds_state
from ranking.config import LEARN
from ranking.learn import (
    EXTRA,
    BlendParams,
    ExtraFactory,
    dataset_from_events,
    fit_blend,
    make_holdout,
)
from ranking.replay import Dataset, Scorer, Split
from ranking.signals.factors import choose_model, fit_model, full_scores
from ranking.types import Event

log = logging.getLogger(__name__)

MODEL_NAME = "blend"
EXTRA_MODEL_NAME = "extra"


@job("low", durable=False)
def rebuild_blend() -> dict[str, Any]:
    """Fit the discover blend on the last `cf_history_days` of engagement (the item-CF
    window) and store it for every process. With too few events the fit keeps the defaults
    and says so (`note`); they are stored all the same, so what is served is visible."""
    started = time.perf_counter()
    now_dt = utcnow()
    events, ds, note_ids = _training_data(now_dt)
    loaded = time.perf_counter() - started
    extra_choices: dict[str, dict[str, Any]] = {}
    if len(ds.ts) == 0:
        params = BlendParams.defaults(note="defaults: no engagement events to fit on")
    else:
        holdout = make_holdout(ds, np.ones(len(ds.ts), dtype=bool), LEARN)
        params = fit_blend(
            ds,
            extras=_extra_factories(holdout, extra_choices),
            holdout=holdout,
            fitted_at=now_dt.timestamp(),
            progress=log.debug,
        )
        if params.extra is not None:
            chosen = extra_choices[params.extra]["chosen"]
            params = replace(params, extra_config={k: float(v) for k, v in chosen.items()})
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
        "extra": params.extra,
        "extra_choices": extra_choices,
    }
    store_model(MODEL_NAME, blob, stats, now_dt)
    extra_model = rebuild_extra(params, ds, note_ids, now_dt)
    return {**stats, "extra_model": extra_model, "seconds": round(time.perf_counter() - started, 3)}


def _training_data(now_dt: datetime) -> tuple[list[Event], Dataset, list[int]]:
    """The engagement events the blend is fitted on (the item-CF window, no opens), as a
    `Dataset` and its dense index → note id list."""
    events = engagement_events(
        since=now_dt - timedelta(days=feeds_state().config.cf_history_days), include_opens=False
    )
    notes = note_features({event.note_id for event in events})
    ds, note_ids = dataset_from_events(events, notes)
    return events, ds, note_ids


def _extra_factories(holdout: Split, record: dict[str, dict[str, Any]]) -> dict[str, ExtraFactory]:
    """ALS and EASE for `fit_blend` to try: each chooses its hyper-parameters on the
    holdout (`ranking.evaluate`'s grids and budget) and records the choice in `record`."""
    from ranking.evaluate import als_configs, ease_configs

    configs: dict[str, list[dict[str, Any]]] = {
        "als": als_configs(LEARN, LEARN.seed),
        "ease": ease_configs(LEARN),
    }

    def factory(kind: str) -> ExtraFactory:
        def make(ds: Dataset, _fit: np.ndarray, seen: sp.csr_matrix) -> Scorer:
            started = time.perf_counter()
            model, tried = choose_model(
                kind, configs[kind], seen, holdout.users, holdout.relevant, LEARN.k, LEARN.seed
            )
            record[kind] = {
                "chosen": dict(model.config),
                "tried": tried,
                "seconds": round(time.perf_counter() - started, 3),
            }

            def score(split: Split, seen_: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
                users = split.users[idx]
                out = full_scores(model, seen_[users], ds.n_items)
                out[seen_[users].nonzero()] = -np.inf
                return out

            return score

        return make

    return {kind: factory(kind) for kind in configs}


def rebuild_extra(
    params: BlendParams,
    ds: Dataset | None = None,
    note_ids: Sequence[int] | None = None,
    built_at: datetime | None = None,
) -> dict[str, Any]:
    """Serve the extra component the params keep: fit it on all of `ds`'s rows (default: the
    blend's training events, loaded now) with the chosen hyper-parameters and store it, note
    ids as its item ids. When the params drop it, mark a stored one stale (an empty blob:
    every process's cache then serves none)."""
    built_at = built_at or utcnow()
    if ds is None or note_ids is None:
        _, ds, note_ids = _training_data(built_at)
    weight = float(params.weights.get(EXTRA, 0.0))
    if params.extra is None or weight <= 0 or len(ds.ts) == 0:
        if model_built_at(EXTRA_MODEL_NAME) is None:
            return {"served": False}
        store_model(EXTRA_MODEL_NAME, b"", {"served": False, "stale": True}, built_at)
        return {"served": False, "stale": True}
    started = time.perf_counter()
    seen = sp.csr_matrix((ds.weight, (ds.user, ds.item)), shape=(ds.n_users, ds.n_items))
    seen.sum_duplicates()
    model = fit_model(params.extra, seen, params.extra_config, LEARN.seed).with_ids(note_ids)
    fitted = time.perf_counter() - started
    blob = model.to_bytes()
    stats = {
        "served": True,
        "kind": model.kind,
        "config": dict(model.config),
        "items": model.n_items,
        "rows": len(ds.ts),
        "bytes": len(blob),
        "array_bytes": model.nbytes,
        "fit_seconds": round(fitted, 3),
    }
    store_model(EXTRA_MODEL_NAME, blob, stats, built_at)
    return stats


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
    data["extra_model"] = describe_extra(params)
    return data


def describe_extra(params: BlendParams) -> dict[str, Any]:
    """Whether the extra (ALS/EASE) component is served with these parameters, and what."""
    model = feeds_state().extra.get()
    weight = float(params.weights.get(EXTRA, 0.0))
    out: dict[str, Any] = {"served": False}
    if model is not None:
        built_at = model_built_at(EXTRA_MODEL_NAME)
        out |= {
            "kind": model.kind,
            "items": model.n_items,
            "config": dict(model.config),
            "built_at": built_at.isoformat() if built_at is not None else None,
        }
    if params.extra is None or weight <= 0:
        out["reason"] = "the blend does not keep an extra component"
    elif model is None:
        out["reason"] = f"no {params.extra} model stored yet"
    elif model.kind != params.extra:
        out["reason"] = f"the stored model is {model.kind}, the blend weighs {params.extra}"
    else:
        out["served"] = True
    return out
