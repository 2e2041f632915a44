"""Editorial pages: picks on a timeline, boosts, previews, campaigns, search curation and the
editorial log.

Every change goes through the service the JSON API calls (`app.editorial.services`,
`app.growth.campaigns`, `app.search.services`), after the API's own request schema checked
the form's values, so roles, rules and the editorial log hold exactly as over the API.
Times typed into the forms (`datetime-local`) are in the console's timezone
(`Settings.console_timezone`); the services get UTC.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from flask import Response, current_app, flash, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as SchemaError
from sqlalchemy import select

from app.console.blueprint import (
    back,
    bp,
    display_names,
    page,
    staff_actor,
    staff_page,
)
from app.core.errors import AppError
from app.core.extensions import db
from app.core.models import utcnow
from app.core.pagination import ID_CURSOR, PageRequest, PageResult
from app.core.sql import id_in
from app.editorial import services as editorial
from app.editorial.models import EditorPick
from app.editorial.schemas import BoostIn, PickIn, Slot
from app.feeds.cards import cards_in_order, note_cards
from app.feeds.ranker import run_pipeline
from app.feeds.ranking_data import UserSignals
from app.feeds.state import feeds_state
from app.growth import campaigns
from app.growth.schemas import CampaignIn
from app.notes.models import Topic
from app.search import services as search
from app.search.schemas import TermRuleIn
from app.topics.services import list_channels
from ranking.types import Scored

PAGE_SIZE = 30  # rows per list page
TIMELINE_PICKS = 300  # picks drawn on the timeline (current and scheduled, newest first)
TIMELINE_DAYS = 7
COMPACT_AFTER = 12  # more picks than this on the all-slots timeline: one thin bar each
PREVIEW_SIZE = 20  # a first page of the discover feed
#: The brand-new viewer the preview ranks for: never a real account (ids start at 1), and
#: nothing is written for it (no user, no seen set, no impressions).
PREVIEW_VIEWER_ID = 0

_SLOT = TypeAdapter(Slot)
M = TypeVar("M", bound=BaseModel)


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["SPROUT"].console_timezone)


def local_input(moment: datetime | None) -> str:
    """A UTC instant as a `datetime-local` value in the console's timezone."""
    return moment.astimezone(_zone()).strftime("%Y-%m-%dT%H:%M") if moment else ""


# --- forms ----------------------------------------------------------------------------------


class Form:
    """The posted fields, parsed one by one; what does not parse is an error on its field
    (shown next to the input, with what was typed kept)."""

    def __init__(self, data: Mapping[str, str]) -> None:
        self.values = {key: str(value) for key, value in data.items() if key != "csrf_token"}
        self.errors: dict[str, str] = {}
        self.status = 400  # a field that does not parse; a service's refusal sets its own

    def text(self, name: str) -> str:
        return self.values.get(name, "").strip()

    def integer(self, name: str, *, required: bool = False) -> int | None:
        raw = self.text(name)
        if not raw:
            if required:
                self.errors[name] = _("This field is required.")
            return None
        if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 12:
            self.errors[name] = _("Enter a whole number.")
            return None
        return int(raw)

    def number(self, name: str, *, required: bool = False) -> float | None:
        raw = self.text(name)
        if not raw:
            if required:
                self.errors[name] = _("This field is required.")
            return None
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if value != value or value in (float("inf"), float("-inf")):
            self.errors[name] = _("Enter a number.")
            return None
        return value

    def moment(self, name: str, *, required: bool = False) -> datetime | None:
        """A `datetime-local` value, read in the console's timezone, as aware UTC."""
        raw = self.text(name)
        if not raw:
            if required:
                self.errors[name] = _("This field is required.")
            return None
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            self.errors[name] = _("Enter a date and time.")
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_zone())
        return parsed.astimezone(UTC)

    def check(self, schema: type[M], values: dict[str, Any]) -> M | None:
        """The API's own request schema over the parsed values (its ranges and rules)."""
        if self.errors:
            return None
        try:
            return schema.model_validate(values)
        except SchemaError as exc:
            for error in exc.errors():
                where = str(error["loc"][0]) if error["loc"] else "form"
                message = str(error["msg"]).removeprefix("Value error, ")
                self.errors.setdefault(where, message)
            return None

    def refused(self, exc: AppError) -> None:
        """A service said no: its message (and the form as typed) go back to the editor."""
        db.session.rollback()
        self.errors["form"] = exc.message
        self.status = exc.status


