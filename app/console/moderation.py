"""Moderation pages: the queue, cases, decisions, appeals, keywords, the audit log.

Every action calls the moderation service the JSON API calls (`moderation.cases`,
`moderation.appeals`, `moderation.keywords`, `moderation.audit`), with the API's own request
schemas, so roles, claims, "nobody decides about their own content, account or penalty",
ranks and audit entries hold exactly as over JSON. What the pages read beyond those services
(the queue's extra filters, a case's reports, the author's history) are the small read
functions below, each checking `can_moderate` first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from app.accounts.models import User
from app.console.blueprint import (
    back,
    bp,
    current_language,
    page,
    staff_actor,
    staff_page,
)
from app.core.errors import AppError, NotFound
from app.core.extensions import db
from app.core.pagination import ID, ID_CURSOR, Cursor, Number
from app.core.policies import outranks, require
from app.core.presenters import note_view
from app.notes.models import Comment, Note
from moderation import appeals, audit, cases, keywords, penalties, signals
from moderation.config import MODERATION
from moderation.models import Case, ModerationAction, Report
from moderation.policies import can_moderate, can_penalise, is_disinterested
from moderation.schemas import AppealDecisionIn, DecisionIn, KeywordIn, LinkProposalDecisionIn
from moderation.targets import Target, load_target
from moderation.taxonomy import taxonomy

#: The queue's keyset: the API's `(priority, id)`, highest first.
QUEUE_CURSOR = Cursor(Number(), ID)
QUEUE_PAGE = 25
LOG_PAGE = 50
APPEALS_LIMIT = 50  # the most `appeals.list_appeals` is asked for (the API's maximum)
HISTORY = 10  # rows of each part of an author's history

STATUSES = ("open", "claimed", "decided")
TARGET_TYPES = ("note", "comment", "user")
#: The audit log's action codes, as a moderator reads them (unknown codes show as they are).
ACTION_LABELS = {
    "claim": _l("Case claimed"),
    "decide": _l("Case decided"),
    "content_keep": _l("Content kept"),
    "content_hide": _l("Content hidden"),
    "content_remove": _l("Content removed"),
    "warn": _l("Warning"),
    "mute": _l("Muted"),
    "ban": _l("Banned"),
    "lift": _l("Penalty lifted"),
    "link_accounts": _l("Accounts linked"),
    "appeal": _l("Appeal filed"),
    "appeal_upheld": _l("Appeal: decision upheld"),
    "appeal_reversed": _l("Appeal: decision reversed"),
    "auto_hide": _l("Hidden by reports"),
    "auto_review": _l("Held by the filter"),
}
CONTENT_CHOICES = ("keep", "hide", "remove")
ACCOUNT_CHOICES = ("none", "warn", "mute", "ban")
APPEAL_STATUSES = ("pending", "upheld", "reversed")
KEYWORD_ACTIONS = ("review", "block", "allow")

#: Labels of the codes the pages show (the codes themselves are the services').
LABELS = {
    "open": _l("open"),
    "claimed": _l("claimed"),
    "decided": _l("decided"),
    "upheld": _l("upheld"),
    "dismissed": _l("dismissed"),
    "pending": _l("pending"),
    "reversed": _l("reversed"),
    "note": _l("note"),
    "comment": _l("comment"),
    "user": _l("user"),
    "keep": _l("keep"),
    "hide": _l("hide"),
    "remove": _l("remove"),
    "none": _l("no account action"),
    "warn": _l("warn"),
    "mute": _l("mute"),
    "ban": _l("ban"),
    "uphold": _l("uphold"),
    "reverse": _l("reverse"),
    "review": _l("hold for review"),
    "block": _l("block"),
    "allow": _l("allow (an ordinary word containing a keyword)"),
    "published": _l("published"),
    "hidden": _l("hidden"),
    "removed": _l("removed"),
    "pending_review": _l("pending review"),
    "draft": _l("draft"),
    "active": _l("active"),
    "banned": _l("banned"),
    # what the filter finds (in text, or read in pictures)
    "keyword": _l("keyword"),
    "phone": _l("phone number"),
    "contact": _l("WeChat/QQ id"),
    "link": _l("link"),
}
#: Severity 1 (superstition, clickbait) … 5 (illegal) → the badge classes of console.css.
SEVERITY_CLASSES = {1: "low", 2: "medium", 3: "high", 4: "high", 5: "critical"}


def label(code: str | None) -> str:
    return str(LABELS[code]) if code in LABELS else (code or "—")


def reason_label(code: str | None) -> str:
    """A reason or category code in the console's language."""
    if not code:
        return "—"
    data = taxonomy()
    reason = data.reason(code)
    if reason is not None:
        return reason.zh if current_language() == "zh" else reason.en
    for category in data.categories:
        if category["code"] == code:
            return category["zh"] if current_language() == "zh" else category["en"]
    return code


