"""Multiple accounts: what an account registered or signed in with (its address, the address's
/24 or /64 prefix, its user agent, the address with the user agent, and an optional
`X-Device-Id`), kept only as keyed hashes for a retention period, and the links proposed to
moderators between accounts that share them.

Why keyed: an unkeyed hash of an IPv4 address is reversed by hashing all 2^32 of them; with
HMAC-SHA256 under a server secret (`SPROUT_SIGNALS_KEY`, else derived from the app's secret
key) a leaked table tells only which accounts share something. Recording never fails a
sign-in (a failure is logged); the proposals are a job run after the commit."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, update

from app.accounts.models import User, UserRole
from app.core.config import int_or_default
from app.core.errors import Conflict, NotFound
from app.core.extensions import db
from app.core.jobs import commit, enqueue, job
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult
from app.core.policies import outranks, require
from app.core.presenters import iso
from app.core.sql import insert_ignore
from moderation.audit import audit
from moderation.config import SIGNALS
from moderation.models import AccountLink, AccountSignal, LinkProposal
from moderation.penalties import link_accounts, require_outranks
from moderation.policies import can_moderate, is_disinterested
from moderation.targets import get_row

log = logging.getLogger(__name__)

KINDS = ("ip", "ip_prefix", "ua", "ip_ua", "device")
_STRENGTH_RANK = {None: 0, "medium": 1, "strong": 2}


# -- hashing -------------------------------------------------------------------------------------
def _key() -> bytes:
    """`SPROUT_SIGNALS_KEY`, else a key derived from the app's secret key (so rotating the
    secret key starts the signals afresh: old hashes no longer match new sign-ins)."""
    configured = os.environ.get("SPROUT_SIGNALS_KEY", "")
    if configured:
        return configured.encode()
    secret = current_app.config["SPROUT"].secret_key.encode()
    return hmac.new(secret, b"sprout-account-signals-v1", hashlib.sha256).digest()


def digest(kind: str, value: str) -> str:
    return hmac.new(_key(), f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()


def retention_days() -> int:
    days = int_or_default(os.environ.get("SPROUT_SIGNALS_RETENTION_DAYS"), SIGNALS.retention_days)
    return max(days, 1)


def _cutoff(now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=retention_days())


def valid_device_id(raw: str | None) -> str | None:
    """An `X-Device-Id` worth keeping: printable ASCII of a sane length; anything else (absent,
    too short or long, control or non-ASCII characters) is ignored, never refused."""
    if raw is None:
        return None
    value = raw.strip()
    if not SIGNALS.device_id_min <= len(value) <= SIGNALS.device_id_max:
        return None
    if not all(0x21 <= ord(ch) <= 0x7E for ch in value):
        return None
    return value


def signal_values(ip: str | None, user_agent: str | None, device_id: str | None) -> dict[str, str]:
    """The raw values by kind (never stored): an address that does not parse is left out."""
    values: dict[str, str] = {}
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address is not None:
        values["ip"] = address.compressed
        bits = 24 if address.version == 4 else 64
        values["ip_prefix"] = ipaddress.ip_network(f"{address}/{bits}", strict=False).compressed
    agent = (user_agent or "").strip()[:512]
    if agent:
        values["ua"] = agent
        if "ip" in values:
            values["ip_ua"] = f"{values['ip']}\n{agent}"
    device = valid_device_id(device_id)
    if device is not None:
        values["device"] = device
    return values


# -- recording -----------------------------------------------------------------------------------
def record(
    user_id: int, event: str, ip: str | None, user_agent: str | None, device_id: str | None
) -> None:
    """Record a registration or a successful sign-in, in a transaction of its own after the
    account's: one row per (account, kind, hash), so a returning device is one UPDATE. A
    signal new to the account enqueues the proposals job. Never raises."""
    try:
        now = utcnow()
        fresh = False
        for kind, value in signal_values(ip, user_agent, device_id).items():
            fresh = _upsert(user_id, event, kind, digest(kind, value), now) or fresh
        if fresh:
            enqueue(propose_links, user_id)  # committed with the signals, run after
        commit()
    except Exception:
        db.session.rollback()
        log.exception("could not record the sign-in signals of user %s", user_id)


def _upsert(user_id: int, event: str, kind: str, value: str, now: datetime) -> bool:
    """True when this account had not shown this signal before."""
    seen = update(AccountSignal).where(
        AccountSignal.user_id == user_id, AccountSignal.kind == kind, AccountSignal.digest == value
    )
    seen = seen.values(seen_count=AccountSignal.seen_count + 1, last_seen_at=now)
    if db.session.execute(seen).rowcount:  # type: ignore[attr-defined]
        return False
    row = {
        "user_id": user_id,
        "kind": kind,
        "digest": value,
        "first_event": event,
        "seen_count": 1,
        "first_seen_at": now,
        "last_seen_at": now,
    }
    if db.session.execute(insert_ignore(AccountSignal, row)).rowcount:  # type: ignore[attr-defined]
        return True
    db.session.execute(seen)  # another request inserted it a moment ago
    return False


@job("low", durable=False, keep_result=False)
def purge_signals() -> dict[str, Any]:
    """Periodic: signals not seen within the retention period are deleted."""
    result = db.session.execute(delete(AccountSignal).where(AccountSignal.last_seen_at < _cutoff()))
    db.session.commit()
    return {"purged": result.rowcount}  # type: ignore[attr-defined]


# -- proposals -----------------------------------------------------------------------------------
def _exempt(user_ids: set[int]) -> set[int]:
    """Official and staff accounts are never proposed: they work from the office's network and
    test devices, and a staff account's sockpuppet is an admin's manual link."""
    if not user_ids:
        return set()
    official = set(db.session.scalars(select(User.id).where(User.id.in_(user_ids), User.official)))
    staff = set(db.session.scalars(select(UserRole.user_id).where(UserRole.user_id.in_(user_ids))))
    return official | staff


def _chunks(values: list[str], size: int = 500) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _accounts_by_signal(
    keys: set[tuple[str, str]], cutoff: datetime, exclude: int | None = None
) -> dict[tuple[str, str], int]:
    """How many accounts (other than `exclude`) show each (kind, digest) since `cutoff`: one
    grouped query per 500 digests, whatever the number of signals."""
    counts: dict[tuple[str, str], int] = {}
    for chunk in _chunks(sorted({value for _kind, value in keys})):
        statement = (
            select(AccountSignal.kind, AccountSignal.digest, func.count())
            .where(AccountSignal.digest.in_(chunk), AccountSignal.last_seen_at >= cutoff)
            .group_by(AccountSignal.kind, AccountSignal.digest)
        )
        if exclude is not None:
            statement = statement.where(AccountSignal.user_id != exclude)
        for kind, value, count in db.session.execute(statement):
            if (kind, value) in keys:
                counts[(kind, value)] = int(count)
    return counts


def _rows_sharing(
    keys: set[tuple[str, str]], cutoff: datetime, exclude: int
) -> list[AccountSignal]:
    """The other accounts' rows of these signals (the caller keeps `keys` few per signal)."""
    rows: list[AccountSignal] = []
    for chunk in _chunks(sorted({value for _kind, value in keys})):
        rows += db.session.scalars(
            select(AccountSignal).where(
                AccountSignal.digest.in_(chunk),
                AccountSignal.user_id != exclude,
                AccountSignal.last_seen_at >= cutoff,
            )
        )
    return [row for row in rows if (row.kind, row.digest) in keys]


