"""ranking.learn: the blend that fits its own parameters on a held-out slice."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from ranking import evaluate as ev
from ranking import learn
from ranking.config import HOT, LEARN
from ranking.learn import BlendParams, fit_blend
from ranking.replay import Dataset, top_k
from ranking.signals.hot import hot_at_times, hot_from_arrays
from ranking.types import Event, NoteFeatures

FAST = replace(LEARN, max_evals=120, rounds=2)


def _dataset(user, item, ts, n_items, categories=None, weight=None) -> Dataset:
    user = np.asarray(user, dtype=np.int64)
    return Dataset(
        user=user,
        item=np.asarray(item, dtype=np.int64),
        ts=np.asarray(ts, dtype=np.float64),
        weight=np.ones(len(user)) if weight is None else np.asarray(weight, dtype=np.float64),
        user_ids=[str(u) for u in range(int(user.max()) + 1)],
        item_ids=[str(i) for i in range(n_items)],
        categories=categories or [("c",)] * n_items,
    )


def _popular_world(seed: int = 1, users: int = 160, per_user: int = 20, items: int = 300):
    """Every engagement drawn from one steep popularity curve; users come one after the other
    (a few days each), so at an early user's moment only the long window knows the curve."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, items + 1) ** 1.2
    p /= p.sum()
    u, i, t = [], [], []
    for user in range(users):
        picks = rng.choice(items, per_user, replace=False, p=p)
        u += [user] * per_user
        i += picks.tolist()
        t += sorted((user * 6 * 3600 + rng.uniform(0, 3 * 86400, per_user)).tolist())
    return _dataset(u, i, t, items)


def _cluster_world(seed: int = 1, users: int = 160, per_user: int = 20, items: int = 300):
    """Items in 15 equal clusters; each user engages uniformly inside one cluster: co-engagement
    explains what comes next, popularity is flat."""
    rng = np.random.default_rng(seed)
    size = 20
    u, i, t = [], [], []
    for user in range(users):
        c = user % (items // size)
        picks = rng.choice(np.arange(c * size, (c + 1) * size), per_user, replace=False)
        u += [user] * per_user
        i += picks.tolist()
        t += sorted(rng.uniform(0, 60 * 86400, per_user).tolist())
    return _dataset(u, i, t, items)


def test_params_round_trip_through_json() -> None:
    p = BlendParams(
        weights={**learn.default_weights(), "popularity": 0.4, "extra": 0.2},
        hot_half_life_seconds=7200.0,
        extra="ease",
        method="coordinate ascent",
        validation={"fitted": 0.2, "default": 0.1},
        slices={"fit_rows": 10},
        fitted_at=1.5e9,
        note="x",
    )
    back = BlendParams.from_dict(json.loads(json.dumps(p.to_dict())))
    assert back.to_dict() == p.to_dict()
    assert back.fitted and not BlendParams.defaults().fitted


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        [],
        "weights",
        {"weights": {"cf": 1.0}},  # no half-life
        {"weights": {"cf": -1.0}, "hot_half_life_seconds": 10.0},
        {"weights": {"cf": float("nan")}, "hot_half_life_seconds": 10.0},
        {"weights": {"cf": float("inf")}, "hot_half_life_seconds": 10.0},
        {"weights": {"cf": "1"}, "hot_half_life_seconds": 10.0},
        {"weights": {"cf": True}, "hot_half_life_seconds": 10.0},
        {"weights": {"nonsense": 1.0}, "hot_half_life_seconds": 10.0},
        {"weights": {"cf": 1.0}, "hot_half_life_seconds": 0.0},
        {"weights": {"cf": 1.0}, "hot_half_life_seconds": -5.0},
        {"weights": {"cf": 1.0}, "hot_half_life_seconds": 10.0, "extra": "svd"},
        {"weights": {"cf": 1.0}, "hot_half_life_seconds": 10.0, "surprise": 1},
        {"weights": {"cf": 1.0}, "hot_half_life_seconds": 10.0, "validation": {"a": -1}},
    ],
)
def test_from_dict_rejects_garbage_with_the_defaults(garbage) -> None:
    p = BlendParams.from_dict(garbage)
    assert not p.fitted
    assert dict(p.weights) == learn.default_weights()
    assert p.hot_half_life_seconds == HOT.half_life_seconds
    assert p.note.startswith("stored parameters rejected")


def test_hot_at_times_equals_the_service_hot_at_each_moment() -> None:
    rng = np.random.default_rng(0)
    items = rng.integers(0, 30, 500)
    w = rng.uniform(0.5, 2, 500)
    ts = rng.uniform(0, 1e5, 500)
    times = np.sort(rng.uniform(0, 1.2e5, 12))
    for t, vec in zip(
        times, hot_at_times(items, w, ts, times, half_life_seconds=3600.0, n_notes=30), strict=True
    ):
        want = hot_from_arrays(items, w, ts, t, window_seconds=None, half_life_seconds=3600.0)
        got = {i: v for i, v in enumerate(vec) if v > 0}
        assert set(got) == set(want)
        assert [got[i] for i in sorted(want)] == pytest.approx([want[i] for i in sorted(want)])


def test_padded_top_positions_match_top_k_on_the_catalogue() -> None:
    rng = np.random.default_rng(3)
    full = rng.integers(0, 4, (6, 40)).astype(float)  # many ties
    full[rng.random((6, 40)) < 0.5] = -np.inf
    cols = np.sort(rng.choice(40, 25, replace=False))
    items = np.tile(cols, (6, 1))
    sub = full[:, cols]
    pos, valid = learn.top_positions(sub, items, 10)
    got = np.where(valid, np.take_along_axis(items, pos, axis=1), -1)
    masked = np.full_like(full, -np.inf)
    masked[:, cols] = sub
    assert got.tolist() == top_k(masked, 10).tolist()


