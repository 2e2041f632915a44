"""The feeds' jobs: each takes ids or arguments and calls one feeds service.

They sit above the services they run (hot, related, ranker, impressions, cards) and below
the discover session, which enqueues `prefetch_feed` and `flush_impressions`: no service
they call imports this module. `app.schedule` lists the periodic ones. Their names are what
RQ and old outbox rows refer to (`app.feeds.jobs:<name>`): keep them.
"""

from __future__ import annotations

from typing import Any

from app.core.extensions import shared_state
from app.core.jobs import enqueue, job
from app.feeds import card_store, cards, hot, impressions, ranker, related
from app.feeds.cards import render_entries
from app.feeds.state import feeds_state
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
    """Rank a viewer's next discover pages ahead of their next scroll. Pages ask the
    worker's ranking thread for this now (`ahead`), not RQ: the job stays for requests an
    older version queued."""
    ranked = ranker.prefetch_next_pages(user_id, channel)
    return {"user_id": user_id, "channel": channel, "cards": len(ranked)}


@job("default", durable=False)
def rank_cold_feeds() -> dict[str, int]:
    """Discover and every channel ranked for no one in particular: what first pages and new
    anonymous sessions are served while their own pages are ranked (services mode)."""
    return ranker.rank_cold([channel.code for channel in list_channels()])


@job("low", durable=False)
def warm_cards() -> dict[str, int]:
    """Store the cards of the notes feeds are likely to serve next (the ranking catalogue:
    the hottest and the newest) and of the sweep's next slice of all published notes, so
    pages find every card ready; only missing ones are rendered."""
    catalogue = card_store.warm(cards.catalogue_note_ids(), render_entries)
    slices, remainder = card_store.sweep_slice(
        cards.published_note_count(),
        feeds_state().config.card_sweep_batch,
        shared_state().incr(SWEEP_TURN),
    )
    swept = card_store.warm(cards.sweep_note_ids(slices, remainder), render_entries)
    return {
        "catalogue": catalogue["notes"],
        "swept": swept["notes"],
        "slice": remainder,
        "slices": slices,
        "rendered": catalogue["rendered"] + swept["rendered"],
    }


#: The sweep's turn counter, shared by every process that runs `warm_cards`.
SWEEP_TURN = "sprout:cards:sweep-turn"


@job("default")
def apply_card_changes(
    note_ids: list[int],
    author_ids: list[int],
    counters: list[int],
    image_ids: list[int],
    new_ids: list[int],
) -> dict[str, int]:
    """A committed change the card store could not take (unreachable then), applied now:
    durable, and raising while the store is still down, so it is retried until it holds."""
    card_store.changed(note_ids, author_ids, counters, image_ids, new_ids, strict=True)
    return {"notes": len(note_ids), "authors": len(author_ids), "counters": len(counters)}


@job("high", durable=False)
def refresh_cards() -> dict[str, int]:
    """Store anew the cards whose note, counters or author changed (periodic): a card shows a
    change within this job's interval, and requests never read a changed card's rows. On the
    `high` queue: behind a backlog (a fresh install's seed jobs) counts lagged by a minute."""
    return card_store.refresh(render_entries)


@job("default", durable=False)
def flush_impressions(max_items: int = 50_000) -> dict[str, Any]:
    """Write buffered impressions in one batch and add them to the notes' exposure counts."""
    return impressions.flush_impressions(max_items)
