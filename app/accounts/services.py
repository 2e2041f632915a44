"""Accounts: register, log in and out, resolve bearer tokens, roles and the bootstrap admin."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy import bindparam, delete, event, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.jobs import forget_revoked_tokens, token_key
from app.accounts.models import ROLES, AuthToken, User, UserActivityDay, UserRole
from app.core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from app.core.extensions import db, get_redis, rate_limiter, shared_state
from app.core.jobs import commit, enqueue
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult
from app.core.policies import can_change_roles_of, can_manage_roles, require
from app.core.sql import insert_ignore, newest_first
from app.growth import invites
from app.media.models import Image
from app.search.jobs import index_user
from moderation import lift_all_penalties, record_sign_in_signals

_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters.
# A hash to verify against when the username is unknown, so timing does not reveal accounts.
_DUMMY_HASH = _hasher.hash("sprout-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _issue_token(user: User, user_agent: str | None) -> str:
    token = secrets.token_urlsafe(32)
    ttl = timedelta(days=current_app.config["SPROUT"].token_ttl_days)
    db.session.add(
        AuthToken(
            user_id=user.id,
            token_hash=_token_digest(token),
            expires_at=utcnow() + ttl,
            user_agent=(user_agent or "")[:200] or None,
        )
    )
    return token


def register(
    username: str,
    password: str,
    nickname: str | None = None,
    *,
    signup_source: str | None = None,
    invite_code: str | None = None,
    share_token: str | None = None,
    user_agent: str | None = None,
    ip: str | None = None,
    device_id: str | None = None,
) -> tuple[User, str]:
    """An invite code or a share link's token attributes the account (source `invite` or
    `share`, and the referrer); one that is no good refuses the sign-up (422). The address,
    user agent and device id are kept only as keyed hashes, for moderators (multiple
    accounts), after the account is committed."""
    normalized = username.lower()
    if password.lower() == normalized:
        raise ValidationFailed(
            "The password must not be the username.", details={"field": "password"}
        )
    attribution = invites.resolve_attribution(invite_code, share_token)
    if attribution is not None:
        signup_source = attribution.source
    user = User(
        username=normalized,
        nickname=nickname or username,
        password_hash=hash_password(password),
        signup_source=signup_source,
        badges=[],
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(
            "That username is taken.", code="username_taken", details={"field": "username"}
        ) from exc
    if attribution is not None:
        invites.record_referral(user.id, attribution)
    token = _issue_token(user, user_agent)
    enqueue(index_user, user.id)  # in the outbox, committed with the account
    commit()
    record_sign_in_signals(user.id, "register", ip=ip, user_agent=user_agent, device_id=device_id)
    return user, token


def login(
    username: str,
    password: str,
    *,
    user_agent: str | None = None,
    ip: str | None = None,
    device_id: str | None = None,
) -> tuple[User, str]:
    # Per account too (the route counts per address), so credential stuffing from many
    # addresses is slowed down as well.
    rate_limiter().hit("login", f"account:{username.lower()}")
    user = db.session.scalar(select(User).where(User.username == username.lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise Unauthorized("Wrong username or password.", code="invalid_credentials")
    if user.status == "banned":
        raise Forbidden("This account is banned.", code="account_banned")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = _issue_token(user, user_agent)
    db.session.commit()
    record_sign_in_signals(user.id, "sign_in", ip=ip, user_agent=user_agent, device_id=device_id)
    return user, token


def logout(token: str) -> None:
    digest = _token_digest(token)
    db.session.execute(
        update(AuthToken)
        .where(AuthToken.token_hash == digest, AuthToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    _forget_after_commit([digest])
    commit()


def change_password(actor: User, current_password: str, new_password: str, token: str) -> None:
    """A new password signs out every other session: a stolen token stops working."""
    try:
        _hasher.verify(actor.password_hash, current_password)
    except (VerificationError, InvalidHashError) as exc:
        raise Forbidden("The current password is wrong.", code="invalid_credentials") from exc
    if new_password.lower() == actor.username:
        raise ValidationFailed(
            "The password must not be the username.", details={"field": "new_password"}
        )
    actor.password_hash = hash_password(new_password)
    kept = _token_digest(token)
    revoked = db.session.scalars(
        update(AuthToken)
        .where(
            AuthToken.user_id == actor.id,
            AuthToken.revoked_at.is_(None),
            AuthToken.token_hash != kept,
        )
        .values(revoked_at=utcnow())
        .returning(AuthToken.token_hash)
    ).all()
    _forget_after_commit(list(revoked))
    commit()


def revoke_all_tokens(user_id: int) -> None:
    """Used when an account is banned (a moderation hook) or its password changes."""
    revoked = db.session.scalars(
        update(AuthToken)
        .where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(AuthToken.token_hash)
    ).all()
    _forget_after_commit(list(revoked))


def _forget_after_commit(digests: list[str]) -> None:
    """Revoked tokens leave the Redis cache once the revocation commits: at once (after the
    commit) and through a durable job, which retries while Redis is unreachable."""
    if not digests or get_redis() is None:
        return
    enqueue(forget_revoked_tokens, digests)
    db.session.info.setdefault("forget_tokens", []).extend(digests)


@event.listens_for(Session, "after_commit")
def _forget_now(session: Session) -> None:
    digests = session.info.pop("forget_tokens", None)
    if digests and has_app_context():
        with contextlib.suppress(redis.RedisError):
            forget_revoked_tokens(digests)


@event.listens_for(Session, "after_soft_rollback")
def _forget_nothing(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop("forget_tokens", None)


def account_status_changed(user_id: int) -> None:
    """A ban began or ended (a moderation hook): search hides or shows the account and its
    notes again (a job, committed with the change); a ban claws back what the account's
    sign-up paid its referrer, and lifting it restores that."""
    enqueue(index_user, user_id, True)
    enqueue(invites.settle_invitee, user_id)


@functools.cache
def _token_statement() -> Any:
    """Every signed-in request runs it: built once, and read as plain columns (no ORM
    objects: most requests need only the id; `routing.current_actor` loads the user when a
    handler asks for it)."""
    return (
        select(
            AuthToken.id,
            AuthToken.user_id,
            AuthToken.revoked_at,
            AuthToken.expires_at,
            User.status,
            User.last_active_at,
        )
        .join(User, User.id == AuthToken.user_id)
        .where(AuthToken.token_hash == bindparam("token_hash"))
    )


def identify(token: str) -> int:
    """The id of the user behind a bearer token, or 401 (403 when banned). Records the day as
    active for DAU/WAU.

    Services mode keeps what a token resolves to in Redis (`sprout:token:<digest>`, for at
    most `TOKEN_CACHE_SECONDS`), so a signed-in read costs no database round trip for who is
    asking: revoking tokens (sign-out, a new password, a ban) deletes their entries after the
    commit, and a durable job deletes them again in case Redis was unreachable then."""
    digest = _token_digest(token)
    now = utcnow()
    hour = f"{now:%Y%m%d%H}"
    cached = _cached_token(digest)
    if cached is not None:
        user_id, expires, cached_hour = cached
        if expires <= now.timestamp():
            raise Unauthorized("The token is missing, expired or revoked.", code="invalid_token")
        # Cached within this hour: the activity was recorded when it was cached.
        if cached_hour != hour and shared_state().claim(f"sprout:active:{user_id}:{hour}", 3600):
            _record_activity(user_id, None, now)
        return user_id
    row = db.session.connection().execute(_token_statement(), {"token_hash": digest}).first()
    if row is None or row.revoked_at is not None or _aware(row.expires_at) <= now:
        raise Unauthorized("The token is missing, expired or revoked.", code="invalid_token")
    if row.status == "banned":
        raise Forbidden("This account is banned.", code="account_banned")
    last_active = _aware(row.last_active_at)
    if (
        last_active is None
        or now - last_active >= timedelta(hours=1)
        or (last_active.date() != now.date())
    ):
        _record_activity(row.user_id, row.id, now)
    _cache_token(digest, int(row.user_id), _aware(row.expires_at).timestamp(), now, hour)
    return int(row.user_id)


#: How long a resolved token is trusted from Redis; bounds a revocation Redis missed.
TOKEN_CACHE_SECONDS = 300


def _cached_token(digest: str) -> tuple[int, float, str] | None:
    connection = get_redis()
    if connection is None:
        return None
    try:
        raw = connection.get(token_key(digest))
    except redis.RedisError:
        return None  # the database answers
    if raw is None:
        return None
    user_id, expires, hour = raw.split(b":")
    return int(user_id), float(expires), hour.decode()


def _cache_token(digest: str, user_id: int, expires: float, now: datetime, hour: str) -> None:
    connection = get_redis()
    if connection is None:
        return
    ttl = int(min(TOKEN_CACHE_SECONDS, expires - now.timestamp()))
    if ttl > 0:
        with contextlib.suppress(redis.RedisError):
            connection.set(token_key(digest), f"{user_id}:{expires}:{hour}", ex=ttl)


def authenticate(token: str) -> User:
    """`identify`, with the user loaded."""
    return get_user(identify(token))


def _aware(moment: datetime | None) -> datetime | None:
    """Plain columns skip the ORM's UTC type on SQLite, which stores naive UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _record_activity(user_id: int, token_id: int | None, now: datetime) -> None:
    """At most one write per user per hour (the callers check): activity feeds DAU/WAU, not
    an audit trail."""
    today: date = now.date()
    db.session.execute(insert_ignore(UserActivityDay, {"user_id": user_id, "day": today}))
    db.session.execute(update(User).where(User.id == user_id).values(last_active_at=now))
    if token_id is not None:
        db.session.execute(
            update(AuthToken).where(AuthToken.id == token_id).values(last_used_at=now)
        )
    db.session.commit()


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    return user


