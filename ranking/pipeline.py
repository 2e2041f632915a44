"""The feed waterfall: candidate sources → filters → scorers → selector (blend, diversify, page).

Modelled on twitter/the-algorithm's product-mixer without the framework: every stage is a
small class with a stable `name` and one method; filters return (kept, removed) so drops can
be counted per filter; a stage may switch itself off with `enabled(ctx)`; a pipeline is a list
of stages assembled in `build_pipeline`. Everything is plain data and deterministic given
`ctx.rng`.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ranking.blend import SIGNALS, blend, cf_norm, signal_weights
from ranking.catalogue import PreparedCatalogue
from ranking.config import RANKING, BlendConfig, DiversityConfig, RankingConfig
from ranking.signals.editorial import EditorialSource
from ranking.signals.exploration import TrafficPool
from ranking.signals.hot import top_hot
from ranking.signals.interest import InterestProfile, key_counts
from ranking.signals.itemcf import ItemCF
from ranking.types import NoteFeatures, Scored

# Cards from these sources keep them as `source` whatever else they score on: editors' picks
# and pool traffic must stay attributable (impressions, explain).
STICKY_SOURCES = frozenset({"pick", "explore"})


@dataclass
class RequestContext:
    """Everything one request knows; the service fills it, the pipeline only reads it.

    `notes` is the candidate catalogue (features of notes the sources may return: recent,
    hot, pool and CF-neighbour notes — a few thousand, not the whole table). Candidates whose
    features are missing are looked up once via `hydrate` if given, else dropped ("unknown").
    `history` is the note ids of the previous cards in this session, newest last, so the
    diversity rule also holds across page boundaries.
    """

    user_id: int | None
    now: float
    feed: str = "discover"
    channel: str | None = None
    notes: Mapping[int, NoteFeatures] = field(default_factory=dict)
    profile: InterestProfile | None = None
    cf: ItemCF | None = None
    # (note, weight) of the latest engagements, newest first: CF weighs them by position
    recent: list[tuple[int, float]] = field(default_factory=list)
    hot: dict[int, float] = field(default_factory=dict)
    editorial: EditorialSource | None = None
    seen: set[int] = field(default_factory=set)
    recently_served: set[int] = field(default_factory=set)
    engaged: set[int] = field(default_factory=set)
    blocked_authors: set[int] = field(default_factory=set)
    blocked_topics: set[int] = field(default_factory=set)
    hidden_notes: set[int] = field(default_factory=set)
    following: set[int] = field(default_factory=set)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    hydrate: Callable[[Iterable[int]], Mapping[int, NoteFeatures]] | None = None
    history: Sequence[int] = ()
    #: The catalogue's viewer-independent work, done once per rebuild (`ranking.catalogue`);
    #: without it every value is computed here, with the same results.
    prepared: PreparedCatalogue | None = None
    _extra: dict[int, NoteFeatures] = field(default_factory=dict, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def cold_start(self) -> bool:
        """Anonymous, or nothing known about the user yet (no profile and no recent)."""
        if self.user_id is None:
            return True
        no_profile = self.profile is None or self.profile.is_empty
        return no_profile and not self.recent

    def features(self, note_id: int) -> NoteFeatures | None:
        f = self.notes.get(note_id)
        return f if f is not None else self._extra.get(note_id)

    def all_features(self) -> Mapping[int, NoteFeatures]:
        if not self._extra:
            return self.notes
        return {**self.notes, **self._extra}

    def hot_norm(self, note_id: int) -> float:
        """Hot score on a log scale relative to the hottest known note, in [0, 1]."""
        if self.prepared is not None and self.prepared.hot is self.hot:
            return self.prepared.hot_norm.get(note_id, 0.0)
        top = self._cache.get("hot_max")
        if top is None:
            top = self._cache["hot_max"] = max(self.hot.values(), default=0.0)
        h = self.hot.get(note_id, 0.0)
        if h <= 0 or top <= 0 or not math.isfinite(h) or not math.isfinite(top):
            return 0.0
        # The scalar form of `blend.hot_norm` (same formula): this runs for thousands of
        # candidates per request, where a numpy call per note costs more than the maths.
        return min(math.log1p(h) / math.log1p(top), 1.0)

    def blend_weights(self, base: Mapping[str, float]) -> dict[str, float]:
        """The feed's weights scaled by this user's evidence (`ranking.blend.signal_weights`)."""
        profile = self.profile if self.profile is not None and not self.profile.is_empty else None
        focus = 0.0
        if profile is not None:
            keys = self._cache.get("key_counts")
            if keys is None:
                keys = self._cache["key_counts"] = (
                    self.prepared.key_counts(self._extra.values())
                    if self.prepared is not None and self.prepared.notes is self.notes
                    else key_counts(self.all_features().values())
                )
            focus = profile.focus(keys)
        return signal_weights(
            base,
            cf_events=len(self.recent),
            interest_events=profile.evidence if profile is not None else 0.0,
            interest_focus=focus,
        )

    def interest_scores(self) -> np.ndarray | None:
        """The profile's score of every prepared catalogue note (row order of its index),
        computed once per request; None without a prepared catalogue or a profile."""
        if self.prepared is None or self.profile is None or self.profile.is_empty:
            return None
        scores = self._cache.get("interest_scores")
        if scores is None:
            scores = self._cache["interest_scores"] = self.profile.score_index(self.prepared.index)
        return scores

    def interest(self, note_id: int, features: NoteFeatures) -> float:
        """`profile.score` of one note, read from `interest_scores` when it is prepared."""
        assert self.profile is not None
        scores = self.interest_scores()
        if scores is not None:
            row = self.prepared.position.get(note_id) if self.prepared is not None else None
            if row is not None:
                return float(scores[row])
        return self.profile.score(features)

    def pool_boost(self, pool: TrafficPool, features: NoteFeatures) -> float:
        """A promoted note's boost (impressions are as of the catalogue, so a note that was
        not promoted when it was prepared cannot be now)."""
        prepared = self.prepared
        n = features.note_id
        if prepared is not None and n in prepared.position and n not in prepared.promoted:
            return 0.0
        return pool.boost(features, self.now)


@dataclass
class PageResult:
    items: list[Scored]
    dropped: dict[str, int]
    cold_start: bool = False
    candidates: int = 0
    restored: int = 0  # recently-served notes let back in because the page would be short
    sources: dict[str, int] = field(default_factory=dict)


# -- stage protocols ----------------------------------------------------------------------
@runtime_checkable
class CandidateSource(Protocol):
    name: str

    def enabled(self, ctx: RequestContext) -> bool: ...

    def fetch(self, ctx: RequestContext) -> list[Scored]: ...


@runtime_checkable
class Filter(Protocol):
    name: str
    soft: bool  # soft drops are restored when the page would otherwise be short

    def apply(
        self, ctx: RequestContext, items: list[Scored]
    ) -> tuple[list[Scored], list[Scored]]: ...


@runtime_checkable
class Scorer(Protocol):
    name: str

    def score(self, ctx: RequestContext, items: list[Scored]) -> list[Scored]: ...


@runtime_checkable
class Selector(Protocol):
    name: str

    def select(self, ctx: RequestContext, items: list[Scored], page_size: int) -> list[Scored]: ...


# -- sources ------------------------------------------------------------------------------
def _in_channel(ctx: RequestContext, f: NoteFeatures | None) -> bool:
    return ctx.channel is None or (f is not None and f.channel == ctx.channel)


@dataclass
class InterestSource:
    """Catalogue notes that match the user's channels, topics, tags and authors."""

    limit: int = 300
    name: str = "interest"

    def enabled(self, ctx: RequestContext) -> bool:
        return ctx.profile is not None and not ctx.profile.is_empty

    def fetch(self, ctx: RequestContext) -> list[Scored]:
        assert ctx.profile is not None
        profile = ctx.profile
        scores = ctx.interest_scores()
        if scores is not None and ctx.prepared is not None:
            return self._fetch_prepared(ctx, ctx.prepared, scores)
        scored = []
        for f in ctx.notes.values():
            if not _in_channel(ctx, f):
                continue
            s = profile.score(f)
            if s > 0:
                scored.append((s, f.published_at, f.note_id))
        scored.sort(reverse=True)
        return [Scored(n, s, "interest", {"interest": s}) for s, _, n in scored[: self.limit]]

    def _fetch_prepared(
        self, ctx: RequestContext, prepared: PreparedCatalogue, scores: np.ndarray
    ) -> list[Scored]:
        """The same top `limit`, from the catalogue's score array."""
        rows = np.flatnonzero(scores > 0)
        ids = prepared.index.note_ids
        if ctx.notes is not prepared.notes:  # a channel feed's (or any narrowed) catalogue
            keep = np.fromiter((int(n) in ctx.notes for n in ids[rows]), bool, len(rows))
            rows = rows[keep]
        if len(rows) > 4 * self.limit:  # only the best can make the cut: sort just those
            cut = np.partition(scores[rows], len(rows) - self.limit)[len(rows) - self.limit]
            rows = rows[scores[rows] >= cut]
        published = np.fromiter(
            (ctx.notes[int(n)].published_at for n in ids[rows]), np.float64, len(rows)
        )
        order = np.lexsort((ids[rows], published, scores[rows]))[::-1][: self.limit]
        return [
            Scored(int(ids[r]), float(scores[r]), "interest", {"interest": float(scores[r])})
            for r in rows[order]
        ]


