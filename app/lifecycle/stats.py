"""The recall report's intervals: Wilson score intervals for each arm's return rate and
Newcombe's hybrid score interval (his method 10) for the difference treated − holdout.

Each user is one trial (returned or not), so the two-proportion intervals are the right ones
here. Newcombe's interval is built from the two Wilson intervals and, unlike the textbook
Wald interval p1 − p2 ± z·se, keeps sensible coverage for small groups and rates near 0 or 1.
scipy gives the Wilson intervals (`binomtest(...).proportion_ci(method="wilson")`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    method: str

    def as_dict(self) -> dict[str, float | str]:
        return {"low": round(self.low, 6), "high": round(self.high, 6), "method": self.method}


def wilson(successes: int, trials: int, confidence: float = 0.95) -> Interval | None:
    if trials <= 0:
        return None
    ci = stats.binomtest(successes, trials).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return Interval(float(ci.low), float(ci.high), "wilson")


def newcombe_difference(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, confidence: float = 0.95
) -> Interval | None:
    """Interval for p_a − p_b (Newcombe 1998, method 10); None when either group is empty."""
    a = wilson(successes_a, trials_a, confidence)
    b = wilson(successes_b, trials_b, confidence)
    if a is None or b is None:
        return None
    p_a, p_b = successes_a / trials_a, successes_b / trials_b
    difference = p_a - p_b
    low = difference - math.sqrt((p_a - a.low) ** 2 + (b.high - p_b) ** 2)
    high = difference + math.sqrt((a.high - p_a) ** 2 + (p_b - b.low) ** 2)
    return Interval(max(low, -1.0), min(high, 1.0), "newcombe_wilson")
