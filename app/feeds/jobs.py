"""The feeds' jobs: each takes ids or arguments and calls one feeds service.

They sit above the services they run (hot, related, ranker, impressions, cards) and below
the discover session, which enqueues `prefetch_feed` and `flush_impressions`: no service
they call imports this module. `app.schedule` lists the periodic ones. Their names are what
RQ and old outbox rows refer to (`app.feeds.jobs:<name>`): keep them.
"""

from __future__ import annotations

from typing import Any

from app.core.jobs import enqueue, job
from app.feeds import card_store, cards, hot, impressions, ranker, related
from app.feeds.cards import render_entries
from app.search.indexing import refresh_signals
from app.topics.services import list_channels


@job("low", durable=False)
def rebuild_hot() -> dict[str, Any]:
    """notes.hot_score for recent notes, and the day/week hot lists per channel and topic."""
    figures, changed = hot.rebuild_hot()
    # Search sorts by hot and weighs engagement: its copy follows, in a job of its own.
    enqueue(refresh_search_signals, changed)
    return figures


@job("low", durable=False)
def rebuild_itemcf() -> dict[str, Any]:
    """Fit item-to-item CF on recent engagement and store it for every process."""
    return related.rebuild_itemcf()


@job("low", keep_result=False, durable=False)
def refresh_search_signals(note_ids: list[int]) -> dict[str, int]:
    """The search index's hot scores and engagement counts, after the hot recompute."""
    return {"notes": refresh_signals(note_ids)}


@job("default", keep_result=False, durable=False)
def prefetch_feed(user_id: int, channel: str | None = None) -> dict[str, Any]:
    """Rank a viewer's next discover pages ahead of their next scroll, and put their cards'
    content in the shared cache for whichever web process serves them. In the same job: as a
    separate low-priority job it waited behind the next prefetches while web processes, finding
    no content, read it from the database themselves. Only the cards the store lacks are
    read (their presence is checked, not their bytes fetched)."""
    ranked = ranker.prefetch_next_pages(user_id, channel)
    stored = card_store.warm(ranked, render_entries) if ranked else {"rendered": 0}
    return {
        "user_id": user_id,
        "channel": channel,
        "cards": len(ranked),
        "rendered": stored["rendered"],
    }


@job("default", durable=False)
def rank_cold_feeds() -> dict[str, int]:
    """Discover and every channel ranked for no one in particular: what first pages and new
    anonymous sessions are served while their own pages are ranked (services mode)."""
    return ranker.rank_cold([channel.code for channel in list_channels()])


@job("low", durable=False)
def warm_cards() -> dict[str, int]:
    """Store the cards of the notes feeds are likely to serve next (the ranking catalogue:
    the hottest and the newest), so pages find them ready; only missing ones are rendered."""
    return card_store.warm(cards.catalogue_note_ids(), render_entries)


@job("default", durable=False)
def refresh_cards() -> dict[str, int]:
    """Store anew the cards whose note, counters or author changed (periodic): a card shows a
    change within this job's interval, and requests never read a changed card's rows."""
    return card_store.refresh(render_entries)


@job("default", durable=False)
def flush_impressions(max_items: int = 50_000) -> dict[str, Any]:
    """Write buffered impressions in one batch and add them to the notes' exposure counts."""
    return impressions.flush_impressions(max_items)
