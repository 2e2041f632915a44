"""The diversity re-ranker: no author too often, no long runs of one channel or topic.

A function rather than a stage: the page selector runs it on every page, and the discover
service runs it again on a buffered page whose cards changed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ranking.config import DIVERSITY
from ranking.types import NoteFeatures, Scored


def diversify(
    items: list[Scored],
    notes: Mapping[int, NoteFeatures],
    *,
    max_per_author: int = DIVERSITY.max_per_author,
    window: int = DIVERSITY.window,
    max_channel_run: int = DIVERSITY.max_channel_run,
    max_topic_run: int = DIVERSITY.max_topic_run,
    lookahead: int = DIVERSITY.lookahead,
    history: Sequence[int] = (),
    pinned: Mapping[int, Scored] | None = None,
    limit: int | None = None,
    relax: bool = DIVERSITY.relax_when_starved,
) -> list[Scored]:
    """Greedy re-rank: the best next item that keeps the author rule, preferring a channel
    and primary topic that do not extend a run.

    Author rule: no author more than `max_per_author` times in any `window` consecutive cards
    (counting `history`, the cards shown just before), whenever any candidate left keeps it.
    When none does (candidates from too few authors), `relax` fills the page with the least
    repeated author instead of ending it; without `relax` those items are left out, so the
    result may be shorter than the input. Duplicates are
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
            if chosen is None and relax:
                # Every candidate left breaks the author rule (a channel fed by one or two
                # accounts): fill the page with the least repeated author, best first,
                # rather than end the feed.
                counts = [
                    0 if (a := key(it.note_id)[0]) is None else placed.author_count(a)
                    for it in pending[:lookahead]
                ]
                chosen = counts.index(min(counts))
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