@dataclass
class CFSource:
    """Item-CF neighbours of what the user engaged with recently."""

    limit: int = 300
    name: str = "cf"

    def enabled(self, ctx: RequestContext) -> bool:
        return ctx.cf is not None and bool(ctx.recent)

    def fetch(self, ctx: RequestContext) -> list[Scored]:
        assert ctx.cf is not None
        recs = ctx.cf.recommend(ctx.recent, self.limit, exclude=ctx.engaged)
        top = max((s for _, s in recs), default=0.0)
        if top <= 0:
            return []
        norm = cf_norm(np.array([s for _, s in recs], dtype=np.float64), top).tolist()
        return [Scored(n, v, "cf", {"cf": v}) for (n, _), v in zip(recs, norm, strict=True)]


@dataclass
class HotSource:
    """The hot list (restricted to the channel on channel feeds)."""

    limit: int = 200
    name: str = "hot"

    def enabled(self, ctx: RequestContext) -> bool:
        return bool(ctx.hot)

    def fetch(self, ctx: RequestContext) -> list[Scored]:
        prepared = ctx.prepared
        if prepared is not None and prepared.hot is ctx.hot:
            out = []
            for n in prepared.hot_order:
                if len(out) >= self.limit:
                    break
                if ctx.channel is None or _in_channel(ctx, ctx.notes.get(n)):
                    v = prepared.hot_norm.get(n, 0.0)
                    out.append(Scored(n, v, "hot", {"hot": v}))
            return out
        allowed = None
        if ctx.channel is not None:
            allowed = lambda n: _in_channel(ctx, ctx.notes.get(n))  # noqa: E731
        out = []
        for n, _ in top_hot(ctx.hot, self.limit, allowed=allowed):
            v = ctx.hot_norm(n)
            out.append(Scored(n, v, "hot", {"hot": v}))
        return out