def update_profile(
    actor: User,
    *,
    nickname: str | None = None,
    bio: str | None = None,
    avatar_image_id: int | None = None,
) -> User:
    if nickname is not None:
        actor.nickname = nickname
    if bio is not None:
        actor.bio = bio
    if avatar_image_id is not None:
        image = db.session.get(Image, avatar_image_id)
        if image is None or image.owner_id != actor.id:
            raise NotFound("No such image of yours.", code="image_not_found")
        actor.avatar_image_id = image.id
    if nickname is not None or bio is not None:
        enqueue(index_user, actor.id)  # commits with the profile
    commit()
    return actor


def set_roles(actor: User, user_id: int, roles: list[str]) -> User:
    """Another admin's roles are refused (403 `insufficient_rank`): staff act only on
    accounts below their own role."""
    require(can_manage_roles(actor), "Only an admin may change roles.")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValidationFailed(
            f"Unknown roles: {', '.join(unknown)}.", details={"allowed": list(ROLES)}
        )
    user = get_user(user_id)
    require(
        can_change_roles_of(actor, user),
        "An admin changes the roles only of accounts ranked below admin.",
        code="insufficient_rank",
        details={"user_id": user.id, "roles": sorted(user.roles)},
    )
    if user.id == actor.id and "admin" not in roles:
        raise Conflict("An admin cannot remove their own admin role.", code="cannot_demote_self")
    wanted = set(roles) - {"user"}
    db.session.execute(
        delete(UserRole).where(UserRole.user_id == user.id, UserRole.role.not_in(wanted or {""}))
    )
    for role in wanted - {row.role for row in user.role_rows}:
        db.session.add(UserRole(user_id=user.id, role=role))
    db.session.commit()
    db.session.refresh(user)
    return user


