"""Synthetic community data for benchmarks: skewed like a real UGC site, loaded in bulk.

Why: feed, ranking and counter benchmarks are meaningless on uniform toy data. Real traffic
is concentrated (a few notes get most likes, a few creators most followers, each user sticks
to a few channels), so the generator reproduces that with numpy, plans every row in memory,
then loads it with COPY (PostgreSQL + psycopg 3) or Core executemany (anything else) in one
transaction: a failed run leaves nothing behind.

Every synthetic user is called `synth_<id>` and has `signup_source = 'synthetic'`; all other
synthetic rows hang off those users (and can be removed by deleting them: FKs cascade).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import JSON, Connection, Engine, Table, func, insert, select, text

from app.accounts.models import User
from app.media.models import Image
from app.notes.models import (
    DEFAULT_CHANNELS,
    Album,
    Channel,
    Collect,
    Comment,
    Note,
    NoteImage,
    NoteLike,
)
from app.social.models import UserFollow

ProgressCallback = Callable[[str, int, int], None]

BATCH_ROWS = 10_000
SYNTH_PREFIX = "synth_"
SIGNUP_SOURCE = "synthetic"
DEFAULT_PASSWORD = "sprout-synthetic"  # documented: load tests may log in as synth_<id>
DEFAULT_ALBUM_NAME = "默认专辑"
WINDOW = timedelta(days=90)

# How the requested interactions are split. Likes dominate, as on the real site.
INTERACTION_MIX: dict[str, float] = {
    "likes": 0.70,
    "collects": 0.15,
    "comments": 0.08,
    "follows": 0.07,
}
NOTE_ZIPF_S = 1.1  # note popularity ∝ 1 / rank^s
AUTHOR_PARETO_A = 1.2  # who writes: a few prolific creators, a long tail of lurkers
ACTIVITY_PARETO_A = 1.5  # who likes/collects/comments/follows
# Pareto tails capped, or one account in 20k writes 10% of all notes (not seen in practice).
WEIGHT_CAP = 300.0
PREFERRED_SHARE = 0.85  # share of a user's interactions inside their 1–3 channels
REPLY_SHARE = 0.30  # share of non-first comments on a note that are replies
# Channel popularity (same order as DEFAULT_CHANNELS): food/beauty/travel/fashion lead.
CHANNEL_WEIGHTS = np.array([1.6, 2.0, 1.5, 1.5, 1.0, 0.8, 0.7, 0.6, 0.6, 0.7])

COMMENT_PHRASES: tuple[str, ...] = (
    "太好看了吧",
    "已收藏，谢谢分享",
    "求链接",
    "学到了",
    "这个颜色绝了",
    "码住",
    "好实用",
    "蹲一个后续",
    "同款get",
    "求教程",
    "哈哈哈哈笑死",
    "真的假的",
    "在哪里买的呀",
    "好想去",
    "羡慕了",
    "姐妹冲",
    "拍得好有氛围感",
    "已经安排上了",
    "收藏从未停止",
    "写得好详细",
    "好治愈",
    "回头试试",
    "我也是这么想的",
    "路过点赞",
    "期待下一篇",
    "这也太可爱了",
    "有被种草到",
    "感谢博主",
    "求原图",
    "说得太对了",
)
TITLE_PREFIXES: tuple[str, ...] = (
    "周末",
    "新手",
    "平价",
    "宝藏",
    "一周",
    "懒人",
    "超详细",
    "私藏",
    "小众",
    "夏日",
    "秋冬",
    "打工人",
    "学生党",
    "零失败",
    "必看",
)
TITLE_SUFFIXES: tuple[str, ...] = (
    "分享",
    "攻略",
    "清单",
    "合集",
    "笔记",
    "心得",
    "日常",
    "推荐",
    "避雷",
    "记录",
)
NICK_ADJ: tuple[str, ...] = (
    "快乐的",
    "爱吃",
    "努力的",
    "小小",
    "元气",
    "安静的",
    "会飞的",
    "早起的",
    "迷糊",
    "温柔",
)
NICK_NOUN: tuple[str, ...] = (
    "土豆",
    "橘子",
    "小熊",
    "兔子",
    "猫咪",
    "西瓜",
    "鲸鱼",
    "星星",
    "饭团",
    "柠檬",
)


class SyntheticDataExists(RuntimeError):
    """The database already holds synthetic users and `append=True` was not given."""


@dataclass
class SyntheticReport:
    """Rows written per table and wall-clock seconds per phase (in execution order)."""

    dialect: str
    seed: int
    users: int = 0
    notes: int = 0
    albums: int = 0
    images: int = 0
    follows: int = 0
    likes: int = 0
    collects: int = 0
    comments: int = 0
    replies: int = 0
    channels_inserted: int = 0
    used_copy: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def interactions(self) -> int:
        return self.follows + self.likes + self.collects + self.comments

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    def rows_for(self, phase: str) -> int | None:
        return {
            "users": self.users,
            "albums": self.albums,
            "notes": self.notes,
            "images": self.images,
            "follows": self.follows,
            "likes": self.likes,
            "collects": self.collects,
            "comments": self.comments,
        }.get(phase)

    def as_markdown(self) -> str:
        """A Markdown table of the phases, for docs/benchmarks.md."""
        lines = ["| phase | rows | seconds | rows/s |", "|---|---:|---:|---:|"]
        for phase, secs in self.seconds.items():
            rows = self.rows_for(phase)
            rate = f"{rows / secs:,.0f}" if rows and secs > 0 else ""
            lines.append(
                f"| {phase} | {'' if rows is None else f'{rows:,}'} | {secs:.2f} | {rate} |"
            )
        lines.append(
            f"| **total** | {self.interactions:,} interactions | **{self.total_seconds:.2f}** | |"
        )
        return "\n".join(lines)


@dataclass
class _Plan:
    """Everything to insert, as column arrays (0-based indexes; ids are added at write time)."""

    user_created: np.ndarray
    user_last_active: np.ndarray
    note_author: np.ndarray
    note_channel: np.ndarray
    note_created: np.ndarray
    note_published: np.ndarray
    note_views: np.ndarray
    note_image_count: np.ndarray  # 1–9 pictures per note, as on an image note
    follow_src: np.ndarray
    follow_dst: np.ndarray
    follow_at: np.ndarray
    like_user: np.ndarray
    like_note: np.ndarray
    like_at: np.ndarray
    collect_user: np.ndarray
    collect_note: np.ndarray
    collect_at: np.ndarray
    comment_user: np.ndarray
    comment_note: np.ndarray
    comment_at: np.ndarray
    comment_parent: np.ndarray  # index into the comment arrays, -1 for top-level
    comment_root: np.ndarray
    comment_body: np.ndarray
    album_owner: np.ndarray  # users (0-based) who collect, one default album each
    album_created: np.ndarray
    album_updated: np.ndarray


def generate(
    engine: Engine,
    *,
    users: int,
    notes: int,
    interactions: int,
    seed: int = 42,
    progress: ProgressCallback | None = None,
    append: bool = False,
    now: datetime | None = None,
    password: str = DEFAULT_PASSWORD,
) -> SyntheticReport:
    """Plan and insert a skewed synthetic community, then set every counter from the rows.

    `interactions` is split by INTERACTION_MIX into likes, collects, comments and follows;
    fewer rows are produced only if the (user, note) space is too small for unique pairs.
    Refuses to run on a database that already has synthetic users unless `append=True`.
    """
    if users < 1 or notes < 0 or interactions < 0:
        raise ValueError("users must be >= 1, notes and interactions >= 0")
    if interactions and (users < 2 or notes < 1):
        raise ValueError("interactions need at least 2 users and 1 note")
    report_progress: ProgressCallback = progress or (lambda _phase, _done, _total: None)
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    report = SyntheticReport(dialect=engine.dialect.name, seed=seed)

    clock = time.perf_counter()
    plan = _make_plan(np.random.default_rng(seed), users, notes, interactions, now, report_progress)
    report.seconds["plan"] = time.perf_counter() - clock

    with engine.begin() as conn:
        clock = time.perf_counter()
        _refuse_if_synthetic(conn, append)
        report.channels_inserted = _ensure_channels(conn)
        writer = _Writer(conn, report_progress)
        report.used_copy = writer.copy
        first = {
            "users": writer.reserve_ids(User.__table__, users),
            "notes": writer.reserve_ids(Note.__table__, notes),
            "albums": writer.reserve_ids(Album.__table__, len(plan.album_owner)),
            "comments": writer.reserve_ids(Comment.__table__, len(plan.comment_user)),
            "images": writer.reserve_ids(Image.__table__, int(plan.note_image_count.sum())),
        }
        report.seconds["prepare"] = time.perf_counter() - clock
        for phase, write in (
            ("users", _write_users),
            ("albums", _write_albums),
            ("notes", _write_notes),
            ("images", _write_images),
            ("follows", _write_follows),
            ("likes", _write_likes),
            ("collects", _write_collects),
            ("comments", _write_comments),
        ):
            clock = time.perf_counter()
            setattr(report, phase, write(writer, plan, first, password))
            report.seconds[phase] = time.perf_counter() - clock
        report.replies = int((plan.comment_parent >= 0).sum())

        clock = time.perf_counter()
        _recount(
            conn,
            first,
            {
                "users": users,
                "notes": notes,
                "albums": len(plan.album_owner),
                "comments": len(plan.comment_user),
            },
            report_progress,
        )
        report.seconds["counters"] = time.perf_counter() - clock

        clock = time.perf_counter()
        _analyze(conn)
    _vacuum(engine)
    report.seconds["analyze"] = time.perf_counter() - clock
    return report


# --------------------------------------------------------------------------- planning


def _make_plan(
    rng: np.random.Generator,
    n_users: int,
    n_notes: int,
    n_inter: int,
    now: datetime,
    progress: ProgressCallback,
) -> _Plan:
    """All sampling happens here, so the same seed gives the same data on every database."""
    steps = 7
    now_us = _to_us(now)
    start_us = now_us - int(WINDOW.total_seconds() * 1e6)
    span = now_us - start_us
    minute = 60_000_000
    n_channels = len(DEFAULT_CHANNELS)
    channel_p = CHANNEL_WEIGHTS / CHANNEL_WEIGHTS.sum()

    # Users: signups spread over the window (front-loaded: the site existed before growth).
    # Sorted, so ids grow with signup time as they would in production.
    user_created = np.sort(start_us + (rng.random(n_users) ** 1.5 * span * 0.9).astype(np.int64))
    activity = np.minimum(rng.pareto(ACTIVITY_PARETO_A, n_users) + 1.0, WEIGHT_CAP)
    author_w = np.minimum(rng.pareto(AUTHOR_PARETO_A, n_users) + 1.0, WEIGHT_CAP)
    fame = author_w**0.8 * rng.lognormal(0.0, 0.75, n_users)
    # 1–3 preferred channels per user, drawn without replacement by channel popularity
    # (Gumbel top-k trick, vectorised).
    n_pref = rng.choice([1, 2, 3], size=n_users, p=[0.35, 0.40, 0.25])
    keys = np.log(channel_p)[None, :] + rng.gumbel(size=(n_users, n_channels))
    preferred = np.argsort(-keys, axis=1)[:, :3]
    progress("plan", 1, steps)

    # Notes: author ∝ Pareto weight, channel mostly one of the author's, time after signup.
    note_author = rng.choice(n_users, size=n_notes, p=author_w / author_w.sum())
    note_channel = _pick_channels(rng, note_author, preferred, n_pref, channel_p, 0.85)
    base = user_created[note_author]
    note_created = base + (rng.random(n_notes) * (now_us - minute - base)).astype(np.int64)
    review = rng.integers(0, 10 * minute, n_notes)
    note_published = np.minimum(note_created + review, now_us - minute)
    by_time = np.argsort(note_created, kind="stable")  # ids grow with creation time
    note_author, note_channel = note_author[by_time], note_channel[by_time]
    note_created, note_published = note_created[by_time], note_published[by_time]
    # Popularity: Zipf over a random permutation of ranks (popular ≠ lowest ids).
    popularity = (rng.permutation(n_notes) + 1.0) ** -NOTE_ZIPF_S
    sampler = _NoteSampler(note_channel, popularity, n_channels)
    progress("plan", 2, steps)

    targets = _split(n_inter)
    actor_p = activity / activity.sum()

    def note_pairs(target: int, unique: bool) -> tuple[np.ndarray, np.ndarray]:
        return _sample_pairs(
            rng,
            target,
            unique,
            actor_p,
            preferred,
            n_pref,
            channel_p,
            sampler,
            note_author,
            n_notes,
        )

    like_user, like_note = note_pairs(targets["likes"], True)
    like_at = _after(rng, np.maximum(note_published[like_note], user_created[like_user]), now_us)
    progress("plan", 3, steps)
    collect_user, collect_note = note_pairs(targets["collects"], True)
    collect_at = _after(
        rng, np.maximum(note_published[collect_note], user_created[collect_user]), now_us
    )
    progress("plan", 4, steps)

    comment_user, comment_note = note_pairs(targets["comments"], False)
    comment_at = _after(
        rng, np.maximum(note_published[comment_note], user_created[comment_user]), now_us
    )
    order = np.lexsort((comment_at, comment_note))  # by note, then time, to thread them
    comment_user, comment_note, comment_at = (
        comment_user[order],
        comment_note[order],
        comment_at[order],
    )
    comment_parent, comment_root = _thread_comments(rng, comment_note)
    # A reply must come after what it answers; nudge it if timestamps tie.
    for i in np.flatnonzero(comment_parent >= 0):
        comment_at[i] = max(comment_at[i], comment_at[comment_parent[i]] + 1_000_000)
    comment_at = np.minimum(comment_at, now_us)
    # Ids follow time across all notes; a stable sort keeps parents before their replies.
    by_time = np.argsort(comment_at, kind="stable")
    rank = np.empty_like(by_time)
    rank[by_time] = np.arange(len(by_time))
    comment_parent = np.where(comment_parent >= 0, rank[comment_parent], -1)[by_time]
    comment_root = np.where(comment_root >= 0, rank[comment_root], -1)[by_time]
    comment_user, comment_note = comment_user[by_time], comment_note[by_time]
    comment_at = comment_at[by_time]
    comment_body = rng.integers(0, len(COMMENT_PHRASES), len(comment_user))
    progress("plan", 5, steps)

    follow_src, follow_dst = _sample_follows(
        rng, targets["follows"], actor_p, fame / fame.sum(), n_users
    )
    follow_at = _after(rng, np.maximum(user_created[follow_src], user_created[follow_dst]), now_us)
    progress("plan", 6, steps)

    album_owner = np.unique(collect_user)
    first_collect = np.full(n_users, np.iinfo(np.int64).max)
    np.minimum.at(first_collect, collect_user, collect_at)
    last_collect = np.zeros(n_users, np.int64)
    np.maximum.at(last_collect, collect_user, collect_at)
    last_active = user_created.copy()
    for who, when in (
        (note_author, note_published),
        (like_user, like_at),
        (collect_user, collect_at),
        (comment_user, comment_at),
        (follow_src, follow_at),
    ):
        np.maximum.at(last_active, who, when)
    # Views are not derived from rows (there is no view log), so any plausible figure will do.
    likes_per_note = np.bincount(like_note, minlength=n_notes)
    note_views = likes_per_note * rng.integers(8, 30, n_notes) + rng.poisson(20, n_notes)
    # Drawn last so every array above stays what earlier runs with the same seed produced.
    note_image_count = np.minimum(rng.geometric(0.45, n_notes), 9)
    progress("plan", 7, steps)
    return _Plan(
        user_created=user_created,
        user_last_active=last_active,
        note_author=note_author,
        note_channel=note_channel,
        note_created=note_created,
        note_published=note_published,
        note_views=note_views,
        note_image_count=note_image_count,
        follow_src=follow_src,
        follow_dst=follow_dst,
        follow_at=follow_at,
        like_user=like_user,
        like_note=like_note,
        like_at=like_at,
        collect_user=collect_user,
        collect_note=collect_note,
        collect_at=collect_at,
        comment_user=comment_user,
        comment_note=comment_note,
        comment_at=comment_at,
        comment_parent=comment_parent,
        comment_root=comment_root,
        comment_body=comment_body,
        album_owner=album_owner,
        album_created=first_collect[album_owner],
        album_updated=last_collect[album_owner],
    )


def _split(total: int) -> dict[str, int]:
    """Integer split of `total` by INTERACTION_MIX; likes take the rounding remainder."""
    parts = {k: int(total * v) for k, v in INTERACTION_MIX.items() if k != "likes"}
    parts["likes"] = total - sum(parts.values())
    return parts


def _pick_channels(
    rng: np.random.Generator,
    who: np.ndarray,
    preferred: np.ndarray,
    n_pref: np.ndarray,
    channel_p: np.ndarray,
    share: float,
) -> np.ndarray:
    """One of `who`'s preferred channels with probability `share`, else any channel."""
    slot = (rng.random(len(who)) * n_pref[who]).astype(np.int64)
    channel = preferred[who, slot]
    explore = rng.random(len(who)) >= share
    channel[explore] = rng.choice(len(channel_p), size=int(explore.sum()), p=channel_p)
    return channel


