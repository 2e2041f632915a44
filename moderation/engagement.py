"""Bought engagement: bursts of likes, collects or follows on one target from new, otherwise
inactive or linked accounts, and rings of accounts that keep engaging the same few targets
together (issue 20). The rules and their numbers are `moderation.config.ENGAGEMENT`.

A periodic job (`detect_engagement`) reads only the engagement created in the recent
window, and around it only the engagers' own recent history, so a run never scans all of
history. What it finds is flagged once per (kind, actor, target) (`EngagementFlag`), held out
of every count, score, signal and point by the owning domains (the `engagement_counted`
hook), and put before a moderator in the target's one case under
`fan_circle.fake_engagement`, with the evidence. The moderator's decision settles the flags
(`settle_case`): dismissed clears them (they count again and are never flagged again),
upheld deletes the engagement (`engagement_removed`)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from app.accounts.models import User
from app.core.extensions import db
from app.core.jobs import commit, job
from app.core.models import utcnow
from app.core.sql import id_in, insert_ignore
from app.notes.models import Collect, Comment, Note, NoteLike
from app.social.models import UserFollow
from moderation.audit import audit
from moderation.config import ENGAGEMENT, EngagementConfig, EngagementRule
from moderation.hooks import EngagementKind, hooks
from moderation.models import AccountLink, Case, EngagementFlag
from moderation.signals import shared_signals
from moderation.taxonomy import taxonomy

REASON = "fan_circle.fake_engagement"
KINDS: tuple[EngagementKind, ...] = ("like", "collect", "follow")


@dataclass(frozen=True)
class _Source:
    model: Any
    actor: Any
    target: Any
    at: Any
    target_type: str


def _source(kind: str) -> _Source:
    if kind == "like":
        return _Source(NoteLike, NoteLike.user_id, NoteLike.note_id, NoteLike.created_at, "note")
    if kind == "collect":
        return _Source(Collect, Collect.user_id, Collect.note_id, Collect.created_at, "note")
    return _Source(
        UserFollow, UserFollow.follower_id, UserFollow.followee_id, UserFollow.created_at, "user"
    )


@dataclass
class Finding:
    """One engagement row the rules caught, with every rule that caught it."""

    kind: EngagementKind
    actor_id: int
    target_type: str
    target_id: int
    at: datetime
    rules: set[str] = field(default_factory=set)


@dataclass
class _Account:
    id: int
    username: str
    created_at: datetime
    #: (kind, target) of everything the account did in the lookback: likes, collects and
    #: comments on notes, follows of accounts, notes it wrote. Only for accounts whose
    #: total is small enough to matter (`_load_accounts`); None: too active to be "inactive".
    items: list[tuple[str, int]] | None = None
    totals: dict[str, int] = field(default_factory=dict)


# --- reading -------------------------------------------------------------------------


def _candidate_targets(kind: str, since: datetime, least: int) -> list[int]:
    src = _source(kind)
    return list(
        db.session.scalars(
            select(src.target)
            .where(src.at >= since)
            .group_by(src.target)
            .having(func.count() >= least)
        )
    )


def _recent_rows(kind: str, target_id: int, since: datetime) -> list[tuple[int, datetime]]:
    src = _source(kind)
    return [
        (actor, at)
        for actor, at in db.session.execute(
            select(src.actor, src.at)
            .where(src.target == target_id, src.at >= since)
            .order_by(src.at, src.actor)
        )
    ]


def _activity_totals(user_ids: list[int], since: datetime) -> dict[int, dict[str, int]]:
    """Per account: likes, collects, follows, notes and comments since the moment."""
    totals: dict[int, dict[str, int]] = defaultdict(dict)
    if not user_ids:
        return totals
    queries = {
        "likes": (NoteLike.user_id, NoteLike.created_at),
        "collects": (Collect.user_id, Collect.created_at),
        "follows": (UserFollow.follower_id, UserFollow.created_at),
        "notes": (Note.author_id, Note.created_at),
        "comments": (Comment.author_id, Comment.created_at),
    }
    for name, (who, at) in queries.items():
        for chunk in _chunks(user_ids):
            for user_id, count in db.session.execute(
                select(who, func.count()).where(id_in(who, chunk), at >= since).group_by(who)
            ):
                totals[user_id][name] = int(count)
    return totals


def _activity_items(user_ids: list[int], since: datetime) -> dict[int, list[tuple[str, int]]]:
    """Everything these (few, quiet) accounts did since the moment, as (kind, target)."""
    items: dict[int, list[tuple[str, int]]] = defaultdict(list)
    queries = (
        ("like", NoteLike.user_id, NoteLike.note_id, NoteLike.created_at),
        ("collect", Collect.user_id, Collect.note_id, Collect.created_at),
        ("follow", UserFollow.follower_id, UserFollow.followee_id, UserFollow.created_at),
        ("note", Note.author_id, Note.id, Note.created_at),
        ("comment", Comment.author_id, Comment.note_id, Comment.created_at),
    )
    for kind, who, what, at in queries:
        for chunk in _chunks(user_ids):
            for user_id, target in db.session.execute(
                select(who, what).where(id_in(who, chunk), at >= since)
            ):
                items[user_id].append((kind, target))
    return items


def _chunks(ids: Sequence[int], size: int = 5000) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _load_accounts(user_ids: set[int], now: datetime, cfg: EngagementConfig) -> dict[int, _Account]:
    ids = sorted(user_ids)
    accounts: dict[int, _Account] = {}
    for chunk in _chunks(ids):
        for uid, username, created in db.session.execute(
            select(User.id, User.username, User.created_at).where(id_in(User.id, chunk))
        ):
            accounts[uid] = _Account(uid, username, created)
    since = now - cfg.inactive_lookback
    totals = _activity_totals(ids, since)
    # One engagement touches at most a like, a collect and a follow of the same target:
    # accounts with more than that beyond the allowance cannot qualify, so their items are
    # never read (an active user's history stays unread).
    ceiling = max(cfg.new_account_max_other, cfg.inactive_max_other) + 3
    quiet = [uid for uid in ids if sum(totals.get(uid, {}).values()) <= ceiling]
    items = _activity_items(quiet, since)
    for uid, account in accounts.items():
        account.totals = dict(totals.get(uid, {}))
        if uid in quiet or not account.totals:
            account.items = items.get(uid, [])
    return accounts


def _note_owners(note_ids: Iterable[int]) -> dict[int, int]:
    ids = sorted(set(note_ids))
    owners: dict[int, int] = {}
    for chunk in _chunks(ids):
        for note_id, author_id in db.session.execute(
            select(Note.id, Note.author_id).where(id_in(Note.id, chunk))
        ):
            owners[note_id] = author_id
    return owners


def _links(user_ids: set[int]) -> set[tuple[int, int]]:
    """Confirmed links (`AccountLink`, stored both ways) touching these accounts."""
    pairs: set[tuple[int, int]] = set()
    for chunk in _chunks(sorted(user_ids)):
        for a, b in db.session.execute(
            select(AccountLink.user_id, AccountLink.linked_user_id).where(
                id_in(AccountLink.user_id, chunk)
            )
        ):
            pairs.add((a, b))
    return pairs


# --- the rules -------------------------------------------------------------------------


def _other_activity(
    account: _Account, kind: str, target_type: str, target_id: int, owner: int | None
) -> int | None:
    """What the account did besides this engagement (None: too much to count)."""
    if account.items is None:
        return None
    on_target = {(kind, target_id)}
    if target_type == "note":
        on_target |= {("like", target_id), ("collect", target_id)}
        if owner is not None:
            on_target.add(("follow", owner))
    return sum(1 for item in account.items if item not in on_target)


def _bursts(rows: list[tuple[int, datetime]], rule: EngagementRule) -> set[int]:
    """Indexes of the rows inside any `rule.window` holding at least `rule.count` of them
    (rows sorted by time)."""
    caught: set[int] = set()
    left = 0
    for right in range(len(rows)):
        while rows[right][1] - rows[left][1] > rule.window:
            left += 1
        if right - left + 1 >= rule.count:
            caught.update(range(left, right + 1))
    return caught


def _burst_findings(
    kind: EngagementKind,
    target_id: int,
    rows: list[tuple[int, datetime]],
    accounts: dict[int, _Account],
    owner: int | None,
    links: set[tuple[int, int]],
    cfg: EngagementConfig,
) -> list[Finding]:
    """Rules 1-3 on one target's recent rows of one kind."""
    target_type = _source(kind).target_type
    new, inactive, linked = [], [], []
    engagers = {actor for actor, _ in rows}
    for actor, at in rows:
        account = accounts.get(actor)
        if account is None or actor == owner:
            continue
        other = _other_activity(account, kind, target_type, target_id, owner)
        young = at - account.created_at < cfg.new_account_age
        if young and other is not None and other <= cfg.new_account_max_other:
            new.append((actor, at))
        elif not young and other is not None and other <= cfg.inactive_max_other:
            inactive.append((actor, at))
        if (owner is not None and (actor, owner) in links) or any(
            (actor, peer) in links for peer in engagers if peer != actor
        ):
            linked.append((actor, at))
    found: dict[int, Finding] = {}
    checks = (
        ("new_accounts", new, cfg.new_account_bursts.get(kind)),
        ("inactive_accounts", inactive, cfg.inactive_bursts.get(kind)),
        ("linked_accounts", linked, cfg.linked_burst),
    )
    for name, qualifying, rule in checks:
        if rule is None:
            continue
        for index in _bursts(qualifying, rule):
            actor, at = qualifying[index]
            finding = found.setdefault(actor, Finding(kind, actor, target_type, target_id, at))
            finding.rules.add(name)
    return list(found.values())


