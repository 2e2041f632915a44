"""The feed waterfall: candidate sources → filters → scorer → selector (blend, diversify, page).

Modelled on twitter/the-algorithm's product-mixer without the framework: the stages live one
per module in `ranking.sources`, `ranking.filters`, `ranking.scorers` and `ranking.selectors`
(their protocols in `ranking.stages`); this module only composes them. A pipeline is a list
of stages assembled in `build_pipeline` from `ranking.config`. Everything is plain data and
deterministic given `ctx.rng`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ranking.config import RANKING, BlendConfig, RankingConfig
from ranking.context import RequestContext
from ranking.filters import (
    BlockedAuthorFilter,
    BlockedTopicFilter,
    ChannelFilter,
    EngagedFilter,
    HiddenFilter,
    RecentlyServedFilter,
    SeenFilter,
    UnknownFilter,
)
from ranking.scorers import BlendScorer
from ranking.selectors import PageSelector, diversify
from ranking.selectors.diversity import Quota
from ranking.selectors.page import page_quotas as selector_quotas
from ranking.signals.exploration import TrafficPool
from ranking.sources import (
    CFSource,
    ExploreSource,
    ExtraSource,
    FallbackSource,
    FollowingSource,
    HotSource,
    InterestSource,
    PickSource,
)
from ranking.stages import CandidateSource, Filter, Scorer
from ranking.types import Scored

# `RequestContext` and `diversify` are re-exported: callers import them from here.
__all__ = [
    "PageResult",
    "Pipeline",
    "RequestContext",
    "build_pipeline",
    "default_filters",
    "diversify",
    "page_quotas",
]


@dataclass
class PageResult:
    """One page and how it was made (drop counts per filter, cards per source): the service
    logs and explains these."""

    items: list[Scored]
    dropped: dict[str, int]
    cold_start: bool = False
    candidates: int = 0
    restored: int = 0  # softly dropped (recently served) notes let back in: page was short
    sources: dict[str, int] = field(default_factory=dict)


@dataclass
class Pipeline:
    """Runs the stages for one request: fetch and merge, filter, score, select. A page left
    short goes on over the whole catalogue (`fallback`), then takes back the softly dropped
    candidates (notes served in earlier sessions)."""

    feed: str
    sources: list[CandidateSource]
    filters: list[Filter]
    scorer: Scorer
    cold_scorer: Scorer
    selector: PageSelector
    cold_sources: frozenset[str] = RANKING.cold_start_sources
    #: The whole catalogue, for when the ranked candidates run out (`ctx.fallback`).
    fallback: FallbackSource | None = None
    fallback_rounds: int = 3  # fetches per run (filters and diversity may keep few of one)

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
        soft_filter: dict[int, str] = {}  # note → the soft filter that removed it
        items = self._filter(ctx, items, dropped, soft_removed, soft_filter)
        scorer = self.cold_scorer if cold else self.scorer
        # The softly removed are scored only if the page ends up short (scores are per
        # candidate): in a long ranking ahead they were two thirds of what was scored.
        ranked_soft = len(soft_removed)
        scored = scorer.score(ctx, items)
        page = self.selector.select(ctx, scored, page_size)
        fetched = set(merged)
        if len(page) < page_size and self.fallback is not None and self.fallback.enabled(ctx):
            # The ranked candidates ran out: go on over the whole catalogue, unseen notes only.
            # Notes served recently are not fetched while others remain: the soft filter
            # would drop them (in a long scroll, 70% of what the order offered, fetched and
            # filtered for nothing). A last round without that exclusion brings them for the
            # restore below when the page is still short.
            served: frozenset[int] = frozenset(ctx.recently_served)
            rounds = 0
            while True:
                if rounds >= self.fallback_rounds:
                    if not served:
                        break
                    served = frozenset()  # the page is short: one round for the restore
                need = page_size - len(page)
                exclude = frozenset(fetched | ctx.seen | set(ctx.history) | served)
                more = self.fallback.fetch_more(ctx, max(2 * need, need + 20), exclude)
                if not more:
                    if not served:
                        break
                    served = frozenset()  # no unserved note left: on to the restore's round
                    continue
                rounds += 1
                fetched.update(it.note_id for it in more)
                kept = self._filter(ctx, more, dropped, soft_removed, soft_filter)
                history = [*ctx.history, *(s.note_id for s in page)]
                page.extend(self.selector.select_after(ctx, kept, need, history))
                if len(page) >= page_size:
                    break
        restored = 0
        if len(page) < page_size and soft_removed:
            # only when the page would be short: let softly dropped notes back in (the
            # fallback's in the fallback's order, after the ranked candidates')
            back = scorer.score(ctx, soft_removed[:ranked_soft]) + soft_removed[ranked_soft:]
            history = [*ctx.history, *(s.note_id for s in page)]
            extra = self.selector.select_after(ctx, back, page_size - len(page), history)
            page.extend(extra)
            restored = len(extra)
            for it in extra:
                name = soft_filter[it.note_id]
                dropped[name] -= 1
                if not dropped[name]:
                    del dropped[name]
        return PageResult(
            items=page,
            dropped=dropped,
            cold_start=cold,
            candidates=len(fetched),
            restored=restored,
            sources=dict(Counter(s.source for s in page)),
        )

    def _filter(
        self,
        ctx: RequestContext,
        items: list[Scored],
        dropped: dict[str, int],
        soft_removed: list[Scored],
        soft_filter: dict[int, str],
    ) -> list[Scored]:
        """Runs the filters in order, counting drops and keeping what soft filters removed."""
        for flt in self.filters:
            items, removed = flt.apply(ctx, items)
            if removed:
                dropped[flt.name] = dropped.get(flt.name, 0) + len(removed)
                if flt.soft:
                    soft_removed.extend(removed)
                    soft_filter.update((it.note_id, flt.name) for it in removed)
        return items

    @staticmethod
    def _hydrate(ctx: RequestContext, items: list[Scored]) -> None:
        if ctx.hydrate is None:
            return
        missing = [s.note_id for s in items if ctx.features(s.note_id) is None]
        if missing:
            ctx.add_features(ctx.hydrate(missing))


def default_filters() -> list[Filter]:
    """The feed's filters, in order (the first that drops an item gets the count)."""
    return [
        UnknownFilter(),
        SeenFilter(),
        EngagedFilter(),
        HiddenFilter(),
        BlockedAuthorFilter(),
        BlockedTopicFilter(),
        ChannelFilter(),
        RecentlyServedFilter(),
    ]


