"""The redemption store (兑换区): items with a price, stock and per-user limit. A redemption
is one transaction under the user's row lock: stock and points move only by conditional
UPDATEs, so concurrent redemptions never oversell or overspend."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from app.accounts.models import User
from app.core.errors import Conflict, NotFound
from app.core.extensions import db
from app.core.pagination import PageRequest, PageResult
from app.core.policies import is_staff, require
from app.core.sql import id_in_range, newest_first
from app.growth.ledger import append_entry, lock_user
from app.growth.models import Redemption, StoreItem

RedemptionRow = tuple[Redemption, StoreItem]


@dataclass(frozen=True)
class Redeemed:
    redemption: Redemption
    item: StoreItem
    points: int  # the balance left


def catalogue(viewer: User | None) -> list[tuple[StoreItem, int | None]]:
    """The active items, each with how often the viewer redeemed it (None: signed out)."""
    items = list_items()
    if viewer is None:
        return [(item, None) for item in items]
    mine = redeemed_by(viewer.id, [item.id for item in items])
    return [(item, mine.get(item.id, 0)) for item in items]


def redeem_item(user: User, item_id: int) -> Redeemed:
    """`redeem`, with the item and the balance it left, read after the commit."""
    redemption = redeem(user, item_id)
    item = db.session.get(StoreItem, redemption.item_id)
    balance = db.session.scalar(select(User.points).where(User.id == user.id))
    assert item is not None
    return Redeemed(redemption, item, int(balance or 0))


def can_manage_store(actor: User) -> bool:
    return is_staff(actor, "admin")


def create_item(
    actor: User,
    name: str,
    description: str,
    price_points: int,
    stock: int,
    per_user_limit: int | None,
) -> StoreItem:
    require(can_manage_store(actor), "Only admins may stock the store.")
    item = StoreItem(
        name=name,
        description=description,
        price_points=price_points,
        stock=stock,
        per_user_limit=per_user_limit,
        created_by_id=actor.id,
    )
    db.session.add(item)
    db.session.commit()
    return item


def list_items(include_inactive: bool = False) -> list[StoreItem]:
    stmt = select(StoreItem).order_by(StoreItem.price_points, StoreItem.id)
    if not include_inactive:
        stmt = stmt.where(StoreItem.active.is_(True))
    return list(db.session.scalars(stmt))


def redeemed_by(user_id: int, item_ids: list[int]) -> dict[int, int]:
    if not item_ids:
        return {}
    rows = db.session.execute(
        select(Redemption.item_id, func.count())
        .where(Redemption.user_id == user_id, Redemption.item_id.in_(item_ids))
        .group_by(Redemption.item_id)
    )
    return {item_id: int(count) for item_id, count in rows}


def redeem(user: User, item_id: int) -> Redemption:
    item = db.session.get(StoreItem, item_id) if id_in_range(item_id) else None
    if item is None or not item.active:
        raise NotFound("No such item.", code="item_not_found")
    lock_user(user.id)  # one redemption of this user at a time: the limit check holds
    if item.per_user_limit is not None:
        mine = redeemed_by(user.id, [item.id]).get(item.id, 0)
        if mine >= item.per_user_limit:
            db.session.rollback()
            raise Conflict(
                "You have redeemed this item as often as allowed.",
                code="redemption_limit_reached",
                details={"per_user_limit": item.per_user_limit},
            )
    price = item.price_points
    paid = db.session.execute(
        update(User)
        .where(User.id == user.id, User.points >= price)
        .values(points=User.points - price, updated_at=User.updated_at)
    ).rowcount
    if paid != 1:
        balance = db.session.scalar(select(User.points).where(User.id == user.id))
        db.session.rollback()
        raise Conflict(
            "Not enough points.",
            code="insufficient_points",
            details={"price_points": price, "points": balance},
        )
    taken = db.session.execute(
        update(StoreItem)
        .where(StoreItem.id == item.id, StoreItem.stock > 0)
        .values(stock=StoreItem.stock - 1, redeemed_count=StoreItem.redeemed_count + 1)
    ).rowcount
    if taken != 1:
        db.session.rollback()  # the points come back with it
        raise Conflict("Out of stock.", code="out_of_stock")
    redemption = Redemption(item_id=item.id, user_id=user.id, price_points=price)
    db.session.add(redemption)
    db.session.flush()
    append_entry(
        user.id,
        -price,
        "redeem",
        f"redeem:{redemption.id}",
        f"redeem: {item.name}",
        ref=("redemption", redemption.id),
        balance_moved=True,  # by the conditional UPDATE above
    )
    db.session.commit()
    return redemption


def _redemptions(user_id: int | None, page: PageRequest) -> PageResult[RedemptionRow]:
    stmt = newest_first(
        select(Redemption, StoreItem).join(StoreItem, StoreItem.id == Redemption.item_id),
        Redemption.id,
        page.limit,
        page.after_id,
    )
    if user_id is not None:
        stmt = stmt.where(Redemption.user_id == user_id)
    rows = [(r, i) for r, i in db.session.execute(stmt).all()]
    return page.result(rows, lambda row: (row[0].id,))


def history(user: User, page: PageRequest) -> PageResult[RedemptionRow]:
    """The account's own redemption orders, newest first."""
    return _redemptions(user.id, page)


def all_redemptions(actor: User, page: PageRequest) -> PageResult[RedemptionRow]:
    require(can_manage_store(actor), "Only admins may see every redemption.")
    return _redemptions(None, page)