def _page_request(cursor: str | None, limit: int = PAGE_SIZE) -> PageRequest:
    return ID_CURSOR.request(limit, cursor)


def _next_url(endpoint: str, result: PageResult[Any], **args: Any) -> str | None:
    cursor = ID_CURSOR.next_cursor(result)
    return url_for(endpoint, cursor=cursor, **args) if cursor else None


def _topic_names(topic_ids: set[int]) -> dict[int, str]:
    if not topic_ids:
        return {}
    rows = db.session.execute(select(Topic.id, Topic.name).where(id_in(Topic.id, list(topic_ids))))
    return {row.id: row.name for row in rows}


# --- picks and their timeline ---------------------------------------------------------------


@dataclass
class Bar:
    """One pick (detailed), or the picks of a slot sharing one interval (compact)."""

    pick_ids: list[int]
    note_ids: list[int]
    label: str  # beside the bar (detailed rows only)
    text: str  # inside the bar, cut to fit
    title: str  # the tooltip
    y: float
    x: float
    width: float
    height: float
    scheduled: bool  # starts later than now
    open_end: bool  # no end within the window: shown until removed or later
    cut_start: bool  # began before the window


@dataclass
class Lane:
    """The rows of one slot: a label and a separator line above the next lane."""

    slot: str
    label: str
    y: float
    count: int = 0


@dataclass
class Timeline:
    """A server-drawn chart (SVG presentation attributes only: the CSP allows no style)."""

    width: int
    height: int
    left: int
    right: int
    top: int
    compact: bool
    days: list[tuple[float, str]] = field(default_factory=list)
    now_x: float = 0.0
    bars: list[Bar] = field(default_factory=list)
    lanes: list[Lane] = field(default_factory=list)


def _slot_order(pick: EditorPick) -> tuple[int, str, int, int, float]:
    kind, _sep, ref = pick.slot.partition(":")
    rank = {"home": 0, "channel": 1, "topic": 2}.get(kind, 3)
    number = int(ref) if kind == "topic" and ref.isdigit() else 0
    name = "" if kind == "topic" else ref
    return (rank, name, number, pick.position or 1000, pick.starts_at.timestamp())


def slot_names(slots: set[str]) -> dict[str, str]:
    """What editors call each slot: 首页, a channel's or a topic's name."""
    names = {"home": _("Home")}
    channels = {channel.code: channel.name for channel in list_channels()}
    topics = _topic_names({int(s[6:]) for s in slots if s.startswith("topic:") and s[6:].isdigit()})
    for slot in slots:
        kind, _sep, ref = slot.partition(":")
        if kind == "channel" and ref in channels:
            names[slot] = channels[ref]
        elif kind == "topic" and ref.isdigit() and int(ref) in topics:
            names[slot] = topics[int(ref)]
    return names


def _fit(text: str, width: float, glyph: float = 12.0) -> str:
    """As much of `text` as a bar `width` pixels wide holds (CJK glyphs ~12 px at 12 px)."""
    room = int((width - 10) / glyph)
    if room < 2:
        return ""
    return text if len(text) <= room else text[: room - 1] + "…"


