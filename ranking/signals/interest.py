"""Interest: a user's decayed affinity to channels, topics, tags and authors.

Affinities are sums of decayed event weights valued as of `updated_at`; `observe` rolls them
forward incrementally so the service can update a stored profile on each action without
replaying history. Not-interested feedback both lowers the affinity and records a hard
negative that `blocks()` (and the pipeline's filters) honour immediately.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ranking.config import INTEREST, InterestConfig
from ranking.types import Event, NoteFeatures

BLOCKED_SCORE = -1.0  # below every unblocked score, which lies in [0, 1]

NegativeKind = Literal["note", "author", "topic"]


def _top(d: dict[Any, float], n: int) -> dict[Any, float]:
    if len(d) <= n:
        return d
    keep = sorted(d.items(), key=lambda kv: kv[1], reverse=True)[:n]
    return dict(keep)


@dataclass(slots=True)
class InterestProfile:
    channels: dict[str, float] = field(default_factory=dict)
    topics: dict[int, float] = field(default_factory=dict)
    tags: dict[str, float] = field(default_factory=dict)
    authors: dict[int, float] = field(default_factory=dict)
    negative_notes: set[int] = field(default_factory=set)
    negative_authors: set[int] = field(default_factory=set)
    negative_topics: set[int] = field(default_factory=set)
    updated_at: float = 0.0
    config: InterestConfig = field(default=INTEREST, repr=False, compare=False)
    _maxima: tuple[float, float, float, float] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        events: Iterable[Event],
        notes: Mapping[int, NoteFeatures],
        now: float,
        *,
        seed_channels: Iterable[str] = (),
        seed_topics: Iterable[int] = (),
        half_life_seconds: float | None = None,
        config: InterestConfig = INTEREST,
    ) -> InterestProfile:
        """Profile from a user's history (events after `now` are ignored) plus onboarding seeds.

        Seeds do not decay: they are the floor a new user starts from and are soon outweighed
        by real behaviour.
        """
        profile = cls(updated_at=now, config=config)
        hl = half_life_seconds or config.half_life_seconds
        for ch in seed_channels:
            profile.channels[ch] = profile.channels.get(ch, 0.0) + config.seed_weight
        for t in seed_topics:
            profile.topics[int(t)] = profile.topics.get(int(t), 0.0) + config.seed_weight
        ln2 = math.log(2.0) / hl
        for ev in events:
            if ev.ts > now:
                continue
            f = notes.get(ev.note_id)
            w = config.event_weights.get(ev.kind, 0.0) * ev.weight
            if f is None or w <= 0:
                continue
            profile._add(f, w * math.exp(-ln2 * (now - ev.ts)))
        profile._prune()
        return profile

    def observe(self, event: Event, features: NoteFeatures) -> None:
        """Fold one new action into the profile (decaying what was there to the event's time)."""
        w = self.config.event_weights.get(event.kind, 0.0) * event.weight
        if w <= 0:
            return
        hl = self.config.half_life_seconds
        if event.ts > self.updated_at:
            factor = 0.5 ** ((event.ts - self.updated_at) / hl)
            for d in (self.channels, self.topics, self.tags, self.authors):
                for k in d:
                    d[k] *= factor
            self.updated_at = event.ts
            self._maxima = None
        else:
            w *= 0.5 ** ((self.updated_at - event.ts) / hl)
        self._add(features, w)
        self._prune()

    def _add(self, f: NoteFeatures, w: float) -> None:
        if f.channel:
            self.channels[f.channel] = self.channels.get(f.channel, 0.0) + w
        if f.topics:
            share = w / len(f.topics)
            for t in f.topics:
                self.topics[t] = self.topics.get(t, 0.0) + share
        if f.tags:
            share = w / len(f.tags)
            for tag in f.tags:
                self.tags[tag] = self.tags.get(tag, 0.0) + share
        self.authors[f.author_id] = self.authors.get(f.author_id, 0.0) + w

    def _prune(self) -> None:
        self._maxima = None
        n = self.config.max_keys
        self.channels = _top(self.channels, n)
        self.topics = _top(self.topics, n)
        self.tags = _top(self.tags, n)
        self.authors = _top(self.authors, n)

    # -- feedback ---------------------------------------------------------------------------
    def mark_not_interested(
        self, kind: NegativeKind, ref: int, *, features: NoteFeatures | None = None
    ) -> None:
        """Push the affinity down and filter immediately.

        A note-level signal blocks that note and, if its features are given, lowers (without
        blocking) its author, channel and topics.
        """
        cfg = self.config
        self._maxima = None

        def push(d: dict[Any, float], key: Any) -> None:
            d[key] = d.get(key, 0.0) * cfg.negative_factor - cfg.negative_penalty

        if kind == "note":
            self.negative_notes.add(int(ref))
            if features is not None:
                push(self.authors, features.author_id)
                if features.channel:
                    # a channel is broad: only damp it, never make it negative
                    self.channels[features.channel] = (
                        max(self.channels.get(features.channel, 0.0), 0.0) * 0.8
                    )
                for t in features.topics:
                    self.topics[t] = max(self.topics.get(t, 0.0), 0.0) * 0.5
        elif kind == "author":
            self.negative_authors.add(int(ref))
            push(self.authors, int(ref))
        elif kind == "topic":
            self.negative_topics.add(int(ref))
            push(self.topics, int(ref))
        else:
            raise ValueError(f"unknown not-interested kind: {kind!r}")

    def blocks(self, features: NoteFeatures) -> bool:
        """True when not-interested feedback rules this note out."""
        return (
            features.note_id in self.negative_notes
            or features.author_id in self.negative_authors
            or any(t in self.negative_topics for t in features.topics)
        )

    # -- scoring ----------------------------------------------------------------------------
    @property
    def is_empty(self) -> bool:
        return not (self.channels or self.topics or self.tags or self.authors)

    def score(self, features: NoteFeatures) -> float:
        """Weighted affinity in [0, 1]; each dimension is scaled by its strongest key.

        Blocked notes score `BLOCKED_SCORE` (-1); negative affinities count as zero. This
        runs for every catalogue note on every request, hence the plain loops.
        """
        f = features
        if (
            f.note_id in self.negative_notes
            or f.author_id in self.negative_authors
            or (self.negative_topics and not self.negative_topics.isdisjoint(f.topics))
        ):
            return BLOCKED_SCORE
        scale = self._maxima
        if scale is None:
            scale = self._maxima = self._scales()
        sc, st, sg, sa = scale  # dimension weight / (strongest key × sum of weights)
        total = 0.0
        if sc and f.channel is not None:
            v = self.channels.get(f.channel, 0.0)
            if v > 0:
                total += sc * v
        if st:
            best = 0.0
            for t in f.topics:
                v = self.topics.get(t, 0.0)
                if v > best:
                    best = v
            total += st * best
        if sg:
            best = 0.0
            for t in f.tags:
                v = self.tags.get(t, 0.0)
                if v > best:
                    best = v
            total += sg * best
        if sa:
            v = self.authors.get(f.author_id, 0.0)
            if v > 0:
                total += sa * v
        return total

    def _scales(self) -> tuple[float, float, float, float]:
        dw = self.config.dim_weights
        norm = sum(dw.values()) or 1.0
        out = []
        for name, d in (
            ("channel", self.channels),
            ("topic", self.topics),
            ("tag", self.tags),
            ("author", self.authors),
        ):
            top = max(d.values(), default=0.0)
            out.append(dw.get(name, 0.0) / (top * norm) if top > 0 else 0.0)
        return out[0], out[1], out[2], out[3]

    # -- storage ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (integer keys become strings)."""
        return {
            "v": 1,
            "channels": dict(self.channels),
            "topics": {str(k): v for k, v in self.topics.items()},
            "tags": dict(self.tags),
            "authors": {str(k): v for k, v in self.authors.items()},
            "negative_notes": sorted(self.negative_notes),
            "negative_authors": sorted(self.negative_authors),
            "negative_topics": sorted(self.negative_topics),
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], config: InterestConfig = INTEREST
    ) -> InterestProfile:
        return cls(
            channels={str(k): float(v) for k, v in data.get("channels", {}).items()},
            topics={int(k): float(v) for k, v in data.get("topics", {}).items()},
            tags={str(k): float(v) for k, v in data.get("tags", {}).items()},
            authors={int(k): float(v) for k, v in data.get("authors", {}).items()},
            negative_notes={int(x) for x in data.get("negative_notes", ())},
            negative_authors={int(x) for x in data.get("negative_authors", ())},
            negative_topics={int(x) for x in data.get("negative_topics", ())},
            updated_at=float(data.get("updated_at", 0.0)),
            config=config,
        )
