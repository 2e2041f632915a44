"""The cold-start packs: one TOML file per channel in `seed_content/packs/`, read and checked
here before anything is loaded. `python -m seed_content.packs` checks every pack."""

from __future__ import annotations

import re
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

PACKS_DIR = Path(__file__).parent / "packs"
CHANNEL_CODES = (
    "beauty",
    "food",
    "travel",
    "fashion",
    "home",
    "tech",
    "fitness",
    "reading",
    "parenting",
    "pets",
)
Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,60}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Colour = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
Slot = Annotated[str, StringConstraints(pattern=r"^(home|channel|topic:[a-z0-9-]+)$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Avatar(Strict):
    background: Colour
    glyph: Annotated[str, StringConstraints(min_length=1, max_length=2)]


class Account(Strict):
    username: Annotated[str, StringConstraints(pattern=r"^sprout_[a-z]+$")]
    nickname: Annotated[str, StringConstraints(min_length=2, max_length=20)]
    bio: Annotated[str, StringConstraints(min_length=10, max_length=200)]
    avatar: Avatar


class TopicItem(Strict):
    key: Key
    name: Annotated[str, StringConstraints(min_length=2, max_length=20)]
    description: Annotated[str, StringConstraints(min_length=20, max_length=500)]
    guide: Annotated[str, StringConstraints(min_length=30, max_length=1000)]


class Picture(Strict):
    """A picture rendered for the pack (`seed_content.render`): a caption on an illustrated
    card in the channel's palette."""

    caption: Annotated[str, StringConstraints(min_length=1, max_length=16)]
    motif: Literal["circles", "stripes", "grid", "waves", "blocks", "dots"] = "circles"


class CommentItem(Strict):
    by: Literal[CHANNEL_CODES]  # type: ignore[valid-type]  # the official account of a channel
    body: Annotated[str, StringConstraints(min_length=2, max_length=300)]


class NoteItem(Strict):
    key: Key
    title: Annotated[str, StringConstraints(min_length=4, max_length=20)]
    body: Annotated[str, StringConstraints(min_length=80, max_length=1000)]
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=20)]] = Field(
        min_length=1, max_length=6
    )
    topics: list[Key] = Field(default_factory=list, max_length=2)
    images: list[Picture] = Field(min_length=1, max_length=4)
    picks: list[Slot] = Field(default_factory=list)
    comments: list[CommentItem] = Field(default_factory=list, max_length=5)


class Pack(Strict):
    channel: Literal[CHANNEL_CODES]  # type: ignore[valid-type]
    account: Account
    topics: list[TopicItem] = Field(min_length=2)
    notes: list[NoteItem] = Field(min_length=30)


class PackError(ValueError):
    """A pack that cannot be read, named by its file."""


def read_pack(path: Path) -> Pack:
    try:
        with path.open("rb") as handle:
            return Pack.model_validate(tomllib.load(handle))
    except (ValidationError, tomllib.TOMLDecodeError) as exc:
        raise PackError(f"{path}: {exc}") from exc


def all_packs(directory: Path = PACKS_DIR) -> tuple[Pack, ...]:
    return tuple(read_pack(path) for path in sorted(directory.glob("*.toml")))


def cross_check(packs: tuple[Pack, ...], *, complete: bool = True) -> list[str]:
    """What one pack cannot check alone: unique keys and names, topics that exist, and (for
    the whole set) a pack for every channel and every commenting account."""
    problems = []
    present = {pack.channel for pack in packs}
    if complete:
        problems += [
            f"no pack for the channel {code}" for code in CHANNEL_CODES if code not in present
        ]
    topic_keys = Counter(topic.key for pack in packs for topic in pack.topics)
    topic_names = Counter(topic.name for pack in packs for topic in pack.topics)
    note_keys = Counter(note.key for pack in packs for note in pack.notes)
    titles = Counter(note.title for pack in packs for note in pack.notes)
    for label, counter in (
        ("topic key", topic_keys),
        ("topic name", topic_names),
        ("note key", note_keys),
        ("note title", titles),
    ):
        problems += [f"{label} used twice: {value}" for value, n in counter.items() if n > 1]
    for pack in packs:
        if pack.account.username != f"sprout_{pack.channel}":
            problems.append(f"{pack.channel}: the account must be sprout_{pack.channel}")
        for note in pack.notes:
            if not note.key.startswith(f"{pack.channel}-"):
                problems.append(f"{note.key}: note keys start with '{pack.channel}-'")
            for key in note.topics:
                if key not in topic_keys:
                    problems.append(f"{note.key}: no topic {key!r} in any pack")
            for slot in note.picks:
                if slot.startswith("topic:") and slot[6:] not in note.topics:
                    problems.append(f"{note.key}: picked for {slot} but not under that topic")
            for comment in note.comments:
                if complete and comment.by not in present:
                    problems.append(f"{note.key}: no pack (account) for the commenter {comment.by}")
            if re.search(r"#\S", note.body):
                problems.append(f"{note.key}: tags go in `tags`, not as #hashtags in the body")
    return problems


def main(paths: list[str]) -> int:
    files = [Path(p) for p in paths] or sorted(PACKS_DIR.glob("*.toml"))
    packs = []
    failed = False
    for path in files:
        try:
            packs.append(read_pack(path))
        except PackError as exc:
            failed = True
            print(exc)
    problems = cross_check(tuple(packs), complete=not paths) if not failed else []
    for problem in problems:
        print(problem)
    notes = sum(len(p.notes) for p in packs)
    topics = sum(len(p.topics) for p in packs)
    print(f"{len(packs)} packs, {topics} topics, {notes} notes")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