def _shared_by_pair(user_id: int) -> dict[int, dict[str, dict[str, Any]]]:
    """For every other account sharing one of this account's live signals (signals on more
    than `max_accounts_per_signal` accounts left out), what they share, by kind. Three
    queries (more only past 500 signals), not one per signal."""
    cutoff = _cutoff()
    mine = {
        (row.kind, row.digest): row
        for row in db.session.scalars(
            select(AccountSignal).where(
                AccountSignal.user_id == user_id, AccountSignal.last_seen_at >= cutoff
            )
        )
    }
    counts = _accounts_by_signal(set(mine), cutoff, exclude=user_id)
    usable = {
        key
        for key, others in counts.items()
        if others + 1 <= SIGNALS.max_accounts_per_signal  # else a NAT: evidence of nothing
    }
    shared: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for other in _rows_sharing(usable, cutoff, exclude=user_id):
        signal = mine[(other.kind, other.digest)]
        shared[other.user_id][signal.kind] = {
            "accounts": counts[(other.kind, other.digest)] + 1,
            "first_seen": iso(min(signal.first_seen_at, other.first_seen_at)),
            "last_seen": iso(max(signal.last_seen_at, other.last_seen_at)),
            "seen": signal.seen_count + other.seen_count,
        }
    return shared


def strength_of(kinds: set[str]) -> str | None:
    if kinds & set(SIGNALS.strong_kinds):
        return "strong"
    if kinds & set(SIGNALS.medium_kinds):
        return "medium"
    return None


