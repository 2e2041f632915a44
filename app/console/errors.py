"""What the console says when a service refuses: the services' messages are English (the
API's envelope), so the console words the common refusals itself, by error code, and falls
back to one sentence per status, keeping the service's own message as the detail."""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from app.core.errors import AppError

BY_CODE: dict[str, LazyString] = {
    "forbidden": _l("Your account may not do this."),
    "insufficient_rank": _l("You can act only on accounts below your own role."),
    "conflict_of_interest": _l("You cannot decide a case about your own content or account."),
    "own_target": _l("You cannot decide a case about your own content or account."),
    "own_action": _l("You cannot decide an appeal against your own decision."),
    "own_request": _l("You cannot decide your own request."),
    "case_claimed": _l("Another moderator has claimed this case."),
    "case_decided": _l("This case has already been decided."),
    "action_reversed": _l("This action has already been reversed."),
    "action_not_found": _l("That action does not exist."),
    "penalty_not_in_force": _l("That penalty is no longer in force."),
    "not_liftable": _l("That penalty cannot be lifted."),
    "keyword_exists": _l("That word is already on the list."),
    "keyword_not_found": _l("That word is not on the list."),
    "invalid_keyword": _l("That word cannot be added."),
    "note_not_found": _l("That note does not exist."),
    "user_not_found": _l("That user does not exist."),
    "pick_not_found": _l("That pick does not exist."),
    "unknown_slot": _l("That slot does not exist."),
    "unknown_channel": _l("That channel does not exist."),
    "topic_not_found": _l("That topic does not exist."),
    "note_not_published": _l("Only published notes can be picked."),
    "starts_at_too_late": _l("The start is later than the end."),
    "starts_at_in_past": _l("The start is in the past."),
    "campaign_not_found": _l("That campaign does not exist."),
    "invalid_required_days": _l("The required days do not fit in the campaign."),
    "term_rule_not_found": _l("That search-term rule does not exist."),
    "invalid_term": _l("That search term cannot be used."),
    "insufficient_points": _l("The user does not have that many points."),
    "validation_error": _l("Some of the values are not valid."),
    "invalid_decision": _l("That decision is not possible for this case."),
    "unknown_reason": _l("That reason does not exist."),
}

BY_STATUS: dict[int, LazyString] = {
    400: _l("Some of the values are not valid."),
    401: _l("Sign in again to continue."),
    403: _l("Your account may not do this."),
    404: _l("That does not exist (any more)."),
    409: _l("That conflicts with the current state. Reload the page and try again."),
    422: _l("That cannot be done with these values."),
    429: _l("Too many attempts. Wait a moment and try again."),
}


def explain(exc: AppError) -> tuple[str, str | None]:
    """(what the page says, the service's own words when they add something)."""
    said = BY_CODE.get(exc.code) or BY_STATUS.get(exc.status)
    if said is None:
        return exc.message, None
    text = str(said)
    return text, exc.message if exc.message and exc.message != text else None
