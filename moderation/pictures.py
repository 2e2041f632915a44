"""Text drawn in pictures: the lines OCR read in a note's pictures (`Image.text_lines`) pass
the same text filter as a note's own text, and a match holds the note for review with the
words found and where (`Case.evidence["picture_text"]`).

Why every author and not only new accounts, as for a note's own text: writing a phone number
or a WeChat id into a picture is itself the evasion the rules name ("symbols or images used
to evade ad review"). External links count as in text, only from new accounts: a picture of
a box or a shop sign shows its maker's site often, innocently. A picture never blocks a note
outright: OCR misreads, so a match is always a `review` for a moderator.

OCR's usual confusions are undone before matching where digits are expected (O → 0, l → 1 in
the middle of a run of digits); lines are put in reading order (rows, then left to right) and a
contact detail split over two of them (微信 beside or above the id) is matched on the pair;
"+V" (加V, written with the sign) counts as the cue it stands for; and an id cut short where
OCR's box ended (a cue and 4-5 letters or digits ending the line, 威信f3ge) still counts: the
labelled set (`benchmarks/ocr_eval.py`) found each of these among its misses.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select

from app.core.extensions import db
from app.media.models import Image
from moderation.keywords import text_filter
from moderation.screening import Screening
from moderation.text_filter import Match, TextFilter, normalize

EVIDENCE_KEY = "picture_text"

# Letters OCR reads for digits: a run of digits with such letters inside, or at its end.
_LOOKALIKE = str.maketrans(
    {"O": "0", "o": "0", "D": "0", "Q": "0", "l": "1", "I": "1", "|": "1", "i": "1", "Z": "2",
     "z": "2", "S": "5", "s": "5", "B": "8", "b": "6", "g": "9", "q": "9"}
)  # fmt: skip
_PLUS_V = re.compile(r"[+＋]\s*([vV])(?![a-zA-Z])")
# A contact cue with an id cut short at the end of the line (OCR's box stopped early).
_TRUNCATED = re.compile(
    r"(?:微信|威信|薇信|v信|vx|wx|加v|qq|扣扣|企鹅)(?:号|id)?([a-z][a-z0-9_]{3,4}|[0-9]{4})$"
)
_DIGIT_RUN = re.compile(r"[0-9][0-9OoDQlI|iZzSsBbgq \-]{5,}[0-9OoDQlI|iZzSsBbgq]")


def undo_confusions(text: str) -> str:
    """Letters read for digits inside a long run of digits become the digits (a phone number
    read as 138O0l38000): only where at least 8 real digits surround them."""

    def fix(hit: re.Match[str]) -> str:
        run = hit.group(0)
        if sum(ch.isdigit() for ch in run) < 8:
            return run
        return run.translate(_LOOKALIKE)

    return _DIGIT_RUN.sub(fix, text)


def _box(lines: Sequence[dict[str, Any]]) -> list[list[int]]:
    """The four corners of the line's box, or of the box around several lines."""
    if len(lines) == 1:
        return [list(map(int, p)) for p in lines[0]["box"]]
    xs = [int(p[0]) for line in lines for p in line["box"]]
    ys = [int(p[1]) for line in lines for p in line["box"]]
    return [[min(xs), min(ys)], [max(xs), min(ys)], [max(xs), max(ys)], [min(xs), max(ys)]]


def _truncated_contact(text: str) -> list[Match]:
    normal, origins = normalize(text)
    hit = _TRUNCATED.search(normal)
    if hit is None:
        return []
    start, end = origins[hit.start()], origins[hit.end() - 1] + 1
    return [Match("contact", text[start:end], "review", "spam_ads", start, end)]