def _together(times: dict[int, datetime], cfg: EngagementConfig) -> set[int]:
    """The accounts inside any `ring_together` span holding at least `ring_min_accounts`."""
    rows = sorted(times.items(), key=lambda item: (item[1], item[0]))
    rule = EngagementRule(cfg.ring_min_accounts, cfg.ring_together)
    return {rows[i][0] for i in _bursts(rows, rule)}


class _History:
    """The ring lookback's likes, collects and follows of the accounts around this run's
    seeds, read once per account however many seeds it is near; and how many accounts
    engaged each target, read once per target."""

    def __init__(self, since: datetime) -> None:
        self.since = since
        self.rows: dict[int, dict[tuple[str, str, int], datetime]] = {}
        self._engagers: dict[tuple[str, int], int] = {}

    def load(self, actors: list[int]) -> None:
        missing = [actor for actor in actors if actor not in self.rows]
        for actor in missing:
            self.rows[actor] = {}
        for kind in KINDS:
            src = _source(kind)
            for chunk in _chunks(missing):
                for actor, target, at in db.session.execute(
                    select(src.actor, src.target, src.at).where(
                        id_in(src.actor, chunk), src.at >= self.since
                    )
                ):
                    self.rows[actor][(kind, src.target_type, target)] = at

    def engagers(self, key: tuple[str, int]) -> int:
        if key not in self._engagers:
            target_type, target = key
            kinds = ("like", "collect") if target_type == "note" else ("follow",)
            found: set[int] = set()
            for kind in kinds:
                src = _source(kind)
                found.update(
                    db.session.scalars(
                        select(src.actor).where(src.target == target, src.at >= self.since)
                    )
                )
            self._engagers[key] = len(found)
        return self._engagers[key]