def timeline(
    picks: list[EditorPick],
    titles: Mapping[int, str],
    now: datetime,
    *,
    compact: bool,
    names: Mapping[str, str] | None = None,
) -> Timeline:
    """Each pick's interval over the coming `TIMELINE_DAYS` days (from midnight today in the
    console's timezone), in one lane per slot, with a line at `now`. Detailed: a row per
    pick, labelled, the note's title in its bar. Compact (every slot at once): a row per
    interval in each lane, the picks that share it counted in its bar."""
    zone = _zone()
    start = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=TIMELINE_DAYS)
    left, chart, top = 190, 700, 40
    row, bar, gap = (16, 12, 8) if compact else (26, 18, 8)
    span = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        share = (moment - start).total_seconds() / span
        return round(left + chart * min(max(share, 0.0), 1.0), 1)

    out = Timeline(
        width=left + chart + 24, height=0, left=left, right=left + chart, top=top, compact=compact
    )
    locale = get_locale()
    for day in range(TIMELINE_DAYS):
        moment = start + timedelta(days=day)
        out.days.append((x(moment), format_skeleton("MMMEd", moment, locale=locale)))
    out.now_x = x(now)

    # rows: (slot, picks drawn as one bar); compact: the picks of a slot whose bars would
    # look the same (same pixels, same state) share one
    rows: list[tuple[str, list[EditorPick]]] = []
    shared: dict[tuple[Any, ...], list[EditorPick]] = {}
    for pick in sorted(picks, key=_slot_order):
        ends = pick.ends_at
        key = (
            pick.slot,
            round(x(pick.starts_at)),
            round(x(ends)) if ends is not None else None,
            pick.starts_at > now,
        )
        if compact and key in shared:
            shared[key].append(pick)
            continue
        rows.append((pick.slot, [pick]))
        shared[key] = rows[-1][1]
    y = float(top)
    lane: Lane | None = None
    for slot, group in rows:
        if lane is None or lane.slot != slot:
            if lane is not None:
                y += gap
            lane = Lane(slot=slot, label=slot, y=y)
            out.lanes.append(lane)
        lane.count += len(group)
        first = group[0]
        begins, ends = first.starts_at, first.ends_at
        x0, x1 = x(begins), x(ends) if ends is not None else float(left + chart)
        width = max(x1 - x0, 3.0)
        position = f" #{first.position}" if first.position else ""
        title = titles.get(first.note_id, "")
        if len(group) == 1:
            tooltip = f"{first.note_id} {title} ({slot}{position})"
            text = _fit(title, width, 10.0 if compact else 12.0)
        else:
            tooltip = f"{slot}: " + ", ".join(str(p.note_id) for p in group)
            text = _fit(_("%(count)s picks", count=len(group)), width, 7.0)
        out.bars.append(
            Bar(
                pick_ids=[p.id for p in group],
                note_ids=[p.note_id for p in group],
                label=f"{slot}{position} · {first.note_id}",
                text=text,
                title=tooltip,
                y=y + (row - bar) / 2,
                x=x0,
                width=width,
                height=bar,
                scheduled=begins > now,
                open_end=ends is None or ends > end,
                cut_start=begins < start,
            )
        )
        y += row
    for each in out.lanes:
        name = (names or {}).get(each.slot, each.slot)
        each.label = f"{_fit(name, 150, 12.0) or each.slot} ({each.count})"
    out.height = int(max(y, top + 28) + 12)
    return out


def _compact(slot: str | None, picks: list[EditorPick]) -> bool:
    """Every slot at once, and many picks: thin bars, one label per slot."""
    return slot is None and len(picks) > COMPACT_AFTER


def _slot_filter() -> tuple[str | None, str | None]:
    """The `?slot=` the picks are narrowed to, and an error when it is no slot."""
    raw = (request.args.get("slot") or "").strip()
    if not raw:
        return None, None
    try:
        return _SLOT.validate_python(raw), None
    except SchemaError:
        return None, _("Not a slot: use home, channel:CODE or topic:ID.")


