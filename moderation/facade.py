"""What the rest of the app calls in moderation (re-exported by the package): screening a
note or comment before it appears, the mute check on writes, the bootstrap admin's amnesty,
and the hooks `create_app` registers. Everything else in moderation is reached over HTTP
(`moderation.api`) or read as models (`moderation.models`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.accounts.models import User
from moderation.hooks import ContentKind
from moderation.screening import (
    Screening,
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
    included. Official accounts are the platform's own: never screened, nor remembered here.
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
        screen_burst(author, kind, exclude_id=content_id),
    )
    screened = Screened(kind, author.id, texts, found)
    if content_id is not None:
        screened.remember(content_id)
    refuse_if_blocked(found)
    return screened