@dataclass
class ExploreSource:
    """New notes with traffic-pool budget left."""

    pool: TrafficPool
    limit: int = 30
    name: str = "explore"

    def enabled(self, ctx: RequestContext) -> bool:
        return bool(ctx.notes)

    def fetch(self, ctx: RequestContext) -> list[Scored]:
        # The prepared pool holds every note that was in the pool at the rebuild; a note only
        # leaves the pool as time passes, which `candidates` checks again at `ctx.now`.
        if ctx.prepared is not None:
            return self.pool.candidates_from(
                ctx.prepared.pool, ctx.now, self.limit, ctx.rng, channel=ctx.channel
            )
        notes = (f for f in ctx.notes.values() if _in_channel(ctx, f))
        return self.pool.candidates(notes, ctx.now, self.limit, ctx.rng)


@dataclass
class PickSource:
    """Editors' picks for the feed's slot (`channel:<name>` on channel feeds)."""

    limit: int = 20
    name: str = "pick"

    def enabled(self, ctx: RequestContext) -> bool:
        return ctx.editorial is not None

    def fetch(self, ctx: RequestContext) -> list[Scored]:
        assert ctx.editorial is not None
        slot = ctx.feed if ctx.channel is None else f"channel:{ctx.channel}"
        out = []
        for rank, (n, pos) in enumerate(ctx.editorial.picks(slot, ctx.now)[: self.limit]):
            comps = {"pick": 1.0, "pick_rank": float(rank)}
            if pos is not None:
                comps["pick_position"] = float(pos)
            out.append(Scored(int(n), 1.0, "pick", comps))
        return out


