"""Item-CF: co-engagement neighbours, IUF damping, recommend, chunking, serialisation."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest

from ranking.config import ITEMCF
from ranking.signals.itemcf import ItemCF, user_decay
from ranking.types import Event

NOW = 1_700_000_000.0


def co_engagement() -> list[Event]:
    """Users 1-6 like A(1) and B(2); users 7-8 like A and C(3); user 9 likes C and D(4)."""
    ev = []
    for u in range(1, 7):
        ev += [Event(u, 1, "like", NOW - 100), Event(u, 2, "like", NOW - 50)]
    for u in (7, 8):
        ev += [Event(u, 1, "like", NOW - 100), Event(u, 3, "collect", NOW - 50)]
    ev += [Event(9, 3, "like", NOW - 10), Event(9, 4, "like", NOW - 10)]
    return ev


def test_default_method_is_proximity() -> None:
    assert ITEMCF.method == "proximity"
    assert ItemCF().fit(co_engagement(), now=NOW).stats()["method"] == "proximity"


@pytest.mark.parametrize("method", ["cosine", "swing", "proximity"])
def test_co_engaged_item_is_top_neighbour(method: str) -> None:
    cf = ItemCF().fit(co_engagement(), now=NOW, method=method)  # type: ignore[arg-type]
    nb = cf.neighbours(1, 5)
    assert nb[0][0] == 2
    assert all(n != 1 for n, _ in nb)
    assert [s for _, s in nb] == sorted((s for _, s in nb), reverse=True)
    assert cf.neighbours(2, 1)[0][0] == 1
    assert cf.neighbours(999, 5) == []


def test_cosine_scores_are_bounded_and_symmetric() -> None:
    cf = ItemCF().fit(co_engagement(), now=NOW, method="cosine")
    s12 = dict(cf.neighbours(1, 10))[2]
    s21 = dict(cf.neighbours(2, 10))[1]
    assert 0 < s12 <= 1.0 + 1e-6
    assert s12 == pytest.approx(s21, rel=1e-5)


def test_very_active_user_is_damped_by_iuf() -> None:
    # users 1-3 pair A with B; one crawler-like user touches A, C and 200 other notes
    ev = []
    for u in (1, 2, 3):
        ev += [Event(u, 1, "like", NOW), Event(u, 2, "like", NOW)]
    ev += [Event(99, n, "like", NOW) for n in [1, 3, *range(100, 300)]]
    ev += [Event(4, 3, "like", NOW), Event(5, 3, "like", NOW)]
    cf = ItemCF().fit(ev, now=NOW)
    nb = dict(cf.neighbours(1, 10))
    assert max(nb, key=nb.get) == 2
    assert nb[2] > 3 * nb.get(3, 0.0)


def test_recommend_sums_neighbours_and_excludes_engaged() -> None:
    cf = ItemCF().fit(co_engagement(), now=NOW, method="cosine")
    recs = cf.recommend([(1, 1.0)], 10)
    assert recs[0][0] == 2
    assert 1 not in dict(recs)  # the recent item itself never comes back
    assert 2 not in dict(cf.recommend([(1, 1.0)], 10, exclude={2}))
    # weighting: recent interest in 4 makes 3 (its only neighbour) outrank 2
    recs = dict(cf.recommend([(1, 0.1), (4, 5.0)], 10))
    assert recs[3] > recs[2]
    assert cf.recommend([], 10) == [] and cf.recommend([(12345, 1.0)], 10) == []
    assert len(cf.recommend([(1, 1.0)], 1)) == 1


def test_impressions_and_future_events_are_ignored() -> None:
    ev = [*co_engagement(), *[Event(u, 5, "impression", NOW) for u in range(1, 9)]]
    ev += [Event(u, 6, "like", NOW + 10) for u in range(1, 7)]
    cf = ItemCF().fit(ev, now=NOW)
    assert 5 not in cf and 6 not in cf
    assert cf.neighbours(1, 1)[0][0] == 2


def test_decay_is_relative_to_each_users_latest_event() -> None:
    """Within a user's own sequence, older engagement counts less (down to the floor)."""
    day = 86400.0
    ev = []
    for u in range(1, 4):  # A and C together at the user's latest moment, B a year before
        ev += [Event(u, 1, "like", NOW - day), Event(u, 3, "like", NOW - day)]
        ev += [Event(u, 2, "like", NOW - 366 * day)]
    ev += [Event(9, 2, "like", NOW), Event(9, 3, "like", NOW)]  # B, C not only with A
    # cosine: engagement strength enters the similarity (Swing only uses it to pick co-users)
    cf = ItemCF(replace(ITEMCF, half_life_seconds=10 * day)).fit(ev, now=NOW, method="cosine")
    nb = dict(cf.neighbours(1, 5))
    assert max(nb, key=nb.get) == 3
    assert 0 < nb.get(2, 0.0) < nb[3]  # the floor keeps old co-engagement as weak evidence