def _ring_findings(
    seed: tuple[str, int], actors: list[int], history: _History, cfg: EngagementConfig
) -> list[Finding]:
    """Rule 4 around one target: the accounts that engaged it recently, and what else they
    engaged over the lookback. A ring is a group that engaged the same few targets together
    and little else, and made most of those targets' engagement (new users who all liked the
    week's viral notes are a handful among their thousands of likers)."""
    history.load(actors)
    first: dict[tuple[str, int], dict[int, datetime]] = defaultdict(dict)  # target -> actor
    rows = {actor: history.rows[actor] for actor in actors}
    for actor, items in rows.items():
        for (_kind, target_type, target), at in items.items():
            key = (target_type, target)
            if actor not in first[key] or at < first[key][actor]:
                first[key][actor] = at
    together = {
        key: group
        for key, times in first.items()
        if len(times) >= cfg.ring_min_accounts and (group := _together(times, cfg))
    }
    if seed not in together:
        return []
    together = {
        key: group
        for key, group in together.items()
        if len(group) / max(1, history.engagers(key)) >= cfg.ring_min_target_share
    }
    if seed not in together:
        return []
    distinct = {actor: len({(t, i) for _, t, i in items}) for actor, items in rows.items()}
    members: set[int] = set()
    for _ in range(3):  # shrink the group and its targets together until they agree
        if len(together) < cfg.ring_min_targets:
            return []
        hits: dict[int, int] = defaultdict(int)
        for group in together.values():
            for actor in group:
                hits[actor] += 1
        members = {
            actor
            for actor, count in hits.items()
            if count >= cfg.ring_min_targets and count / distinct[actor] >= cfg.ring_min_share
        }
        narrowed = {
            key: group & members
            for key, group in together.items()
            if len(group & members) >= cfg.ring_min_accounts
        }
        if narrowed == together:
            break
        together = narrowed
    if seed not in together or len(together) < cfg.ring_min_targets:
        return []
    found = []
    for actor in members:
        for (kind, target_type, target), at in rows[actor].items():
            if actor in together.get((target_type, target), ()):
                found.append(Finding(kind, actor, target_type, target, at, {"ring"}))  # type: ignore[arg-type]
    return found