@dataclass
class FollowingSource:
    """Recent notes by followed authors."""

    limit: int = 100
    name: str = "following"

    def enabled(self, ctx: RequestContext) -> bool:
        return bool(ctx.following)

    def fetch(self, ctx: RequestContext) -> list[Scored]:
        if ctx.prepared is not None:
            by_author = ctx.prepared.by_author
            ids = [n for a in ctx.following for n in by_author.get(a, ())]
            fs = [f for n in ids if (f := ctx.notes.get(n)) is not None and _in_channel(ctx, f)]
        else:
            fs = [
                f
                for f in ctx.notes.values()
                if f.author_id in ctx.following and _in_channel(ctx, f)
            ]
        fs.sort(key=lambda f: (f.published_at, f.note_id), reverse=True)
        return [Scored(f.note_id, 1.0, "following", {"following": 1.0}) for f in fs[: self.limit]]


# -- filters ------------------------------------------------------------------------------
@dataclass
class PredicateFilter:
    """Removes items for which `drop(ctx, item, features)` is true."""

    name: str
    drop: Callable[[RequestContext, Scored, NoteFeatures | None], bool]
    soft: bool = False

    def apply(self, ctx: RequestContext, items: list[Scored]) -> tuple[list[Scored], list[Scored]]:
        kept, removed = [], []
        for it in items:
            (removed if self.drop(ctx, it, ctx.features(it.note_id)) else kept).append(it)
        return kept, removed


@dataclass
class NoteSetFilter:
    """Removes items whose note id is in the set `ids(ctx)` gives (built once per apply)."""

    name: str
    ids: Callable[[RequestContext], AbstractSet[int]]
    soft: bool = False

    def apply(self, ctx: RequestContext, items: list[Scored]) -> tuple[list[Scored], list[Scored]]:
        drop = self.ids(ctx)
        if not drop:
            return items, []
        return [it for it in items if it.note_id not in drop], [
            it for it in items if it.note_id in drop
        ]


@dataclass
class FeatureKeyFilter:
    """Removes items whose note has any of `keys(note)` in the set `blocked(ctx)`."""

    name: str
    blocked: Callable[[RequestContext], AbstractSet[Any]]
    keys: Callable[[NoteFeatures], Iterable[Any]]
    soft: bool = False

    def apply(self, ctx: RequestContext, items: list[Scored]) -> tuple[list[Scored], list[Scored]]:
        blocked = self.blocked(ctx)
        if not blocked:
            return items, []
        kept, removed = [], []
        for it in items:
            f = ctx.features(it.note_id)
            hit = f is not None and not blocked.isdisjoint(self.keys(f))
            (removed if hit else kept).append(it)
        return kept, removed


def _neg(ctx: RequestContext, attr: str) -> set[int]:
    return getattr(ctx.profile, attr) if ctx.profile is not None else set()