@job("default")
def propose_links(user_id: int) -> dict[str, Any]:
    """After an account showed a signal new to it: propose a link with every account that now
    shares strong or medium evidence with it. Idempotent; a rejected pair comes back only on
    stronger evidence than it was rejected on, a linked pair never."""
    if db.session.get(User, user_id) is None or _exempt({user_id}):
        return {"proposed": 0}
    shared = _shared_by_pair(user_id)
    exempt = _exempt(set(shared))
    linked = set(
        db.session.scalars(select(AccountLink.linked_user_id).where(AccountLink.user_id == user_id))
    )
    proposed = 0
    now = utcnow()
    for other_id, kinds in shared.items():
        strength = strength_of(set(kinds))
        if strength is None or other_id in exempt or other_id in linked:
            continue
        score = round(sum(SIGNALS.weights.get(kind, 0.0) for kind in kinds), 3)
        evidence = {"kinds": kinds, "strength": strength, "score": score}
        proposed += _propose(
            min(user_id, other_id), max(user_id, other_id), strength, score, evidence, now
        )
    commit()
    return {"proposed": proposed}


def _propose(
    low: int, high: int, strength: str, score: float, evidence: dict[str, Any], now: datetime
) -> int:
    pair = (LinkProposal.user_id == low) & (LinkProposal.other_user_id == high)
    row = {
        "user_id": low,
        "other_user_id": high,
        "status": "proposed",
        "strength": strength,
        "score": score,
        "evidence": evidence,
        "decision_note": "",
        "created_at": now,
        "updated_at": now,
    }
    if db.session.execute(insert_ignore(LinkProposal, row)).rowcount:  # type: ignore[attr-defined]
        return 1
    proposal = db.session.scalar(select(LinkProposal).where(pair))
    if proposal is None or proposal.status == "confirmed":
        return 0
    if proposal.status == "rejected":
        if _STRENGTH_RANK[strength] <= _STRENGTH_RANK.get(proposal.rejected_strength, 0):
            return 0
        proposal.status, proposal.decided_by_id, proposal.decided_at = "proposed", None, None
    proposal.strength, proposal.score, proposal.evidence = strength, score, evidence
    proposal.updated_at = now
    return 1


# -- moderators ----------------------------------------------------------------------------------
def list_proposals(actor: User, status: str | None, page: PageRequest) -> PageResult[LinkProposal]:
    """Newest first; `proposed` unless another status is asked for."""
    require(can_moderate(actor), "Only moderators may see link proposals.")
    statement = (
        select(LinkProposal)
        .where(LinkProposal.status == (status or "proposed"))
        .order_by(LinkProposal.id.desc())
        .limit(page.limit + 1)
    )
    if page.after is not None:
        statement = statement.where(LinkProposal.id < page.after[0])
    return page.by_id(list(db.session.scalars(statement)))


def get_proposal(actor: User, proposal_id: int) -> LinkProposal:
    require(can_moderate(actor), "Only moderators may see link proposals.")
    proposal = get_row(LinkProposal, proposal_id)
    if proposal is None:
        raise NotFound("No such link proposal.", code="proposal_not_found")
    return proposal


def _decidable(actor: User, proposal_id: int) -> tuple[LinkProposal, list[User]]:
    """Checked before anything changes: not about the actor, both accounts ranked below the
    actor, still proposed."""
    proposal = get_proposal(actor, proposal_id)
    ids = [proposal.user_id, proposal.other_user_id]
    require(
        is_disinterested(actor, *ids),
        "Nobody decides a link proposal about their own account.",
        code="conflict_of_interest",
        details={"proposal_id": proposal.id},
    )
    accounts = [db.session.get(User, i) for i in ids]
    for account in accounts:
        assert account is not None  # the proposal goes with either account (cascade)
        require_outranks(actor, account, outranks(actor, account), "link or clear")
    if proposal.status != "proposed":
        raise Conflict(
            "This link proposal is already decided.",
            code="proposal_decided",
            details={"status": proposal.status},
        )
    return proposal, [a for a in accounts if a is not None]


def confirm_proposal(actor: User, proposal_id: int, note: str) -> LinkProposal:
    """Links the two accounts through the moderators' own link (no points between them; the
    `multiple_accounts` circumstance in later penalties), audited."""
    proposal, _accounts = _decidable(actor, proposal_id)
    _decide(actor, proposal, "confirmed", note)
    reason = f"link proposal {proposal.id}" + (f": {note}" if note else "")
    link_accounts(actor, [proposal.user_id, proposal.other_user_id], reason)  # commits
    db.session.refresh(proposal)
    return proposal


def reject_proposal(actor: User, proposal_id: int, note: str) -> LinkProposal:
    """Not the same person: the pair is proposed again only on stronger evidence."""
    proposal, _accounts = _decidable(actor, proposal_id)
    proposal.rejected_strength = proposal.strength
    _decide(actor, proposal, "rejected", note)
    db.session.commit()
    db.session.refresh(proposal)
    return proposal