def severity_class(severity: int) -> str:
    return SEVERITY_CLASSES.get(severity, "medium")


def compact(value: Any) -> str:
    """An audit entry's before/after, short and readable."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""


def _helpers() -> dict[str, Any]:
    return {
        "label": label,
        "reason_label": reason_label,
        "severity_class": severity_class,
        "compact": compact,
    }


def _moderation_page(template: str, **context: Any) -> Response:
    return page(f"console/moderation/{template}", **_helpers(), **context)


def _validated(schema: type[BaseModel], values: dict[str, Any], back_to: str | None = None) -> Any:
    """A form checked by the API's own request schema; one that fails it is a flash on the
    page it came from (`back_to`, else the form's `next`, else the queue)."""
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        fields = sorted({str(err["loc"][0]) for err in exc.errors() if err["loc"]})
        raise _InvalidForm(", ".join(fields), back_to) from exc


class _InvalidForm(Exception):
    def __init__(self, fields: str, back_to: str | None) -> None:
        super().__init__(fields)
        self.fields, self.back_to = fields, back_to


@bp.errorhandler(_InvalidForm)
def _invalid_form(exc: _InvalidForm) -> Response:
    flash(_("The form is not valid: check %(fields)s.", fields=exc.fields), "error")
    if exc.back_to:
        return redirect(exc.back_to, code=303)
    return back("console.moderation_queue")


# -- reads the pages need beyond the services ----------------------------------------------------
def users_by_id(ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}


def case_reports(actor: User, case: Case) -> list[Report]:
    require(can_moderate(actor), "Only moderators may see reports.")
    return list(
        db.session.scalars(select(Report).where(Report.case_id == case.id).order_by(Report.id))
    )


def case_titles(targets: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """What a queue row calls its target: a note's title, a comment's first words, a user's
    nickname."""
    by_kind: dict[str, set[int]] = {}
    for kind, target_id in targets:
        by_kind.setdefault(kind, set()).add(target_id)
    titles: dict[tuple[str, int], str] = {}
    if by_kind.get("note"):
        for note_id, title in db.session.execute(
            select(Note.id, Note.title).where(Note.id.in_(by_kind["note"]))
        ):
            titles["note", note_id] = title
    if by_kind.get("comment"):
        for comment_id, body in db.session.execute(
            select(Comment.id, Comment.body).where(Comment.id.in_(by_kind["comment"]))
        ):
            titles["comment", comment_id] = body[:60]
    if by_kind.get("user"):
        for user_id, nickname, username in db.session.execute(
            select(User.id, User.nickname, User.username).where(User.id.in_(by_kind["user"]))
        ):
            titles["user", user_id] = f"{nickname} (@{username})"
    return titles


def author_history(actor: User, owner: User, case: Case) -> dict[str, Any]:
    """The account behind a case: strikes in force, mute, past actions and cases, recent notes."""
    require(can_moderate(actor), "Only moderators may see an account's history.")
    actions = list(
        db.session.scalars(
            select(ModerationAction)
            .where(ModerationAction.user_id == owner.id)
            .order_by(ModerationAction.id.desc())
            .limit(HISTORY)
        )
    )
    past_cases = list(
        db.session.scalars(
            select(Case)
            .where(Case.target_user_id == owner.id, Case.id != case.id)
            .order_by(Case.id.desc())
            .limit(HISTORY)
        )
    )
    notes = list(
        db.session.execute(
            select(Note.id, Note.title, Note.status, Note.created_at)
            .where(Note.author_id == owner.id, Note.deleted_at.is_(None))
            .order_by(Note.id.desc())
            .limit(HISTORY)
        )
    )
    return {
        "strikes": penalties.active_strikes(owner.id),
        "mute": penalties.current_mute(owner.id),
        "actions": actions,
        "cases": past_cases,
        "notes": notes,
    }


def ladder_preview(owner: User, case: Case) -> dict[str, Any]:
    """What a mute without a set duration would be, asked of the decision's own rule
    (`penalties.ladder_mute`: the ladder's step for this account and reason, the mute it
    takes and its days). `aggravating`: the circumstances that step it up (a confirmed link
    to another account is `multiple_accounts`), for the preview to name."""
    data = taxonomy()
    reason = data.reason(case.reason_code)
    held = penalties.aggravating_circumstances(owner.id, reason)
    step, mute_step, days = penalties.ladder_mute(owner.id, reason, held)
    zh = current_language() == "zh"
    return {
        "aggravating": [
            {
                "code": code,
                "zh": data.aggravating[code]["zh"],
                "en": data.aggravating[code]["en"],
                "label": data.aggravating[code]["zh" if zh else "en"],
                "steps_up": data.aggravating[code]["steps_up"],
            }
            for code in held
        ],
        "step": data.ladder.index(step) + 1,
        "total": len(data.ladder),
        "name": step,
        "mute_step": mute_step,
        "days": days,
        "is_mute": step == mute_step,
        "ladder": [
            {"name": s, "days": MODERATION.mute_days.get(s), "mute": s in MODERATION.mute_days}
            for s in data.ladder
        ],
    }


def _target(case: Case) -> Target | None:
    try:
        return load_target(case.target_type, case.target_id, reportable=False)
    except NotFound:
        return None  # deleted for good


def _content(target: Target | None) -> dict[str, Any] | None:
    """The content as users saw it (notes through the API's presenter: its image URLs)."""
    if target is None:
        return None
    if target.kind == "note":
        return {"kind": "note", **note_view(target.row), "published": target.row.published_at}
    if target.kind == "comment":
        comment = target.row
        note = db.session.get(Note, comment.note_id)
        return {
            "kind": "comment",
            "body": comment.body,
            "status": comment.status,
            "created_at": comment.created_at,
            "note": note,
        }
    user = target.row
    return {"kind": "user", "user": user}


def _when(stamp: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None


def _engagement(case: Case) -> dict[str, Any] | None:
    """The burst behind a fake-engagement case (`Case.evidence["engagement"]`), with each
    account's moment placed on a timeline (0-100 across the window) for the page's chart:
    a wall of dots within seconds reads faster than a table of times."""
    evidence = (case.evidence or {}).get("engagement")
    if not evidence:
        return None
    accounts = list(evidence.get("accounts") or [])
    moments = [_when(account.get("engaged_at")) for account in accounts]
    known = [moment for moment in moments if moment is not None]
    start, end = (min(known), max(known)) if known else (None, None)
    span = (end - start).total_seconds() if start and end else 0.0
    for account, moment in zip(accounts, moments, strict=True):
        offset = (moment - start).total_seconds() if moment and start else 0.0
        account["at"] = moment
        account["x"] = 50.0 if span <= 0 else round(2 + 96 * offset / span, 2)
    return {
        **evidence,
        "accounts": accounts,
        "span_seconds": round(span, 1),
        "start": start,
        "end": end,
        "signals": (evidence.get("shared_signals") or {}).get("devices_and_addresses") or [],
        "links": (evidence.get("shared_signals") or {}).get("account_links") or [],
        "linked_to_owner": (evidence.get("shared_signals") or {}).get("linked_to_owner") or [],
    }


def _picture_text(case: Case, content: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The words found in the note's pictures (`Case.evidence["picture_text"]`), by picture:
    the picture (when the note still shows it) and each finding with its box, in the
    original's pixels, which the page draws over the picture."""
    findings = (case.evidence or {}).get("picture_text") or []
    images = {
        image["id"]: image
        for image in ((content or {}).get("images") or [])
        if isinstance(image, dict) and "id" in image
    }
    pictures: dict[int, dict[str, Any]] = {}
    for finding in findings:
        image_id = finding.get("image_id")
        entry = pictures.setdefault(
            image_id, {"image_id": image_id, "image": images.get(image_id), "findings": []}
        )
        box = finding.get("box") or []
        entry["findings"].append(
            {**finding, "points": " ".join(f"{int(x)},{int(y)}" for x, y in box)}
        )
    return list(pictures.values())


# -- the queue -----------------------------------------------------------------------------------
def _queue_filters() -> dict[str, Any]:
    """The filters from the query string; unknown values are ignored (no filter)."""
    args = request.args
    data = taxonomy()
    reason = args.get("reason") or None
    if reason not in data.reasons and reason not in {c["code"] for c in data.categories}:
        reason = None
    severity_arg = args.get("severity", "")
    severities = sorted({c["severity"] for c in data.categories})
    severity = int(severity_arg) if severity_arg.isdigit() else None
    if severity not in severities:
        severity = None
    status = args.get("status") if args.get("status") in STATUSES else None
    target_type = args.get("target_type") if args.get("target_type") in TARGET_TYPES else None
    return {
        "status": status,
        "reason": reason,
        "severity": severity,
        "target_type": target_type,
    }


def _row_context(rows: list[Case]) -> dict[str, Any]:
    return {
        "users": users_by_id(c.claimed_by_id for c in rows),
        "titles": case_titles((c.target_type, c.target_id) for c in rows),
        "me": staff_actor(),
    }


@bp.route("/moderation")
@staff_page("moderator")
def moderation_queue() -> Response:
    actor = staff_actor()
    filters = _queue_filters()
    result = cases.list_cases(
        actor,
        filters["status"],
        filters["reason"],
        QUEUE_CURSOR.request(QUEUE_PAGE, request.args.get("cursor")),
        severity=filters["severity"],
        target_type=filters["target_type"],
    )
    cursor = QUEUE_CURSOR.next_cursor(result)
    active = {k: v for k, v in filters.items() if v is not None}
    data = taxonomy()
    return _moderation_page(
        "queue.html",
        title=_("Review queue"),
        rows=result.items,
        filters=filters,
        next_url=url_for("console.moderation_queue", cursor=cursor, **active) if cursor else None,
        categories=data.categories,
        severities=sorted({c["severity"] for c in data.categories}),
        statuses=STATUSES,
        target_types=TARGET_TYPES,
        **_row_context(result.items),
    )


@bp.route("/moderation/cases/<int:case_id>/claim", methods=["POST"])
@staff_page("moderator")
def moderation_claim(case_id: int) -> Response:
    actor = staff_actor()
    if request.headers.get("HX-Request") == "true":
        # htmx swaps the queue row in place; a refusal shows in the row (the page stays)
        error = None
        try:
            case = cases.claim(actor, case_id)
        except AppError as exc:
            db.session.rollback()
            error = exc.message
            case = cases.get_case(actor, case_id)
        html = render_template(
            "console/moderation/_row.html",
            case=case,
            error=error,
            **_helpers(),
            **_row_context([case]),
        )
        return Response(html, mimetype="text/html")
    case = cases.claim(actor, case_id)
    flash(_("You have claimed case %(id)d.", id=case.id), "ok")
    return back("console.moderation_case", case_id=case.id)


# -- a case --------------------------------------------------------------------------------------
@bp.route("/moderation/cases/<int:case_id>")
@staff_page("moderator")
def moderation_case(case_id: int) -> Response:
    actor = staff_actor()
    case = cases.get_case(actor, case_id)
    reports = case_reports(actor, case)
    target = _target(case)
    owner = db.session.get(User, case.target_user_id) if case.target_user_id else None
    people = users_by_id(
        [r.reporter_id for r in reports] + [case.claimed_by_id, case.target_user_id]
    )
    history = author_history(actor, owner, case) if owner is not None else None
    if history is not None:
        people.update(users_by_id(a.moderator_id for a in history["actions"]))
    content = _content(target)
    return _moderation_page(
        "case.html",
        title=_("Case %(id)d", id=case.id),
        case=case,
        reports=reports,
        content=content,
        picture_text=_picture_text(case, content),
        engagement=_engagement(case),
        owner=owner,
        history=history,
        people=people,
        preview=ladder_preview(owner, case) if owner is not None else None,
        own_case=not is_disinterested(actor, case.target_user_id),
        may_penalise=owner is not None and can_penalise(actor, owner),
        claimed_by_other=case.status == "claimed" and case.claimed_by_id != actor.id,
        content_choices=CONTENT_CHOICES if case.target_type != "user" else ("keep",),
        account_choices=ACCOUNT_CHOICES,
    )


def _duration(form: Any) -> int | str | None:
    """Empty: the ladder's next step; a number of days; `permanent` (the word or the box)."""
    raw = (form.get("duration_days") or "").strip()
    if form.get("permanent") or raw.lower() == "permanent":
        return "permanent"
    if not raw:
        return None
    return int(raw) if raw.isdigit() and len(raw) < 10 else raw  # the schema refuses the rest


@bp.route("/moderation/cases/<int:case_id>/decision", methods=["POST"])
@staff_page("moderator")
def moderation_decide(case_id: int) -> Response:
    form = request.form
    body = _validated(
        DecisionIn,
        {
            "content": form.get("content"),
            "account": form.get("account"),
            "duration_days": _duration(form),
            "note": form.get("note", ""),
        },
        back_to=url_for("console.moderation_case", case_id=case_id),
    )
    case, actions = cases.decide(
        staff_actor(), case_id, body.content, body.account, body.duration_days, body.note
    )
    done = ", ".join(
        label(a.kind)
        + (
            ""
            if a.kind != "mute"
            else " "
            + (
                _("%(days)d days", days=a.duration_days)
                if a.duration_days is not None
                else _("permanently")
            )
        )
        for a in actions
    )
    flash(
        _("Case %(id)d decided: %(actions)s.", id=case.id, actions=done or label(case.outcome)),
        "ok",
    )
    return back("console.moderation_queue")


# -- appeals -------------------------------------------------------------------------------------
@bp.route("/moderation/appeals")
@staff_page("moderator")
def moderation_appeals() -> Response:
    actor = staff_actor()
    status = request.args.get("status", "pending")
    status = status if status in APPEAL_STATUSES else "pending"
    rows = appeals.list_appeals(actor, status, APPEALS_LIMIT)
    actions = {
        a.id: a
        for a in db.session.scalars(
            select(ModerationAction).where(ModerationAction.id.in_([r.action_id for r in rows]))
        )
    }
    people = users_by_id(
        [r.user_id for r in rows]
        + [r.decided_by_id for r in rows]
        + [a.moderator_id for a in actions.values()]
    )
    return _moderation_page(
        "appeals.html",
        title=_("Appeals"),
        rows=rows,
        actions=actions,
        people=people,
        shown=status,
        statuses=APPEAL_STATUSES,
        me=actor,
    )


@bp.route("/moderation/appeals/<int:appeal_id>/decision", methods=["POST"])
@staff_page("moderator")
def moderation_appeal_decide(appeal_id: int) -> Response:
    body = _validated(
        AppealDecisionIn,
        {"outcome": request.form.get("outcome"), "note": request.form.get("note", "")},
        back_to=url_for("console.moderation_appeals"),
    )
    row = appeals.decide_appeal(staff_actor(), appeal_id, body.outcome, body.note)
    flash(_("Appeal %(id)d: %(status)s.", id=row.id, status=label(row.status)), "ok")
    return back("console.moderation_appeals")


# -- keywords ------------------------------------------------------------------------------------
@bp.route("/moderation/keywords")
@staff_page("moderator")
def moderation_keywords() -> Response:
    return _moderation_page(
        "keywords.html",
        title=_("Keywords"),
        rows=keywords.list_keywords(staff_actor()),
        categories=taxonomy().categories,
        actions=KEYWORD_ACTIONS,
    )


@bp.route("/moderation/keywords", methods=["POST"])
@staff_page("moderator")
def moderation_keyword_add() -> Response:
    form = request.form
    body = _validated(
        KeywordIn,
        {
            "word": form.get("word", ""),
            "category": form.get("category") or "other",
            "action": form.get("action") or "review",
        },
        back_to=url_for("console.moderation_keywords"),
    )
    row = keywords.add_keyword(staff_actor(), body.word, body.action, body.category)
    flash(_("Keyword “%(word)s” added.", word=row.display), "ok")
    return back("console.moderation_keywords")


@bp.route("/moderation/keywords/<int:keyword_id>/delete", methods=["POST"])
@staff_page("moderator")
def moderation_keyword_delete(keyword_id: int) -> Response:
    keywords.delete_keyword(staff_actor(), keyword_id)
    flash(_("Keyword deleted."), "ok")
    return back("console.moderation_keywords")


# -- the audit log -------------------------------------------------------------------------------
@bp.route("/moderation/log")
@staff_page("moderator")
def moderation_log() -> Response:
    result = audit.audit_log(staff_actor(), ID_CURSOR.request(LOG_PAGE, request.args.get("cursor")))
    cursor = ID_CURSOR.next_cursor(result)
    return _moderation_page(
        "log.html",
        title=_("Audit log"),
        rows=result.items,
        people=users_by_id(e.actor_id for e in result.items),
        labels={code: str(label) for code, label in ACTION_LABELS.items()},
        next_url=url_for("console.moderation_log", cursor=cursor) if cursor else None,
    )


# -- multiple accounts: link proposals (`moderation.signals`) ------------------------------------
PROPOSAL_STATUSES = ("proposed", "confirmed", "rejected")
PROPOSALS_PAGE = 25
#: The words of the proposals page: statuses, strengths and the kinds of signal shared.
PROPOSAL_LABELS = {
    "proposed": _l("proposed"),
    "confirmed": _l("confirmed"),
    "rejected": _l("rejected"),
    "strong": _l("strong"),
    "medium": _l("medium"),
    "device": _l("device id"),
    "ip_ua": _l("address + user agent"),
    "ip": _l("address"),
    "ip_prefix": _l("address prefix"),
    "ua": _l("user agent"),
}


def proposal_label(code: str | None) -> str:
    return str(PROPOSAL_LABELS.get(code or "", code or ""))


@bp.route("/moderation/link-proposals")
@staff_page("moderator")
def moderation_link_proposals() -> Response:
    """The API's list (`signals.list_proposals`), with the accounts named and confirm or
    reject on each proposal the moderator may decide."""
    actor = staff_actor()
    status = request.args.get("status", "proposed")
    status = status if status in PROPOSAL_STATUSES else "proposed"
    result = signals.list_proposals(
        actor, status, ID_CURSOR.request(PROPOSALS_PAGE, request.args.get("cursor"))
    )
    cursor = ID_CURSOR.next_cursor(result)
    people = users_by_id(
        [r.user_id for r in result.items]
        + [r.other_user_id for r in result.items]
        + [r.decided_by_id for r in result.items]
    )
    decidable = {
        row.id
        for row in result.items
        if is_disinterested(actor, row.user_id, row.other_user_id)
        and all(
            people.get(i) is not None and outranks(actor, people[i])
            for i in (row.user_id, row.other_user_id)
        )
    }
    return _moderation_page(
        "link_proposals.html",
        title=_("Linked-account proposals"),
        rows=result.items,
        people=people,
        decidable=decidable,
        shown=status,
        statuses=PROPOSAL_STATUSES,
        plabel=proposal_label,
        next_url=url_for("console.moderation_link_proposals", status=status, cursor=cursor)
        if cursor
        else None,
    )


@bp.route(
    "/moderation/link-proposals/<int:proposal_id>/<any(confirm, reject):verb>", methods=["POST"]
)
@staff_page("moderator")
def moderation_link_proposal_decide(proposal_id: int, verb: str) -> Response:
    body = _validated(
        LinkProposalDecisionIn,
        {"note": request.form.get("note", "")},
        back_to=url_for("console.moderation_link_proposals"),
    )
    decide = signals.confirm_proposal if verb == "confirm" else signals.reject_proposal
    row = decide(staff_actor(), proposal_id, body.note)
    flash(_("Proposal %(id)d: %(status)s.", id=row.id, status=proposal_label(row.status)), "ok")
    return back("console.moderation_link_proposals")
