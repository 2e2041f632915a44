"""The candidate catalogue prepared once for many requests.

A service keeps a few thousand candidate notes for every ranked feed and rebuilds them every
few seconds. Much of what a request would compute over them does not depend on the viewer:
the notes as arrays for vectorised interest scoring, the hot order and its normalised scores,
which notes are in the traffic pool and which were promoted, each author's newest
notes. `PreparedCatalogue.build` computes these once per rebuild; the pipeline uses them when
the request context carries one, and computes the same values itself when it does not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ranking.signals.exploration import PoolArrays, TrafficPool
from ranking.signals.interest import FeatureIndex, key_sets
from ranking.types import NoteFeatures


@dataclass(frozen=True)
class PreparedCatalogue:
    notes: Mapping[int, NoteFeatures]
    hot: Mapping[int, float]
    built_at: float  # the `now` that pool states and boosts were judged at
    index: FeatureIndex  # rows in the order of `order`
    order: list[int]  # note ids, row order of `index`
    position: dict[int, int]  # note id → row
    hot_norm: dict[int, float]  # `ranking.blend.hot_norm` of each note with a hot score
    hot_order: list[int]  # hottest first (ties: larger id first), as `top_hot` orders them
    pool: PoolArrays  # the notes in the traffic pool at `built_at`
    promoted: frozenset[int]  # promoted at `built_at`: the only notes that may carry a boost
    by_author: dict[int, list[int]]  # author → their notes, newest first
    keys: dict[str, frozenset[object]]  # distinct keys per dimension (interest focus)

    @classmethod
    def build(
        cls,
        notes: Mapping[int, NoteFeatures],
        hot: Mapping[int, float],
        now: float,
        pool: TrafficPool,
    ) -> PreparedCatalogue:
        order = list(notes)
        index = FeatureIndex.build([notes[n] for n in order])
        top = max(hot.values(), default=0.0)
        hot_norm: dict[int, float] = {}
        if top > 0 and math.isfinite(top):
            log_top = math.log1p(top)
            for note_id, score in hot.items():
                if score > 0 and math.isfinite(score):
                    hot_norm[note_id] = min(math.log1p(score) / log_top, 1.0)
        hot_order = sorted(hot, key=lambda n: (hot[n], n), reverse=True)
        in_pool: list[NoteFeatures] = []
        promoted: set[int] = set()
        by_author: dict[int, list[int]] = {}
        for f in sorted(notes.values(), key=lambda f: (f.published_at, f.note_id), reverse=True):
            state = pool.state(f, now)
            if state == "pool":
                in_pool.append(f)
            elif state == "promoted":
                promoted.add(f.note_id)
            by_author.setdefault(f.author_id, []).append(f.note_id)
        return cls(
            notes=notes,
            hot=hot,
            built_at=now,
            index=index,
            order=order,
            position={n: i for i, n in enumerate(order)},
            hot_norm=hot_norm,
            hot_order=hot_order,
            pool=PoolArrays.build(in_pool, pool.config),
            promoted=frozenset(promoted),
            by_author=by_author,
            keys={
                "channel": frozenset(index.channel_keys),
                "topic": frozenset(index.topic_keys),
                "tag": frozenset(index.tag_keys),
                "author": frozenset(index.author_keys),
            },
        )

    def key_counts(self, extra: Iterable[NoteFeatures] = ()) -> dict[str, int]:
        """`ranking.signals.interest.key_counts` of the catalogue plus `extra` notes."""
        added = key_sets(extra)
        return {dim: len(have) + len(added[dim] - have) for dim, have in self.keys.items()}