def _picks_page(form: Form | None = None, status: int = 200) -> Response:
    actor = staff_actor()
    slot, slot_error = _slot_filter()
    now = utcnow()
    listed = editorial.list_picks(actor, slot, False, _page_request(request.args.get("cursor")))
    drawn = editorial.list_picks(actor, slot, False, PageRequest(TIMELINE_PICKS)).items
    note_ids = {p.note_id for p in [*listed.items, *drawn]}
    cards = note_cards(list(note_ids), None, feed=False)
    titles = {note_id: card["title"] for note_id, card in cards.items()}
    channels = list_channels()
    names = slot_names({p.slot for p in [*listed.items, *drawn]})
    return page(
        "console/editorial/picks.html",
        status=status,
        title=_("Editorial"),
        tab="picks",
        picks=listed.items,
        cards=cards,
        names=display_names({p.created_by_id for p in listed.items}),
        next_url=_next_url("console.editorial_home", listed, **({"slot": slot} if slot else {})),
        chart=timeline(
            drawn,
            titles,
            now,
            compact=_compact(slot, drawn),
            names=names,
        ),
        slot_labels=names,
        slot=slot,
        slot_error=slot_error,
        channels=channels,
        now=now,
        form=form or Form({"slot": slot or "home"}),
        here=url_for("console.editorial_home", **({"slot": slot} if slot else {})),
        zone=current_app.config["SPROUT"].console_timezone,
    )


@bp.route("/editorial")
@staff_page("editor")
def editorial_home() -> Response:
    return _picks_page()


@bp.route("/editorial/timeline.svg")
@staff_page("editor")
def editorial_timeline() -> Response:
    """The same timeline as a standalone image (`?slot=` narrows it)."""
    actor = staff_actor()
    slot, _error = _slot_filter()
    drawn = editorial.list_picks(actor, slot, False, PageRequest(TIMELINE_PICKS)).items
    cards = note_cards([p.note_id for p in drawn], None, feed=False)
    titles = {i: c["title"] for i, c in cards.items()}
    chart = timeline(
        drawn,
        titles,
        utcnow(),
        compact=_compact(slot, drawn),
        names=slot_names({p.slot for p in drawn}),
    )
    svg = render_template("console/editorial/_timeline.svg", chart=chart, standalone=True)
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/editorial/picks", methods=["POST"])
@staff_page("editor")
def editorial_pick_create() -> Response:
    form = Form(request.form)
    values = {
        "note_id": form.integer("note_id", required=True),
        "slot": form.text("slot") or "home",
        "position": form.integer("position"),
        "starts_at": form.moment("starts_at"),
        "ends_at": form.moment("ends_at"),
    }
    body = form.check(PickIn, values)
    if body is not None:
        try:
            pick = editorial.create_pick(
                staff_actor(), body.note_id, body.slot, body.position, body.starts_at, body.ends_at
            )
        except AppError as exc:
            form.refused(exc)
        else:
            flash(_("Note %(note)s is picked for %(slot)s.", note=pick.note_id, slot=pick.slot))
            return back("console.editorial_home")
    return _picks_page(form, status=form.status)


@bp.route("/editorial/picks/<int:pick_id>/delete", methods=["POST"])
@staff_page("editor")
def editorial_pick_delete(pick_id: int) -> Response:
    editorial.delete_pick(staff_actor(), pick_id)  # refusals: the console's error page
    flash(_("The pick is removed."))
    return back("console.editorial_home")


# --- boosts ---------------------------------------------------------------------------------


def _boosts_page(form: Form | None = None, status: int = 200) -> Response:
    actor = staff_actor()
    ended = request.args.get("ended") == "1"
    listed = editorial.list_boosts(actor, ended, _page_request(request.args.get("cursor")))
    notes = note_cards([b.note_id for b in listed.items if b.note_id], None, feed=False)
    users = display_names(
        {b.user_id for b in listed.items} | {b.created_by_id for b in listed.items}
    )
    args = {"ended": "1"} if ended else {}
    return page(
        "console/editorial/boosts.html",
        status=status,
        title=_("Boosts"),
        tab="boosts",
        boosts=listed.items,
        notes=notes,
        names=users,
        ended=ended,
        now=utcnow(),
        next_url=_next_url("console.editorial_boosts", listed, **args),
        form=form or Form({"weight": "1"}),
        here=url_for("console.editorial_boosts", **args),
        zone=current_app.config["SPROUT"].console_timezone,
    )


@bp.route("/editorial/boosts")
@staff_page("editor")
def editorial_boosts() -> Response:
    return _boosts_page()


