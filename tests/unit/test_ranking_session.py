"""Session intent: the last hour's likes steer the next page, even against a long history
elsewhere and CF neighbours in other channels (each channel fed by one account, as seeded)."""

from __future__ import annotations

import random

from ranking.config import HOUR, SESSION
from ranking.context import RequestContext
from ranking.pipeline import build_pipeline
from ranking.signals.interest import InterestProfile
from ranking.signals.itemcf import ItemCF
from ranking.signals.session import session_profile
from ranking.types import Event, NoteFeatures

NOW = 1_700_000_000.0
DAY = 24 * HOUR
CHANNELS = ("food", "travel", "pets", "beauty", "tech")
PER_CHANNEL = 30


def one_account_per_channel() -> dict[int, NoteFeatures]:
    rng = random.Random(5)
    notes = {}
    for c, channel in enumerate(CHANNELS):
        for i in range(PER_CHANNEL):
            n = c * 100 + i + 1
            notes[n] = NoteFeatures(
                note_id=n,
                author_id=1000 + c,
                channel=channel,
                topics=(c * 10 + i % 3,),
                tags=(f"{channel}-{i % 4}",),
                published_at=NOW - rng.uniform(2, 400) * HOUR,
                likes=rng.randint(0, 80),
                impressions=rng.randint(500, 3000),
            )
    return notes


def test_the_profile_keeps_the_last_hour_of_explicit_engagement() -> None:
    notes = one_account_per_channel()
    events = [
        Event(1, 101, "like", NOW - 60),
        Event(1, 102, "collect", NOW - 600),
        Event(1, 103, "open", NOW - 30),  # a tap is not a statement
        Event(1, 104, "impression", NOW - 30),
        Event(1, 1, "like", NOW - 2 * HOUR),  # outside the window
        Event(1, 2, "like", NOW + 60),  # after now
    ]
    profile = session_profile(events, notes, NOW)
    assert profile is not None
    assert profile.evidence == 2
    assert set(profile.channels) == {"travel"}
    assert profile.score(notes[110]) > 0.9 > profile.score(notes[1]) == 0.0
    assert session_profile(events[2:], notes, NOW) is None
    # within the window, a like of a minute ago outweighs one of fifty minutes ago
    mixed = session_profile(
        [Event(1, 101, "like", NOW - 60), Event(1, 201, "like", NOW - 50 * 60)], notes, NOW
    )
    assert mixed is not None and mixed.channels["travel"] > 2 * mixed.channels["pets"]
    assert SESSION.window_seconds == HOUR


def _context(notes, *, session: bool, liked: list[int]) -> RequestContext:
    # months of food behind the viewer, and CF that links the liked travel notes with other
    # travel notes and, as strongly, with notes of every other channel
    history = [Event(1, n, "like", NOW - 20 * DAY - n) for n in range(1, 25)]
    now_events = [Event(1, n, "like", NOW - 60 * (k + 1)) for k, n in enumerate(liked)]
    events = history + now_events
    crowd = [
        Event(u, n, "like", NOW - 3 * DAY)
        for u in range(2, 40)
        for n in liked + [c * 100 + 5 + (u % 20) for c in ((1,) if u % 2 else (0, 2, 3, 4))]
    ]
    cf = ItemCF().fit(crowd, now=NOW)
    return RequestContext(
        user_id=1,
        now=NOW,
        notes=notes,
        profile=InterestProfile.build(events, notes, NOW),
        session=session_profile(events, notes, NOW) if session else None,
        cf=cf,
        recent=[(e.note_id, 1.0) for e in sorted(events, key=lambda e: -e.ts)][:50],
        hot={n: float(f.likes) for n, f in notes.items()},
        engaged={e.note_id for e in events},
        rng=random.Random(3),
    )


def test_four_likes_in_one_channel_fill_half_the_next_ten_cards() -> None:
    notes = one_account_per_channel()
    liked = [101, 102, 103, 104]
    travel = lambda ids: sum(1 for n in ids if notes[n].channel == "travel")  # noqa: E731
    steered = build_pipeline("discover").run(_context(notes, session=True, liked=liked), 10)
    ids = [s.note_id for s in steered.items]
    assert len(ids) == 10 and not set(liked) & set(ids)
    assert travel(ids) >= 5, [notes[n].channel for n in ids]
    assert all(
        "session" in s.components for s in steered.items if notes[s.note_id].channel == "travel"
    )
    # without the session signal the long food history and CF's neighbours win the page
    plain = build_pipeline("discover").run(_context(notes, session=False, liked=liked), 10)
    assert travel([s.note_id for s in plain.items]) < 5
