"""The page selector: order by score, reserve the exploration share, place positioned picks,
diversify."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ranking.config import DiversityConfig
from ranking.context import RequestContext
from ranking.selectors.diversity import Quota, diversify
from ranking.types import Scored


@dataclass
class PageSelector:
    """Order by score, reserve the exploration share, place positioned picks, diversify."""

    diversity: DiversityConfig
    explore_share: float  # `ExplorationConfig.explore_share`, or 0 where a feed does not explore
    pool_factor: int  # `BlendConfig.pool_factor`: candidates kept for diversity per card
    name: str = "page"
    # `DiversityConfig.pick_share` / `pick_span`: unpositioned picks per run of a signed-in
    # viewer's cards.
    pick_share: float = 0.2
    pick_span: int = 5

    def select(self, ctx: RequestContext, items: list[Scored], page_size: int) -> list[Scored]:
        return self.select_after(ctx, items, page_size, history=list(ctx.history))

    def select_after(
        self, ctx: RequestContext, items: list[Scored], page_size: int, history: list[int]
    ) -> list[Scored]:
        """The page that follows the cards `history` (the pipeline also fills a short page
        with softly dropped candidates this way)."""
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
        ordered = lead + rest
        quotas = self.quotas(signed_in=ctx.user_id is not None)
        if ctx.user_id is not None:
            # Picks that must wait are moved past the ranked cards they would crowd out
            # before the quota sees them: within `diversify`'s lookahead a waiting pick is
            # what fills a place when the rules hold back everything else.
            ordered = self._space_picks(ordered)
        ordered = ordered[: len(lead) + page_size * self.pool_factor]
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
            quotas=quotas,
        )
        return page

    def quotas(self, *, signed_in: bool) -> list[Quota]:
        """The page's quotas for `diversify` (`page_quotas`)."""
        return page_quotas(self.explore_share, self.pick_share, self.pick_span, signed_in=signed_in)

    def _space_picks(self, ordered: list[Scored]) -> list[Scored]:
        """Unpositioned picks keep their place while fewer than `pick_share × pick_span` of the
        last `pick_span` cards are picks; the others wait for the first place where they fit
        (and fill the end of the run if none does)."""
        cap = round(self.pick_share * self.pick_span)
        if cap >= self.pick_span:
            return ordered
        out: list[Scored] = []
        recent: deque[bool] = deque(maxlen=max(self.pick_span - 1, 0))
        waiting: deque[Scored] = deque()

        def place(it: Scored, is_pick: bool) -> None:
            out.append(it)
            recent.append(is_pick)

        def room() -> bool:
            return sum(recent) < cap

        for it in ordered:
            is_pick = _free_pick(it)
            if is_pick:
                if not waiting and room():
                    place(it, True)
                else:
                    waiting.append(it)
                continue
            while waiting and room():
                place(waiting.popleft(), True)
            place(it, False)
        out.extend(waiting)
        return out

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


def page_quotas(
    explore_share: float, pick_share: float, pick_span: int, *, signed_in: bool
) -> list[Quota]:
    """Quotas for `diversify` (the discover service applies them again when it serves a
    buffered page). Pool notes beyond the exploration share only fill what nothing else
    can: one in every 1/share cards (one in seven at 0.15), spread over the page; for a
    signed-in viewer, unpositioned picks `pick_share` of any `pick_span` cards."""
    out: list[Quota] = []
    if explore_share > 0:
        out.append((_explore, 1, max(round(1 / explore_share), 1)))
    if signed_in:
        out.append((_free_pick, round(pick_share * pick_span), pick_span))
    return out


def _free_pick(item: Scored) -> bool:
    """An editors' pick without a position (those blend with the ranked cards)."""
    return item.source == "pick" and "pick_position" not in item.components


def _explore(item: Scored) -> bool:
    return item.source == "explore"
