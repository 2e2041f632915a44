"""The served extra component (`ranking.signals.factors`, `ranking.sources.extra`): ALS and
EASE rank a cluster's co-engaged notes first for a user of that cluster, ALS's request-time
user solve is implicit's, the stored bytes load to the same model, and the feed weighs the
component only when the blend parameters keep it."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from ranking.context import RequestContext
from ranking.learn import EXTRA, BlendParams, default_weights
from ranking.pipeline import build_pipeline
from ranking.scorers import BlendScorer
from ranking.signals.exploration import TrafficPool
from ranking.signals.factors import FactorModel, choose_model, fit_als, fit_ease, fit_model
from ranking.sources.extra import ExtraSource
from ranking.types import NoteFeatures, Scored
from tests.unit.test_ranking_pipeline import NOW, catalogue, hot_of

N_CLUSTERS, PER_CLUSTER, USERS_PER_CLUSTER = 3, 12, 40
NOTE_BASE = 1  # dense item i is note NOTE_BASE + i (the catalogue's ids)


def planted(seed: int = 0) -> sp.csr_matrix:
    """Users of cluster c engage with each of cluster c's items with probability 1/2 (and
    with one random item)."""
    rng = np.random.default_rng(seed)
    n_items = N_CLUSTERS * PER_CLUSTER
    rows, cols = [], []
    for c in range(N_CLUSTERS):
        for u in range(USERS_PER_CLUSTER):
            user = c * USERS_PER_CLUSTER + u
            items = c * PER_CLUSTER + np.flatnonzero(rng.random(PER_CLUSTER) < 0.5)
            items = np.append(items, rng.integers(n_items))
            rows += [user] * len(items)
            cols += items.tolist()
    m = sp.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(N_CLUSTERS * USERS_PER_CLUSTER, n_items)
    )
    m.sum_duplicates()
    return m


def _model(kind: str) -> FactorModel:
    seen = planted()
    if kind == "als":
        model = fit_als(seen, factors=4, regularization=0.05, iterations=15, seed=0)
    else:
        model = fit_ease(seen, lambda_multiple=1.0)
    ids = list(range(NOTE_BASE, NOTE_BASE + seen.shape[1]))
    return model.with_ids(ids)


@pytest.mark.parametrize("kind", ["als", "ease"])
def test_a_cluster_user_gets_the_cluster_first(kind):
    model = _model(kind)
    for c in range(N_CLUSTERS):
        cluster = {NOTE_BASE + c * PER_CLUSTER + i for i in range(PER_CLUSTER)}
        engaged = sorted(cluster)[:3]
        scores = model.normalised([(n, 1.0) for n in engaged], exclude=engaged)
        assert scores is not None
        top = scores.top(PER_CLUSTER - 3, exclude=engaged)
        ids = [n for n, _ in top]
        assert set(ids) == cluster - set(engaged), (kind, c, top)
        values = [v for _, v in top]
        assert values[0] == pytest.approx(1.0) and values == sorted(values, reverse=True)
        assert all(0 < v <= 1 for v in values)
        others = [n for n in range(NOTE_BASE, NOTE_BASE + model.n_items) if n not in cluster]
        assert max(scores.get(n) for n in others) < min(values)
        assert all(scores.get(n) == 0.0 for n in engaged)


def test_unknown_notes_give_no_scores():
    model = _model("als")
    assert model.user_scores([(9999, 1.0)]) is None
    assert model.normalised([(9999, 1.0)]) is None
    assert model.normalised([(NOTE_BASE, 1.0)]).get(9999) == 0.0


def test_the_als_user_solve_is_implicits():
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import bm25_weight

    seen = planted()
    model = fit_als(seen, factors=8, regularization=0.05, iterations=5, seed=1)
    reference = AlternatingLeastSquares(factors=8, regularization=0.05)
    reference.item_factors = model.item_factors
    row = seen[[5]]  # a user as the fit saw them (BM25 over the whole matrix)
    weighted = bm25_weight(seen.astype(np.float32), K1=model.bm25_k1, B=model.bm25_b).tocsr()
    expected = reference.item_factors @ reference.recalculate_user(0, weighted[[5]])
    ours = model.score_rows(row[:, model.item_ids])[0]
    np.testing.assert_allclose(ours, expected, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("kind", ["als", "ease"])
def test_the_stored_bytes_load_the_same_model(kind):
    model = _model(kind)
    back = FactorModel.from_bytes(model.to_bytes())
    assert back.kind == kind and back.config == model.config
    engaged = [(NOTE_BASE + 1, 1.0), (NOTE_BASE + 2, 2.0)]
    np.testing.assert_allclose(back.user_scores(engaged), model.user_scores(engaged), rtol=1e-6)
    with pytest.raises(ValueError):
        FactorModel.from_bytes(b"not an npz")


def test_choose_model_prefers_the_configuration_that_ranks_held_out_items():
    seen = planted()
    users = np.arange(0, seen.shape[0], 7)
    relevant = []
    for u in users:  # an unseen item of the user's own cluster
        c = u // USERS_PER_CLUSTER
        cluster = np.arange(c * PER_CLUSTER, (c + 1) * PER_CLUSTER)
        relevant.append(np.setdiff1d(cluster, seen[u].indices)[:1])
    configs = [{"lambda_multiple": 1.0}, {"lambda_multiple": 1e6}]
    model, tried = choose_model("ease", configs, seen, users, relevant, k=5)
    assert [t["lambda_multiple"] for t in tried] == [1.0, 1e6]
    assert all(0 <= t["validation_ndcg"] <= 1 for t in tried)
    assert tried[0]["validation_ndcg"] > 0.3
    best = max(tried, key=lambda t: t["validation_ndcg"])
    assert model.config["lambda_multiple"] == best["lambda_multiple"]
    with pytest.raises(ValueError):
        fit_model("svd", seen, {})


# --------------------------------------------------------------------------------------------
# In the feed


def _params(extra: str | None, weight: float) -> BlendParams:
    weights = {**default_weights(), EXTRA: weight}
    return BlendParams.from_dict(
        {
            "weights": weights,
            "hot_half_life_seconds": 3600.0,
            "extra": extra,
            "extra_config": {"factors": 8.0},
            "method": "test",
        }
    )


def _ctx(notes: dict[int, NoteFeatures], **kw: object) -> RequestContext:
    engaged = [NOTE_BASE + i for i in range(3)]  # cluster 0
    base: dict[str, object] = {
        "user_id": 1,
        "now": NOW,
        "notes": notes,
        "recent": [(n, 1.0) for n in engaged],
        "hot": hot_of(notes),
        "engaged": set(engaged),
    }
    base.update(kw)
    return RequestContext(**base)  # type: ignore[arg-type]


def test_the_source_and_scorer_serve_the_component_only_when_the_blend_keeps_it():
    notes = catalogue(60)
    model = _model("als")
    cluster = {NOTE_BASE + i for i in range(3, PER_CLUSTER)}
    source = ExtraSource(limit=9)
    kept = _ctx(notes, extra_model=model, blend_params=_params("als", 0.5))
    assert source.enabled(kept)
    fetched = source.fetch(kept)
    assert {s.note_id for s in fetched} == cluster and all(s.source == EXTRA for s in fetched)
    for ctx in (
        _ctx(notes, extra_model=model, blend_params=_params(None, 0.0)),
        _ctx(notes, extra_model=model, blend_params=_params("ease", 0.5)),  # another kind
        _ctx(notes, extra_model=None, blend_params=_params("als", 0.5)),
        _ctx(notes, extra_model=model, blend_params=None),
        _ctx(notes, extra_model=model, blend_params=_params("als", 0.5), recent=[], user_id=None),
    ):
        assert not source.enabled(ctx)

    from ranking.config import RANKING

    scorer = BlendScorer(RANKING.feeds["discover"], TrafficPool(RANKING.exploration))
    items = [Scored(n, 0.0, "hot", {}) for n in range(NOTE_BASE, NOTE_BASE + 24)]
    scored = {s.note_id: s for s in scorer.score(kept, items)}
    assert all(scored[n].components.get(EXTRA, 0) > 0 for n in cluster)
    assert max(scored[n].components[EXTRA] for n in cluster) == pytest.approx(1.0)
    assert any(scored[n].source == EXTRA for n in cluster)
    dropped = _ctx(notes, extra_model=model, blend_params=_params(None, 0.0))
    assert all(EXTRA not in s.components for s in scorer.score(dropped, items))
    # the component moves the cluster's notes up against the same request without it
    plain = {s.note_id: s.score for s in scorer.score(dropped, items)}
    assert all(scored[n].score > plain[n] for n in cluster)


def test_the_pipeline_fetches_extra_candidates_when_served():
    notes = catalogue(60)
    model = _model("ease")
    pipeline = build_pipeline("discover")
    assert "extra" in pipeline.stage_names["sources"]
    ctx = _ctx(notes, extra_model=model, blend_params=_params("ease", 2.0))
    page = pipeline.run(ctx, 10)
    assert any(s.components.get(EXTRA, 0) > 0 for s in page.items)
    without = pipeline.run(_ctx(notes, extra_model=None, blend_params=_params("ease", 2.0)), 10)
    assert all(EXTRA not in s.components for s in without.items)


def test_blend_params_keep_the_extra_configuration():
    p = _params("als", 0.5)
    assert dict(p.extra_config) == {"factors": 8.0}
    assert BlendParams.from_dict(p.to_dict()).to_dict() == p.to_dict()
    bad = {**p.to_dict(), "extra_config": {"factors": -1}}
    assert "rejected" in BlendParams.from_dict(bad).note
