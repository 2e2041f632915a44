"""Which arm of the running experiment a viewer is in, and the ranking configuration that arm
serves. The feeds call this while ranking (`app.feeds.ranker.run_pipeline`) and while
recording impressions (`app.feeds.discover.ranked_feed`).

Assignment is a pure function of (experiment id, its salt, the viewer's id): a SHA-256 of
the three is a number u in [0, 1); u < traffic_share enrols the viewer, and u / traffic_share
falls into one arm's slice of the cumulative shares. Every process, worker and restart gives
a viewer the same arm, with nothing stored; raising the traffic share keeps the viewers
already enrolled in their arms. Anonymous viewers are never enrolled (see docs/experiments.md).

The running experiments are read from the database into a per-process snapshot that is
rebuilt when a start or stop bumps the shared version (`app.core.snapshots`), checked at
most every `CHECK_SECONDS`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy import select

from app.core.extensions import db
from app.core.routing import HasId
from app.core.snapshots import VersionedSnapshot
from app.experiments.models import Experiment
from ranking.config import RANKING, RankingConfig

CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class ArmRule:
    id: int
    key: str
    upper: float  # the arm's slice of the enrolled viewers ends here (cumulative share)
    # RANKING with this feed's blend weights overridden; None for an arm without overrides,
    # which serves exactly what viewers outside the experiment get (a control arm)
    config: RankingConfig | None


@dataclass(frozen=True)
class RunningExperiment:
    id: int
    feed: str
    salt: str
    traffic_share: float
    arms: tuple[ArmRule, ...]


def bucket(experiment_id: int, salt: str, viewer_key: str) -> float:
    """A uniform number in [0, 1) for this viewer in this experiment, the same everywhere."""
    digest = hashlib.sha256(f"{experiment_id}:{salt}:{viewer_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign(experiment: RunningExperiment, viewer_key: str) -> ArmRule | None:
    """The viewer's arm, or None when they fall outside the traffic share."""
    u = bucket(experiment.id, experiment.salt, viewer_key)
    if u >= experiment.traffic_share or not experiment.arms:
        return None
    v = u / experiment.traffic_share
    for arm in experiment.arms:
        if v < arm.upper:
            return arm
    return experiment.arms[-1]  # the last bound rounded just below 1


def blend_weights(feed: str, override: Mapping[str, Any]) -> dict[str, float]:
    """The feed's default weights with the arm's overrides in place."""
    return {**RANKING.feeds[feed].weights, **{k: float(v) for k, v in override.items()}}


def arm_config(feed: str, override: Mapping[str, Any]) -> RankingConfig:
    """`RANKING` with this feed's `BlendConfig` weights replaced by the arm's."""
    blend = dataclasses.replace(
        RANKING.feeds[feed], weights=MappingProxyType(blend_weights(feed, override))
    )
    return dataclasses.replace(RANKING, feeds=MappingProxyType({**RANKING.feeds, feed: blend}))


def _load_running() -> dict[str, RunningExperiment]:
    running: dict[str, RunningExperiment] = {}
    for experiment in db.session.scalars(select(Experiment).where(Experiment.status == "running")):
        total = sum(arm.share for arm in experiment.arms) or 1.0
        upper = 0.0
        rules = []
        for arm in experiment.arms:
            upper += arm.share / total
            config = arm_config(experiment.feed, arm.weights) if arm.weights else None
            rules.append(ArmRule(arm.id, arm.key, upper, config))
        running[experiment.feed] = RunningExperiment(
            experiment.id, experiment.feed, experiment.salt, experiment.traffic_share, tuple(rules)
        )
    return running


running_snapshot: VersionedSnapshot[dict[str, RunningExperiment]] = VersionedSnapshot(
    "experiments", _load_running, check_seconds=CHECK_SECONDS
)


def viewer_arm(viewer: HasId | None, feed: str) -> ArmRule | None:
    """The arm of the experiment running on `feed` ("discover" or "channel") this viewer is
    in; None for anonymous viewers, viewers outside the traffic share, or no experiment."""
    if viewer is None:
        return None
    experiment = running_snapshot.get().get(feed)
    return assign(experiment, str(viewer.id)) if experiment is not None else None


def experiment_arm_id(viewer: HasId | None, feed: str) -> int | None:
    """What an impression records: the viewer's arm at serve time (deterministic, so a page
    served from a buffer ranked earlier is attributed the same way)."""
    arm = viewer_arm(viewer, feed)
    return arm.id if arm is not None else None


def ranking_config(viewer: HasId | None, context: Any) -> RankingConfig:
    """The configuration `build_pipeline` gets for this request: the viewer's arm's, else the
    default. For a viewer in an arm that overrides weights, the arm's weights win over learned
    blend weights, so the context's `blend_params` (when it has them) are set aside; an arm
    without overrides (a control) is served exactly like the viewers outside."""
    arm = viewer_arm(viewer, context.feed)
    if arm is None or arm.config is None:
        return RANKING
    if getattr(context, "blend_params", None) is not None:
        context.blend_params = None
    return arm.config
