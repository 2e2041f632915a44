"""Session intent: what the viewer engaged with in the last hour, as a profile of minutes.

The interest profile decays over weeks, so four likes in one channel a minute ago barely
move it against months of history, and CF spreads them over whatever their neighbours are.
People browsing a waterfall expect it to follow what they just did ("liked three cat
pictures: show me cats"). The session profile is the same kind of profile built from the
latest explicit engagements only (likes, collects, comments, shares, follows; not opens or
impressions), with a half-life of minutes; `BlendScorer` weighs its score like interest,
scaled by how many such engagements there are (`shrink` with a prior of a couple of events).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ranking.config import SESSION, SessionConfig
from ranking.signals.interest import InterestProfile
from ranking.types import Event, NoteFeatures


def session_profile(
    events: Iterable[Event],
    notes: Mapping[int, NoteFeatures],
    now: float,
    config: SessionConfig = SESSION,
) -> InterestProfile | None:
    """The profile of the viewer's engagements within `config.window_seconds` before `now`
    (None when there are none): `evidence` counts them, scores lie in [0, 1]."""
    recent = [
        e for e in events if e.kind in config.kinds and now - config.window_seconds <= e.ts <= now
    ]
    if not recent:
        return None
    profile = InterestProfile.build(recent, notes, now, half_life_seconds=config.half_life_seconds)
    return None if profile.is_empty else profile
