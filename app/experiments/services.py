"""Experiments: create with arms, start, stop, list, and the report (engagement per
impression per arm, with viewer-clustered intervals). Serving lives in `serving`."""

from __future__ import annotations

import secrets
from collections import defaultdict
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, func, literal, select, union, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.extensions import db
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult
from app.core.policies import require
from app.core.sql import newest_first
from app.editorial.services import log_action
from app.experiments import stats
from app.experiments.models import Experiment, ExperimentArm
from app.experiments.policies import can_manage_experiments, can_read_experiments
from app.experiments.schemas import ExperimentIn
from app.experiments.serving import blend_weights, running_snapshot
from app.feeds.models import NoteEvent
from app.notes.models import Collect, Comment, NoteLike
from app.social.models import UserFollow
from ranking.blend import SIGNALS

ENGAGEMENT_KINDS = ("like", "collect", "comment", "follow")


def _require_manage(actor: User) -> None:
    require(can_manage_experiments(actor), "Only admins may manage experiments.")


def _require_read(actor: User) -> None:
    require(can_read_experiments(actor), "Only editors and admins may read experiments.")


def _get(experiment_id: int) -> Experiment:
    experiment = db.session.get(Experiment, experiment_id)
    if experiment is None:
        raise NotFound("No such experiment.", code="experiment_not_found")
    return experiment


def _details(experiment: Experiment) -> dict[str, Any]:
    return {
        "name": experiment.name,
        "feed": experiment.feed,
        "status": experiment.status,
        "traffic_share": experiment.traffic_share,
        "arms": [
            {"key": a.key, "share": a.share, "weights": a.weights, "control": a.is_control}
            for a in experiment.arms
        ],
    }


def create_experiment(actor: User, data: ExperimentIn) -> Experiment:
    """A draft experiment with its arms (shares normalised to sum to 1; the first arm is the
    control unless one says otherwise). Audited in the editorial log."""
    _require_manage(actor)
    for arm in data.arms:
        served = blend_weights(data.feed, arm.weights)
        if not any(served.get(signal, 0.0) > 0 for signal in SIGNALS):
            raise Unprocessable(
                f"Arm `{arm.key}` gives every signal a weight of 0: it would rank nothing.",
                code="blend_without_weight",
                details={"arm": arm.key},
            )
    total = sum(arm.share for arm in data.arms)
    control = next((i for i, arm in enumerate(data.arms) if arm.control), 0)
    experiment = Experiment(
        name=data.name,
        description=data.description,
        feed=data.feed,
        status="draft",
        traffic_share=data.traffic_share,
        salt=secrets.token_hex(8),
        created_by_id=actor.id,
        arms=[
            ExperimentArm(
                key=arm.key,
                share=arm.share / total,
                weights=dict(arm.weights),
                is_control=i == control,
            )
            for i, arm in enumerate(data.arms)
        ],
    )
    db.session.add(experiment)
    db.session.flush()
    log_action(actor, "experiment_create", "experiment", experiment.id, _details(experiment))
    db.session.commit()
    return experiment


def list_experiments(actor: User, page: PageRequest) -> PageResult[Experiment]:
    _require_read(actor)
    stmt = newest_first(select(Experiment), Experiment.id, page.limit, page.after_id)
    return page.by_id(list(db.session.scalars(stmt)))


def start_experiment(actor: User, experiment_id: int) -> Experiment:
    """draft → running. The partial unique index on running experiments per feed decides a
    race between two starts: the second write fails and gets 409, whichever process ran it."""
    _require_manage(actor)
    experiment = _get(experiment_id)
    now = utcnow()
    try:
        changed = db.session.execute(
            update(Experiment)
            .where(Experiment.id == experiment_id, Experiment.status == "draft")
            .values(status="running", started_at=now)
        ).rowcount
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(
            f"Another experiment is running on the {experiment.feed} feed; stop it first.",
            code="experiment_already_running",
            details={"feed": experiment.feed},
        ) from exc
    if not changed:
        db.session.rollback()
        raise Conflict(
            "Only a draft experiment can be started.",
            code="experiment_not_draft",
            details={"status": experiment.status},  # reloaded after the rollback
        )
    db.session.refresh(experiment)
    log_action(actor, "experiment_start", "experiment", experiment.id, _details(experiment))
    db.session.commit()
    running_snapshot.changed()
    return experiment


def stop_experiment(actor: User, experiment_id: int) -> Experiment:
    """running → stopped: every viewer is served the default blend again (other processes
    within `serving.CHECK_SECONDS`; the report's window ends now either way)."""
    _require_manage(actor)
    experiment = _get(experiment_id)
    changed = db.session.execute(
        update(Experiment)
        .where(Experiment.id == experiment_id, Experiment.status == "running")
        .values(status="stopped", stopped_at=utcnow())
    ).rowcount
    if not changed:
        db.session.rollback()
        raise Conflict(
            "Only a running experiment can be stopped.",
            code="experiment_not_running",
            details={"status": experiment.status},
        )
    db.session.refresh(experiment)
    log_action(actor, "experiment_stop", "experiment", experiment.id, _details(experiment))
    db.session.commit()
    running_snapshot.changed()
    return experiment


# --- the report -----------------------------------------------------------------------------


def _engagement_sources() -> list[tuple[str, Any, Any, Any, Any]]:
    """(kind, table, viewer column, note column, time column) of each engagement."""
    return [
        ("like", NoteLike, NoteLike.user_id, NoteLike.note_id, NoteLike.created_at),
        ("collect", Collect, Collect.user_id, Collect.note_id, Collect.created_at),
        ("comment", Comment, Comment.author_id, Comment.note_id, Comment.created_at),
        (
            "follow",
            UserFollow,
            UserFollow.follower_id,
            UserFollow.source_note_id,
            UserFollow.created_at,
        ),
    ]


