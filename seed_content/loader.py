"""Loads the cold-start packs (`seed_content/packs/*.toml`): official accounts, topics, notes
with their pictures, comments and likes between official accounts, and editor picks.

Idempotent: every item has a stable key, remembered in `content_sources` with a digest of the
item as last loaded. Loading again creates what is new, updates in place what changed (an
edited note keeps its id, likes and comments) and leaves the rest untouched. `dry_run` reports
what would happen and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.accounts.models import User
from app.accounts.services import hash_password
from app.core.extensions import db
from app.core.jobs import commit, enqueue, in_background
from app.core.models import utcnow
from app.core.storage import new_image_prefix
from app.editorial.models import ContentSource, EditorPick
from app.editorial.services import editorial_snapshot, log_action, pick_details
from app.media.models import Image
from app.media.pipeline import PreparedImage, prepare_image
from app.media.services import image_row, save_with_variants
from app.media.text_cover import find_cjk_font
from app.notes.models import Comment, Note, Topic
from app.notes.services.comments import add_comment, delete_comment
from app.notes.services.notes import create_note, like_note, update_note
from app.search.jobs import index_topic, index_user
from seed_content.packs import PACKS_DIR, Pack, all_packs, cross_check
from seed_content.render import render_avatar, render_picture

Progress = Callable[[str, int, int], None]
# Seed notes appear published over the two weeks before the first load, so the feeds, the
# hot lists and "new" orders look like a community that has been running for a while.
BACKDATE_HOURS = 14 * 24
# About one note in four of another channel gets a like from each official account.
LIKE_ONE_IN = 4


def database_is_empty() -> bool:
    return (db.session.scalar(select(func.count()).select_from(Note)) or 0) == 0


@dataclass
class LoadReport:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False

    def summary(self) -> str:
        kinds = ("account", "topic", "note", "comment", "like", "pick")

        def part(counter: Counter[str]) -> str:
            return ", ".join(f"{counter[k]} {k}s" for k in kinds if counter[k]) or "nothing"

        head = "dry run, would have " if self.dry_run else ""
        return (
            f"{head}created {part(self.created)}; updated {part(self.updated)}; "
            f"removed {part(self.removed)}; unchanged {part(self.unchanged)}"
        )

    @property
    def changed(self) -> int:
        return sum(self.created.values()) + sum(self.updated.values()) + sum(self.removed.values())


def _digest(value: Any) -> str:
    raw = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


class _Loader:
    def __init__(self, packs: tuple[Pack, ...], report: LoadReport, progress: Progress | None):
        self.packs = packs
        self.report = report
        self.dry_run = report.dry_run
        self.progress = progress
        self.font = None if self.dry_run else find_cjk_font()
        self.accounts: dict[str, User] = {}  # channel → official account
        self.topics: dict[str, int] = {}  # topic key → id
        self.notes: dict[str, int] = {}  # note key → id
        self.sources = {
            (row.kind, row.key): row for row in db.session.scalars(select(ContentSource))
        }

    # --- bookkeeping --------------------------------------------------------------------

    def _state(self, kind: str, key: str, digest: str) -> tuple[str, ContentSource | None]:
        """ "create", "update" or "unchanged" for an item, and its source row if any."""
        source = self.sources.get((kind, key))
        if source is None:
            return "create", None
        return ("unchanged" if source.digest == digest else "update"), source

    def _count(self, state: str, kind: str) -> None:
        {"create": self.report.created, "update": self.report.updated}.get(
            state, self.report.unchanged
        )[kind] += 1

    def _remember(self, kind: str, key: str, target_id: int, digest: str) -> None:
        source = self.sources.get((kind, key))
        if source is None:
            source = ContentSource(kind=kind, key=key, target_id=target_id, digest=digest)
            db.session.add(source)
            self.sources[(kind, key)] = source
        else:
            source.target_id, source.digest, source.updated_at = target_id, digest, utcnow()

    def _tick(self, phase: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(phase, done, total)

    # --- pictures -----------------------------------------------------------------------

    def _store(self, prepared: PreparedImage, owner: User, kind: str) -> Image:
        original_key, variants = save_with_variants(prepared, new_image_prefix())
        image = image_row(
            prepared,
            owner_id=owner.id,
            kind=kind,
            status="ready",
            storage_key=original_key,
            variants=variants,
        )
        db.session.add(image)
        db.session.flush()
        return image

    # --- accounts and topics ------------------------------------------------------------

    def accounts_(self) -> None:
        for done, pack in enumerate(self.packs, 1):
            spec = pack.account
            digest = _digest(spec.model_dump())
            state, _source = self._state("account", spec.username, digest)
            self._count(state, "account")
            user = db.session.scalar(select(User).where(User.username == spec.username))
            if self.dry_run:
                if user is not None:
                    self.accounts[pack.channel] = user
                self._tick("accounts", done, len(self.packs))
                continue
            if user is None:
                user = User(
                    username=spec.username,
                    nickname=spec.nickname,
                    # Nobody signs in as an official account: a password no one knows.
                    password_hash=hash_password(secrets.token_urlsafe(32)),
                    signup_source="seed",
                    badges=[],
                )
                db.session.add(user)
                db.session.flush()
            if state != "unchanged" or user.avatar_image_id is None:
                user.nickname, user.bio = spec.nickname, spec.bio
                user.official = user.verified = True
                avatar = render_avatar(spec.avatar.background, spec.avatar.glyph, font=self.font)
                user.avatar_image_id = self._store(prepare_image(avatar), user, "avatar").id
                self._remember("account", spec.username, user.id, digest)
            self.accounts[pack.channel] = user
            if state != "unchanged":
                enqueue(index_user, user.id)  # commits with the account
            commit()
            self._tick("accounts", done, len(self.packs))

    def topics_(self) -> None:
        items = [(pack, topic) for pack in self.packs for topic in pack.topics]
        for done, (pack, spec) in enumerate(items, 1):
            digest = _digest({**spec.model_dump(), "channel": pack.channel})
            state, source = self._state("topic", spec.key, digest)
            self._count(state, "topic")
            topic = db.session.get(Topic, source.target_id) if source else None
            if topic is None:
                topic = db.session.scalar(select(Topic).where(Topic.name == spec.name))
            if not self.dry_run and (state != "unchanged" or topic is None):
                if topic is None:
                    topic = Topic(name=spec.name)
                    db.session.add(topic)
                topic.name, topic.description, topic.guide = spec.name, spec.description, spec.guide
                topic.channel_code = pack.channel
                owner = self.accounts.get(pack.channel)
                topic.created_by_id = topic.created_by_id or (owner.id if owner else None)
                db.session.flush()
                self._remember("topic", spec.key, topic.id, digest)
                enqueue(index_topic, topic.id)  # commits with the topic
                commit()
            if topic is not None and topic.id is not None:
                self.topics[spec.key] = topic.id
            self._tick("topics", done, len(items))

    # --- notes --------------------------------------------------------------------------

    def _values(self, pack: Pack, note: Any) -> dict[str, Any]:
        return {
            "title": note.title,
            "body": note.body.strip(),
            "tags": list(note.tags),
            "topic_ids": [self.topics[key] for key in note.topics if key in self.topics],
            "channel": pack.channel,
        }

    def notes_(self) -> None:
        items = []  # (pack, note, state, note row, digest, pictures digest, pictures to draw)
        for pack, spec in [(p, n) for p in self.packs for n in p.notes]:
            content = spec.model_dump(exclude={"picks", "comments"})
            pictures = _digest(content["images"])
            digest = _digest({**content, "channel": pack.channel, "by": pack.account.username})
            state, source = self._state("note", spec.key, digest)
            note = db.session.get(Note, source.target_id) if source else None
            if note is None or note.deleted_at is not None:
                state, note = "create", None  # a stale source: the note was deleted since
            redraw = state == "create" or (
                state == "update" and pictures != self._pictures_digest(spec.key)
            )
            items.append((pack, spec, state, note, digest, pictures, redraw))
        jobs = [
            (
                pack.channel,
                picture.caption,
                picture.motif,
                f"{spec.key}:{index}",
                pack.account.nickname,
            )
            for pack, spec, _state, _note, _digest_, _pictures, redraw in items
            if redraw and not self.dry_run
            for index, picture in enumerate(spec.images)
        ]
        with _picture_maker(len(jobs)) as make:
            drawn = make(jobs)
            for done, (pack, spec, state, note, digest, pictures, redraw) in enumerate(items, 1):
                self._count(state, "note")
                if self.dry_run or state == "unchanged":
                    if note is not None:
                        self.notes[spec.key] = note.id
                    self._tick("notes", done, len(items))
                    continue
                owner = self.accounts[pack.channel]
                values = self._values(pack, spec)
                if redraw:
                    values["image_ids"] = [
                        self._store(next(drawn), owner, "upload").id for _ in spec.images
                    ]
                if note is None:
                    created = create_note(owner, {**values, "status": "published"})
                    self._backdate(created.id, spec.key)
                    note_id = created.id
                else:
                    update_note(owner, note.id, values)
                    note_id = note.id
                self._remember("note", spec.key, note_id, digest)
                self._remember("pictures", spec.key, note_id, pictures)
                db.session.commit()
                self.notes[spec.key] = note_id
                self._tick("notes", done, len(items))

    def _pictures_digest(self, key: str) -> str | None:
        source = self.sources.get(("pictures", key))
        return source.digest if source else None

    def _backdate(self, note_id: int, key: str) -> None:
        hours = _stable_int(key) % BACKDATE_HOURS
        moment = utcnow() - timedelta(hours=hours, minutes=_stable_int(key + "m") % 60)
        note = db.session.get(Note, note_id)
        assert note is not None
        note.published_at = note.created_at = note.updated_at = moment

    # --- comments, likes, picks ---------------------------------------------------------

    def comments_(self) -> None:
        items = [
            (pack, note, index, comment)
            for pack in self.packs
            for note in pack.notes
            for index, comment in enumerate(note.comments)
        ]
        for done, (_pack, note, index, spec) in enumerate(items, 1):
            key = f"{note.key}:{index}"
            digest = _digest(spec.model_dump())
            state, source = self._state("comment", key, digest)
            self._count(state, "comment")
            note_id = self.notes.get(note.key)
            if not self.dry_run and state != "unchanged" and note_id is not None:
                author = self.accounts[spec.by]
                if source is not None and db.session.get(Comment, source.target_id) is not None:
                    delete_comment(self.accounts[spec.by], source.target_id)
                comment = add_comment(author, note_id, spec.body)
                self._remember("comment", key, comment.id, digest)
                db.session.commit()
            self._tick("comments", done, len(items))

    def likes_(self) -> None:
        """Official accounts like some notes of other channels (a stable choice)."""
        pairs = [
            (channel, note.key)
            for pack in self.packs
            for note in pack.notes
            for channel in self.accounts
            if channel != pack.channel
            and (
                _stable_int(f"{channel}:{note.key}") % LIKE_ONE_IN == 0
                or any(c.by == channel for c in note.comments)
            )
        ]
        for done, (channel, note_key) in enumerate(pairs, 1):
            key = f"{channel}:{note_key}"
            state, _ = self._state("like", key, "1")
            self._count(state, "like")
            note_id = self.notes.get(note_key)
            if not self.dry_run and state == "create" and note_id is not None:
                like_note(self.accounts[channel], note_id)
                self._remember("like", key, note_id, "1")
                db.session.commit()
            self._tick("likes", done, len(pairs))

    def _slot(self, pack: Pack, slot: str) -> str | None:
        if slot == "home":
            return "home"
        if slot == "channel":
            return f"channel:{pack.channel}"
        topic_id = self.topics.get(slot.removeprefix("topic:"))
        return f"topic:{topic_id}" if topic_id else None

    def picks_(self) -> None:
        wanted: dict[str, tuple[int | None, str]] = {}
        for pack in self.packs:
            for note in pack.notes:
                for slot in note.picks:
                    wanted[f"{note.key}:{slot}"] = (
                        self.notes.get(note.key),
                        self._slot(pack, slot) or "",
                    )
        for done, (key, (note_id, slot)) in enumerate(wanted.items(), 1):
            state, source = self._state("pick", key, slot)
            exists = source is not None and db.session.get(EditorPick, source.target_id)
            if state == "unchanged" and not exists:
                state = "create"  # an editor removed it; the pack puts it back
            self._count(state, "pick")
            if not self.dry_run and state != "unchanged" and note_id and slot:
                if exists:
                    db.session.delete(exists)
                pick = EditorPick(note_id=note_id, slot=slot)
                db.session.add(pick)
                db.session.flush()
                log_action(
                    None, "pick_create", "pick", pick.id, {**pick_details(pick), "seed": key}
                )
                self._remember("pick", key, pick.id, slot)
                db.session.commit()
            self._tick("picks", done, len(wanted))
        # Picks a pack no longer holds are removed (those made by editors are never touched).
        for (kind, key), source in list(self.sources.items()):
            if kind != "pick" or key in wanted:
                continue
            pick = db.session.get(EditorPick, source.target_id)
            if pick is None:
                continue
            self.report.removed["pick"] += 1
            if not self.dry_run:
                log_action(
                    None, "pick_delete", "pick", pick.id, {**pick_details(pick), "seed": key}
                )
                db.session.delete(pick)
                db.session.delete(source)
                del self.sources[(kind, key)]
                db.session.commit()
        if not self.dry_run:
            editorial_snapshot.changed()


def _draw(job: tuple[str, str, str, str, str]) -> PreparedImage:
    """One seed picture, drawn and encoded (runs in a worker process)."""
    channel, caption, motif, seed, signature = job
    return prepare_image(render_picture(channel, caption, motif, seed=seed, signature=signature))


@contextmanager
def _picture_maker(count: int) -> Iterator[Callable[[list[Any]], Iterator[PreparedImage]]]:
    """Drawing and encoding is most of a first load: spread it over the machine's cores."""
    workers = min(os.cpu_count() or 1, 8)
    if count < 16 or workers == 1:
        yield lambda jobs: map(_draw, jobs)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield lambda jobs: pool.map(_draw, jobs, chunksize=4)


def load_seed_content(
    progress: Progress | None = None,
    *,
    dry_run: bool = False,
    packs_dir: Path | None = None,
    packs: tuple[Pack, ...] | None = None,
) -> LoadReport:
    """Load every pack (of `packs_dir`, or `packs` as given); see the module docstring.
    Raises ValueError on a broken pack."""
    packs = packs if packs is not None else all_packs(packs_dir or PACKS_DIR)
    problems = cross_check(packs)
    if problems:
        raise ValueError("the seed packs are inconsistent:\n" + "\n".join(problems))
    report = LoadReport(dry_run=dry_run)
    loader = _Loader(packs, report, progress)
    # Its jobs (indexing, notifications, covers: thousands) go to `low`, behind users' own.
    with in_background():
        for step in (
            loader.accounts_,
            loader.topics_,
            loader.notes_,
            loader.comments_,
            loader.likes_,
            loader.picks_,
        ):
            step()
        db.session.rollback() if dry_run else db.session.commit()
    return report