def test_default_params_blend_is_the_feeds_blend() -> None:
    # the same matrices through evaluate.feed_blend and through the padded fit path
    rng = np.random.default_rng(5)
    n, m = 4, 60
    interest = rng.uniform(0, 1, (n, m))
    cf = np.where(rng.random((n, m)) < 0.3, rng.uniform(0, 5, (n, m)), -np.inf)
    hot = np.where(rng.random((n, m)) < 0.5, rng.uniform(0, 9, (n, m)), -np.inf)
    hot_top = np.full(n, 9.5)
    seen = rng.random((n, m)) < 0.1
    for mat in (interest, cf, hot):
        mat[seen] = -np.inf
    w = {"interest": 0.7, "cf": 1.2, "hot": 0.5}
    per_user = {k: np.full((n, 1), v) for k, v in w.items()}
    model = ev.BLEND_SOURCES["cf"]
    fused = ev.feed_blend({"interest": interest, model: cf, "hot": hot}, per_user, hot_top)
    from ranking.blend import hot_norm

    hot_c = np.where(seen, -np.inf, hot_norm(np.where(np.isfinite(hot), hot, 0), hot_top[:, None]))
    fetch = learn.fetch_limits()
    cands = learn.gather(
        {
            "interest": (interest, fetch["interest"]),
            "cf": (learn.relative_norm(cf), fetch["cf"]),
            "hot@0": (hot_c, fetch["hot"]),
        },
        [np.array([0])] * n,
        np.ones(n),
        np.ones(n),
    )
    padded = learn.blend_candidates(cands, w, "hot@0", None)
    back = np.full((n, m), -np.inf)
    rows = np.repeat(np.arange(n), cands.items.shape[1])
    ok = cands.items.ravel() >= 0
    back[rows[ok], cands.items.ravel()[ok]] = padded.ravel()[ok]
    assert np.array_equal(np.isfinite(back), np.isfinite(fused))
    assert back[np.isfinite(back)] == pytest.approx(fused[np.isfinite(fused)], rel=1e-6)


def test_few_events_fall_back_to_the_defaults_and_say_so() -> None:
    ds = _dataset([0, 0, 0, 1, 1], [0, 1, 2, 0, 1], [1, 2, 3, 4, 5], 3)
    p = fit_blend(ds, cfg=FAST)
    assert not p.fitted
    assert "too few" in p.note
    assert p.slices["validation_users"] < FAST.min_users
    assert dict(p.weights) == learn.default_weights()


def _share(p: BlendParams, keys) -> float:
    fitted = {k: p.weights[k] for k in learn.FITTED}
    return sum(fitted[k] for k in keys) / sum(fitted.values())


def test_a_planted_signal_is_recovered() -> None:
    pop = fit_blend(_popular_world(), cfg=FAST, seed=0)
    co = fit_blend(_cluster_world(), cfg=FAST, seed=0)
    assert pop.fitted, pop.note
    # popularity explains the first world, co-engagement the second (where the defaults,
    # CF-heavy already, may well be kept)
    assert pop.weights["popularity"] > co.weights["popularity"]
    assert _share(pop, ("popularity", "hot")) > _share(co, ("popularity", "hot"))
    assert _share(co, ("cf",)) > _share(pop, ("cf",))
    assert pop.validation["fitted"] > pop.validation["default"]
    assert math.isclose(sum(pop.weights[k] for k in learn.FITTED), 2.7, rel_tol=1e-4)


def test_rows_outside_train_never_influence_the_fit() -> None:
    ds = _popular_world(seed=2)
    cut = np.quantile(ds.ts, 0.8)
    train = ds.ts < cut
    first = fit_blend(ds, train, cfg=FAST, seed=0)
    # scramble every test row: other items, other users, other times
    rng = np.random.default_rng(9)
    test = ~train
    scrambled = replace(
        ds,
        item=np.where(test, rng.integers(0, ds.n_items, len(ds.ts)), ds.item),
        ts=np.where(test, rng.uniform(cut, cut + 1e6, len(ds.ts)), ds.ts),
        weight=np.where(test, 5.0, ds.weight),
    )
    second = fit_blend(scrambled, train, cfg=FAST, seed=0)
    assert first.to_dict() == second.to_dict()
    hold = learn.make_holdout(ds, train, FAST)
    assert not (hold.train & test).any()
    assert all(np.isin(r, ds.item[train]).all() for r in hold.relevant)


def test_half_lives_follow_the_datas_pace() -> None:
    day = np.array([0.0, 86400.0])
    year = np.array([0.0, 365 * 86400.0])
    d, y = learn.half_life_candidates(day), learn.half_life_candidates(year)
    assert HOT.half_life_seconds in d and HOT.half_life_seconds in y
    assert max(d) == 86400.0 and max(y) == 365 * 86400.0


def test_service_events_become_a_dataset() -> None:
    notes = {
        10: NoteFeatures(note_id=10, author_id=1, channel="food", topics=(3,)),
        20: NoteFeatures(note_id=20, author_id=2, channel=None),
    }
    events = [
        Event(user_id=7, note_id=10, kind="like", ts=1.0),
        Event(user_id=7, note_id=20, kind="comment", ts=2.0),
        Event(user_id=8, note_id=99, kind="like", ts=3.0),  # unknown note: dropped
        Event(user_id=8, note_id=10, kind="impression", ts=4.0),  # no CES weight: dropped
    ]
    ds, ids = learn.dataset_from_events(events, notes)
    assert ids == [10, 20]
    assert ds.item.tolist() == [0, 1] and ds.weight.tolist() == [1.0, 4.0]
    assert ds.notes is not None and ds.notes[0].note_id == 0 and ds.notes[0].topics == (3,)