@bp.route("/editorial/boosts", methods=["POST"])
@staff_page("editor")
def editorial_boost_create() -> Response:
    form = Form(request.form)
    values = {
        "note_id": form.integer("note_id"),
        "user_id": form.integer("user_id"),
        "weight": form.number("weight", required=True),
        "starts_at": form.moment("starts_at"),
        "ends_at": form.moment("ends_at", required=True),
    }
    body = form.check(BoostIn, values)
    if body is not None:
        try:
            editorial.create_boost(
                staff_actor(), body.note_id, body.user_id, body.weight, body.starts_at, body.ends_at
            )
        except AppError as exc:
            form.refused(exc)
        else:
            flash(_("The boost is on."))
            return back("console.editorial_boosts")
    return _boosts_page(form, status=form.status)


@bp.route("/editorial/boosts/<int:boost_id>/delete", methods=["POST"])
@staff_page("editor")
def editorial_boost_delete(boost_id: int) -> Response:
    editorial.delete_boost(staff_actor(), boost_id)
    flash(_("The boost is removed."))
    return back("console.editorial_boosts")


# --- previews -------------------------------------------------------------------------------


def new_user_first_page(
    channels: list[str], topics: list[int], size: int = PREVIEW_SIZE
) -> list[tuple[dict[str, Any], Scored]]:
    """The first `size` cards the discover feed ranks for a brand-new signed-in account that
    picked `channels` and `topics` at onboarding: the feed's own pipeline, caches and
    editorial source (`app.feeds.ranker.run_pipeline` for a viewer without history), for a
    synthetic viewer, so nothing is written. Like a real first page, `size` times
    `ranking_prefetch_pages` cards are ranked and the first `size` visible ones shown; the
    exploration draw is seeded by the hour, and no experiment arm applies."""
    settings = current_app.config["SPROUT"]
    catalogue = feeds_state().catalogue.get(settings)
    now = time.time()
    ranked_size = size * max(int(settings.ranking_prefetch_pages), 1)
    ranked, _dropped, _restored = run_pipeline(
        None,
        None,
        catalogue,
        None,  # no feed session: `seen` is given, and nobody's served set is read
        f"console-preview:{','.join(channels)}:{int(now // 3600)}",
        [],
        ranked_size,
        now,
        seen=set(),
        signals=UserSignals(seed_channels=list(channels), seed_topics=list(topics)),
        user_id=PREVIEW_VIEWER_ID,
    )
    cards = note_cards([item.note_id for item in ranked[: size * 2]], None)
    shown = [(cards[item.note_id], item) for item in ranked if item.note_id in cards]
    return shown[:size]


@bp.route("/editorial/preview")
@staff_page("editor")
def editorial_preview() -> Response:
    channels = list_channels()
    known = {channel.code for channel in channels}
    chosen = [code for code in dict.fromkeys(request.args.getlist("channel")) if code in known]
    daily = [{**card, "pick": True} for card in cards_in_order(editorial.daily_picks(), None)]
    first = [
        {**card, "source": scored.source, "pick": scored.source == "pick"}
        for card, scored in new_user_first_page(chosen, [])
    ]
    return page(
        "console/editorial/preview.html",
        title=_("Previews"),
        tab="preview",
        daily=daily,
        first=first,
        channels=channels,
        chosen=chosen,
        day=utcnow(),
    )


# --- campaigns ------------------------------------------------------------------------------


def _campaigns_page(form: Form | None = None, status: int = 200) -> Response:
    actor = staff_actor()
    ended = request.args.get("ended") == "1"
    listed = campaigns.list_campaigns(actor, ended, _page_request(request.args.get("cursor")))
    rows = [campaigns.campaign_view(c, m) for c, m in listed.items]
    args = {"ended": "1"} if ended else {}
    return page(
        "console/editorial/campaigns.html",
        status=status,
        title=_("Campaigns"),
        tab="campaigns",
        campaigns=rows,
        topics=_topic_names({row["topic_id"] for row in rows}),
        ended=ended,
        next_url=_next_url("console.editorial_campaigns", listed, **args),
        form=form or Form({"required_days": "7", "reward_points": "100"}),
        here=url_for("console.editorial_campaigns", **args),
        zone=current_app.config["SPROUT"].console_timezone,
    )