def build_pipeline(feed: str, config: RankingConfig = RANKING) -> Pipeline:
    """The pipeline for a feed ("discover", "channel", "following", …); unknown feeds use
    the discover blend."""
    blend = config.feeds.get(feed) or config.feeds["discover"]
    pool = TrafficPool(config.exploration)
    fetch = blend.fetch
    sources: list[CandidateSource] = [
        PickSource(limit=fetch.get("pick", PickSource.limit)),
        FollowingSource(limit=fetch.get("following", FollowingSource.limit)),
        CFSource(limit=fetch.get("cf", CFSource.limit)),
        InterestSource(limit=fetch.get("interest", InterestSource.limit)),
        ExploreSource(pool, limit=fetch.get("explore", ExploreSource.limit)),
        HotSource(limit=fetch.get("hot", HotSource.limit)),
    ]
    # The learned blend's ALS/EASE component: switches itself on per request (`enabled`)
    # when the context has a served model and parameters that weigh it.
    extra = ExtraSource(limit=fetch.get("extra", ExtraSource.limit))
    explore_share = _explore_share(blend, config)
    prior, sticky = config.evidence_prior, config.sticky_sources
    return Pipeline(
        feed=feed,
        sources=[
            *(s for s in sources if blend.weights.get(s.name, 0) > 0 or s.name == "pick"),
            extra,
        ],
        filters=default_filters(),
        scorer=BlendScorer(blend, pool, evidence_prior=prior, sticky=sticky),
        cold_scorer=BlendScorer(
            config.cold_start, pool, name="blend_cold", evidence_prior=prior, sticky=sticky
        ),
        selector=PageSelector(
            config.diversity,
            explore_share=explore_share,
            pool_factor=blend.pool_factor,
            pick_share=config.diversity.pick_share,
            pick_span=config.diversity.pick_span,
        ),
        cold_sources=config.cold_start_sources,
        fallback=FallbackSource(),
    )


def _explore_share(blend: BlendConfig, config: RankingConfig) -> float:
    """The share of a page kept for pool notes: none where the feed does not explore."""
    return config.exploration.explore_share if blend.weights.get("explore", 0) > 0 else 0.0


def page_quotas(feed: str, *, signed_in: bool, config: RankingConfig = RANKING) -> list[Quota]:
    """The quotas a feed's pages keep (pool notes, unpositioned picks), for a service that
    applies `diversify` again to a page served from a buffer."""
    blend = config.feeds.get(feed) or config.feeds["discover"]
    d = config.diversity
    return selector_quotas(
        _explore_share(blend, config), d.pick_share, d.pick_span, signed_in=signed_in
    )
