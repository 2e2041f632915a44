"""Hot: CES-weighted engagement with time decay (global, per channel, per topic, day/week)."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Iterator, Mapping

import numpy as np

from ranking.config import CES_WEIGHTS, HOT
from ranking.types import Event, NoteFeatures


def ces(
    likes: float,
    collects: float,
    comments: float,
    shares: float,
    follows: float,
    weights: Mapping[str, float] = CES_WEIGHTS,
) -> float:
    """Xiaohongshu-style weighted engagement: a follow gained says far more than a like."""
    return (
        likes * weights.get("like", 0.0)
        + collects * weights.get("collect", 0.0)
        + comments * weights.get("comment", 0.0)
        + shares * weights.get("share", 0.0)
        + follows * weights.get("follow", 0.0)
    )


def decay(age_seconds: float, half_life_seconds: float) -> float:
    """Exponential half-life decay; future timestamps (clock skew) count as age 0."""
    if half_life_seconds <= 0:
        raise ValueError("half_life_seconds must be positive")
    return 0.5 ** (max(age_seconds, 0.0) / half_life_seconds)


def hot_score(
    features: NoteFeatures,
    now: float,
    half_life_seconds: float = HOT.half_life_seconds,
    *,
    gravity: float = HOT.gravity,
    gravity_offset_seconds: float = HOT.gravity_offset_seconds,
    weights: Mapping[str, float] = CES_WEIGHTS,
) -> float:
    """CES × decay of the note's age, damped by a gravity term.

    Counts carry no timestamps, so decaying by note age alone would let a huge old total
    dominate for many half-lives; the HN-style `(offset / (age + offset)) ** gravity` factor
    adds polynomial damping on top so one old viral note cannot stay on top forever.
    """
    value = ces(
        features.likes,
        features.collects,
        features.comments,
        features.shares,
        features.follows_gained,
        weights,
    )
    if value <= 0:
        return 0.0
    age = max(now - features.published_at, 0.0)
    smooth = (gravity_offset_seconds / (age + gravity_offset_seconds)) ** gravity
    return value * decay(age, half_life_seconds) * smooth


def hot_from_events(
    events: Iterable[Event],
    now: float,
    *,
    window_seconds: float | None,
    half_life_seconds: float,
    weights: Mapping[str, float] = CES_WEIGHTS,
) -> dict[int, float]:
    """Event-level hot scores: each event's CES weight decays by its own age.

    Events in the future of `now` are ignored (offline replay must not leak), and so are
    events older than the window.
    """
    lo = -math.inf if window_seconds is None else now - window_seconds
    ln2 = math.log(2.0) / half_life_seconds
    out: dict[int, float] = {}
    for ev in events:
        w = weights.get(ev.kind)
        if not w or ev.ts > now or ev.ts < lo:
            continue
        out[ev.note_id] = out.get(ev.note_id, 0.0) + w * ev.weight * math.exp(-ln2 * (now - ev.ts))
    return out


def hot_from_arrays(
    note_ids: np.ndarray,
    ces_weights: np.ndarray,
    ts: np.ndarray,
    now: float,
    *,
    window_seconds: float | None,
    half_life_seconds: float,
) -> dict[int, float]:
    """Vectorised `hot_from_events` for recompute jobs over millions of rows.

    `ces_weights` is the per-row CES weight already multiplied by any row weight.
    """
    note_ids = np.asarray(note_ids)
    ts = np.asarray(ts, dtype=np.float64)
    mask = ts <= now
    if window_seconds is not None:
        mask &= ts >= now - window_seconds
    w = np.asarray(ces_weights, dtype=np.float64)[mask] * np.exp2(
        -(now - ts[mask]) / half_life_seconds
    )
    ids, inv = np.unique(note_ids[mask], return_inverse=True)
    sums = np.bincount(inv, weights=w, minlength=len(ids))
    keep = sums > 0
    return dict(zip(ids[keep].tolist(), sums[keep].tolist(), strict=True))


def top_hot(
    scores: Mapping[int, float],
    k: int,
    *,
    allowed: Callable[[int], bool] | None = None,
) -> list[tuple[int, float]]:
    """The k hottest notes (ties broken by the newer, i.e. larger, id), optionally filtered."""
    if k <= 0:
        return []
    items: Iterable[tuple[int, float]] = scores.items()
    if allowed is not None:
        items = ((n, s) for n, s in items if allowed(n))
    best = heapq.nlargest(k, items, key=lambda kv: (kv[1], kv[0]))
    return [(n, float(s)) for n, s in best]


def hot_at_times(
    note_ids: np.ndarray,
    weights: np.ndarray,
    ts: np.ndarray,
    times: Iterable[float],
    *,
    half_life_seconds: float,
    n_notes: int,
) -> Iterator[np.ndarray]:
    """`hot_from_arrays` (no window) at each of many moments, as dense vectors over dense
        note ids `0..n_notes-1`: one per entry of `times` (ascending; read lazily, so the caller
    may decide the next moment after seeing a vector), in that order.

        One running vector is decayed from each moment to the next and the events in between are
        added, so a replay at a thousand serving times costs one pass over the events, not a
        thousand (what the blend fit needs to try several half-lives). Events after a moment are
        not counted at it; the yielded vector is reused, so copy what must be kept.
    """
    if half_life_seconds <= 0:
        raise ValueError("half_life_seconds must be positive")
    order = np.argsort(ts, kind="stable")
    ts_sorted = np.asarray(ts, dtype=np.float64)[order]
    ids = np.asarray(note_ids, dtype=np.int64)[order]
    w = np.asarray(weights, dtype=np.float64)[order]
    vec = np.zeros(n_notes, dtype=np.float64)
    done = 0
    last: float | None = None
    for moment in times:
        t = float(moment)
        if last is not None:
            if t < last:
                raise ValueError("times must be ascending")
            vec *= np.exp2(-(t - last) / half_life_seconds)
        upto = int(np.searchsorted(ts_sorted, t, side="right"))
        if upto > done:
            age = t - ts_sorted[done:upto]
            decayed = w[done:upto] * np.exp2(-age / half_life_seconds)
            vec += np.bincount(ids[done:upto], weights=decayed, minlength=n_notes)
            done = upto
        last = t
        yield vec