def search_users_admin(actor: User, query: str | None, page: PageRequest) -> PageResult[User]:
    require(can_manage_roles(actor), "Only an admin may list accounts.")
    stmt = newest_first(select(User), User.id, page.limit, page.after_id)
    if query:
        pattern = f"%{query.lower()}%"
        stmt = stmt.where(or_(User.username.like(pattern), func.lower(User.nickname).like(pattern)))
    return page.by_id(list(db.session.scalars(stmt)))


def ensure_admin(username: str, password: str) -> User:
    """Start-up: the account named in the environment exists, has this password, is admin and
    is neither banned nor muted (any such penalty is lifted, audited), so a restart always
    gives the operator a way back in."""
    user = db.session.scalar(select(User).where(User.username == username.lower()))
    if user is None:
        user = User(
            username=username.lower(),
            nickname=username,
            password_hash=hash_password(password),
            badges=[],
        )
        db.session.add(user)
        db.session.flush()
    else:
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            user.password_hash = hash_password(password)
    if "admin" not in {row.role for row in user.role_rows}:
        db.session.add(UserRole(user_id=user.id, role="admin"))
    unbanned = lift_all_penalties(user, "bootstrap admin ensured at start-up")
    if unbanned:
        account_status_changed(user.id)  # commits with the lifted ban
    commit()
    return user