def _matches(scanner: TextFilter, text: str, new_account: bool, *, at_end: bool) -> list[Match]:
    """The filter's matches on the line as read and with OCR's confusions undone; `at_end`:
    the text ends where a line ended (an id cut short there still counts)."""
    found = {}
    plus_v = _PLUS_V.sub(r"加\1", text)
    for variant in dict.fromkeys((text, undo_confusions(text), plus_v)):
        matches = scanner.scan(variant)
        if at_end and not any(m.kind == "contact" for m in matches):
            matches += _truncated_contact(variant)
        for match in matches:
            if match.kind == "link" and not new_account:
                continue
            found.setdefault((match.kind, match.text), match)
    return list(found.values())


def reading_order(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows top to bottom (lines whose middles are within half a line's height of each other
    share a row), each left to right."""

    def top(line: dict[str, Any]) -> float:
        return min(float(p[1]) for p in line["box"])

    def middle(line: dict[str, Any]) -> float:
        ys = [float(p[1]) for p in line["box"]]
        return (min(ys) + max(ys)) / 2

    def height(line: dict[str, Any]) -> float:
        ys = [float(p[1]) for p in line["box"]]
        return max(ys) - min(ys)

    rows: list[list[dict[str, Any]]] = []
    for line in sorted(lines, key=top):
        row = rows[-1] if rows else None
        if row and abs(middle(line) - middle(row[0])) < max(height(line), height(row[0])) / 2:
            row.append(line)
        else:
            rows.append([line])
    return [
        line for row in rows for line in sorted(row, key=lambda ln: min(p[0] for p in ln["box"]))
    ]


def find_picture_text(
    image_id: int,
    lines: Iterable[dict[str, Any]],
    *,
    new_account: bool,
    scanner: TextFilter,
) -> list[dict[str, Any]]:
    """What the filter finds in one picture's lines ({"text", "box"} each): per match its
    kind, the words matched, the line read and its box (original pixels)."""
    lines = reading_order([line for line in lines if str(line.get("text", "")).strip()])
    findings: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()

    def add(match: Match, read: Sequence[dict[str, Any]]) -> None:
        key = (match.kind, match.text)
        if key in seen:
            return
        seen.add(key)
        findings.append(
            {
                "image_id": image_id,
                "kind": match.kind,
                "text": match.text,
                "category": match.category,
                "line": " ".join(str(line["text"]) for line in read),
                "box": _box(read),
            }
        )

    for line in lines:
        for match in _matches(scanner, str(line["text"]), new_account, at_end=True):
            add(match, [line])
    for first, second in itertools.pairwise(lines):
        joined = f"{first['text']} {second['text']}"
        for match in _matches(scanner, joined, new_account, at_end=True):
            add(match, [first, second])  # only what neither line showed alone
    return findings


def verdict(findings: Sequence[dict[str, Any]]) -> Screening:
    """`review` when anything was found (never `block`: OCR can misread), with the findings
    as the case's evidence."""
    if not findings:
        return Screening(None)
    categories = {f["category"] for f in findings}
    category = "spam_ads" if "spam_ads" in categories else sorted(categories)[0]
    kinds = sorted({f["kind"] for f in findings} | {EVIDENCE_KEY})
    return Screening("review", category, kinds, {EVIDENCE_KEY: list(findings)})


def screen_pictures(image_ids: Sequence[int], *, new_account: bool) -> Screening:
    """Screen the text already read in these pictures (those not read yet are screened when
    their text is, `facade.screen_picture_text_later`)."""
    if not image_ids:
        return Screening(None)
    rows = db_lines(image_ids)
    scanner = text_filter()
    findings = [
        finding
        for image_id in image_ids
        if rows.get(image_id)
        for finding in find_picture_text(
            image_id, rows[image_id], new_account=new_account, scanner=scanner
        )
    ]
    return verdict(findings)


def db_lines(image_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The lines read in each of these pictures (none for a picture not read yet)."""
    return {
        image_id: list(lines or [])
        for image_id, lines in db.session.execute(
            select(Image.id, Image.text_lines).where(Image.id.in_(list(image_ids)))
        )
    }
