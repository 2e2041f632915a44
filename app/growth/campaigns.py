"""Check-in campaigns (打卡活动, seed 000): join, post under the campaign's topic on different
days (one check-in per day), a leaderboard, and the reward paid once on completion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from app.accounts.models import User
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.extensions import db
from app.core.jobs import enqueue
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult
from app.core.policies import is_staff, require
from app.core.sql import bump, id_in_range, inserted, newest_first
from app.growth.ledger import award
from app.growth.models import Campaign, CampaignDay, CampaignMember
from app.notes.models import Note, NoteTopic, Topic
from app.notifications.jobs import deliver_notification


def can_run_campaigns(actor: User) -> bool:
    return is_staff(actor, "editor")


def create_campaign(
    actor: User,
    topic_id: int,
    title: str,
    description: str,
    starts_at: datetime,
    ends_at: datetime,
    required_days: int,
    reward_points: int,
) -> Campaign:
    require(can_run_campaigns(actor), "Only editors and admins may create campaigns.")
    if db.session.get(Topic, topic_id) is None:
        raise Unprocessable(
            "No such topic.", code="topic_not_found", details={"topic_id": topic_id}
        )
    if ends_at <= starts_at or ends_at <= utcnow():
        raise Unprocessable(
            "The campaign must end after it starts, in the future.", code="invalid_period"
        )
    if required_days > (ends_at - starts_at).days + 1:
        raise Unprocessable(
            "More days are required than the campaign lasts.",
            code="invalid_required_days",
            details={"required_days": required_days},
        )
    campaign = Campaign(
        topic_id=topic_id,
        title=title,
        description=description,
        starts_at=starts_at,
        ends_at=ends_at,
        required_days=required_days,
        reward_points=reward_points,
        created_by_id=actor.id,
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign


def get_campaign(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id) if id_in_range(campaign_id) else None
    if campaign is None:
        raise NotFound("No such campaign.", code="campaign_not_found")
    return campaign


# A campaign with the viewer's membership (None: not joined, or signed out).
CampaignRow = tuple[Campaign, CampaignMember | None]


def list_campaigns(
    viewer: User | None, include_ended: bool, page: PageRequest
) -> PageResult[CampaignRow]:
    """Newest first, each with the viewer's progress."""
    stmt = newest_first(select(Campaign), Campaign.id, page.limit, page.after_id)
    if not include_ended:
        stmt = stmt.where(Campaign.ends_at > utcnow())
    found = page.by_id(list(db.session.scalars(stmt)))
    members = memberships(viewer, [campaign.id for campaign in found.items])
    return found.map(lambda campaign: (campaign, members.get(campaign.id)))


def campaign_for(viewer: User | None, campaign_id: int) -> CampaignRow:
    campaign = get_campaign(campaign_id)
    return campaign, memberships(viewer, [campaign.id]).get(campaign.id)


def memberships(user: User | None, campaign_ids: list[int]) -> dict[int, CampaignMember]:
    if user is None or not campaign_ids:
        return {}
    rows = db.session.scalars(
        select(CampaignMember).where(
            CampaignMember.user_id == user.id, CampaignMember.campaign_id.in_(campaign_ids)
        )
    )
    return {row.campaign_id: row for row in rows}


def join(user: User, campaign_id: int) -> CampaignRow:
    """Idempotent; a campaign that has ended cannot be joined (409)."""
    campaign = get_campaign(campaign_id)
    if campaign.ends_at <= utcnow():
        raise Conflict("This campaign has ended.", code="campaign_ended")
    if inserted(CampaignMember, {"campaign_id": campaign.id, "user_id": user.id, "days_done": 0}):
        bump(Campaign, campaign.id, participant_count=1)
    db.session.commit()
    member = db.session.get(CampaignMember, (campaign.id, user.id), populate_existing=True)
    assert member is not None
    return campaign, member


def check_in(note: Note) -> None:
    """A published note under a running campaign's topic checks its author in for the day
    (once a day per campaign); completing pays the reward once. In the caller's transaction."""
    published = note.published_at or utcnow()
    day = published.date()
    running = db.session.scalars(
        select(Campaign).where(
            Campaign.topic_id.in_(select(NoteTopic.topic_id).where(NoteTopic.note_id == note.id)),
            Campaign.starts_at <= published,
            Campaign.ends_at > published,
        )
    )
    for campaign in running:
        if db.session.get(CampaignMember, (campaign.id, note.author_id)) is None:
            continue
        values = {
            "campaign_id": campaign.id,
            "user_id": note.author_id,
            "day": day,
            "note_id": note.id,
        }
        if not inserted(CampaignDay, values):
            continue  # already checked in today
        db.session.execute(
            update(CampaignMember)
            .where(
                CampaignMember.campaign_id == campaign.id,
                CampaignMember.user_id == note.author_id,
            )
            .values(days_done=CampaignMember.days_done + 1, last_day=day)
        )
        member = db.session.get(
            CampaignMember, (campaign.id, note.author_id), populate_existing=True
        )
        if (
            member is not None
            and member.days_done >= campaign.required_days
            and member.completed_at is None
        ):
            member.completed_at = utcnow()
            award(
                note.author_id,
                "campaign",
                f"campaign:{campaign.id}:{note.author_id}",
                amount=campaign.reward_points,
                ref=("campaign", campaign.id),
                reason=f"campaign: {campaign.title}",
            )
            enqueue(
                deliver_notification,
                "system",
                note.author_id,
                None,
                None,
                None,
                {"type": "campaign_completed", "campaign_id": campaign.id, "title": campaign.title},
            )


def leaderboard(campaign_id: int, limit: int) -> list[tuple[CampaignMember, User]]:
    """Most days first; among equals, who got there first."""
    campaign = get_campaign(campaign_id)
    rows = db.session.execute(
        select(CampaignMember, User)
        .join(User, User.id == CampaignMember.user_id)
        .where(CampaignMember.campaign_id == campaign.id, CampaignMember.days_done > 0)
        .order_by(
            CampaignMember.days_done.desc(),
            CampaignMember.last_day.asc(),
            CampaignMember.joined_at.asc(),
        )
        .limit(limit)
    ).all()
    return [(member, user) for member, user in rows]


def campaign_view(campaign: Campaign, member: CampaignMember | None) -> dict[str, Any]:
    now = utcnow()
    state = (
        "upcoming"
        if now < campaign.starts_at
        else "ended"
        if now >= campaign.ends_at
        else "running"
    )
    return {
        "id": campaign.id,
        "topic_id": campaign.topic_id,
        "title": campaign.title,
        "description": campaign.description,
        "starts_at": campaign.starts_at,
        "ends_at": campaign.ends_at,
        "required_days": campaign.required_days,
        "reward_points": campaign.reward_points,
        "participant_count": campaign.participant_count,
        "state": state,
        "joined": member is not None,
        "days_done": member.days_done if member else 0,
        "completed": bool(member and member.completed_at),
    }
