"""Editors' picks and boosts, the daily picks, the editorial log, and the editorial source
the ranking reads (`ranking.signals.editorial.EditorialSource`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select

from app.accounts.models import User
from app.core.errors import NotFound, Unprocessable
from app.core.extensions import db
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult
from app.core.policies import is_staff, require
from app.core.snapshots import VersionedSnapshot
from app.core.sql import id_in_range, newest_first
from app.core.visibility import is_public_note
from app.editorial.models import Boost, EditorialLogEntry, EditorPick
from app.growth.levels import new_creator_boosts
from app.notes.models import Channel, Note, Topic

DAILY_PICKS = 20
# The ranking names the home waterfall "discover"; editors call its slot "home".
RANKING_SLOTS = {"discover": "home"}


def can_curate(actor: User | None) -> bool:
    return is_staff(actor, "editor")  # admins pass every role check


def log_action(
    actor: User | None, action: str, target_type: str, target_id: int, details: dict[str, Any]
) -> None:
    """Append to the editorial log in the caller's transaction."""
    db.session.add(
        EditorialLogEntry(
            actor_id=actor.id if actor else None,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=details,
        )
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _published_note(note_id: int) -> Note:
    note = db.session.get(Note, note_id) if id_in_range(note_id) else None
    if note is None or note.deleted_at is not None:
        raise NotFound("No such note.", code="note_not_found")
    if not is_public_note(note):  # not published, or by a banned author: it would never show
        raise Unprocessable(
            "Only notes everyone can see can be picked or boosted.",
            code="note_not_published",
            details={"status": note.status},
        )
    return note


def _check_slot(slot: str) -> None:
    kind, _, ref = slot.partition(":")
    exists = True
    if kind == "channel":
        exists = db.session.get(Channel, ref) is not None
    elif kind == "topic":
        exists = id_in_range(int(ref)) and db.session.get(Topic, int(ref)) is not None
    if not exists:
        raise Unprocessable(f"No such {kind}: {ref}.", code="unknown_slot", details={"slot": slot})


def _active(starts_at: datetime, ends_at: datetime | None, now: datetime) -> bool:
    return starts_at <= now and (ends_at is None or now < ends_at)


# --- picks ----------------------------------------------------------------------------------


def create_pick(
    actor: User,
    note_id: int,
    slot: str,
    position: int | None,
    starts_at: datetime | None,
    ends_at: datetime | None,
) -> EditorPick:
    require(can_curate(actor), "Only editors and admins may pick notes.")
    note = _published_note(note_id)
    _check_slot(slot)
    now = utcnow()
    if ends_at is not None and ends_at <= (starts_at or now):
        raise Unprocessable("The pick would end before it starts.", code="invalid_period")
    pick = EditorPick(
        note_id=note.id,
        slot=slot,
        position=position,
        starts_at=starts_at or now,
        ends_at=ends_at,
        created_by_id=actor.id,
    )
    db.session.add(pick)
    db.session.flush()
    log_action(actor, "pick_create", "pick", pick.id, pick_details(pick))
    db.session.commit()
    editorial_snapshot.changed()
    return pick


def pick_details(pick: EditorPick) -> dict[str, Any]:
    return {
        "note_id": pick.note_id,
        "slot": pick.slot,
        "position": pick.position,
        "starts_at": _iso(pick.starts_at),
        "ends_at": _iso(pick.ends_at),
    }


def list_picks(
    actor: User, slot: str | None, include_ended: bool, page: PageRequest
) -> PageResult[EditorPick]:
    """Newest first; current and scheduled picks unless `include_ended`."""
    require(can_curate(actor), "Only editors and admins may see the picks.")
    stmt = newest_first(select(EditorPick), EditorPick.id, page.limit, page.after_id)
    if slot is not None:
        stmt = stmt.where(EditorPick.slot == slot)
    if not include_ended:
        stmt = stmt.where(or_(EditorPick.ends_at.is_(None), EditorPick.ends_at > utcnow()))
    return page.by_id(list(db.session.scalars(stmt)))


def delete_pick(actor: User, pick_id: int) -> None:
    require(can_curate(actor), "Only editors and admins may remove picks.")
    pick = db.session.get(EditorPick, pick_id) if id_in_range(pick_id) else None
    if pick is None:
        raise NotFound("No such pick.", code="pick_not_found")
    log_action(actor, "pick_delete", "pick", pick.id, pick_details(pick))
    db.session.delete(pick)
    db.session.commit()
    editorial_snapshot.changed()


def slot_picks(slot: str, now: datetime | None = None) -> list[int]:
    """A slot's current picks in display order (topic pages show them first)."""
    current = editorial_snapshot.get().current_picks(slot, now or utcnow())
    return list(dict.fromkeys(p.note_id for p in current))


def daily_picks(now: datetime | None = None) -> list[int]:
    """Today's picks (每日精选): the home slot's current picks, fixed positions first."""
    return slot_picks("home", now)[:DAILY_PICKS]


# --- boosts ---------------------------------------------------------------------------------


def create_boost(
    actor: User,
    note_id: int | None,
    user_id: int | None,
    weight: float,
    starts_at: datetime | None,
    ends_at: datetime,
) -> Boost:
    require(can_curate(actor), "Only editors and admins may boost.")
    now = utcnow()
    if ends_at <= (starts_at or now):
        raise Unprocessable("The boost would end before it starts.", code="invalid_period")
    if note_id is not None:
        _published_note(note_id)
    elif user_id is not None:
        user = db.session.get(User, user_id) if id_in_range(user_id) else None
        if user is None or user.status != "active":
            raise NotFound("No such user.", code="user_not_found")
    boost = Boost(
        note_id=note_id,
        user_id=user_id,
        weight=weight,
        starts_at=starts_at or now,
        ends_at=ends_at,
        created_by_id=actor.id,
    )
    db.session.add(boost)
    db.session.flush()
    log_action(actor, "boost_create", "boost", boost.id, boost_details(boost))
    db.session.commit()
    editorial_snapshot.changed()
    return boost


def boost_details(boost: Boost) -> dict[str, Any]:
    return {
        "note_id": boost.note_id,
        "user_id": boost.user_id,
        "weight": boost.weight,
        "starts_at": _iso(boost.starts_at),
        "ends_at": _iso(boost.ends_at),
    }


def list_boosts(actor: User, include_ended: bool, page: PageRequest) -> PageResult[Boost]:
    require(can_curate(actor), "Only editors and admins may see the boosts.")
    stmt = newest_first(select(Boost), Boost.id, page.limit, page.after_id)
    if not include_ended:
        stmt = stmt.where(Boost.ends_at > utcnow())
    return page.by_id(list(db.session.scalars(stmt)))


def delete_boost(actor: User, boost_id: int) -> None:
    require(can_curate(actor), "Only editors and admins may remove boosts.")
    boost = db.session.get(Boost, boost_id) if id_in_range(boost_id) else None
    if boost is None:
        raise NotFound("No such boost.", code="boost_not_found")
    log_action(actor, "boost_delete", "boost", boost.id, boost_details(boost))
    db.session.delete(boost)
    db.session.commit()
    editorial_snapshot.changed()


def editorial_log(actor: User, page: PageRequest) -> PageResult[EditorialLogEntry]:
    require(can_curate(actor), "Only editors and admins may read the editorial log.")
    stmt = newest_first(select(EditorialLogEntry), EditorialLogEntry.id, page.limit, page.after_id)
    return page.by_id(list(db.session.scalars(stmt)))


# --- what the ranking reads -----------------------------------------------------------------


@dataclass(frozen=True)
class _Timed:
    note_id: int
    position: int | None
    starts_at: datetime
    ends_at: datetime | None


@dataclass(frozen=True)
class _BoostRow:
    ref: int
    weight: float
    starts_at: datetime
    ends_at: datetime


@dataclass
class EditorialData:
    """Every current and scheduled pick and boost (a few hundred rows at most)."""

    picks: dict[str, list[_Timed]] = field(default_factory=dict)
    note_boosts: list[_BoostRow] = field(default_factory=list)
    author_boosts: list[_BoostRow] = field(default_factory=list)

    def current_picks(self, slot: str, moment: datetime) -> list[_Timed]:
        """The slot's picks showing at `moment`: fixed positions first, then newest."""
        rows = [p for p in self.picks.get(slot, []) if _active(p.starts_at, p.ends_at, moment)]
        rows.sort(key=lambda p: (p.position is None, p.position or 0, -p.starts_at.timestamp()))
        return rows


def _load_editorial() -> EditorialData:
    now = utcnow()
    data = EditorialData()
    picks: dict[str, list[_Timed]] = defaultdict(list)
    rows = db.session.execute(
        select(
            EditorPick.slot,
            EditorPick.note_id,
            EditorPick.position,
            EditorPick.starts_at,
            EditorPick.ends_at,
        ).where(or_(EditorPick.ends_at.is_(None), EditorPick.ends_at > now))
    )
    for slot, note_id, position, starts_at, ends_at in rows:
        picks[slot].append(_Timed(note_id, position, starts_at, ends_at))
    data.picks = dict(picks)
    for boost in db.session.scalars(select(Boost).where(Boost.ends_at > now)):
        row = _BoostRow(
            boost.note_id or boost.user_id or 0, boost.weight, boost.starts_at, boost.ends_at
        )
        (data.note_boosts if boost.note_id is not None else data.author_boosts).append(row)
    return data


editorial_snapshot: VersionedSnapshot[EditorialData] = VersionedSnapshot(
    "editorial", _load_editorial
)


class DatabaseEditorial:
    """The `EditorialSource` of the service: picks and boosts as of `now` (Unix seconds)."""

    def __init__(self, data: EditorialData, new_creators: dict[int, float] | None = None) -> None:
        self._data = data
        self._new_creators = new_creators or {}

    @staticmethod
    def _moment(now: float) -> datetime:
        return datetime.fromtimestamp(now, UTC)

    def picks(self, slot: str, now: float) -> list[tuple[int, int | None]]:
        rows = self._data.current_picks(RANKING_SLOTS.get(slot, slot), self._moment(now))
        # API positions count from 1; the ranking's pinned positions from 0.
        return [(p.note_id, p.position - 1 if p.position else None) for p in rows]

    def _sum(self, rows: list[_BoostRow], now: float) -> dict[int, float]:
        moment = self._moment(now)
        out: dict[int, float] = defaultdict(float)
        for row in rows:
            if _active(row.starts_at, row.ends_at, moment):
                out[row.ref] += row.weight
        return dict(out)

    def boosts(self, now: float) -> dict[int, float]:
        return self._sum(self._data.note_boosts, now)

    def author_boosts(self, now: float) -> dict[int, float]:
        boosts = self._sum(self._data.author_boosts, now)
        for author_id, weight in self._new_creators.items():
            boosts[author_id] = boosts.get(author_id, 0.0) + weight
        return boosts


def editorial_source() -> DatabaseEditorial:
    """Editors' picks and boosts, plus the growth system's boost for new creators."""
    return DatabaseEditorial(editorial_snapshot.get(), new_creator_boosts())