def test_time_away_does_not_erase_history() -> None:
    """A user who left long ago keeps their co-engagement: age is not measured from `now`."""
    day = 86400.0
    ev = []
    for u in range(1, 5):  # four users paired A-B years ago and never came back
        ev += [Event(u, 1, "like", NOW - 3000 * day), Event(u, 2, "like", NOW - 3000 * day)]
    for u in range(5, 7):  # two users paired A-C yesterday
        ev += [Event(u, 1, "like", NOW - day), Event(u, 3, "like", NOW - day)]
    cf = ItemCF().fit(ev, now=NOW)
    assert cf.neighbours(1, 1)[0][0] == 2


def test_user_decay_is_float64_with_a_floor() -> None:
    day = 86400.0
    users = np.array([0, 0, 0, 1])
    ts = np.array([NOW, NOW - 30 * day, NOW - 20 * 365 * day, NOW - 9000 * day])
    d = user_decay(users, ts, 2, 30 * day, 0.1)
    assert d.dtype == np.float64
    assert d.tolist() == pytest.approx([1.0, 0.5, 0.1, 1.0])
    assert user_decay(users, ts, 2, float("inf"), 0.1).tolist() == [1.0] * 4


def random_events(n_users: int, n_items: int, n: int, seed: int) -> list[Event]:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    items = (rng.zipf(1.3, n) + users % 7 * 3) % n_items
    kinds = rng.choice(["open", "like", "collect", "comment"], n)
    ts = NOW - rng.uniform(0, 30 * 86400, n)
    return [
        Event(int(u), int(i), str(k), float(t))
        for u, i, k, t in zip(users, items, kinds, ts, strict=True)
    ]


def test_chunked_product_matches_single_chunk() -> None:
    ev = random_events(300, 400, 5000, seed=1)
    small = ItemCF(replace(ITEMCF, chunk_flops=50)).fit(
        ev, now=NOW, max_neighbours=10, method="cosine"
    )
    big = ItemCF(replace(ITEMCF, chunk_flops=10**12)).fit(
        ev, now=NOW, max_neighbours=10, method="cosine"
    )
    assert np.array_equal(small.item_ids, big.item_ids)
    assert np.array_equal(small.indptr, big.indptr)
    np.testing.assert_allclose(small.data, big.data, rtol=1e-5)
    assert max(np.diff(small.indptr)) <= 10


def test_bytes_round_trip_without_pickle() -> None:
    ev = random_events(200, 300, 3000, seed=2)
    for method in ("cosine", "swing", "proximity"):
        cf = ItemCF().fit(ev, now=NOW, method=method)  # type: ignore[arg-type]
        blob = cf.to_bytes()
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            assert set(z.files) == {"item_ids", "indptr", "indices", "data", "meta"}
        back = ItemCF.from_bytes(blob)
        for n in cf.item_ids[:50].tolist():
            assert back.neighbours(n, 20) == cf.neighbours(n, 20)
        assert back.stats()["method"] == method
        assert back.stats()["n_pairs"] == cf.stats()["n_pairs"]


def test_stats_and_empty_model() -> None:
    cf = ItemCF().fit([], now=NOW)
    assert cf.stats()["n_items"] == 0 and cf.neighbours(1, 5) == []
    assert cf.recommend([(1, 1.0)], 5) == []
    cf = ItemCF().fit(co_engagement(), now=NOW, max_neighbours=2, method="cosine")
    st = cf.stats()
    assert st["n_items"] == 4 and st["n_users"] == 9 and st["max_neighbours"] == 2
    assert st["items_with_neighbours"] == 4
    with pytest.raises(ValueError):
        ItemCF().fit(co_engagement(), method="bogus")  # type: ignore[arg-type]