def find(now: datetime | None = None, cfg: EngagementConfig = ENGAGEMENT) -> list[Finding]:
    """Every engagement the rules catch in the recent window (reads only)."""
    now = now or utcnow()
    longest = max(
        [rule.window for rule in cfg.new_account_bursts.values()]
        + [rule.window for rule in cfg.inactive_bursts.values()]
        + [cfg.linked_burst.window, cfg.ring_together]
    )
    since = now - cfg.scan_window - longest
    per_target: dict[tuple[str, int], list[tuple[int, datetime]]] = {}
    for kind in KINDS:
        least = min(
            rule.count
            for rule in (
                cfg.new_account_bursts.get(kind),
                cfg.inactive_bursts.get(kind),
                cfg.linked_burst,
                EngagementRule(cfg.ring_min_accounts, cfg.ring_together),
            )
            if rule is not None
        )
        for target in _candidate_targets(kind, since, least):
            per_target[(kind, target)] = _recent_rows(kind, target, since)
    if not per_target:
        return []
    actors = {actor for rows in per_target.values() for actor, _ in rows}
    accounts = _load_accounts(actors, now, cfg)
    owners = _note_owners(target for (kind, target) in per_target if kind != "follow")
    links = _links(actors)
    found: dict[tuple[str, int, int], Finding] = {}

    def keep(finding: Finding) -> None:
        key = (finding.kind, finding.actor_id, finding.target_id)
        if key in found:
            found[key].rules |= finding.rules
        else:
            found[key] = finding

    ring_seeds: dict[tuple[str, int], dict[int, datetime]] = defaultdict(dict)
    for (kind, target), rows in per_target.items():
        owner = target if kind == "follow" else owners.get(target)
        for finding in _burst_findings(kind, target, rows, accounts, owner, links, cfg):  # type: ignore[arg-type]
            keep(finding)
        seed = ring_seeds[(_source(kind).target_type, target)]
        for actor, at in rows:
            seed[actor] = min(at, seed.get(actor, at))
    history = _History(now - cfg.ring_lookback)
    seeds = {
        seed: sorted(recent, reverse=True)[: cfg.ring_max_accounts]  # the newest accounts
        for seed, recent in ring_seeds.items()
        if _together(recent, cfg)  # nobody engaged it together lately: no ring around it
    }
    history.load(sorted({actor for actors in seeds.values() for actor in actors}))  # at once
    for seed, actors in seeds.items():
        for finding in _ring_findings(seed, actors, history, cfg):
            keep(finding)
    return list(found.values())


# --- flagging --------------------------------------------------------------------------


def _ensure_case(target_type: str, target_id: int, owner_id: int | None) -> Case:
    """The target's one case: created, or reopened if decided (never a second one)."""
    reason = taxonomy().reason(REASON)
    severity = reason.severity if reason else 3
    db.session.execute(
        insert_ignore(
            Case,
            {
                "target_type": target_type,
                "target_id": target_id,
                "target_user_id": owner_id,
                "status": "open",
                "reason_code": REASON,
                "severity": severity,
                "priority": float(severity),
                "report_count": 0,
                "weighted_reports": 0.0,
                "reach": 0,
                "auto_hidden": False,
                "evidence": {},
                "created_at": utcnow(),
                "updated_at": utcnow(),
            },
        )
    )
    case = db.session.scalar(
        select(Case)
        .where(Case.target_type == target_type, Case.target_id == target_id)
        .with_for_update()
    )
    assert case is not None
    if case.status == "decided":
        case.status, case.outcome, case.decided_at, case.claimed_by_id = "open", None, None, None
    if severity > case.severity:
        case.severity, case.reason_code = severity, REASON
    return case