class _NoteSampler:
    """Draws notes of a given channel with probability ∝ popularity (inverse CDF per channel)."""

    def __init__(self, note_channel: np.ndarray, popularity: np.ndarray, n_channels: int):
        everything = np.arange(len(note_channel))
        self.by_channel: list[tuple[np.ndarray, np.ndarray]] = []
        for channel in range(n_channels):
            members = np.flatnonzero(note_channel == channel)
            if len(members) == 0:  # tiny data sets: fall back to all notes
                members = everything
            self.by_channel.append((members, np.cumsum(popularity[members])))

    def sample(self, rng: np.random.Generator, channels: np.ndarray) -> np.ndarray:
        out = np.empty(len(channels), dtype=np.int64)
        for channel, (members, cdf) in enumerate(self.by_channel):
            mask = channels == channel
            count = int(mask.sum())
            if count:
                pos = np.searchsorted(cdf, rng.random(count) * cdf[-1], side="right")
                out[mask] = members[np.minimum(pos, len(members) - 1)]
        return out


def _sample_pairs(
    rng: np.random.Generator,
    target: int,
    unique: bool,
    actor_p: np.ndarray,
    preferred: np.ndarray,
    n_pref: np.ndarray,
    channel_p: np.ndarray,
    sampler: _NoteSampler,
    note_author: np.ndarray,
    n_notes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(user, note) pairs: active users, their channels, popular notes; never one's own note.

    With `unique`, pairs are deduplicated by encoding them as one int64 and oversampling
    until `target` distinct pairs exist (or the space is saturated), then a random subset
    is kept so the trim does not bias towards low ids.
    """
    keys = np.empty(0, dtype=np.int64)
    stalled = 0
    while len(keys) < target and stalled < 8:
        want = target - len(keys)
        draw = int(want * 1.25) + 64
        user = rng.choice(len(actor_p), size=draw, p=actor_p)
        note = sampler.sample(
            rng, _pick_channels(rng, user, preferred, n_pref, channel_p, PREFERRED_SHARE)
        )
        keep = note_author[note] != user
        fresh = user[keep].astype(np.int64) * n_notes + note[keep]
        before = len(keys)
        keys = _distinct(np.concatenate([keys, fresh])) if unique else np.concatenate([keys, fresh])
        stalled = stalled + 1 if len(keys) - before < max(1, want // 100) else 0
    if len(keys) > target:
        keys = keys[rng.permutation(len(keys))[:target]] if unique else keys[:target]
    return keys // n_notes, keys % n_notes


def _sample_follows(
    rng: np.random.Generator,
    target: int,
    follower_p: np.ndarray,
    followee_p: np.ndarray,
    n_users: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct follower→followee pairs, followees ∝ fame (heavy-tailed), no self-follows."""
    keys = np.empty(0, dtype=np.int64)
    stalled = 0
    while len(keys) < target and stalled < 8:
        want = target - len(keys)
        draw = int(want * 1.25) + 64
        src = rng.choice(n_users, size=draw, p=follower_p)
        dst = rng.choice(n_users, size=draw, p=followee_p)
        keep = src != dst
        before = len(keys)
        keys = _distinct(np.concatenate([keys, src[keep].astype(np.int64) * n_users + dst[keep]]))
        stalled = stalled + 1 if len(keys) - before < max(1, want // 100) else 0
    if len(keys) > target:
        keys = keys[rng.permutation(len(keys))[:target]]
    return keys // n_users, keys % n_users


def _distinct(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values: np.unique's hash path (numpy 2.3+) is ~10x slower on int64."""
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def _after(rng: np.random.Generator, base: np.ndarray, now_us: int) -> np.ndarray:
    """A time after `base`: mostly within days (exponential), a long uniform tail, <= now."""
    room = np.maximum(now_us - base, 1_000_000)
    delay = rng.exponential(2 * 86_400e6, len(base))
    tail = delay > room
    delay[tail] = rng.random(int(tail.sum())) * room[tail]
    return np.minimum(base + np.maximum(delay.astype(np.int64), 1_000_000), now_us)


def _thread_comments(
    rng: np.random.Generator, comment_note: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Turn some comments into replies to an earlier comment on the same note (2 levels).

    Input is sorted by (note, time). Returns parent and root indexes (-1 = top-level).
    """
    n = len(comment_note)
    parent = np.full(n, -1, dtype=np.int64)
    root = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return parent, root
    group_start = np.r_[0, np.flatnonzero(np.diff(comment_note)) + 1]
    starts = np.repeat(group_start, np.diff(np.r_[group_start, n]))
    position = np.arange(n) - starts
    is_reply = (position > 0) & (rng.random(n) < REPLY_SHARE)
    target = starts + (rng.random(n) * np.maximum(position, 1)).astype(np.int64)
    for i in np.flatnonzero(is_reply):  # sequential: a reply's root is its target's root
        t = int(target[i])
        parent[i] = t
        root[i] = t if root[t] < 0 else root[t]
    return parent, root


def _to_us(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


# --------------------------------------------------------------------------- writing


def _refuse_if_synthetic(conn: Connection, append: bool) -> None:
    users = User.__table__
    found = conn.execute(
        select(func.count())
        .select_from(users)
        .where(
            users.c.username.like(SYNTH_PREFIX.replace("_", "\\_") + "%", escape="\\")
            | (users.c.signup_source == SIGNUP_SOURCE)
        )
    ).scalar_one()
    if found and not append:
        raise SyntheticDataExists(
            f"the database already contains {found} synthetic users ({SYNTH_PREFIX}*); "
            "pass append=True (CLI: --append) to add more, or start from an empty database"
        )


def _ensure_channels(conn: Connection) -> int:
    """The migration fills `channels`; on a create_all schema it is empty, so fill it."""
    channels = Channel.__table__
    present = set(conn.execute(select(channels.c.code)).scalars())
    missing = [
        {"code": code, "name": name, "position": position}
        for position, (code, name) in enumerate(DEFAULT_CHANNELS)
        if code not in present
    ]
    if missing:
        conn.execute(insert(channels), missing)
    return len(missing)


class _Writer:
    """Column-oriented bulk writer: COPY on psycopg 3, Core executemany elsewhere."""

    def __init__(self, conn: Connection, progress: ProgressCallback):
        self.conn = conn
        self.progress = progress
        self.dialect = conn.dialect.name
        self.dbapi: Any = conn.connection.dbapi_connection
        self.copy = self.dialect == "postgresql" and _is_psycopg3(self.dbapi)

    def reserve_ids(self, table: Table, count: int) -> int:
        """First id of a block of `count` ids after every existing one.

        On PostgreSQL the id sequence is advanced past the block *before* inserting, so
        the application's own inserts (nextval) can never collide with synthetic ids.
        """
        first = int(self.conn.execute(select(func.max(table.c.id))).scalar() or 0) + 1
        if self.dialect == "postgresql":
            seq = self.conn.execute(
                text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}
            ).scalar()
            if seq:
                last = self.conn.execute(
                    text(
                        f"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END "
                        f"FROM {seq}"
                    )
                ).scalar_one()
                first = max(first, int(last) + 1)
                if count:
                    self.conn.execute(
                        text("SELECT setval(:s, :v)"), {"s": seq, "v": first + count - 1}
                    )
        return first

    def write(self, table: Table, phase: str, columns: dict[str, Any]) -> int:
        """Insert `columns` (name → ndarray, list or scalar) and return the row count."""
        lengths = {len(v) for v in columns.values() if isinstance(v, np.ndarray | list)}
        if len(lengths) != 1:
            raise ValueError(f"{table.name}: columns of different lengths {lengths}")
        total = lengths.pop()
        self.progress(phase, 0, total)
        if total == 0:
            return 0
        values = [self._values(table, name, value, total) for name, value in columns.items()]
        if self.copy:
            prep = self.conn.dialect.identifier_preparer
            cols = ", ".join(prep.quote(name) for name in columns)
            sql = f"COPY {prep.format_table(table)} ({cols}) FROM STDIN"
            with self.dbapi.cursor() as cursor, cursor.copy(sql) as copy:
                for done, rows in _batches(values, total):
                    for row in rows:
                        copy.write_row(row)
                    if done < total:
                        self.progress(phase, done, total)
            # The server checks foreign keys when COPY ends: report 100% only after that.
            self.progress(phase, total, total)
        else:
            names = list(columns)
            statement = insert(table)
            for done, rows in _batches(values, total):
                self.conn.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])
                self.progress(phase, done, total)
        return total

    def _values(self, table: Table, name: str, value: Any, total: int) -> Sequence[Any]:
        """Python values for one column: COPY wants text-ready values, Core wants objects."""
        if not isinstance(value, np.ndarray | list):
            value = [value] * total
        if isinstance(value, np.ndarray) and value.dtype.kind == "M":  # timestamps (UTC)
            if self.copy:
                return [s + "+00" for s in np.datetime_as_string(value, unit="us").tolist()]
            return [v.replace(tzinfo=UTC) for v in value.astype("datetime64[us]").tolist()]
        if isinstance(value, np.ndarray):
            return value.tolist()
        if self.copy and isinstance(table.c[name].type, JSON):
            return [json.dumps(v) for v in value]
        return value


def _is_psycopg3(dbapi_connection: Any) -> bool:
    """COPY … FROM STDIN with write_row is psycopg 3 API; other drivers take the Core path."""
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(dbapi_connection, psycopg.Connection)


def _batches(
    columns: list[Sequence[Any]], total: int
) -> Iterator[tuple[int, Iterator[tuple[Any, ...]]]]:
    for start in range(0, total, BATCH_ROWS):
        stop = min(start + BATCH_ROWS, total)
        yield stop, zip(*(column[start:stop] for column in columns), strict=True)


def _ts(us: np.ndarray) -> np.ndarray:
    return us.astype("datetime64[us]")


def _write_users(w: _Writer, p: _Plan, first: dict[str, int], password: str) -> int:
    n = len(p.user_created)
    ids = first["users"] + np.arange(n)
    rng = np.random.default_rng(len(ids))
    adj = rng.integers(0, len(NICK_ADJ), n).tolist()
    noun = rng.integers(0, len(NICK_NOUN), n).tolist()
    return w.write(
        User.__table__,
        "users",
        {
            "id": ids,
            "username": [f"{SYNTH_PREFIX}{i}" for i in ids.tolist()],
            "nickname": [
                f"{NICK_ADJ[a]}{NICK_NOUN[b]}{i}"
                for a, b, i in zip(adj, noun, ids.tolist(), strict=True)
            ],
            "bio": "",
            "avatar_image_id": None,
            "password_hash": _password_hash(password),
            "status": "active",
            "official": False,
            "verified": False,
            "level": 1,
            "points": 0,
            "badges": [[] for _ in range(n)],
            "signup_source": SIGNUP_SOURCE,
            "follower_count": 0,
            "following_count": 0,
            "note_count": 0,
            "like_received_count": 0,
            "collect_received_count": 0,
            "created_at": _ts(p.user_created),
            "updated_at": _ts(p.user_created),
            "last_active_at": _ts(p.user_last_active),
        },
    )


def _write_albums(w: _Writer, p: _Plan, first: dict[str, int], _password: str) -> int:
    n = len(p.album_owner)
    return w.write(
        Album.__table__,
        "albums",
        {
            "id": first["albums"] + np.arange(n),
            "owner_id": first["users"] + p.album_owner,
            "name": DEFAULT_ALBUM_NAME,
            "description": "",
            "is_default": True,
            "is_private": False,
            "note_count": 0,
            "created_at": _ts(p.album_created),
            "updated_at": _ts(p.album_updated),
        },
    )


def _write_notes(w: _Writer, p: _Plan, first: dict[str, int], _password: str) -> int:
    n = len(p.note_author)
    rng = np.random.default_rng(n)
    pre = rng.integers(0, len(TITLE_PREFIXES), n).tolist()
    suf = rng.integers(0, len(TITLE_SUFFIXES), n).tolist()
    phrase = rng.integers(0, len(COMMENT_PHRASES), n).tolist()
    codes = [code for code, _ in DEFAULT_CHANNELS]
    names = [name for _, name in DEFAULT_CHANNELS]
    channel = p.note_channel.tolist()
    return w.write(
        Note.__table__,
        "notes",
        {
            "id": first["notes"] + np.arange(n),
            "author_id": first["users"] + p.note_author,
            "title": [
                f"{TITLE_PREFIXES[a]}{names[c]}{TITLE_SUFFIXES[b]}"
                for a, b, c in zip(pre, suf, channel, strict=True)
            ],
            "body": [
                f"{TITLE_PREFIXES[a]}{names[c]}，{COMMENT_PHRASES[k]}。#{names[c]}"
                for a, c, k in zip(pre, channel, phrase, strict=True)
            ],
            "status": "published",
            "channel_code": [codes[c] for c in channel],
            "cover_image_id": None,
            "like_count": 0,
            "collect_count": 0,
            "comment_count": 0,
            "share_count": 0,
            "view_count": p.note_views,
            "hot_score": 0.0,
            "published_at": _ts(p.note_published),
            "created_at": _ts(p.note_created),
            "updated_at": _ts(p.note_published),
            "deleted_at": None,
        },
    )


def _write_images(w: _Writer, p: _Plan, first: dict[str, int], _password: str) -> int:
    """Pictures as the media pipeline leaves them (ready, three WebP variants, text read), so
    cards and their benchmarks carry real image data; no files are written."""
    counts = p.note_image_count
    n = int(counts.sum())
    rng = np.random.default_rng(n)
    note_index = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    ids = first["images"] + np.arange(n)
    # Portrait 3:4 mostly, some square and 4:3, as phone pictures are.
    shape = rng.choice(3, n, p=[0.6, 0.25, 0.15])
    height = np.choose(shape, [1440, 1080, 810])
    colour = rng.integers(0, 0xFFFFFF, n).tolist()
    variants = [
        {
            name: {"key": f"synthetic/{i}/{name}.webp", "width": size, "height": size * h // 1080}
            for name, size in (("small", 320), ("medium", 720), ("large", 1080))
        }
        for i, h in zip(ids.tolist(), height.tolist(), strict=True)
    ]
    created = p.note_created[note_index]
    w.write(
        Image.__table__,
        "images",
        {
            "id": ids,
            "owner_id": first["users"] + p.note_author[note_index],
            "kind": "upload",
            "status": "ready",
            "source_format": "JPEG",
            "width": 1080,
            "height": height,
            "dominant_color": [f"#{c:06x}" for c in colour],
            "byte_size": 180_000,
            "storage_key": [f"synthetic/{i}/original.jpg" for i in ids.tolist()],
            "content_type": "image/jpeg",
            "variants": variants,
            "error": None,
            # their text read (none found): no job tries to read files that were never written
            "text_read_at": _ts(created),
            "created_at": _ts(created),
            "updated_at": _ts(created),
        },
    )
    w.write(
        NoteImage.__table__,
        "images",
        {
            "note_id": first["notes"] + note_index,
            "position": position,
            "image_id": ids,
        },
    )
    return n


def _write_follows(w: _Writer, p: _Plan, first: dict[str, int], _password: str) -> int:
    return w.write(
        UserFollow.__table__,
        "follows",
        {
            "follower_id": first["users"] + p.follow_src,
            "followee_id": first["users"] + p.follow_dst,
            "created_at": _ts(p.follow_at),
        },
    )


def _write_likes(w: _Writer, p: _Plan, first: dict[str, int], _password: str) -> int:
    return w.write(
        NoteLike.__table__,
        "likes",
        {
            "user_id": first["users"] + p.like_user,
            "note_id": first["notes"] + p.like_note,
            "created_at": _ts(p.like_at),
        },
    )


def _write_collects(w: _Writer, p: _Plan, first: dict[str, int], _password: str) -> int:
    album_of = np.full(len(p.user_created), -1, dtype=np.int64)
    album_of[p.album_owner] = first["albums"] + np.arange(len(p.album_owner))
    return w.write(
        Collect.__table__,
        "collects",
        {
            "user_id": first["users"] + p.collect_user,
            "note_id": first["notes"] + p.collect_note,
            "album_id": album_of[p.collect_user],
            "created_at": _ts(p.collect_at),
        },
    )


def _write_comments(w: _Writer, p: _Plan, first: dict[str, int], _password: str) -> int:
    n = len(p.comment_user)
    ids = first["comments"] + np.arange(n)
    reply = p.comment_parent >= 0
    parent_author = p.comment_user[np.maximum(p.comment_parent, 0)] + first["users"]
    return w.write(
        Comment.__table__,
        "comments",
        {
            "id": ids,
            "note_id": first["notes"] + p.comment_note,
            "author_id": first["users"] + p.comment_user,
            "root_id": _nullable(reply, p.comment_root + first["comments"]),
            "parent_id": _nullable(reply, p.comment_parent + first["comments"]),
            "reply_to_user_id": _nullable(reply, parent_author),
            "body": [COMMENT_PHRASES[k] for k in p.comment_body.tolist()],
            "status": "published",
            "like_count": 0,
            "reply_count": 0,
            "created_at": _ts(p.comment_at),
            "deleted_at": None,
        },
    )


def _nullable(mask: np.ndarray, values: np.ndarray) -> list[int | None]:
    return [v if m else None for m, v in zip(mask.tolist(), values.tolist(), strict=True)]


def _password_hash(password: str) -> str:
    """One Argon2id hash shared by every synthetic user (hashing 20k times would take minutes)."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


# --------------------------------------------------------------------------- counters

# (table, first-id key, statement): one set-based statement per table, bound to an id range.
_PG_COUNTERS: tuple[tuple[str, str, str], ...] = (
    (
        "notes",
        "notes",
        """
        UPDATE notes AS t SET like_count = COALESCE(l.n, 0), collect_count = COALESCE(c.n, 0),
               comment_count = COALESCE(m.n, 0)
        FROM notes AS k
        LEFT JOIN (SELECT note_id, count(*) AS n FROM note_likes
                   WHERE note_id BETWEEN :lo AND :hi GROUP BY note_id) AS l ON l.note_id = k.id
        LEFT JOIN (SELECT note_id, count(*) AS n FROM collects
                   WHERE note_id BETWEEN :lo AND :hi GROUP BY note_id) AS c ON c.note_id = k.id
        LEFT JOIN (SELECT note_id, count(*) AS n FROM comments
                   WHERE note_id BETWEEN :lo AND :hi GROUP BY note_id) AS m ON m.note_id = k.id
        WHERE t.id = k.id AND k.id BETWEEN :lo AND :hi""",
    ),
    (
        "users",
        "users",
        """
        UPDATE users AS t SET follower_count = COALESCE(fr.n, 0),
               following_count = COALESCE(fg.n, 0), note_count = COALESCE(nt.n, 0),
               like_received_count = COALESCE(lr.n, 0),
               collect_received_count = COALESCE(cr.n, 0)
        FROM users AS k
        LEFT JOIN (SELECT followee_id AS id, count(*) AS n FROM user_follows
                   WHERE followee_id BETWEEN :lo AND :hi GROUP BY followee_id) AS fr
               ON fr.id = k.id
        LEFT JOIN (SELECT follower_id AS id, count(*) AS n FROM user_follows
                   WHERE follower_id BETWEEN :lo AND :hi GROUP BY follower_id) AS fg
               ON fg.id = k.id
        LEFT JOIN (SELECT author_id AS id, count(*) AS n FROM notes
                   WHERE author_id BETWEEN :lo AND :hi GROUP BY author_id) AS nt
               ON nt.id = k.id
        LEFT JOIN (SELECT n.author_id AS id, count(*) AS n FROM note_likes AS x
                   JOIN notes AS n ON n.id = x.note_id
                   WHERE n.author_id BETWEEN :lo AND :hi GROUP BY n.author_id) AS lr
               ON lr.id = k.id
        LEFT JOIN (SELECT n.author_id AS id, count(*) AS n FROM collects AS x
                   JOIN notes AS n ON n.id = x.note_id
                   WHERE n.author_id BETWEEN :lo AND :hi GROUP BY n.author_id) AS cr
               ON cr.id = k.id
        WHERE t.id = k.id AND k.id BETWEEN :lo AND :hi""",
    ),
    (
        "albums",
        "albums",
        """
        UPDATE albums AS t SET note_count = COALESCE(c.n, 0)
        FROM albums AS k
        LEFT JOIN (SELECT album_id, count(*) AS n FROM collects
                   WHERE album_id BETWEEN :lo AND :hi GROUP BY album_id) AS c
               ON c.album_id = k.id
        WHERE t.id = k.id AND k.id BETWEEN :lo AND :hi""",
    ),
    (
        "comments",
        "comments",
        """
        UPDATE comments AS t SET reply_count = COALESCE(r.n, 0)
        FROM comments AS k
        LEFT JOIN (SELECT root_id, count(*) AS n FROM comments
                   WHERE root_id BETWEEN :lo AND :hi GROUP BY root_id) AS r
               ON r.root_id = k.id
        WHERE t.id = k.id AND k.id BETWEEN :lo AND :hi""",
    ),
)

_SQLITE_COUNTERS: tuple[tuple[str, str, str], ...] = (
    (
        "notes",
        "notes",
        """
        UPDATE notes SET
          like_count = (SELECT count(*) FROM note_likes AS x WHERE x.note_id = notes.id),
          collect_count = (SELECT count(*) FROM collects AS x WHERE x.note_id = notes.id),
          comment_count = (SELECT count(*) FROM comments AS x WHERE x.note_id = notes.id)
        WHERE id BETWEEN :lo AND :hi""",
    ),
    (
        "users",
        "users",
        """
        UPDATE users SET
          follower_count = (SELECT count(*) FROM user_follows AS x
                            WHERE x.followee_id = users.id),
          following_count = (SELECT count(*) FROM user_follows AS x
                             WHERE x.follower_id = users.id),
          note_count = (SELECT count(*) FROM notes AS x WHERE x.author_id = users.id),
          like_received_count = (SELECT count(*) FROM note_likes AS x
                                 JOIN notes AS n ON n.id = x.note_id
                                 WHERE n.author_id = users.id),
          collect_received_count = (SELECT count(*) FROM collects AS x
                                    JOIN notes AS n ON n.id = x.note_id
                                    WHERE n.author_id = users.id)
        WHERE id BETWEEN :lo AND :hi""",
    ),
    (
        "albums",
        "albums",
        """
        UPDATE albums SET note_count = (SELECT count(*) FROM collects AS x
                                        WHERE x.album_id = albums.id)
        WHERE id BETWEEN :lo AND :hi""",
    ),
    (
        "comments",
        "comments",
        """
        UPDATE comments SET reply_count = (SELECT count(*) FROM comments AS x
                                           WHERE x.note_id = comments.note_id
                                             AND x.root_id = comments.id)
        WHERE id BETWEEN :lo AND :hi""",
    ),
)


def _recount(
    conn: Connection, first: dict[str, int], counts: dict[str, int], progress: ProgressCallback
) -> None:
    """Set every denormalised counter of this run's rows from COUNT(*) of the child rows.

    Only this run's id ranges are touched: synthetic interactions never point at other
    rows, so their counters are unchanged and stay whatever the application made them.
    """
    # SQLite: correlated subqueries, each an index lookup (there is no index on root_id
    # alone, hence the note_id in the replies' subquery: it uses (note_id, root_id, …)).
    statements = _PG_COUNTERS if conn.dialect.name == "postgresql" else _SQLITE_COUNTERS
    progress("counters", 0, len(statements))
    for done, (_table, key, sql) in enumerate(statements, start=1):
        if counts[key]:
            conn.execute(text(sql), {"lo": first[key], "hi": first[key] + counts[key] - 1})
        progress("counters", done, len(statements))


_TABLES = (
    "users",
    "notes",
    "albums",
    "images",
    "note_images",
    "user_follows",
    "note_likes",
    "collects",
    "comments",
)


def _analyze(conn: Connection) -> None:
    """Fresh planner statistics, or the first benchmark queries run with empty-table plans."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ANALYZE {', '.join(_TABLES)}"))
    elif conn.dialect.name == "sqlite":
        conn.execute(text("ANALYZE"))


def _vacuum(engine: Engine) -> None:
    """PostgreSQL: setting the counters rewrote every user, note, album and comment row, and
    with autovacuum off (as on the development VMs) those dead rows stayed, doubling the notes
    table every feed reads. VACUUM cannot run in a transaction: its own connection, after."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {', '.join(_TABLES)}"))
