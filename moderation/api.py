"""Moderation routes: the reason taxonomy, reports, the review queue, decisions, the audit
log and the keyword list."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.core.pagination import ID, ID_CURSOR, Cursor, Number, PageRequest, PageResult
from app.core.presenters import iso
from app.core.routing import JsonBody, current_actor, endpoint
from moderation import appeals, audit, cases, keywords, penalties, reports, signals
from moderation.schemas import (
    AccountLinkIn,
    AppealDecisionIn,
    AppealIn,
    AppealsQuery,
    CasesQuery,
    DecisionIn,
    KeywordIn,
    LiftIn,
    LinkProposalDecisionIn,
    LinkProposalsQuery,
    ReportIn,
)
from moderation.taxonomy import taxonomy

bp = Blueprint("moderation", __name__, url_prefix="/api/v1")

CASE_CURSOR = Cursor(Number(), ID)  # the review queue: (priority, id), highest first


@endpoint(
    bp,
    "/report-reasons",
    "GET",
    summary="The report-reason taxonomy: nine categories, their reasons with codes, zh/en "
    "labels and severity, and the aggravating circumstances",
)
def report_reasons() -> JsonBody:
    data = taxonomy()
    return {
        "categories": [
            {
                "code": category["code"],
                "zh": category["zh"],
                "en": category["en"],
                "severity": category["severity"],
                "reasons": [
                    {
                        "code": reason["code"],
                        "zh": reason["zh"],
                        "en": reason["en"],
                        "aggravating": reason.get("aggravating", []),
                    }
                    for reason in category["reasons"]
                ],
            }
            for category in data.categories
        ],
        "aggravating": list(data.aggravating.values()),
        "penalty_ladder": list(data.ladder),
    }


def _view(row: Any) -> JsonBody:
    return {
        "id": row.id,
        "word": row.display,
        "normalized": row.word,
        "action": row.action,
        "category": row.category,
        "created_at": iso(row.created_at),
    }


@endpoint(
    bp,
    "/moderation/keywords",
    "GET",
    summary="The filtered-word list (moderator)",
    auth="required",
    role="moderator",
    errors=[401, 403],
)
def list_keywords() -> JsonBody:
    return {"items": [_view(row) for row in keywords.list_keywords(current_actor())]}


@endpoint(
    bp,
    "/moderation/keywords",
    "POST",
    summary="Add a filtered word: `action` review, block, or allow (an ordinary word that "
    "runs across a keyword) (moderator)",
    body=KeywordIn,
    status=201,
    auth="required",
    role="moderator",
    errors=[400, 401, 403, 409],
)
def add_keyword(body: KeywordIn) -> JsonBody:
    row = keywords.add_keyword(current_actor(), body.word, body.action, body.category)
    return _view(row)


@endpoint(
    bp,
    "/moderation/keywords/<int:keyword_id>",
    "DELETE",
    summary="Remove a filtered word (moderator)",
    auth="required",
    role="moderator",
    errors=[401, 403, 404],
)
def delete_keyword(keyword_id: int) -> None:
    keywords.delete_keyword(current_actor(), keyword_id)
    return None


def _report_view(row: Any) -> JsonBody:
    return {
        "id": row.id,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "reason_code": row.reason_code,
        "outcome": row.outcome,
        "created_at": iso(row.created_at),
    }


@endpoint(
    bp,
    "/reports",
    "POST",
    summary="Report a note, comment or user; reporting the same target again changes nothing",
    body=ReportIn,
    status=201,
    auth="required",
    rate_limit="report",
    allow_muted=True,
    errors=[400, 401, 404, 422, 429],
)
def create_report(body: ReportIn) -> JsonBody:
    row, created = reports.report(
        current_actor(), body.target_type, body.target_id, body.reason_code, body.detail
    )
    return {**_report_view(row), "counted": created}


@endpoint(
    bp,
    "/me/reports",
    "GET",
    summary="My reports and their outcome (upheld, dismissed, or null while pending)",
    auth="required",
    errors=[401],
)
def my_reports() -> JsonBody:
    return {"items": [_report_view(r) for r in reports.my_reports(current_actor())]}


def _case_view(case: Any) -> JsonBody:
    return {
        "id": case.id,
        "target_type": case.target_type,
        "target_id": case.target_id,
        "target_user_id": case.target_user_id,
        "status": case.status,
        "reason_code": case.reason_code,
        "severity": case.severity,
        "report_count": case.report_count,
        "weighted_reports": case.weighted_reports,
        "reach": case.reach,
        "priority": case.priority,
        "auto_hidden": case.auto_hidden,
        "evidence": case.evidence or {},
        "claimed_by": case.claimed_by_id,
        "outcome": case.outcome,
        "created_at": iso(case.created_at),
        "decided_at": iso(case.decided_at),
    }


@endpoint(
    bp,
    "/moderation/cases",
    "GET",
    summary="The review queue, highest priority first; `status=`, `reason=` (code or category)",
    query=CasesQuery,
    paginated=CASE_CURSOR,
    auth="required",
    role="moderator",
    errors=[400, 401, 403],
)
def list_cases(query: CasesQuery, page: PageRequest) -> PageResult[JsonBody]:
    return cases.list_cases(current_actor(), query.status, query.reason, page).map(_case_view)


@endpoint(
    bp,
    "/moderation/cases/<int:case_id>/claim",
    "POST",
    summary="Take a case so no one else handles it (409 if another moderator has it; 403 "
    "`conflict_of_interest` on a case about your own content or account)",
    auth="required",
    role="moderator",
    errors=[401, 403, 404, 409],
)
def claim_case(case_id: int) -> JsonBody:
    return _case_view(cases.claim(current_actor(), case_id))


@endpoint(
    bp,
    "/moderation/cases/<int:case_id>/decision",
    "POST",
    summary="Decide a case: content keep|hide|remove, account none|warn|mute|ban; a mute "
    "without duration_days takes the next step of the penalty ladder. 403 "
    "`conflict_of_interest` on a case about your own content or account, 403 "
    "`insufficient_rank` for warn|mute|ban of an account not ranked below yours",
    body=DecisionIn,
    auth="required",
    role="moderator",
    errors=[400, 401, 403, 404, 409],
)
def decide_case(case_id: int, body: DecisionIn) -> JsonBody:
    case, actions = cases.decide(
        current_actor(), case_id, body.content, body.account, body.duration_days, body.note
    )
    return {
        "case": _case_view(case),
        "actions": [
            {
                "id": action.id,
                "kind": action.kind,
                **(
                    {"duration_days": action.duration_days, "ends_at": iso(action.ends_at)}
                    if action.kind == "mute"
                    else {}
                ),
            }
            for action in actions
        ],
    }


@endpoint(
    bp,
    "/moderation/log",
    "GET",
    summary="The full audit log, newest first (moderator)",
    paginated=ID_CURSOR,
    auth="required",
    role="moderator",
    errors=[400, 401, 403],
)
def audit_log(page: PageRequest) -> PageResult[JsonBody]:
    return audit.audit_log(current_actor(), page).map(_entry_view)


def _entry_view(e: Any) -> JsonBody:
    return {
        "id": e.id,
        "actor_id": e.actor_id,
        "action": e.action,
        "target_type": e.target_type,
        "target_id": e.target_id,
        "reason": e.reason,
        "before": e.before,
        "after": e.after,
        "created_at": iso(e.created_at),
    }


def _appeal_view(row: Any) -> JsonBody:
    return {
        "id": row.id,
        "action_id": row.action_id,
        "user_id": row.user_id,
        "statement": row.statement,
        "status": row.status,
        "decided_by": row.decided_by_id,
        "decision_note": row.decision_note,
        "created_at": iso(row.created_at),
        "decided_at": iso(row.decided_at),
    }


@endpoint(
    bp,
    "/moderation/account-links",
    "POST",
    summary="Link accounts that belong together: interactions among them earn no points "
    "(moderator)",
    body=AccountLinkIn,
    status=201,
    auth="required",
    role="moderator",
    errors=[400, 401, 403, 404],
)
def link_accounts(body: AccountLinkIn) -> JsonBody:
    return {"user_ids": penalties.link_accounts(current_actor(), body.user_ids, body.reason)}


@endpoint(
    bp,
    "/appeals",
    "POST",
    summary="Appeal a moderation action against you (one appeal per action)",
    body=AppealIn,
    status=201,
    auth="required",
    allow_muted=True,
    errors=[400, 401, 404, 409],
)
def create_appeal(body: AppealIn) -> JsonBody:
    return _appeal_view(appeals.appeal(current_actor(), body.action_id, body.statement))


@endpoint(
    bp,
    "/moderation/appeals",
    "GET",
    summary="Appeals, oldest first; `status=pending|upheld|reversed` (moderator)",
    query=AppealsQuery,
    auth="required",
    role="moderator",
    errors=[400, 401, 403],
)
def list_appeals(query: AppealsQuery) -> JsonBody:
    rows = appeals.list_appeals(current_actor(), query.status, query.limit)
    return {"items": [_appeal_view(row) for row in rows], "next_cursor": None}


@endpoint(
    bp,
    "/moderation/appeals/<int:appeal_id>/decision",
    "POST",
    summary="Uphold or reverse an appeal; a reversal publishes the content again, lifts the "
    "penalty and removes the strike (a moderator other than the one who acted, 409; not "
    "the appellant or the penalised, 403 `conflict_of_interest`; ranked above the appellant, "
    "403 `insufficient_rank`)",
    body=AppealDecisionIn,
    auth="required",
    role="moderator",
    errors=[400, 401, 403, 404, 409],
)
def decide_appeal(appeal_id: int, body: AppealDecisionIn) -> JsonBody:
    row = appeals.decide_appeal(current_actor(), appeal_id, body.outcome, body.note)
    return _appeal_view(row)


@endpoint(
    bp,
    "/moderation/actions/<int:action_id>/lift",
    "POST",
    summary="End a mute or a ban early, with a `note` for the audit log: the account may "
    "write and sign in again (its revoked tokens stay revoked) and the strike stays; any "
    "account's penalty but one's own (admin)",
    body=LiftIn,
    auth="required",
    role="admin",
    errors=[400, 401, 403, 404, 409, 422],
)
def lift_penalty(action_id: int, body: LiftIn) -> JsonBody:
    action = penalties.lift_penalty(current_actor(), action_id, body.note)
    return {
        "id": action.id,
        "kind": action.kind,
        "user_id": action.user_id,
        "duration_days": action.duration_days,
        "ends_at": iso(action.ends_at),
        "reversed_at": iso(action.reversed_at),
    }


@endpoint(
    bp,
    "/modlog",
    "GET",
    summary="The public moderation log: what was done and why, without who",
    paginated=ID_CURSOR,
    errors=[400],
)
def modlog(page: PageRequest) -> PageResult[JsonBody]:
    return audit.public_log(page).map(_public_entry_view)


def _public_entry_view(e: Any) -> JsonBody:
    """Without who asked, who decided or the private notes."""
    return {
        "id": e.id,
        "action": e.action,
        "target_type": e.target_type,
        "created_at": iso(e.created_at),
    }


@endpoint(
    bp,
    "/admin/moderation/metrics",
    "GET",
    summary="Queue size by severity, median time to decision, share of actions reversed on "
    "appeal (admin)",
    auth="required",
    role="admin",
    errors=[401, 403],
)
def metrics() -> JsonBody:
    return cases.metrics(current_actor())


# -- multiple accounts (`moderation.signals`) ------------------------------------------------------
def _proposal_view(row: Any) -> JsonBody:
    return {
        "id": row.id,
        "user_ids": [row.user_id, row.other_user_id],
        "status": row.status,
        "strength": row.strength,
        "score": row.score,
        "evidence": row.evidence or {},
        "rejected_strength": row.rejected_strength,
        "decided_by": row.decided_by_id,
        "decision_note": row.decision_note,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "decided_at": iso(row.decided_at),
    }


@endpoint(
    bp,
    "/moderation/link-proposals",
    "GET",
    summary="Accounts that share sign-in signals, proposed as linked (multiple accounts), "
    "newest first; `status=proposed|confirmed|rejected` (moderator)",
    query=LinkProposalsQuery,
    paginated=ID_CURSOR,
    auth="required",
    role="moderator",
    errors=[400, 401, 403],
)
def list_link_proposals(query: LinkProposalsQuery, page: PageRequest) -> PageResult[JsonBody]:
    return signals.list_proposals(current_actor(), query.status, page).map(_proposal_view)


@endpoint(
    bp,
    "/moderation/link-proposals/<int:proposal_id>",
    "GET",
    summary="One link proposal with its evidence: the kinds of signal shared, on how many "
    "accounts, first and last seen (moderator)",
    auth="required",
    role="moderator",
    errors=[401, 403, 404],
)
def get_link_proposal(proposal_id: int) -> JsonBody:
    return _proposal_view(signals.get_proposal(current_actor(), proposal_id))


@endpoint(
    bp,
    "/moderation/link-proposals/<int:proposal_id>/confirm",
    "POST",
    summary="Confirm a proposal: the accounts are linked (no points between them; the "
    "`multiple_accounts` circumstance in their penalties). 403 `conflict_of_interest` on "
    "your own account, `insufficient_rank` on an account not ranked below yours; 409 once "
    "decided (moderator)",
    body=LinkProposalDecisionIn,
    auth="required",
    role="moderator",
    errors=[400, 401, 403, 404, 409],
)
def confirm_link_proposal(proposal_id: int, body: LinkProposalDecisionIn) -> JsonBody:
    return _proposal_view(signals.confirm_proposal(current_actor(), proposal_id, body.note))


@endpoint(
    bp,
    "/moderation/link-proposals/<int:proposal_id>/reject",
    "POST",
    summary="Reject a proposal: the pair is proposed again only on stronger evidence. The "
    "same 403s and 409 as confirming (moderator)",
    body=LinkProposalDecisionIn,
    auth="required",
    role="moderator",
    errors=[400, 401, 403, 404, 409],
)
def reject_link_proposal(proposal_id: int, body: LinkProposalDecisionIn) -> JsonBody:
    return _proposal_view(signals.reject_proposal(current_actor(), proposal_id, body.note))


@endpoint(
    bp,
    "/moderation/users/<int:user_id>/signals",
    "GET",
    summary="An account's sign-in signals within the retention period: kind, a hash prefix "
    "(never the address, user agent or device id), first and last seen, how often, and the "
    "other accounts sharing each; 403 `insufficient_rank` unless ranked below yours "
    "(moderator)",
    auth="required",
    role="moderator",
    errors=[401, 403, 404],
)
def user_signals(user_id: int) -> JsonBody:
    items = signals.user_signals(current_actor(), user_id)
    return {
        "user_id": user_id,
        "retention_days": signals.retention_days(),
        "items": [
            {
                **item,
                "first_seen_at": iso(item["first_seen_at"]),
                "last_seen_at": iso(item["last_seen_at"]),
            }
            for item in items
        ],
    }