def flag(findings: list[Finding], now: datetime | None = None) -> dict[str, int]:
    """Record and apply the findings, one transaction per target: flags (once per kind, actor
    and target; never again once a moderator cleared them), the rows held out of counting
    (by the owning domains, through the hook), and the target's case with the evidence."""
    now = now or utcnow()
    by_target: dict[tuple[str, int], list[Finding]] = defaultdict(list)
    for finding in findings:
        by_target[(finding.target_type, finding.target_id)].append(finding)
    figures = {"targets": 0, "new_flags": 0, "rows_held": 0, "cases": 0}
    for (target_type, target_id), group in sorted(by_target.items()):
        owner = (
            target_id
            if target_type == "user"
            else db.session.scalar(select(Note.author_id).where(Note.id == target_id))
        )
        if target_type == "note" and owner is None:
            continue  # deleted since
        case = _ensure_case(target_type, target_id, owner)
        existing = {
            (row.kind, row.actor_id): row
            for row in db.session.scalars(
                select(EngagementFlag).where(
                    EngagementFlag.target_type == target_type,
                    EngagementFlag.target_id == target_id,
                )
            )
        }
        held: dict[str, list[int]] = defaultdict(list)
        new_flags = 0
        for finding in group:
            row = existing.get((finding.kind, finding.actor_id))
            if row is not None and row.status == "cleared":
                continue  # a moderator found it genuine: never flagged again
            if row is None:
                new_flags += db.session.execute(
                    insert_ignore(
                        EngagementFlag,
                        {
                            "kind": finding.kind,
                            "actor_id": finding.actor_id,
                            "target_type": target_type,
                            "target_id": target_id,
                            "case_id": case.id,
                            "rules": sorted(finding.rules),
                            "status": "suspect",
                            "engaged_at": finding.at,
                            "created_at": now,
                        },
                    )
                ).rowcount
            else:
                if row.status == "removed":  # deleted on an upheld case, then done again
                    row.status, row.decided_at, row.engaged_at = "suspect", None, finding.at
                    new_flags += 1
                row.case_id = case.id
                row.rules = sorted(set(row.rules) | finding.rules)
            held[finding.kind].append(finding.actor_id)
        rows_held = sum(
            hooks().engagement_counted(kind, target_id, sorted(actors), False)  # type: ignore[arg-type]
            for kind, actors in held.items()
        )
        if not new_flags and not rows_held:
            db.session.rollback()  # nothing new: the case stays as the moderator left it
            continue
        _write_evidence(case, owner, now)
        audit(
            None,
            "engagement_flag",
            target_type,
            target_id,
            f"engagement: {', '.join(sorted({r for f in group for r in f.rules}))}",
            {},
            {"new_flags": new_flags, "rows_held": rows_held, "case_id": case.id},
        )
        commit()  # the hooks' jobs (points claw-back) commit with the flags
        figures["targets"] += 1
        figures["new_flags"] += new_flags
        figures["rows_held"] += rows_held
        figures["cases"] += 1
    return figures


