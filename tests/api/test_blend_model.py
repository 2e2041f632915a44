"""The learned blend over HTTP: the periodic fit is stored as the ranking model `blend`, every
process serves it through its model cache, and `?explain=1` shows what is in use."""

from __future__ import annotations

import json
from datetime import timedelta

from app.core.models import utcnow
from app.feeds.blend_model import rebuild_blend
from app.feeds.caches import ModelCache
from app.feeds.ranking_data import store_model
from app.feeds.state import _load_blend, feeds_state
from ranking.config import HOT
from ranking.learn import BlendParams, default_weights
from tests.conftest import insert_note

FITTED = {
    **default_weights(),
    "interest": 0.5,
    "cf": 0.4,
    "hot": 0.3,
    "popularity": 1.5,
}


def _params(**changes) -> BlendParams:
    base = {
        "weights": FITTED,
        "hot_half_life_seconds": 7200.0,
        "method": "coordinate ascent on held-out NDCG@20",
        "validation": {"fitted": 0.31, "default": 0.25},
        "slices": {"fit_rows": 900, "holdout_rows": 100, "validation_users": 60},
        "fitted_at": 1.7e9,
    }
    return BlendParams.from_dict({**base, **changes})


def _store(params: BlendParams, minutes_ago: int = 0) -> None:
    blob = json.dumps(params.to_dict()).encode()
    store_model("blend", blob, {"fitted": params.fitted}, utcnow() - timedelta(minutes=minutes_ago))


def _setup(api) -> None:
    api.register("editor1")
    api.grant("editor1", "editor")
    author = api.register("writer")
    notes = [
        insert_note(author["id"], f"n{index}", ago=index, like_count=index * 10)
        for index in range(15)
    ]
    # the editor has liked something: a warm request, ranked by the discover blend
    assert api.post(f"/notes/{notes[0]}/like", "editor1").status_code == 200


def _explain(api) -> dict:
    response = api.get("/feeds/discover?explain=1&limit=10", "editor1")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_without_a_stored_model_explain_says_defaults(api):
    _setup(api)
    page = _explain(api)
    assert page["blend"]["in_use"] == "defaults"
    assert page["blend"]["hot_half_life_seconds"] == HOT.half_life_seconds
    assert page["blend"]["weights"]["cf"] == default_weights()["cf"]


def test_a_fresh_install_fits_defaults_cleanly_and_says_why(api):
    _setup(api)
    api.register("boss")
    api.grant("boss", "admin")
    fans = [api.register(f"fan{i}") for i in range(3)]
    notes = [insert_note(fans[0]["id"], f"liked{i}") for i in range(3)]
    for fan in fans:
        for note in notes:
            assert api.post(f"/notes/{note}/like", fan["username"]).status_code == 200
    rebuilt = api.post("/admin/ranking/rebuild", "boss")
    assert rebuilt.status_code == 200, rebuilt.get_json()
    stats = rebuilt.get_json()["rebuild_blend"]
    assert stats["fitted"] is False and "too few" in stats["note"]
    assert stats["events"] == 10  # the fans' nine likes and the editor's one
    page = _explain(api)
    assert page["blend"]["in_use"] == "defaults"
    assert "too few" in page["blend"]["note"]


def test_the_stored_blend_is_served_and_explained(api):
    _setup(api)
    _store(_params())
    feeds_state().blend.invalidate()
    page = _explain(api)
    blend = page["blend"]
    assert blend["in_use"] == "fitted"
    assert blend["weights"]["popularity"] == 1.5 and blend["weights"]["cf"] == 0.4
    assert blend["hot_half_life_seconds"] == 7200.0
    assert blend["validation"] == {"fitted": 0.31, "default": 0.25}
    assert blend["fitted_at"] == 1.7e9
    # the popularity component is filled from the notes' lifetime engagement
    components = [card["explain"]["components"] for card in page["items"]]
    assert any(c.get("popularity", 0) > 0 for c in components), components


def test_another_process_and_a_reload_pick_up_a_new_fit(api):
    _setup(api)
    _store(_params(), minutes_ago=5)
    state = feeds_state()
    state.blend.invalidate()
    assert state.blend.get().weights["popularity"] == 1.5
    # a second process: its own cache, loading from the database
    other = ModelCache("blend", _load_blend, 30.0)
    assert other.get().to_dict() == state.blend.get().to_dict()
    # a newer fit replaces it; each cache reloads it when it next checks
    _store(_params(weights={**FITTED, "popularity": 0.25}))
    other.invalidate()
    state.blend.invalidate()
    assert other.get().weights["popularity"] == 0.25
    assert _explain(api)["blend"]["weights"]["popularity"] == 0.25


