"""Bought engagement, measured: inject rings of fake accounts into the synthetic community
and report how much of the fake engagement the detector flags (recall), how much of what it
flags is fake (precision), per interaction and per target, and whether a boosted note still
reaches the hot list's top 20, without detection and with it.

Everything goes through the app: a fresh database migrated by the app, the synthetic
community (`benchmarks.synthetic`), accounts registered and likes, collects and follows made
by the services the API calls, the real periodic job (`detect_engagement`), then the real hot
rebuild. From the repository root (figures in docs/moderation.md, "Bought engagement"):

    .venv/bin/python benchmarks/engagement_sim.py --users 5000 --notes 20000 \
        --interactions 300000 --seed 7

`--database-url` runs it on PostgreSQL instead (an empty database it may fill).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script

from sqlalchemy import func, select, update
from tqdm import tqdm

from app import create_app
from app.accounts.models import User
from app.accounts.services import register
from app.cli import migrate
from app.core.config import load_settings
from app.core.extensions import db
from app.core.models import utcnow
from app.feeds.jobs import rebuild_hot
from app.feeds.models import HotListEntry
from app.notes.models import Note, NoteLike
from app.notes.services.albums import collect_note
from app.notes.services.notes import like_note
from app.social.services import follow_user
from benchmarks.synthetic import generate
from moderation import detect_engagement
from moderation.models import EngagementFlag

TOP = 20
PASSWORD = "sim-password-1"


@dataclass
class Truth:
    """What was injected: fake rows (kind, actor, target) and the targets they boosted;
    benign bursts, which must not be flagged."""

    fake: set[tuple[str, int, int]] = field(default_factory=set)
    boosted_notes: set[int] = field(default_factory=set)
    boosted_users: set[int] = field(default_factory=set)
    benign_notes: set[int] = field(default_factory=set)
    scenarios: dict[str, dict[str, int]] = field(default_factory=dict)


class Injector:
    def __init__(self, rng: random.Random, truth: Truth, bar: tqdm) -> None:
        self.rng, self.truth, self.bar, self.n = rng, truth, bar, 0

    def account(self, prefix: str, *, days_old: float = 0) -> User:
        self.n += 1
        user, _token = register(f"{prefix}{self.n:05d}", PASSWORD)
        if days_old:
            moment = utcnow() - timedelta(days=days_old)
            db.session.execute(update(User).where(User.id == user.id).values(created_at=moment))
            db.session.commit()
        self.bar.update(1)
        return db.session.get(User, user.id, populate_existing=True)  # type: ignore[return-value]

    def like(self, user: User, note_id: int, *, fake: bool) -> None:
        like_note(user, note_id)
        if fake:
            self.truth.fake.add(("like", user.id, note_id))
        self.bar.update(1)

    def collect(self, user: User, note_id: int, *, fake: bool) -> None:
        collect_note(user, note_id)
        if fake:
            self.truth.fake.add(("collect", user.id, note_id))
        self.bar.update(1)

    def follow(self, user: User, followee: int, *, fake: bool) -> None:
        follow_user(user, followee)
        if fake:
            self.truth.fake.add(("follow", user.id, followee))
        self.bar.update(1)


def _backdate_likes(user_id: int, days: float) -> None:
    db.session.execute(
        update(NoteLike)
        .where(NoteLike.user_id == user_id)
        .values(created_at=utcnow() - timedelta(days=days))
    )
    db.session.commit()


def inject(rng: random.Random, sizes: argparse.Namespace) -> Truth:
    """The scenarios (each named in the report with its row count)."""
    truth = Truth()
    now = utcnow()
    # Boost targets: ordinary recent notes (published in the last 3 days, few likes).
    recent = list(
        db.session.scalars(
            select(Note.id)
            .where(
                Note.status == "published",
                Note.published_at >= now - timedelta(days=3),
                Note.like_count < 5,
            )
            .order_by(Note.id)
        )
    )
    rng.shuffle(recent)
    pool = iter(recent)
    popular = list(
        db.session.scalars(
            select(Note.id)
            .where(Note.status == "published", Note.published_at >= now - timedelta(days=7))
            .order_by(Note.like_count.desc())
            .limit(60)
        )
    )
    # Established, active synthetic users (most likes), for the benign bursts.
    active = list(
        db.session.scalars(
            select(NoteLike.user_id)
            .group_by(NoteLike.user_id)
            .order_by(func.count().desc())
            .limit(600)
        )
    )
    quiet_authors = list(
        db.session.scalars(
            select(User.id).where(User.follower_count < 3, User.note_count > 0).limit(200)
        )
    )
    total = (
        sizes.fresh_notes * sizes.fresh_size * 2
        + 12 * 2
        + 15 * 2
        + sizes.rings * sizes.ring_size * (sizes.ring_targets + 4)
        + 15 * 2
        + 8 * 2
        + 3 * 40
        + 20 * 8
    )
    bar = tqdm(total=total, desc="inject", unit="step")
    inj = Injector(rng, truth, bar)

    def scenario(name: str, before: int) -> None:
        truth.scenarios[name] = {"fake_rows": len(truth.fake) - before}

    # 1. Fresh accounts bursting likes (rule 1's case): only this like, minutes apart.
    start = len(truth.fake)
    for _ in range(sizes.fresh_notes):
        note = next(pool)
        truth.boosted_notes.add(note)
        for _ in range(sizes.fresh_size):
            inj.like(inj.account("sim_fresh_"), note, fake=True)
    scenario("fresh_like_bursts", start)
    # 2. Fresh accounts collecting one note, and following one quiet author.
    start = len(truth.fake)
    note = next(pool)
    truth.boosted_notes.add(note)
    for _ in range(12):
        inj.collect(inj.account("sim_coll_"), note, fake=True)
    followee = rng.choice(quiet_authors)
    truth.boosted_users.add(followee)
    for _ in range(15):
        inj.follow(inj.account("sim_foll_"), followee, fake=True)
    scenario("fresh_collects_and_follows", start)
    # 3. Farmed rings: older accounts with a little old activity, each ring liking its few
    #    targets together (no single burst from quiet accounts).
    start = len(truth.fake)
    for _ in range(sizes.rings):
        targets = [next(pool) for _ in range(sizes.ring_targets)]
        truth.boosted_notes.update(targets)
        members = [
            inj.account("sim_ring_", days_old=rng.uniform(30, 120)) for _ in range(sizes.ring_size)
        ]
        for member in members:  # a farmed account's cover: three likes three weeks ago
            for old in rng.sample(popular, 3):
                inj.like(member, old, fake=False)
            _backdate_likes(member.id, rng.uniform(15, 25))
        for target in targets:
            for member in members:
                inj.like(member, target, fake=True)
    scenario("farmed_rings", start)
    # 4. Dormant accounts woken up for one job (rule 2).
    start = len(truth.fake)
    note = next(pool)
    truth.boosted_notes.add(note)
    for _ in range(15):
        inj.like(inj.account("sim_dorm_", days_old=rng.uniform(60, 200)), note, fake=True)
    scenario("dormant_burst", start)
    # 5. Below every threshold: eight fresh likes (bought, but too few to tell; counted
    #    against recall on purpose).
    start = len(truth.fake)
    note = next(pool)
    truth.boosted_notes.add(note)
    for _ in range(8):
        inj.like(inj.account("sim_drip_"), note, fake=True)
    scenario("below_threshold", start)
    # Benign: three recent notes going viral among established users, 40 likes each in
    # minutes; and a wave of 20 genuine new users who browse (5 likes among 30 popular
    # notes) and all like one trending note.
    for _ in range(3):
        note = next(pool)
        truth.benign_notes.add(note)
        for uid in rng.sample(active, 40):
            user = db.session.get(User, uid)
            assert user is not None
            inj.like(user, note, fake=False)
    trending = next(pool)
    truth.benign_notes.add(trending)
    for _ in range(20):
        newbie = inj.account("sim_newbie_")
        for seen in rng.sample(popular[:30], 5):
            inj.like(newbie, seen, fake=False)
        inj.like(newbie, trending, fake=False)
    bar.close()
    return truth


def top_hot(n: int = TOP) -> list[int]:
    return list(
        db.session.scalars(
            select(HotListEntry.note_id)
            .where(HotListEntry.window == "day", HotListEntry.scope == "all")
            .order_by(HotListEntry.rank)
            .limit(n)
        )
    )


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def measure(truth: Truth) -> dict[str, Any]:
    flags = list(db.session.scalars(select(EngagementFlag)))
    flagged = {(f.kind, f.actor_id, f.target_id) for f in flags}
    tp = len(flagged & truth.fake)
    flagged_targets = {(f.target_type, f.target_id) for f in flags}
    fake_targets = {("note", n) for n in truth.boosted_notes} | {
        ("user", u) for u in truth.boosted_users
    }
    tp_targets = len(flagged_targets & fake_targets)
    rules: dict[str, int] = {}
    for f in flags:
        for rule in f.rules:
            rules[rule] = rules.get(rule, 0) + 1
    per_scenario = {}
    for name in truth.scenarios:
        per_scenario[name] = truth.scenarios[name]
    return {
        "interactions": {
            "fake": len(truth.fake),
            "flagged": len(flagged),
            "true_positives": tp,
            "precision": _ratio(tp, len(flagged)),
            "recall": _ratio(tp, len(truth.fake)),
        },
        "targets": {
            "boosted": len(fake_targets),
            "flagged": len(flagged_targets),
            "true_positives": tp_targets,
            "precision": _ratio(tp_targets, len(flagged_targets)),
            "recall": _ratio(tp_targets, len(fake_targets)),
            "benign_flagged": len(flagged_targets & {("note", n) for n in truth.benign_notes}),
        },
        "flags_by_rule": rules,
        "scenarios": per_scenario,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty database (default: a fresh SQLite)")
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--notes", type=int, default=20000)
    parser.add_argument("--interactions", type=int, default=300000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fresh-notes", type=int, default=5)
    parser.add_argument("--fresh-size", type=int, default=60)
    parser.add_argument("--rings", type=int, default=3)
    parser.add_argument("--ring-size", type=int, default=8)
    parser.add_argument("--ring-targets", type=int, default=4)
    args = parser.parse_args(argv)

    data_dir = Path(tempfile.mkdtemp(prefix="sprout-engagement-sim-"))
    url = args.database_url or f"sqlite:///{data_dir / 'sim.db'}"
    settings = load_settings(data_dir=data_dir).with_overrides(
        database_url=url,
        redis_url=None,
        elasticsearch_url=None,
        rate_limits=None,
        admin_username=None,
        admin_password=None,
        media_dir=data_dir / "media",
    )
    migrate(url)
    app = create_app(settings)
    report: dict[str, Any] = {"database": url.split(":", 1)[0], "seed": args.seed}
    with app.app_context():
        bars: dict[str, tqdm] = {}

        def progress(phase: str, done: int, total: int) -> None:
            bar = bars.get(phase) or bars.setdefault(phase, tqdm(total=total, desc=phase))
            bar.n = done
            bar.refresh()

        started = time.perf_counter()
        synth = generate(
            db.engine,
            users=args.users,
            notes=args.notes,
            interactions=args.interactions,
            seed=args.seed,
            progress=progress,
        )
        for bar in bars.values():
            bar.close()
        report["community"] = {
            "users": synth.users,
            "notes": synth.notes,
            "interactions": synth.interactions,
            "seconds": round(time.perf_counter() - started, 1),
        }
        truth = inject(random.Random(args.seed), args)
        rebuild_hot()
        boosted_before = [n for n in top_hot() if n in truth.boosted_notes]
        started = time.perf_counter()
        detection = detect_engagement()
        detect_seconds = time.perf_counter() - started
        rerun = detect_engagement()
        rebuild_hot()
        boosted_after = [n for n in top_hot() if n in truth.boosted_notes]
        benign_top = [n for n in top_hot() if n in truth.benign_notes]
        report.update(measure(truth))
        report["detection"] = {**detection, "seconds": round(detect_seconds, 3)}
        report["rerun"] = rerun
        report["hot_top20"] = {
            "boosted_without_detection": len(boosted_before),
            "boosted_with_detection": len(boosted_after),
            "boosted_still_there": boosted_after,
            "benign_viral_in_top20_with_detection": len(benign_top),
        }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
