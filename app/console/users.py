"""User administration: find a user, roles, penalties, points.

Every change goes through the service the JSON API uses, which decides who may do it:
`accounts.set_roles` (admin; never another admin: staff act only on accounts below their own
role), the moderation service that lifts a mute or a ban (audited), and the growth ledger's
manual grant (admin; recorded with the admin and the reason). A refusal is the console's error
page with the service's status and message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from flask import Response, flash, request, url_for
from flask_babel import gettext as _
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import func, or_, select

from app.accounts import services as accounts
from app.accounts.models import ROLES, User
from app.accounts.schemas import RolesIn
from app.console.blueprint import (
    back,
    bp,
    display_names,
    page,
    staff_actor,
    staff_page,
)
from app.core.extensions import db
from app.core.models import utcnow
from app.core.pagination import PageRequest
from app.core.schemas import MAX_ID, CleanText
from app.growth import ledger
from app.growth.levels import level_of
from app.growth.schemas import GrantIn
from moderation import current_mute
from moderation.models import ModerationAction
from moderation.penalties import lift_penalty

PAGE_SIZE = 20
LEDGER_SIZE = 20
HISTORY_SIZE = 10
#: The roles an admin may give or take on the user page (`user` everyone has).
STAFF_ROLES = tuple(role for role in ROLES if role != "user")


class LiftForm(BaseModel):
    """The note the audit log keeps with a lifted penalty (as `LiftIn` of the JSON API)."""

    note: Annotated[CleanText, Field(min_length=1, max_length=1000)]


# -- reads the pages need (no service lists these for moderators) ------------------------------
def find_users(query: str, after_id: int | None, limit: int = PAGE_SIZE) -> list[User]:
    """Accounts whose username or nickname contains `query` (or with that id), newest first,
    as `GET /admin/users?q=` finds them; one more than `limit` tells a next page exists."""
    stmt = select(User).order_by(User.id.desc()).limit(limit + 1)
    if after_id is not None:
        stmt = stmt.where(User.id < after_id)
    query = query.strip()
    if query:
        pattern = f"%{query.lower()}%"
        matches = [User.username.like(pattern), func.lower(User.nickname).like(pattern)]
        if query.isdigit() and int(query) <= MAX_ID:
            matches.append(User.id == int(query))
        stmt = stmt.where(or_(*matches))
    return list(db.session.scalars(stmt))


@dataclass(frozen=True)
class Penalty:
    """A mute or a ban in force: the action that imposed it (lifting names it)."""

    kind: str
    action_id: int | None
    reason_code: str
    since: datetime | None
    ends_at: datetime | None  # None: permanent


def penalties_in_force(user: User) -> list[Penalty]:
    found = []
    mute = current_mute(user.id)
    if mute is not None:
        action = db.session.get(ModerationAction, mute.action_id) if mute.action_id else None
        found.append(
            Penalty(
                "mute",
                mute.action_id,
                mute.reason_code,
                action.created_at if action else None,
                mute.until,
            )
        )
    if user.status == "banned":
        now = utcnow()
        bans = db.session.scalars(
            select(ModerationAction)
            .where(
                ModerationAction.user_id == user.id,
                ModerationAction.kind == "ban",
                ModerationAction.reversed_at.is_(None),
                ModerationAction.ends_at.is_(None) | (ModerationAction.ends_at > now),
            )
            .order_by(ModerationAction.id.desc())
        ).all()
        found.extend(Penalty("ban", b.id, b.reason_code, b.created_at, b.ends_at) for b in bans)
        if not bans:  # banned without a recorded action: nothing to lift from here
            found.append(Penalty("ban", None, "", None, None))
    return found


def recent_actions(user: User) -> list[ModerationAction]:
    return list(
        db.session.scalars(
            select(ModerationAction)
            .where(ModerationAction.user_id == user.id)
            .order_by(ModerationAction.id.desc())
            .limit(HISTORY_SIZE)
        )
    )


def _after() -> int | None:
    value = request.args.get("after", "")
    return int(value) if value.isdigit() and 0 < int(value) <= MAX_ID else None


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}" for e in exc.errors())


# -- pages -------------------------------------------------------------------------------------
@bp.route("/users")
@staff_page("moderator", "admin")
def users_home() -> Response:
    query = request.args.get("q", "")[:40]
    rows = find_users(query, _after())
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_url = (
        url_for("console.users_home", q=query or None, after=rows[-1].id) if more and rows else None
    )
    return page(
        "console/users/index.html",
        title=_("Users"),
        q=query,
        users=rows,
        next_url=next_url,
    )


@bp.route("/users/<int:user_id>")
@staff_page("moderator", "admin")
def users_detail(user_id: int) -> Response:
    user = accounts.get_user(user_id)
    entries = ledger.history(user, PageRequest(limit=LEDGER_SIZE)).items
    actions = recent_actions(user)
    names = display_names({e.actor_id for e in entries} | {a.moderator_id for a in actions})
    return page(
        "console/users/detail.html",
        title=user.nickname or user.username,
        subject=user,
        roles=sorted(user.roles, key=ROLES.index),
        staff_roles=STAFF_ROLES,
        level=level_of(user),
        penalties=penalties_in_force(user),
        actions=actions,
        entries=entries,
        names=names,
        is_admin=staff_actor().has_role("admin"),
    )


# -- actions -----------------------------------------------------------------------------------
@bp.route("/users/<int:user_id>/roles", methods=["POST"])
@staff_page("moderator", "admin")
def users_set_roles(user_id: int) -> Response:
    try:
        body = RolesIn(roles=request.form.getlist("roles"))
    except ValidationError as exc:
        flash(_("The roles were not changed: %(problem)s", problem=_problems(exc)), "error")
        return back("console.users_detail", user_id=user_id)
    user = accounts.set_roles(staff_actor(), user_id, body.roles)
    flash(_("Roles saved: %(roles)s.", roles=", ".join(sorted(user.roles, key=ROLES.index))), "ok")
    return back("console.users_detail", user_id=user_id)


@bp.route("/users/<int:user_id>/penalties/<int:action_id>/lift", methods=["POST"])
@staff_page("moderator", "admin")
def users_lift_penalty(user_id: int, action_id: int) -> Response:
    try:
        form = LiftForm(note=request.form.get("note", ""))
    except ValidationError:
        flash(_("Write a note for the audit log to lift a penalty."), "error")
        return back("console.users_detail", user_id=user_id)
    # the service of POST /moderation/actions/{id}/lift: who may, never one's own, audited
    action = lift_penalty(staff_actor(), action_id, form.note)
    kind = _("mute") if action.kind == "mute" else _("ban")
    flash(_("The %(kind)s was lifted.", kind=kind), "ok")
    return back("console.users_detail", user_id=user_id)


@bp.route("/users/<int:user_id>/points", methods=["POST"])
@staff_page("moderator", "admin")
def users_grant_points(user_id: int) -> Response:
    try:
        delta = int(request.form.get("delta", "").strip())
        body = GrantIn(delta=delta, reason=request.form.get("reason", ""))
    except ValueError as exc:  # ValidationError is a ValueError
        problem = _problems(exc) if isinstance(exc, ValidationError) else _("not a whole number")
        flash(_("No points were granted: %(problem)s", problem=problem), "error")
        return back("console.users_detail", user_id=user_id)
    _entry, balance = ledger.manual_grant(staff_actor(), user_id, body.delta, body.reason)
    message = (
        _(
            "%(delta)s points granted; the balance is %(balance)s.",
            delta=body.delta,
            balance=balance,
        )
        if body.delta > 0
        else _(
            "%(delta)s points deducted; the balance is %(balance)s.",
            delta=-body.delta,
            balance=balance,
        )
    )
    flash(message, "ok")
    return back("console.users_detail", user_id=user_id)
