"""Interest: a user's decayed affinity to channels, topics, tags and authors.

Affinities are sums of decayed event weights valued as of `updated_at`; `observe` rolls them
forward incrementally so the service can update a stored profile on each action without
replaying history. Not-interested feedback both lowers the affinity and records a hard
negative that `blocks()` (and the pipeline's filters) honour immediately.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

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
class FeatureIndex:
    """A list of notes as arrays, so a profile can score all of them at once (`score_index`).

    Built once per catalogue (the offline harness, or a service scoring thousands of notes);
    each dimension's keys are interned into dense codes, multi-valued ones as CSR lists.
    """

    note_ids: np.ndarray  # int64, one per note, in the order given
    channel: np.ndarray  # int64 code into channel_keys, -1 for none
    author: np.ndarray  # int64 code into author_keys
    topic_ptr: np.ndarray  # CSR over topic codes
    topic_idx: np.ndarray
    tag_ptr: np.ndarray  # CSR over tag codes
    tag_idx: np.ndarray
    channel_keys: list[str]
    author_keys: list[int]
    topic_keys: list[int]
    tag_keys: list[str]

    @classmethod
    def build(cls, notes: Sequence[NoteFeatures]) -> FeatureIndex:
        codes: dict[str, dict[Any, int]] = {"c": {}, "a": {}, "t": {}, "g": {}}

        def code(dim: str, key: Any) -> int:
            return codes[dim].setdefault(key, len(codes[dim]))

        channel = [code("c", f.channel) if f.channel is not None else -1 for f in notes]
        author = [code("a", f.author_id) for f in notes]
        topics = [code("t", t) for f in notes for t in f.topics]
        tags = [code("g", t) for f in notes for t in f.tags]
        topic_ptr = np.zeros(len(notes) + 1, dtype=np.int64)
        np.cumsum([len(f.topics) for f in notes], out=topic_ptr[1:])
        tag_ptr = np.zeros(len(notes) + 1, dtype=np.int64)
        np.cumsum([len(f.tags) for f in notes], out=tag_ptr[1:])
        return cls(
            note_ids=np.asarray([f.note_id for f in notes], dtype=np.int64),
            channel=np.asarray(channel, dtype=np.int64),
            author=np.asarray(author, dtype=np.int64),
            topic_ptr=topic_ptr,
            topic_idx=np.asarray(topics, dtype=np.int64),
            tag_ptr=tag_ptr,
            tag_idx=np.asarray(tags, dtype=np.int64),
            channel_keys=list(codes["c"]),
            author_keys=list(codes["a"]),
            topic_keys=list(codes["t"]),
            tag_keys=list(codes["g"]),
        )

    def __len__(self) -> int:
        return len(self.note_ids)

    def key_counts(self) -> dict[str, int]:
        """Distinct keys per dimension, as `key_counts` gives for the same notes."""
        return {
            "channel": len(self.channel_keys),
            "topic": len(self.topic_keys),
            "tag": len(self.tag_keys),
            "author": len(self.author_keys),
        }


def key_sets(notes: Iterable[NoteFeatures]) -> dict[str, set[Any]]:
    """The channels, topics, tags and authors found in these notes, by dimension."""
    keys: dict[str, set[Any]] = {"channel": set(), "topic": set(), "tag": set(), "author": set()}
    for f in notes:
        if f.channel is not None:
            keys["channel"].add(f.channel)
        keys["topic"].update(f.topics)
        keys["tag"].update(f.tags)
        keys["author"].add(f.author_id)
    return keys


def key_counts(notes: Iterable[NoteFeatures]) -> dict[str, int]:
    """Distinct channels, topics, tags and authors in a catalogue (for `InterestProfile.focus`)."""
    return {k: len(v) for k, v in key_sets(notes).items()}


def _lookup(d: Mapping[Any, float], keys: Sequence[Any]) -> np.ndarray:
    """Affinity per interned key, negatives counted as zero (as `score` does)."""
    out = np.fromiter((d.get(k, 0.0) for k in keys), dtype=np.float64, count=len(keys))
    return np.maximum(out, 0.0)


def _csr_max(values: np.ndarray, ptr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Per row, the largest value among its keys (0 for rows without keys)."""
    n = len(ptr) - 1
    out = np.zeros(n)
    if len(idx) == 0:
        return out
    lens = np.diff(ptr)
    nonempty = lens > 0
    out[nonempty] = np.maximum.reduceat(values[idx], ptr[:-1][nonempty])
    return out


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
    evidence: float = 0.0  # events (and onboarding choices) the profile was built from
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
            profile.evidence += config.seed_evidence
        for t in seed_topics:
            profile.topics[int(t)] = profile.topics.get(int(t), 0.0) + config.seed_weight
            profile.evidence += config.seed_evidence
        ln2 = math.log(2.0) / hl
        for ev in events:
            if ev.ts > now:
                continue
            f = notes.get(ev.note_id)
            w = config.event_weights.get(ev.kind, 0.0) * ev.weight
            if f is None or w <= 0:
                continue
            profile._add(f, w * math.exp(-ln2 * (now - ev.ts)))
            profile.evidence += 1.0
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
        self.evidence += 1.0
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

    def score_index(self, index: FeatureIndex) -> np.ndarray:
        """`score` for every note of `index` at once (same values, vectorised)."""
        sc, st, sg, sa = self._maxima if self._maxima is not None else self._scales()
        self._maxima = (sc, st, sg, sa)
        total = np.zeros(len(index))
        if sc:
            ch = np.append(_lookup(self.channels, index.channel_keys), 0.0)
            total += sc * ch[index.channel]  # code -1 reads the appended 0
        if st:
            total += st * _csr_max(
                _lookup(self.topics, index.topic_keys), index.topic_ptr, index.topic_idx
            )
        if sg:
            total += sg * _csr_max(_lookup(self.tags, index.tag_keys), index.tag_ptr, index.tag_idx)
        if sa:
            total += sa * _lookup(self.authors, index.author_keys)[index.author]
        blocked = np.zeros(len(index), dtype=bool)
        if self.negative_notes:
            neg = np.fromiter(self.negative_notes, dtype=np.int64, count=len(self.negative_notes))
            blocked |= np.isin(index.note_ids, neg)
        if self.negative_authors:
            keys = index.author_keys
            bad = np.fromiter((a in self.negative_authors for a in keys), bool, len(keys))
            blocked |= bad[index.author]
        if self.negative_topics and len(index.topic_idx):
            bad = np.fromiter(
                (t in self.negative_topics for t in index.topic_keys), bool, len(index.topic_keys)
            )
            hit = bad[index.topic_idx].astype(np.int64)
            csum = np.concatenate([[0], np.cumsum(hit)])
            blocked |= (csum[index.topic_ptr[1:]] - csum[index.topic_ptr[:-1]]) > 0
        total[blocked] = BLOCKED_SCORE
        return total

    def focus(self, n_keys: Mapping[str, int]) -> float:
        """How peaked the profile is, in [0, 1]: 1 − H(p)/log K per dimension, averaged with the
        dimension weights over dimensions that can discriminate (K ≥ 2 distinct keys in the
        catalogue, `n_keys` by dimension name).

        A profile spread evenly over every channel (or genre) gives every note the same score,
        so it cannot say *which* note: its ranking carries no information. A profile concentrated
        on a few keys does. Used by the blend as the interest signal's reliability.
        """
        dw = self.config.dim_weights
        num = den = 0.0
        for name, d in (
            ("channel", self.channels),
            ("topic", self.topics),
            ("tag", self.tags),
            ("author", self.authors),
        ):
            k = int(n_keys.get(name, 0))
            w = dw.get(name, 0.0)
            if k < 2 or w <= 0:
                continue
            vals = np.array([v for v in d.values() if v > 0], dtype=np.float64)
            if len(vals) == 0:
                continue  # nothing known in this dimension: no evidence either way
            den += w
            p = vals / vals.sum()
            h = float(-(p * np.log(p)).sum())
            num += w * max(0.0, 1.0 - h / math.log(max(k, len(vals))))
        return num / den if den > 0 else 0.0

    def _scales(self) -> tuple[float, float, float, float]:
        dw = self.config.dim_weights
        # Scores reach 1 on a note matching the best key of every dimension the profile knows:
        # a profile of onboarding choices alone (channels, topics) is not capped by the
        # dimensions it has no evidence for.
        dims = (
            ("channel", self.channels),
            ("topic", self.topics),
            ("tag", self.tags),
            ("author", self.authors),
        )
        norm = sum(dw.get(name, 0.0) for name, d in dims if d) or 1.0
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
            "evidence": self.evidence,
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
            evidence=float(data.get("evidence", 0.0)),
            config=config,
        )
