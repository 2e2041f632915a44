"""The report-reason taxonomy, penalty ladder and aggravating circumstances, as data
(`taxonomy.json`, from the community convention of seeds 000-002)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

PATH = Path(__file__).with_name("taxonomy.json")


@dataclass(frozen=True)
class Reason:
    code: str
    category: str
    zh: str
    en: str
    severity: int  # 1 (superstition, clickbait) … 5 (illegal)
    aggravating: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    categories: tuple[dict, ...]
    reasons: dict[str, Reason]
    ladder: tuple[str, ...]
    aggravating: dict[str, dict]

    def reason(self, code: str) -> Reason | None:
        return self.reasons.get(code)


@functools.cache
def taxonomy() -> Taxonomy:
    data = json.loads(PATH.read_text(encoding="utf-8"))
    reasons: dict[str, Reason] = {}
    for category in data["categories"]:
        for reason in category["reasons"]:
            if reason["code"] in reasons or not reason["code"].startswith(category["code"] + "."):
                raise ValueError(f"bad or repeated reason code {reason['code']!r}")
            reasons[reason["code"]] = Reason(
                reason["code"],
                category["code"],
                reason["zh"],
                reason["en"],
                category["severity"],
                tuple(reason.get("aggravating", ())),
            )
    aggravating = {item["code"]: item for item in data["aggravating"]}
    unknown = {a for r in reasons.values() for a in r.aggravating} - set(aggravating)
    if unknown:
        raise ValueError(f"unknown aggravating circumstances {sorted(unknown)}")
    return Taxonomy(tuple(data["categories"]), reasons, tuple(data["ladder"]), aggravating)