def test_a_corrupt_stored_blend_serves_the_defaults(api):
    _setup(api)
    store_model("blend", b"{not json", {}, utcnow())
    feeds_state().blend.invalidate()
    blend = _explain(api)["blend"]
    assert blend["in_use"] == "defaults" and "rejected" in blend["note"]
    store_model("blend", json.dumps({"weights": {"cf": -1}}).encode(), {}, utcnow())
    feeds_state().blend.invalidate()
    blend = _explain(api)["blend"]
    assert blend["in_use"] == "defaults" and "rejected" in blend["note"]
    assert blend["weights"]["cf"] == default_weights()["cf"]


def test_the_hot_recompute_uses_the_fitted_half_life(api):
    from app.feeds.hot import rebuild_hot

    _setup(api)
    _store(_params())
    feeds_state().blend.invalidate()
    figures, _ = rebuild_hot()
    assert figures["half_life_seconds"] == 7200.0
    _store(_params(method="defaults", hot_half_life_seconds=HOT.half_life_seconds))
    feeds_state().blend.invalidate()
    assert rebuild_hot()[0]["half_life_seconds"] == HOT.half_life_seconds


def test_rebuild_blend_stores_what_it_fitted(api):
    _setup(api)
    stats = rebuild_blend()
    feeds_state().blend.invalidate()
    stored = feeds_state().blend.get()
    assert stored is not None and not stored.fitted
    assert stats["note"] == stored.note and stats["weights"] == dict(stored.weights)


# --------------------------------------------------------------------------------------------
# The extra (ALS/EASE) component served


def _community(api) -> list[list[int]]:
    """Two clusters of notes, each liked (through the API) by its own fans; the editor likes
    three notes of the first cluster. Returns the clusters' note ids."""
    api.register("editor1")
    api.grant("editor1", "editor")
    authors = [api.register(f"writer{i}")["id"] for i in range(6)]
    clusters = [
        [insert_note(authors[(c * 12 + i) % 6], f"c{c}n{i}", ago=c * 12 + i) for i in range(12)]
        for c in range(2)
    ]
    for c, cluster in enumerate(clusters):
        for f in range(8):
            fan = api.register(f"fan{c}x{f}")["username"]
            for i in range(12):
                if (i * 7 + f * 3) % 12 < 6:  # each fan likes half of the cluster
                    assert api.post(f"/notes/{cluster[i]}/like", fan).status_code == 200
    for note in clusters[0][:3]:
        assert api.post(f"/notes/{note}/like", "editor1").status_code == 200
    return clusters


ALS_PARAMS = {
    "weights": {**FITTED, "extra": 2.0},
    "extra": "als",
    "extra_config": {"factors": 4.0, "regularization": 0.05, "iterations": 15.0},
}


def test_the_extra_model_is_served_while_the_blend_keeps_it(api):
    from app.core.extensions import get_feed_store
    from app.feeds.blend_model import rebuild_extra

    clusters = _community(api)
    editor = api.users["editor1"]["id"]
    stats = rebuild_blend()  # a small community: the fit keeps the defaults, nothing served
    assert stats["extra"] is None and stats["extra_model"] == {"served": False}
    params = _params(**ALS_PARAMS)
    assert params.extra == "als" and params.weights["extra"] == 2.0
    _store(params)
    built = rebuild_extra(params)
    assert built["served"] and built["kind"] == "als" and built["items"] == 24
    assert built["config"] == {"factors": 4, "regularization": 0.05, "iterations": 15}
    assert built["bytes"] > 0 and built["rows"] > 0
    feeds_state().forget_models()
    page = _explain(api)
    extra = page["blend"]["extra_model"]
    assert extra["served"] is True and extra["kind"] == "als" and extra["items"] == 24
    assert extra["built_at"]
    components = {card["id"]: card["explain"]["components"] for card in page["items"]}
    extra_of = {n: c["extra"] for n, c in components.items() if c.get("extra", 0) > 0}
    # the editor's cluster is what the model recommends first
    own = [v for n, v in extra_of.items() if n in clusters[0]]
    other = [v for n, v in extra_of.items() if n not in clusters[0]]
    assert own and max(own) == 1.0 and min(own) > max(other, default=0.0), extra_of

    # the next fit drops the component: the stored model is marked stale and disappears
    dropped = _params()
    _store(dropped)
    assert rebuild_extra(dropped) == {"served": False, "stale": True}
    feeds_state().forget_models()
    get_feed_store().invalidate_buffers(str(editor))  # the next page is ranked anew
    page = _explain(api)
    assert page["blend"]["extra_model"]["served"] is False
    assert "does not keep" in page["blend"]["extra_model"]["reason"]
    assert all("extra" not in card["explain"]["components"] for card in page["items"])