def default_filters() -> list[Filter]:
    """The feed's filters, in order (the first that drops an item gets the count)."""
    return [
        PredicateFilter("unknown", lambda c, i, f: f is None),
        NoteSetFilter("seen", lambda c: c.seen),
        NoteSetFilter("engaged", lambda c: c.engaged),
        NoteSetFilter("hidden", lambda c: c.hidden_notes | _neg(c, "negative_notes")),
        FeatureKeyFilter(
            "blocked_author",
            lambda c: c.blocked_authors | _neg(c, "negative_authors"),
            lambda f: (f.author_id,),
        ),
        FeatureKeyFilter(
            "blocked_topic",
            lambda c: c.blocked_topics | _neg(c, "negative_topics"),
            lambda f: f.topics,
        ),
        PredicateFilter("channel", lambda c, i, f: c.channel is not None and not _in_channel(c, f)),
        NoteSetFilter("recently_served", lambda c: c.recently_served, soft=True),
    ]


# -- scorers ------------------------------------------------------------------------------
@dataclass
class BlendScorer:
    """Fills every signal for every candidate and blends them with `ranking.blend.blend`:
    the feed's weights, personal signals scaled by the user's evidence (`signal_weights`).

    The card's `source` becomes the signal that contributed most (picks stay picks).
    """

    blend: BlendConfig
    pool: TrafficPool
    name: str = "blend"

    def score(self, ctx: RequestContext, items: list[Scored]) -> list[Scored]:
        """One pass fills each candidate's components and the per-signal columns; the blend
        runs on the columns; a second pass names each card's source. (Written for the
        hundreds of candidates of every ranking run: no per-candidate method calls.)"""
        w = ctx.blend_weights(self.blend.weights)
        boosts: dict[int, float] = {}
        author_boosts: dict[int, float] = {}
        if ctx.editorial is not None:
            boosts = ctx.editorial.boosts(ctx.now)
            author_boosts = ctx.editorial.author_boosts(ctx.now)
        profile = ctx.profile if ctx.profile is not None and not ctx.profile.is_empty else None
        interest_of = _interest_lookup(ctx, profile)
        prepared = ctx.prepared
        in_prepared = prepared.position if prepared is not None else {}
        promoted = prepared.promoted if prepared is not None else frozenset()
        hot_norms = prepared.hot_norm if prepared is not None and prepared.hot is ctx.hot else None
        following = ctx.following
        n = len(items)
        columns: dict[str, list[float]] = {k: [0.0] * n for k in SIGNALS}
        filled: list[dict[str, float]] = []
        for j, it in enumerate(items):
            note_id = it.note_id
            f = ctx.features(note_id)
            comps = dict(it.components)
            if interest_of is not None and f is not None and "interest" not in comps:
                comps["interest"] = max(interest_of(note_id, f), 0.0)
            if "hot" not in comps:
                h = hot_norms.get(note_id, 0.0) if hot_norms is not None else ctx.hot_norm(note_id)
                if h > 0:
                    comps["hot"] = h
            boost = boosts.get(note_id, 0.0)
            if f is not None:
                pool_boost = (
                    0.0
                    if note_id in in_prepared and note_id not in promoted
                    else self.pool.boost(f, ctx.now)
                )
                boost += author_boosts.get(f.author_id, 0.0) + pool_boost
            if boost:
                comps["boost"] = boost
            if f is not None and f.author_id in following:
                comps["following"] = 1.0
            for k, v in comps.items():
                column = columns.get(k)
                if column is not None:
                    column[j] = v
            filled.append(comps)
        arrays = {k: np.array(columns[k], dtype=np.float64) for k in SIGNALS}
        totals = blend(arrays, w).tolist() if items else []
        weights = [(k, w.get(k, 0.0)) for k in SIGNALS]
        out = []
        for it, comps, total in zip(items, filled, totals, strict=True):
            source = it.source
            if source not in STICKY_SOURCES:
                # the signal that contributed most (the card's own source wins a tie)
                best: tuple[float, bool] | None = None
                best_signal = source
                for k, wk in weights:
                    v = comps.get(k)
                    if v is None:
                        continue
                    key = (wk * v, k == it.source)
                    if best is None or key > best:
                        best, best_signal = key, k
                if best is not None and best[0] > 0:
                    source = best_signal
            out.append(Scored(it.note_id, total, source, comps))
        return out