def test_fit_covers_a_medium_set() -> None:
    """Speed is measured by `make bench` (docs/benchmarks.md), not here."""
    ev = random_events(2000, 5000, 60_000, seed=3)
    cf = ItemCF().fit(ev, now=NOW)
    assert cf.stats()["items_with_neighbours"] > 0.5 * len(cf)


# -- proximity (time-context item-CF) and seed positions --------------------------------------


def sequence_events() -> list[Event]:
    """Users 1-4 each engage A(1), then B(2) right after, then 30 notes of their own, then C(3).

    A-B and A-C are co-engaged by exactly the same four users; only the distance in each
    user's own sequence differs. User 9 engages B and C so both have the same user count.
    """
    ev = []
    for u in range(1, 5):
        seq = [1, 2, *range(1000 * u, 1000 * u + 30), 3]
        ev += [Event(u, n, "like", NOW - 1000 + t) for t, n in enumerate(seq)]
    ev += [Event(9, 2, "like", NOW - 5), Event(9, 3, "like", NOW - 5)]
    return ev


def test_proximity_favours_notes_engaged_close_together() -> None:
    nb = dict(ItemCF().fit(sequence_events(), now=NOW, method="proximity").neighbours(1, 50))
    assert nb[2] > nb[3] > 0


def test_proximity_share_zero_is_count_normalised_co_engagement() -> None:
    cfg = replace(ITEMCF, proximity_share=0.0)
    nb = dict(ItemCF(cfg).fit(sequence_events(), now=NOW, method="proximity").neighbours(1, 50))
    assert nb[2] == pytest.approx(nb[3], rel=1e-5)  # same co-users, same user counts


def test_proximity_similarity_uses_user_counts_not_norms() -> None:
    """Σ_u iuf·r·r / sqrt(|U_i|·|U_j|): two co-users out of 4 and 2 beat one out of 1 and 4."""
    ev = []
    for u in (1, 2):
        ev += [Event(u, 1, "like", NOW), Event(u, 2, "like", NOW)]
    ev += [Event(3, 1, "like", NOW), Event(4, 1, "like", NOW)]
    ev += [Event(5, 1, "like", NOW), Event(5, 3, "like", NOW)]
    cfg = replace(ITEMCF, proximity_share=0.0)
    nb = dict(ItemCF(cfg).fit(ev, now=NOW, method="proximity").neighbours(1, 5))
    assert nb[2] == pytest.approx(1.0)  # 2/sqrt(5·2) vs 1/sqrt(5·1): B first
    assert nb[3] == pytest.approx((1 / np.sqrt(5)) / (2 / np.sqrt(10)), rel=1e-4)


def test_proximity_rows_are_scaled_to_their_best_neighbour() -> None:
    cf = ItemCF().fit(random_events(300, 400, 5000, seed=4), now=NOW, method="proximity")
    firsts = cf.data[cf.indptr[:-1][np.diff(cf.indptr) > 0]]
    np.testing.assert_allclose(firsts, 1.0, rtol=1e-6)
    assert cf.data.max() <= 1.0 + 1e-6 and cf.data.min() > 0


def test_proximity_chunked_matches_single_chunk() -> None:
    ev = random_events(300, 400, 5000, seed=5)
    small = ItemCF(replace(ITEMCF, chunk_flops=50, pair_chunk=50)).fit(
        ev, now=NOW, max_neighbours=10, method="proximity"
    )
    big = ItemCF(replace(ITEMCF, chunk_flops=10**12, pair_chunk=10**12)).fit(
        ev, now=NOW, max_neighbours=10, method="proximity"
    )
    assert np.array_equal(small.item_ids, big.item_ids)
    assert np.array_equal(small.indptr, big.indptr)
    np.testing.assert_allclose(small.data, big.data, rtol=1e-5)