def test_the_job_chooses_the_extra_models_configuration_on_the_holdout(api):
    """`rebuild_blend`'s extra factories fit each kind's grid on the holdout's fit part and
    record the configuration `fit_blend` would keep."""
    import numpy as np

    from app.feeds.blend_model import _extra_factories, _training_data
    from ranking.config import LearnConfig
    from ranking.learn import make_holdout
    from ranking.replay import _seen_csr

    _community(api)
    _, ds, note_ids = _training_data(utcnow())
    cfg = LearnConfig(holdout_min_rows=3)
    holdout = make_holdout(ds, np.ones(len(ds.ts), dtype=bool), cfg)
    assert len(holdout.users) >= 10
    record: dict = {}
    seen = _seen_csr(ds, holdout.train)
    for kind, make in _extra_factories(holdout, record).items():
        scorer = make(ds, holdout.train, seen)
        scores = scorer(holdout, seen, np.arange(len(holdout.users)))
        assert scores.shape == (len(holdout.users), len(note_ids))
        assert np.isneginf(scores[seen[holdout.users].nonzero()]).all()
        assert np.isfinite(scores).any(axis=1).all()
        chosen, tried = record[kind]["chosen"], record[kind]["tried"]

        def config(t: dict) -> dict:
            return {k: v for k, v in t.items() if k != "validation_ndcg"}

        kept = [t for t in tried if config(t).items() <= chosen.items()]
        assert len(kept) == 1, (kind, chosen, tried)
        assert kept[0]["validation_ndcg"] == max(t["validation_ndcg"] for t in tried)


def test_an_empty_or_corrupt_extra_model_serves_no_component(api):
    from app.feeds.state import _load_extra

    assert _load_extra(b"") is None and _load_extra(b"not an npz") is None
    _setup(api)
    _store(_params(**ALS_PARAMS))
    store_model("extra", b"not an npz", {}, utcnow())
    feeds_state().forget_models()
    page = _explain(api)
    assert page["blend"]["extra_model"] == {"served": False, "reason": "no als model stored yet"}
    assert all("extra" not in card["explain"]["components"] for card in page["items"])


def test_a_kept_model_is_loaded_by_its_keeper_never_by_a_request(app, monkeypatch):
    """With a keeper (web processes), requests never look for or load a build: the keeper's
    turns do, and a failed load keeps the model that was serving."""
    from app.feeds import caches

    _store(_params(), minutes_ago=5)
    cache = ModelCache("blend", _load_blend, 0.0)  # due on every call without a keeper
    keeper = caches.ModelKeeper([cache], lambda: None, 3600.0)
    cache.keep()
    keeper.turn()
    assert cache.get().weights["popularity"] == 1.5
    looked: list[str] = []
    real = caches.model_built_at
    monkeypatch.setattr(caches, "model_built_at", lambda name: looked.append(name) or real(name))
    _store(_params(weights={**FITTED, "popularity": 0.25}))
    for _ in range(3):
        assert cache.get().weights["popularity"] == 1.5  # a request: no look, no load
    assert looked == []
    keeper.turn()
    assert looked == ["blend"] and cache.get().weights["popularity"] == 0.25

    # a build that does not load: logged, and the loaded model serves on
    def broken(_blob: bytes) -> BlendParams:
        raise ValueError("truncated")

    cache.loader = broken
    _store(_params(weights={**FITTED, "popularity": 3.0}))
    keeper.turn()
    assert cache.get().weights["popularity"] == 0.25

    # an admin's rebuild in this process: the next request looks at once
    cache.loader = _load_blend
    cache.invalidate()
    assert cache.get().weights["popularity"] == 3.0 and looked[-1] == "blend"


def test_the_model_keeper_thread_loads_models_and_the_catalogue_at_start(app):
    """`start_model_keeper` (app.wsgi) loads in its own thread: the models and the catalogue
    are ready before any request asks, and a request then finds them without a load."""
    import time

    from app.feeds.state import start_model_keeper

    _store(_params(), minutes_ago=5)
    state = feeds_state()
    built: list[float] = []
    original = state.catalogue.get
    state.catalogue.get = lambda settings: built.append(time.time()) or original(settings)
    keeper = start_model_keeper(app)
    try:
        deadline = time.monotonic() + 10
        while not (built and state.blend._kept_ready) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert built and state.blend._kept_ready, "the keeper's first turn did not finish"
        assert state.blend.get().weights["popularity"] == 1.5
    finally:
        keeper.stop(timeout=10)  # its turn done before the app goes
        state.catalogue.get = original
    assert keeper.thread is not None and not keeper.thread.is_alive()