def _arm_counts(
    arm_ids: list[int], start: datetime, end: datetime
) -> tuple[dict[int, dict[int, int]], dict[int, dict[int, int]], dict[int, dict[str, int]]]:
    """Per arm: impressions per viewer, engagements per viewer, engagements per kind.

    An engagement counts for an arm when the viewer was served the note with that arm
    before it, inside the window; each (viewer, note, kind) counts once (two comments on
    one note are one comment engagement)."""
    in_window = (
        NoteEvent.kind == "impression",
        NoteEvent.experiment_arm_id.in_(arm_ids),
        NoteEvent.user_id.is_not(None),
        NoteEvent.created_at >= start,
        NoteEvent.created_at <= end,
    )
    impressions: dict[int, dict[int, int]] = defaultdict(dict)
    for arm_id, user_id, count in db.session.execute(
        select(NoteEvent.experiment_arm_id, NoteEvent.user_id, func.count())
        .where(*in_window)
        .group_by(NoteEvent.experiment_arm_id, NoteEvent.user_id)
    ):
        impressions[arm_id][user_id] = int(count)

    first_seen = (
        select(
            NoteEvent.experiment_arm_id.label("arm_id"),
            NoteEvent.user_id.label("user_id"),
            NoteEvent.note_id.label("note_id"),
            func.min(NoteEvent.created_at).label("first_at"),
        )
        .where(*in_window)
        .group_by(NoteEvent.experiment_arm_id, NoteEvent.user_id, NoteEvent.note_id)
        .subquery("first_seen")
    )
    parts = [
        select(
            first_seen.c.arm_id,
            first_seen.c.user_id,
            first_seen.c.note_id,
            literal(kind).label("kind"),
        )
        .join_from(
            first_seen,
            table,
            and_(viewer_col == first_seen.c.user_id, note_col == first_seen.c.note_id),
        )
        .where(at_col >= first_seen.c.first_at, at_col <= end)
        for kind, table, viewer_col, note_col, at_col in _engagement_sources()
    ]
    engaged = union(*parts).subquery("engaged")  # UNION: each (arm, viewer, note, kind) once
    by_viewer: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    by_kind: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(ENGAGEMENT_KINDS, 0))
    for arm_id, user_id, kind, count in db.session.execute(
        select(engaged.c.arm_id, engaged.c.user_id, engaged.c.kind, func.count()).group_by(
            engaged.c.arm_id, engaged.c.user_id, engaged.c.kind
        )
    ):
        by_viewer[arm_id][user_id] += int(count)
        by_kind[arm_id][kind] += int(count)
    return impressions, by_viewer, by_kind


def _arrays(impressions: dict[int, int], engaged: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    viewers = sorted(impressions)
    return (
        np.array([engaged.get(v, 0) for v in viewers], dtype=np.float64),
        np.array([impressions[v] for v in viewers], dtype=np.float64),
    )


def experiment_report(actor: User, experiment_id: int) -> dict[str, Any]:
    """The experiment with, per arm: viewers served, impressions, engagements (total and per
    kind), engagements per impression with a 95% viewer-clustered bootstrap interval (and
    the naive Wilson one), and the difference from the control arm with its interval."""
    _require_read(actor)
    experiment = _get(experiment_id)
    start, end = experiment.started_at, experiment.stopped_at or utcnow()
    arms = experiment.arms
    if start is None:
        impressions: dict[int, dict[int, int]] = {}
        engaged: dict[int, dict[int, int]] = {}
        kinds: dict[int, dict[str, int]] = {}
    else:
        impressions, engaged, kinds = _arm_counts([arm.id for arm in arms], start, end)
    control = next((arm for arm in arms if arm.is_control), arms[0])
    control_e, control_i = _arrays(impressions.get(control.id, {}), engaged.get(control.id, {}))
    seed = experiment.id
    rows = []
    for arm in arms:
        e, i = _arrays(impressions.get(arm.id, {}), engaged.get(arm.id, {}))
        total_i, total_e = int(i.sum()), int(e.sum())
        rate = total_e / total_i if total_i else None
        interval = stats.rate_interval(e, i, seed=seed)
        wilson = stats.wilson_interval(total_e, total_i)
        versus = None
        if arm.id != control.id:
            control_rate = control_e.sum() / control_i.sum() if control_i.sum() else None
            difference = (
                rate - float(control_rate)
                if rate is not None and control_rate is not None
                else None
            )
            diff_interval = stats.difference_interval(e, i, control_e, control_i, seed=seed)
            versus = {
                "control": control.key,
                "difference": round(difference, 6) if difference is not None else None,
                "interval": diff_interval.as_dict() if diff_interval else None,
            }
        rows.append(
            {
                "id": arm.id,
                "key": arm.key,
                "control": arm.is_control,
                "viewers": len(i),
                "impressions": total_i,
                "engagements": total_e,
                "engagements_by_kind": kinds.get(arm.id, dict.fromkeys(ENGAGEMENT_KINDS, 0)),
                "rate": round(rate, 6) if rate is not None else None,
                "interval": interval.as_dict() if interval else None,
                "wilson": wilson.as_dict() if wilson else None,
                "vs_control": versus,
            }
        )
    return {
        "experiment": experiment,
        "window": {"start": start, "end": end if start is not None else None},
        "confidence": stats.CONFIDENCE,
        "report": rows,
    }


def get_experiment(actor: User, experiment_id: int) -> Experiment:
    _require_read(actor)
    return _get(experiment_id)