def test_recommend_weighs_seeds_by_position_newest_first() -> None:
    ev = []
    for u in range(1, 4):  # A(1)-B(2) and C(3)-D(4): two separate, equally strong pairs
        ev += [Event(u, 1, "like", NOW), Event(u, 2, "like", NOW)]
        ev += [Event(u + 10, 3, "like", NOW), Event(u + 10, 4, "like", NOW)]
    cf = ItemCF().fit(ev, now=NOW, method="cosine")
    recs = dict(cf.recommend([(3, 1.0), (1, 1.0)], 10))  # C is the newer engagement
    assert recs[4] == pytest.approx(recs[2] * (1 + 1 / ITEMCF.seed_position_scale))
    flat = ItemCF(replace(ITEMCF, seed_position_scale=0.0)).fit(ev, now=NOW, method="cosine")
    recs = dict(flat.recommend([(3, 1.0), (1, 1.0)], 10))
    assert recs[4] == pytest.approx(recs[2])


def test_proximity_fit_covers_a_medium_set() -> None:
    """Most items get neighbours on a medium set. (Its speed is a benchmark's business:
    `make bench` and docs/benchmarks.md; a timed unit test fails on a busy machine.)"""
    ev = random_events(2000, 5000, 60_000, seed=6)
    cf = ItemCF().fit(ev, now=NOW, method="proximity")
    assert cf.stats()["items_with_neighbours"] > 0.5 * len(cf)


def chain_events(n_users: int = 300, seed: int = 8) -> list[Event]:
    """Sessions walk a fixed successor chain (x → x+1 → x+2 … over 400 notes, 5 steps each).

    Co-engagement alone cannot tell x+1 from x+2 or x−1 (all share the same sessions);
    positions in the user's sequence can.
    """
    rng = np.random.default_rng(seed)
    ev = []
    for u in range(n_users):
        t = NOW - 10_000
        for _ in range(6):
            x = int(rng.integers(0, 400))
            for step in range(5):
                ev.append(Event(u, (x + step) % 400, "like", t))
                t += 1
    return ev


def test_validation_keeps_proximity_on_session_data() -> None:
    cf = ItemCF().fit(chain_events(), now=NOW, method="proximity")
    v = cf.stats()["validation"]
    assert v["decided"] and v["users"] >= 100
    assert v["ndcg_mix"] > v["ndcg_co"]
    assert cf.stats()["proximity_share"] == ITEMCF.proximity_share


def test_validation_rule_keeps_pairs_only_when_strictly_better(monkeypatch) -> None:
    ev = random_events(300, 400, 5000, seed=9)
    for scores, expected in (
        ([0.1, 0.2], ITEMCF.proximity_share),
        ([0.2, 0.2], 0.0),
        ([0.3, 0.2], 0.0),
    ):
        it = iter(scores)
        monkeypatch.setattr(ItemCF, "_heldout_ndcg", lambda *a, _it=it, **k: next(_it))
        cf = ItemCF().fit(ev, now=NOW, method="proximity")
        assert cf.stats()["proximity_share"] == expected
        assert cf.stats()["validation"]["decided"]


def test_validation_needs_enough_users_and_can_be_off() -> None:
    cf = ItemCF().fit(sequence_events(), now=NOW, method="proximity")  # 5 users
    assert cf.stats()["validation"]["decided"] is False
    assert cf.stats()["proximity_share"] == ITEMCF.proximity_share
    off = ItemCF(replace(ITEMCF, proximity_validate=False)).fit(chain_events(), now=NOW)
    assert off.stats()["validation"] is None
    capped = ItemCF(replace(ITEMCF, validation_users=120)).fit(chain_events(), now=NOW)
    assert capped.stats()["validation"]["users"] == 120


def test_validated_model_is_a_direct_fit_with_the_chosen_share() -> None:
    """Whatever validation decides, the model is the fit with that share on all events."""
    ev = chain_events()
    cf = ItemCF().fit(ev, now=NOW, method="proximity")
    share = cf.stats()["proximity_share"]
    direct = ItemCF(replace(ITEMCF, proximity_share=share, proximity_validate=False)).fit(
        ev, now=NOW, method="proximity"
    )
    assert np.array_equal(cf.indices, direct.indices)
    np.testing.assert_allclose(cf.data, direct.data, rtol=1e-6)