def _decide(actor: User, proposal: LinkProposal, status: str, note: str) -> None:
    now = utcnow()
    proposal.status, proposal.decided_by_id, proposal.decided_at = status, actor.id, now
    proposal.decision_note, proposal.updated_at = note, now
    audit(
        actor.id,
        f"link_proposal_{'confirm' if status == 'confirmed' else 'reject'}",
        "user",
        proposal.user_id,
        note,
        {"status": "proposed"},
        {
            "status": status,
            "proposal_id": proposal.id,
            "user_ids": [proposal.user_id, proposal.other_user_id],
            "strength": proposal.strength,
        },
    )


def user_signals(actor: User, user_id: int) -> list[dict[str, Any]]:
    """A moderator's view of one account's live signals: kind, a hash prefix, first and last
    seen, how often, and which other accounts share each (those the moderator outranks)."""
    require(can_moderate(actor), "Only moderators may see sign-in signals.")
    user = get_row(User, user_id)
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    require_outranks(actor, user, outranks(actor, user), "see the signals of")
    cutoff = _cutoff()
    signals = list(
        db.session.scalars(
            select(AccountSignal)
            .where(AccountSignal.user_id == user.id, AccountSignal.last_seen_at >= cutoff)
            .order_by(AccountSignal.kind, AccountSignal.last_seen_at.desc())
        )
    )
    keys = {(signal.kind, signal.digest) for signal in signals}
    counts = _accounts_by_signal(keys, cutoff, exclude=user.id)
    listed = {key for key in keys if counts.get(key, 0) <= SIGNALS.shown_accounts}
    sharing: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in _rows_sharing(listed, cutoff, exclude=user.id):
        sharing[(row.kind, row.digest)].append(row.user_id)
    visible = set(_outranked(actor, sorted({i for ids in sharing.values() for i in ids})))
    views = []
    for signal in signals:
        key = (signal.kind, signal.digest)
        total = counts.get(key, 0)
        views.append(
            {
                "kind": signal.kind,
                "digest_prefix": signal.digest[: SIGNALS.shown_digest_chars],
                "first_event": signal.first_event,
                "first_seen_at": signal.first_seen_at,
                "last_seen_at": signal.last_seen_at,
                "seen_count": signal.seen_count,
                "other_accounts": total,
                "widely_shared": total + 1 > SIGNALS.max_accounts_per_signal,
                # named only up to `shown_accounts` others (a NAT's crowd is no one's business)
                "shared_with": sorted(i for i in sharing.get(key, []) if i in visible),
            }
        )
    return views


def _outranked(actor: User, user_ids: list[int]) -> list[int]:
    if not user_ids:
        return []
    users = db.session.scalars(select(User).where(User.id.in_(user_ids)))
    return sorted(u.id for u in users if outranks(actor, u))


# -- for other checks ----------------------------------------------------------------------------
def shared_signals(user_ids: list[int] | set[int] | tuple[int, ...]) -> list[dict[str, Any]]:
    """What at least two of these accounts share, for other automated checks' evidence (bought
    engagement): by kind, how many of the accounts share it, first and last seen. Never a raw
    value or a hash. Signals on more than `max_accounts_per_signal` accounts overall are
    marked `widely_shared` (a NAT: weak evidence)."""
    ids = sorted(set(user_ids))
    if len(ids) < 2:
        return []
    cutoff = _cutoff()
    groups = db.session.execute(
        select(
            AccountSignal.kind,
            AccountSignal.digest,
            func.count(func.distinct(AccountSignal.user_id)),
            func.min(AccountSignal.first_seen_at),
            func.max(AccountSignal.last_seen_at),
        )
        .where(AccountSignal.user_id.in_(ids), AccountSignal.last_seen_at >= cutoff)
        .group_by(AccountSignal.kind, AccountSignal.digest)
        .having(func.count(func.distinct(AccountSignal.user_id)) >= 2)
    ).all()
    overall = _accounts_by_signal({(kind, value) for kind, value, *_rest in groups}, cutoff)
    result = [
        {
            "kind": kind,
            "accounts": int(accounts),
            "first_seen": iso(first),
            "last_seen": iso(last),
            "widely_shared": overall.get((kind, value), 0) > SIGNALS.max_accounts_per_signal,
        }
        for kind, value, accounts, first, last in groups
    ]
    result.sort(key=lambda item: (-item["accounts"], KINDS.index(item["kind"])))
    return result


__all__ = [
    "confirm_proposal",
    "digest",
    "get_proposal",
    "list_proposals",
    "propose_links",
    "purge_signals",
    "record",
    "reject_proposal",
    "shared_signals",
    "user_signals",
]