@bp.route("/editorial/campaigns")
@staff_page("editor")
def editorial_campaigns() -> Response:
    return _campaigns_page()


@bp.route("/editorial/campaigns", methods=["POST"])
@staff_page("editor")
def editorial_campaign_create() -> Response:
    form = Form(request.form)
    values = {
        "topic_id": form.integer("topic_id", required=True),
        "title": form.text("title"),
        "description": form.values.get("description", ""),
        "starts_at": form.moment("starts_at", required=True),
        "ends_at": form.moment("ends_at", required=True),
        "required_days": form.integer("required_days", required=True),
        "reward_points": form.integer("reward_points", required=True),
    }
    body = form.check(CampaignIn, values)
    if body is not None:
        try:
            made = campaigns.create_campaign(
                staff_actor(),
                body.topic_id,
                body.title,
                body.description,
                body.starts_at,
                body.ends_at,
                body.required_days,
                body.reward_points,
            )
        except AppError as exc:
            form.refused(exc)
        else:
            flash(_("Campaign “%(title)s” is created.", title=made.title))
            return back("console.editorial_campaigns")
    return _campaigns_page(form, status=form.status)


# --- search terms ---------------------------------------------------------------------------


def _terms_page(form: Form | None = None, status: int = 200) -> Response:
    rules = search.list_rules(staff_actor())
    return page(
        "console/editorial/search_terms.html",
        status=status,
        title=_("Search terms"),
        tab="search",
        rules=rules,
        names=display_names({rule.created_by_id for rule in rules}),
        trending=search.trending(20),
        form=form or Form({"action": "pin"}),
        zone=current_app.config["SPROUT"].console_timezone,
    )


@bp.route("/editorial/search-terms")
@staff_page("editor")
def editorial_search_terms() -> Response:
    return _terms_page()


@bp.route("/editorial/search-terms", methods=["POST"])
@staff_page("editor")
def editorial_term_set() -> Response:
    form = Form(request.form)
    values = {
        "term": form.text("term"),
        "action": form.text("action"),
        "position": form.integer("position"),
        "expires_at": form.moment("expires_at"),
    }
    body = form.check(TermRuleIn, values)
    if body is not None:
        try:
            rule = search.set_rule(
                staff_actor(), body.term, body.action, body.position, body.expires_at
            )
        except AppError as exc:
            form.refused(exc)
        else:
            message = (
                _("“%(term)s” is pinned.", term=rule.term)
                if rule.action == "pin"
                else _("“%(term)s” is suppressed.", term=rule.term)
            )
            flash(message)
            return back("console.editorial_search_terms")
    return _terms_page(form, status=form.status)


@bp.route("/editorial/search-terms/delete", methods=["POST"])
@staff_page("editor")
def editorial_term_delete() -> Response:
    term = (request.form.get("term") or "").strip()
    search.delete_rule(staff_actor(), term)
    flash(_("The rule for “%(term)s” is removed.", term=term))
    return back("console.editorial_search_terms")


# --- the editorial log ----------------------------------------------------------------------


def _details(details: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """An entry's values to show: times (`*_at`, ISO strings) as instants, nothing empty."""
    out: list[tuple[str, Any]] = []
    for key, value in (details or {}).items():
        if value is None or value == "":
            continue
        if key.endswith("_at") and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(value)
        out.append((key, value))
    return out


@bp.route("/editorial/log")
@staff_page("editor")
def editorial_log() -> Response:
    listed = editorial.editorial_log(staff_actor(), _page_request(request.args.get("cursor")))
    return page(
        "console/editorial/log.html",
        title=_("Editorial log"),
        tab="log",
        entries=[(entry, _details(entry.details)) for entry in listed.items],
        names=display_names({entry.actor_id for entry in listed.items}),
        next_url=_next_url("console.editorial_log", listed),
    )
