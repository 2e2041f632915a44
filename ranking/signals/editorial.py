"""Editorial: the interface for picks and boosts; the data arrives with the cold-start issue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class EditorialSource(Protocol):
    """Where editors' choices come from (in memory here, a database in the service)."""

    def picks(self, slot: str, now: float) -> list[tuple[int, int | None]]:
        """(note_id, position) for a slot such as "discover"; position None = blend freely."""
        ...

    def boosts(self, now: float) -> dict[int, float]:
        """note_id → extra weight for notes editors want seen more."""
        ...

    def author_boosts(self, now: float) -> dict[int, float]:
        """author_id → extra weight (e.g. newly onboarded creators)."""
        ...


class StaticEditorial:
    """In-memory editorial data for tests, offline evaluation and the cold-start fallback."""

    def __init__(
        self,
        picks: Mapping[str, Sequence[tuple[int, int | None]]] | Sequence[int] | None = None,
        boosts: Mapping[int, float] | None = None,
        author_boosts: Mapping[int, float] | None = None,
    ) -> None:
        # A bare list of note ids means "these picks, unpositioned, for every slot".
        if picks is None:
            self._picks: dict[str, list[tuple[int, int | None]]] = {}
            self._default: list[tuple[int, int | None]] = []
        elif isinstance(picks, Mapping):
            self._picks = {k: [(int(n), p) for n, p in v] for k, v in picks.items()}
            self._default = []
        else:
            self._picks = {}
            self._default = [(int(n), None) for n in picks]
        self._boosts = dict(boosts or {})
        self._author_boosts = dict(author_boosts or {})

    def picks(self, slot: str, now: float) -> list[tuple[int, int | None]]:
        return list(self._picks.get(slot, self._default))

    def boosts(self, now: float) -> dict[int, float]:
        return dict(self._boosts)

    def author_boosts(self, now: float) -> dict[int, float]:
        return dict(self._author_boosts)
