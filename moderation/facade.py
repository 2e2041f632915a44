"""What the rest of the app calls in moderation (re-exported by the package): screening a
note or comment before it appears, the mute check on writes, the bootstrap admin's amnesty,
and the hooks `create_app` registers. Everything else in moderation is reached over HTTP
(`moderation.api`) or read as models (`moderation.models`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.accounts.models import User
from moderation.config import ENGAGEMENT
from moderation.engagement import detect_engagement
from moderation.hooks import ContentKind
from moderation.pictures import screen_pictures
from moderation.screening import (
    Screening,
    add_review_case,
    is_new_account,
    open_review_case,
    record_fingerprint,
    refuse_if_blocked,
    screen,
    screen_burst,
    screen_duplicate_images,
    screen_duplicates,
    strictest,
)
from moderation.signals import purge_signals
from moderation.signals import record as _record_signals


@dataclass(frozen=True)
class Screened:
    """What screening found for one note or comment. `held`: save it as `pending_review`,
    then (after the commit) `open_case` puts it in front of a moderator."""

    kind: ContentKind
    author_id: int
    texts: tuple[str, ...]
    screening: Screening

    @property
    def held(self) -> bool:
        return self.screening.verdict == "review"

    def remember(self, content_id: int) -> None:
        """Record what was posted (the same text from other accounts is a spam signal), in
        the caller's transaction: for content saved after it was screened."""
        record_fingerprint(self.author_id, self.kind, content_id, *self.texts)

    def open_case(self, content_id: int) -> None:
        """A review case for held content (nothing otherwise); commits. Call after the
        content itself is committed."""
        if self.held:
            open_review_case(self.kind, content_id, self.author_id, self.screening)

    def add_case(self, content_id: int) -> None:
        """`open_case` in the caller's transaction, for content held after it appeared (a
        job that read its pictures' text): both commit together or not at all."""
        if self.held:
            add_review_case(self.kind, content_id, self.author_id, self.screening)


def screen_content(
    author: User,
    kind: ContentKind,
    texts: Sequence[str],
    *,
    filter_only: Sequence[str] = (),
    image_ids: Sequence[int] = (),
    content_id: int | None = None,
) -> Screened:
    """Screen a note or comment before it appears. Raises 422 `content_blocked` when the
    filter blocks it; otherwise the verdict, `held` when it needs review.

    `texts` are compared with what other accounts posted; `filter_only` is text only the
    word filter reads (a note's tags). `content_id` names content already saved (a note
    being published or edited): it is left out of its author's pace and remembered now;
    content saved later is remembered with `Screened.remember`. Every comment passes the
    word filter (links count only from new accounts); a note only from a new account, links
    included. The text read in `image_ids` passes it from every author (`moderation.pictures`):
    a match holds, never blocks. Official accounts are the platform's own: never screened,
    nor remembered here.
    """
    texts = tuple(texts)
    if author.official:
        return Screened(kind, author.id, texts, Screening(None))
    new_account = is_new_account(author)
    found = strictest(
        screen(*texts, *filter_only, new_account=new_account)
        if kind == "comment" or new_account
        else Screening(None),
        screen_duplicates(author.id, *texts),
        screen_duplicate_images(author.id, image_ids) if image_ids else Screening(None),
        screen_pictures(image_ids, new_account=new_account),
        screen_burst(author, kind, exclude_id=content_id),
    )
    screened = Screened(kind, author.id, texts, found)
    if content_id is not None:
        screened.remember(content_id)
    refuse_if_blocked(found)
    return screened


__all__ = [
    "ENGAGEMENT",  # bought engagement: the detector's interval (`app.schedule`)
    "Screened",
    "detect_engagement",  # the periodic detector (`moderation.engagement`)
    "purge_signals",
    "record_sign_in_signals",
    "screen_content",
]


def record_sign_in_signals(
    user_id: int,
    event: str,
    *,
    ip: str | None,
    user_agent: str | None,
    device_id: str | None,
) -> None:
    """Call after a registration or a successful sign-in has committed: keeps keyed hashes of
    the address, user agent and `X-Device-Id` (`moderation.signals`) for the multiple-accounts
    check, in a transaction of its own. Never raises: a failure is logged, the sign-in stands."""
    _record_signals(user_id, event, ip, user_agent, device_id)


def screen_picture_text(author: User, kind: ContentKind, image_ids: Sequence[int]) -> Screened:
    """The text read in content's pictures once it has been read, after the content appeared
    (the OCR job): held when the filter finds anything (`Screened.add_case` then opens the
    case in the job's transaction). Official accounts are never screened."""
    if author.official:
        return Screened(kind, author.id, (), Screening(None))
    found = screen_pictures(image_ids, new_account=is_new_account(author))
    return Screened(kind, author.id, (), found)