def _interest_lookup(
    ctx: RequestContext, profile: InterestProfile | None
) -> Callable[[int, NoteFeatures], float] | None:
    """`ctx.interest` as a plain function over a list of the catalogue's scores."""
    if profile is None:
        return None
    scores = ctx.interest_scores()
    if scores is None or ctx.prepared is None:
        return lambda _note_id, f: profile.score(f)
    values = scores.tolist()
    position = ctx.prepared.position

    def interest(note_id: int, f: NoteFeatures) -> float:
        row = position.get(note_id)
        return values[row] if row is not None else profile.score(f)

    return interest


# -- selection ----------------------------------------------------------------------------
def diversify(
    items: list[Scored],
    notes: Mapping[int, NoteFeatures],
    *,
    max_per_author: int = 2,
    window: int = 10,
    max_channel_run: int = 2,
    max_topic_run: int = 2,
    lookahead: int = 50,
    history: Sequence[int] = (),
    pinned: Mapping[int, Scored] | None = None,
    limit: int | None = None,
) -> list[Scored]:
    """Greedy re-rank: the best next item that keeps the author rule, preferring a channel
    and primary topic that do not extend a run.

    Hard rule: no author more than `max_per_author` times in any `window` consecutive cards
    (counting `history`, the cards shown just before). Items that cannot be placed without
    breaking it are left out, so the result may be shorter than the input. Duplicates are
    dropped. Runs of one channel/topic longer than the max are avoided when an alternative
    exists within `lookahead`. `pinned` maps output positions to items (positioned editorial
    picks) placed there when the author rule allows, else ranked with the rest. `limit` stops
    after that many cards (the greedy choice makes the result a prefix of the unlimited one):
    a ranking run keeps a few hundred cards of a pool of a thousand.
    """

    keys: dict[int, tuple[int | None, str | None, int | None]] = {}

    def key(n: int) -> tuple[int | None, str | None, int | None]:
        k = keys.get(n)
        if k is None:
            f = notes.get(n)
            k = keys[n] = (
                (None, None, None)
                if f is None
                else (f.author_id, f.channel, (f.topics[0] if f.topics else None))
            )
        return k

    placed = _Placed(window)
    for n in history:
        placed.add(key(n))
    used: set[int] = set(history)
    pending = [it for it in items if it.note_id not in used]
    out: list[Scored] = []

    def author_ok(a: int | None) -> bool:
        return a is None or placed.author_count(a) < max_per_author

    def run_ok(idx: int, value: Any, limit: int) -> bool:
        if value is None or limit <= 0 or len(placed) < limit:
            return True
        return not placed.run_at_least(idx, value, limit)

    pins = dict(pinned or {})
    pending += [p for p in pins.values() if p.note_id not in used]  # fallback slot if not placed
    pinned_ids = {p.note_id for p in pins.values()}
    while pending and (limit is None or len(out) < limit):
        pin = pins.pop(len(out), None)
        if pin is not None and pin.note_id not in used and author_ok(key(pin.note_id)[0]):
            pending.remove(pin)
            used.add(pin.note_id)
            placed.add(key(pin.note_id))
            out.append(pin)
            continue
        chosen = fallback = None
        for i, it in enumerate(pending[:lookahead]):
            if it.note_id in pinned_ids and any(p.note_id == it.note_id for p in pins.values()):
                continue  # still waiting for its position
            a, ch, tp = key(it.note_id)
            if not author_ok(a):
                continue
            if fallback is None:
                fallback = i
            if run_ok(1, ch, max_channel_run) and run_ok(2, tp, max_topic_run):
                chosen = i
                break
        if chosen is None:
            chosen = fallback
        if chosen is None:
            chosen = next(
                (
                    i
                    for i in range(lookahead, len(pending))
                    if author_ok(key(pending[i].note_id)[0])
                ),
                None,
            )
            if chosen is None:
                break
        it = pending.pop(chosen)
        if it.note_id in used:
            continue
        used.add(it.note_id)
        placed.add(key(it.note_id))
        out.append(it)
    return out