def _write_evidence(case: Case, owner_id: int | None, now: datetime) -> None:
    """`case.evidence["engagement"]`: the rules, the accounts (age, other activity), the
    times, the links and shared signals, the window; from every suspect flag of the case."""
    flags = list(
        db.session.scalars(
            select(EngagementFlag)
            .where(EngagementFlag.case_id == case.id, EngagementFlag.status == "suspect")
            .order_by(EngagementFlag.engaged_at, EngagementFlag.id)
        )
    )
    actor_ids = sorted({f.actor_id for f in flags})
    shown = flags[: ENGAGEMENT.evidence_accounts]
    users = {
        row.id: row
        for row in db.session.execute(
            select(User.id, User.username, User.created_at, User.status).where(
                id_in(User.id, sorted({f.actor_id for f in shown}) or [0])
            )
        )
    }
    totals = _activity_totals(sorted(users), now - ENGAGEMENT.inactive_lookback)
    everyone = set(actor_ids) | ({owner_id} if owner_id is not None else set())
    links = sorted(
        [a, b] for a, b in _links(set(actor_ids)) if a < b and a in everyone and b in everyone
    ) + sorted([a, b] for a, b in _links({owner_id} if owner_id else set()) if b in everyone)
    times = [f.engaged_at for f in flags if f.engaged_at is not None]
    accounts = []
    for f in shown:
        user = users.get(f.actor_id)
        if user is None:
            continue
        age = (f.engaged_at - user.created_at) if f.engaged_at else None
        accounts.append(
            {
                "id": user.id,
                "username": user.username,
                "status": user.status,
                "created_at": user.created_at.isoformat(),
                "age_hours_at_engagement": round(age.total_seconds() / 3600, 2)
                if age is not None
                else None,
                "kind": f.kind,
                "engaged_at": f.engaged_at.isoformat() if f.engaged_at else None,
                "rules": f.rules,
                "activity_last_30_days": {
                    k: totals.get(user.id, {}).get(k, 0)
                    for k in ("notes", "comments", "likes", "collects", "follows")
                },
            }
        )
    by_kind: dict[str, int] = defaultdict(int)
    for f in flags:
        by_kind[f.kind] += 1
    case.evidence = {
        **(case.evidence or {}),
        "engagement": {
            "reason_code": REASON,
            "rules": sorted({rule for f in flags for rule in f.rules}),
            "flagged": len(flags),
            "by_kind": dict(by_kind),
            "accounts_total": len(actor_ids),
            "accounts": accounts,
            "window": {
                "from": min(times).isoformat() if times else None,
                "to": max(times).isoformat() if times else None,
            },
            "shared_signals": {
                "account_links": links,
                "linked_to_owner": sorted(
                    b for a, b in _links({owner_id} if owner_id else set()) if b in everyone
                ),
                # hashed device, address and user-agent signals two or more of them share
                "devices_and_addresses": shared_signals(actor_ids[:1000]),
            },
            "updated_at": now.isoformat(),
        },
    }
    case.priority = round(case.severity * (1 + math.log10(1 + len(flags))), 4)
    case.updated_at = now


def settle_case(case: Case, upheld: bool, actor_id: int | None) -> int:
    """A moderator decided the case: its suspect engagement is deleted (upheld) or counts
    again and is never flagged again (dismissed). In the decision's transaction; returns
    how many flags it settled."""
    flags = list(
        db.session.scalars(
            select(EngagementFlag).where(
                EngagementFlag.case_id == case.id, EngagementFlag.status == "suspect"
            )
        )
    )
    if not flags:
        return 0
    by_kind: dict[str, list[int]] = defaultdict(list)
    for row in flags:
        by_kind[row.kind].append(row.actor_id)
    moved = 0
    for kind, actors in by_kind.items():
        if upheld:
            moved += hooks().engagement_removed(kind, case.target_id, sorted(actors))  # type: ignore[arg-type]
        else:
            moved += hooks().engagement_counted(kind, case.target_id, sorted(actors), True)  # type: ignore[arg-type]
    now = utcnow()
    status = "removed" if upheld else "cleared"
    db.session.execute(
        update(EngagementFlag)
        .where(id_in(EngagementFlag.id, [row.id for row in flags]))
        .values(status=status, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    evidence = dict(case.evidence or {})
    if "engagement" in evidence:
        evidence["engagement"] = {**evidence["engagement"], "settled": status, "rows": moved}
        case.evidence = evidence
    audit(
        actor_id,
        f"engagement_{status}",
        case.target_type,
        case.target_id,
        f"case {case.id}",
        {"flags": len(flags)},
        {"status": status, "rows": moved},
    )
    return len(flags)


# --- running -------------------------------------------------------------------------


@job("default", durable=False)
def detect_engagement() -> dict[str, int]:
    """The periodic run (every `ENGAGEMENT.interval_seconds`): find, flag, open cases.
    Safe to run twice at once: flags are keyed, rows move once, a target has one case."""
    now = utcnow()
    findings = find(now)
    db.session.rollback()  # the reads' transaction: each target's flagging starts afresh
    figures = flag(findings, now)
    return {"findings": len(findings), **figures}
