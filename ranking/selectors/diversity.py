"""The diversity re-ranker: no author too often, no long runs of one channel or topic.

A function rather than a stage: the page selector runs it on every page, and the discover
service runs it again on a buffered page whose cards changed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ranking.config import DIVERSITY
from ranking.types import NoteFeatures, Scored

#: (is_limited, cap, span): see `diversify`.
Quota = tuple[Callable[[Scored], bool], int, int]

#: Components that come from the viewer (their profile, their neighbours, whom they follow,
#: what they engaged with in the last hour).
PERSONAL_SIGNALS = ("interest", "cf", "following", "session")


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
    yield_ratio: float | None = DIVERSITY.author_yield_ratio,
    quotas: Sequence[Quota] = (),
) -> list[Scored]:
    """Greedy re-rank: the best next item that keeps the author rule, preferring a channel
    and primary topic that do not extend a run.

    Author rule: no author more than `max_per_author` times in any `window` consecutive cards
    (counting `history`, the cards shown just before), whenever any candidate left keeps it.
    When none does (candidates from too few authors), `relax` fills the page with the least
    repeated author instead of ending it; without `relax` those items are left out, so the
    result may be shorter than the input. With `relax`, the rules also give way to a card
    that scores at least `yield_ratio` times the best card keeping them when the viewer's
    own signals (interest, CF, following, session) are what put it ahead: it has more of them than
    that card (a new user who chose one channel, served by one account, sees that channel
    rather than notes far from what they asked for). Popularity alone never lifts a rule. A
    run of one channel or topic may then grow to twice its limit, no further. Duplicates are
    dropped. Runs of one channel/topic longer than the max are avoided when an alternative
    exists within `lookahead`. `pinned` maps output positions to items (positioned editorial
    picks) placed there when the author rule allows, else ranked with the rest. `limit` stops
    after that many cards (the greedy choice makes the result a prefix of the unlimited one):
    a ranking run keeps a few hundred cards of a pool of a thousand.

    `quotas`: each (is_limited, cap, span) lets the items for which `is_limited` holds fill
    at most `cap` of any `span` consecutive cards while anything else can take the place
    (traffic-pool notes; unpositioned picks on a signed-in viewer's pages).
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

    placed = _Placed(window, max_channel_run, max_topic_run)
    for n in history:
        placed.add(key(n))
    used: set[int] = set(history)
    pending = [it for it in items if it.note_id not in used]
    out: list[Scored] = []

    def author_ok(a: int | None) -> bool:
        return a is None or placed.author_count(a) < max_per_author

    # Each quota's last `span - 1` cards (whether each was limited) and how many of them
    # were, kept up to date as cards are placed; `full` has a bit set for each quota at its
    # cap. A card's quotas are one bit mask (`mask_of`), read once per card.
    limiters = [limited for limited, _, _ in quotas]
    windows = [deque[bool](maxlen=max(span - 1, 0)) for _, _, span in quotas]
    in_window = [0] * len(quotas)
    caps = [cap for _, cap, _ in quotas]
    full = sum(1 << q for q in range(len(quotas)) if caps[q] <= 0)
    masks: dict[int, int] = {}  # by id(): the items live until we return

    def mask_of(it: Scored) -> int:
        if not limiters:
            return 0
        found = masks.get(id(it))
        if found is None:
            found = 0
            for q, limited in enumerate(limiters):
                if limited(it):
                    found |= 1 << q
            masks[id(it)] = found
        return found

    def count_quotas(it: Scored) -> None:
        nonlocal full
        if not limiters:
            return
        mask = mask_of(it)
        for q, recent in enumerate(windows):
            hit = (mask >> q) & 1
            maxlen = recent.maxlen
            if maxlen:
                if len(recent) == maxlen and recent[0]:
                    in_window[q] -= 1  # the oldest leaves the window
                recent.append(bool(hit))
                in_window[q] += hit
            if in_window[q] >= caps[q]:
                full |= 1 << q
            else:
                full &= ~(1 << q)

    pins = dict(pinned or {})
    pending += [p for p in pins.values() if p.note_id not in used]  # fallback slot if not placed
    # The scan below asks the same questions of the same cards place after place: each
    # card's keys and quota mask are read once into `facts`, and the rules' state is kept
    # as a few values the scan compares against (`placed.avoid`, `full`). Authors are
    # counted in a plain dict read with `get` (a Counter's missing key runs Python code).
    # `facts` covers the front of `pending` (an entry goes when its card does) and grows as
    # the scan reaches further: a ranking run places a few hundred of a thousand candidates,
    # and reading them all up front was a sixth of its time.
    facts: list[tuple[int | None, str | None, int | None, int]] = []

    def read_facts(upto: int) -> None:
        for it in pending[len(facts) : upto]:
            facts.append((*key(it.note_id), mask_of(it)))

    by_author = placed.authors
    author_limit = max_per_author if window > 1 else (1 if max_per_author > 0 else 0)
    avoid = placed.avoid
    while pending and (limit is None or len(out) < limit):
        if pins:
            pin = pins.pop(len(out), None)
            if pin is not None and pin.note_id not in used and author_ok(key(pin.note_id)[0]):
                at = pending.index(pin)
                del pending[at]
                if at < len(facts):
                    del facts[at]
                used.add(pin.note_id)
                placed.add(key(pin.note_id))
                count_quotas(pin)
                out.append(pin)
                continue
        chosen = fallback = blocked = over_quota = None
        # a card whose channel (topic) is `*_run` would make the run longer than its limit
        # (`*_run2`: longer than twice it)
        ch_run, ch_run2, tp_run, tp_run2 = avoid
        waiting = pins and {p.note_id for p in pins.values()}
        scan = min(lookahead, len(pending))
        if len(facts) < scan:
            read_facts(scan)
        for i in range(scan):
            a, ch, tp, mask = facts[i]
            if waiting and pending[i].note_id in waiting:
                continue  # still waiting for its position
            a_ok = a is None or by_author.get(a, 0) < author_limit
            if mask & full:
                if over_quota is None and a_ok:
                    over_quota = i
                continue
            if a_ok and (ch is None or ch != ch_run) and (tp is None or tp != tp_run):
                chosen = i
                break
            if a_ok and fallback is None:
                fallback = i
            if blocked is None and (ch is None or ch != ch_run2) and (tp is None or tp != tp_run2):
                blocked = i  # the best card a rule holds back (runs: up to twice their length)
        if chosen is None:
            chosen = fallback
        # the card the rules would place (or, when none keeps them all, one over its quota)
        rival = chosen if chosen is not None else over_quota
        if rival is not None and blocked is not None and relax and yield_ratio is not None:
            over, kept = pending[blocked], pending[rival]
            if (
                over.score > 0
                and over.score >= yield_ratio * max(kept.score, 0.0)
                and _personal(over) > _personal(kept)
            ):
                chosen = blocked  # clearly better, and for this viewer's own reasons
        if chosen is None:
            # beyond the lookahead, the first card the author rule allows that is within its
            # quota; else one over its quota before the author rule gives way
            first_ok = None
            for i in range(lookahead, len(pending)):
                if author_ok(key(pending[i].note_id)[0]):
                    if not mask_of(pending[i]) & full:
                        chosen = i
                        break
                    if first_ok is None:
                        first_ok = i
            if chosen is None:
                chosen = over_quota if over_quota is not None else first_ok
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
        if chosen < len(facts):
            del facts[chosen]
        if it.note_id in used:
            continue
        used.add(it.note_id)
        placed.add(key(it.note_id))
        count_quotas(it)
        out.append(it)
    return out


def _personal(item: Scored) -> float:
    """How much of a card's standing comes from the viewer's own signals."""
    comps = item.components
    return sum(comps.get(k, 0.0) for k in PERSONAL_SIGNALS)


class _Placed:
    """The keys of the cards placed so far, with what the diversity rules ask of them kept up
    to date as cards are added (each question was a scan of the last cards): how often each
    author appears among the last `window - 1`, the trailing run of channel and topic, and
    from those the values a next card must not have (`avoid`)."""

    #: `avoid`'s entries when any value will do
    ANY: Any = object()

    def __init__(self, window: int, channel_run: int = 0, topic_run: int = 0) -> None:
        self.window = window
        self.keys: list[tuple[int | None, str | None, int | None]] = []
        self.authors: dict[int, int] = {}
        self.runs: dict[int, tuple[Any, int]] = {1: (None, 0), 2: (None, 0)}
        self._caps = {1: channel_run, 2: topic_run}
        any_ = self.ANY
        #: (channel, channel within twice its limit, topic, topic within twice its limit): the
        #: values a next card must not have to keep each run within its limit (`ANY`: none)
        self.avoid: list[Any] = [any_, any_, any_, any_]

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: tuple[int | None, str | None, int | None]) -> None:
        keys = self.keys
        keys.append(key)
        if self.window > 1:
            authors = self.authors
            if key[0] is not None:
                authors[key[0]] = authors.get(key[0], 0) + 1
            if len(keys) > self.window - 1:
                leaving = keys[-self.window][0]
                if leaving is not None:
                    authors[leaving] -= 1
        placed = len(keys)
        avoid = self.avoid
        for idx in (1, 2):
            value, length = self.runs[idx]
            if length and value == key[idx]:
                length += 1
            else:
                value, length = key[idx], 1
            self.runs[idx] = (value, length)
            cap = self._caps[idx]
            at = 2 * (idx - 1)
            avoid[at] = self.ANY if cap <= 0 or placed < cap or length < cap else value
            cap2 = 2 * cap
            avoid[at + 1] = self.ANY if cap2 <= 0 or placed < cap2 or length < cap2 else value

    def author_count(self, author: int) -> int:
        """Cards by `author` among the last `window - 1` placed."""
        return self.authors.get(author, 0) if self.window > 1 else 0