class _Placed:
    """The keys of the cards placed so far, with what the diversity rules ask of them kept up
    to date as cards are added (each question was a scan of the last cards): how often each
    author appears among the last `window - 1`, and the trailing run of channel and topic."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.keys: list[tuple[int | None, str | None, int | None]] = []
        self.authors: Counter[int] = Counter()
        self.runs: dict[int, tuple[Any, int]] = {1: (None, 0), 2: (None, 0)}

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: tuple[int | None, str | None, int | None]) -> None:
        self.keys.append(key)
        if self.window > 1:
            if key[0] is not None:
                self.authors[key[0]] += 1
            if len(self.keys) > self.window - 1:
                leaving = self.keys[-self.window][0]
                if leaving is not None:
                    self.authors[leaving] -= 1
        for idx in (1, 2):
            value, length = self.runs[idx]
            self.runs[idx] = (value, length + 1) if length and value == key[idx] else (key[idx], 1)

    def author_count(self, author: int) -> int:
        """Cards by `author` among the last `window - 1` placed."""
        return self.authors[author] if self.window > 1 else 0

    def run_at_least(self, idx: int, value: Any, limit: int) -> bool:
        """Whether the last `limit` cards all have `value` at key position `idx`."""
        run_value, length = self.runs[idx]
        return length >= limit and run_value == value


@dataclass
class PageSelector:
    """Order by score, reserve the exploration share, place positioned picks, diversify."""

    diversity: DiversityConfig
    explore_share: float
    pool_factor: int = 5
    name: str = "page"

    def select(self, ctx: RequestContext, items: list[Scored], page_size: int) -> list[Scored]:
        return self.select_after(ctx, items, page_size, history=list(ctx.history))

    def select_after(
        self, ctx: RequestContext, items: list[Scored], page_size: int, history: list[int]
    ) -> list[Scored]:
        if page_size <= 0 or not items:
            return []
        ranked = sorted(items, key=lambda s: (-s.score, -s.note_id))
        picks = [s for s in ranked if s.source == "pick"]
        rest = [s for s in ranked if s.source != "pick"]
        # cold start: unpositioned picks lead the page; otherwise they blend by score
        positioned = [p for p in picks if "pick_position" in p.components]
        free_picks = [p for p in picks if "pick_position" not in p.components]
        if ctx.cold_start:
            free_picks.sort(key=lambda p: p.components.get("pick_rank", 0.0))
            lead, rest = free_picks, rest
        else:
            lead, rest = [], sorted(rest + free_picks, key=lambda s: (-s.score, -s.note_id))
        rest = self._reserve_explore(rest, page_size)
        ordered = lead + rest[: page_size * self.pool_factor]
        pinned: dict[int, Scored] = {}
        for p in sorted(positioned, key=lambda p: p.components["pick_position"]):
            pos = max(int(p.components["pick_position"]), 0)
            while pos in pinned:
                pos += 1
            pinned[pos] = p
        d = self.diversity
        page = diversify(
            ordered,
            ctx.all_features(),
            max_per_author=d.max_per_author,
            window=d.window,
            max_channel_run=d.max_channel_run,
            max_topic_run=d.max_topic_run,
            lookahead=d.lookahead,
            history=history,
            pinned=pinned,
            limit=page_size,
        )
        return page

    def _reserve_explore(self, ranked: list[Scored], page_size: int) -> list[Scored]:
        """Pool notes get exactly the page's exploration share.

        The best `explore_share × page_size` pool notes are interleaved at even intervals
        whatever their score; further pool notes go after everything else, so they only fill
        pages that would otherwise be short (pool traffic stays bounded per page).
        """
        n = round(self.explore_share * page_size)
        explore = [s for s in ranked if s.source == "explore"]
        if not explore:
            return ranked
        chosen, excess = explore[:n], explore[n:]
        others = [s for s in ranked if s.source != "explore"]
        out = list(others)
        if chosen:
            step = max(page_size // len(chosen), 1)
            for j, s in enumerate(chosen):
                out.insert(min((j + 1) * step - 1, len(out)), s)
        return out + excess


# -- the pipeline -------------------------------------------------------------------------
@dataclass
class Pipeline:
    feed: str
    sources: list[CandidateSource]
    filters: list[Filter]
    scorer: Scorer
    cold_scorer: Scorer
    selector: PageSelector
    cold_sources: frozenset[str] = frozenset({"pick", "hot", "explore", "interest"})

    @property
    def stage_names(self) -> dict[str, list[str]]:
        return {
            "sources": [s.name for s in self.sources],
            "filters": [f.name for f in self.filters],
            "scorers": [self.scorer.name],
            "selector": [self.selector.name],
        }

    def run(self, ctx: RequestContext, page_size: int) -> PageResult:
        cold = ctx.cold_start
        merged: dict[int, Scored] = {}
        for src in self.sources:
            if cold and src.name not in self.cold_sources:
                continue
            if not src.enabled(ctx):
                continue
            for it in src.fetch(ctx):
                prev = merged.get(it.note_id)
                if prev is None:
                    merged[it.note_id] = it
                else:
                    comps = {**it.components, **prev.components}
                    merged[it.note_id] = Scored(prev.note_id, prev.score, prev.source, comps)
        items = list(merged.values())
        self._hydrate(ctx, items)

        dropped: dict[str, int] = {}
        soft_removed: list[Scored] = []
        for flt in self.filters:
            items, removed = flt.apply(ctx, items)
            if removed:
                dropped[flt.name] = dropped.get(flt.name, 0) + len(removed)
                if flt.soft:
                    soft_removed.extend(removed)
        scorer = self.cold_scorer if cold else self.scorer
        # One scoring pass for the kept and the softly removed (needed if the page is short).
        both = scorer.score(ctx, items + soft_removed)
        scored, back = both[: len(items)], both[len(items) :]
        page = self.selector.select(ctx, scored, page_size)
        restored = 0
        if len(page) < page_size and back:
            # only when the page would be short: let recently served notes back in
            history = [*ctx.history, *(s.note_id for s in page)]
            extra = self.selector.select_after(ctx, back, page_size - len(page), history)
            page.extend(extra)
            restored = len(extra)
            dropped["recently_served"] -= restored
            if not dropped["recently_served"]:
                del dropped["recently_served"]
        return PageResult(
            items=page,
            dropped=dropped,
            cold_start=cold,
            candidates=len(merged),
            restored=restored,
            sources=dict(Counter(s.source for s in page)),
        )

    @staticmethod
    def _hydrate(ctx: RequestContext, items: list[Scored]) -> None:
        if ctx.hydrate is None:
            return
        missing = [s.note_id for s in items if ctx.features(s.note_id) is None]
        if missing:
            ctx._extra.update(ctx.hydrate(missing))


def build_pipeline(feed: str, config: RankingConfig = RANKING) -> Pipeline:
    """The pipeline for a feed ("discover", "channel", "following", …); unknown feeds use
    the discover blend."""
    blend = config.feeds.get(feed) or config.feeds["discover"]
    pool = TrafficPool(config.exploration)
    fetch = blend.fetch
    sources: list[CandidateSource] = [
        PickSource(limit=fetch.get("pick", 20)),
        FollowingSource(limit=fetch.get("following", 100)),
        CFSource(limit=fetch.get("cf", 300)),
        InterestSource(limit=fetch.get("interest", 300)),
        ExploreSource(pool, limit=fetch.get("explore", 30)),
        HotSource(limit=fetch.get("hot", 200)),
    ]
    explore_share = config.exploration.explore_share if blend.weights.get("explore", 0) > 0 else 0.0
    return Pipeline(
        feed=feed,
        sources=[s for s in sources if blend.weights.get(s.name, 0) > 0 or s.name == "pick"],
        filters=default_filters(),
        scorer=BlendScorer(blend, pool),
        cold_scorer=BlendScorer(config.cold_start, pool, name="blend_cold"),
        selector=PageSelector(
            config.diversity, explore_share=explore_share, pool_factor=blend.pool_factor
        ),
    )
