"""Process-local copies of small, rarely changed tables (the keyword filter, editorial picks
and boosts) that every request reads.

Each process keeps what it built and rebuilds it when the data's version moves: a counter in
Redis in services mode (every process sees a change at its next check, at most
`check_seconds` later), the app's own counter otherwise (one process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from flask import current_app

from app.extensions import get_redis

T = TypeVar("T")


@dataclass
class _Built(Generic[T]):
    version: int
    checked: float
    value: T


class VersionedSnapshot(Generic[T]):
    def __init__(self, name: str, build: Callable[[], T], check_seconds: float = 5.0) -> None:
        self.name = name
        self.version_key = f"sprout:{name}:version"
        self._build = build
        self._check_seconds = check_seconds
        self._lock = threading.Lock()

    def _version(self) -> int:
        connection = get_redis()
        if connection is not None:
            return int(connection.get(self.version_key) or 0)
        return int(current_app.extensions.get(f"sprout.{self.name}.version", 0))

    def changed(self) -> None:
        """Call after committing a change: every process rebuilds at its next check."""
        connection = get_redis()
        if connection is not None:
            connection.incr(self.version_key)
        else:
            current_app.extensions[f"sprout.{self.name}.version"] = self._version() + 1
        current_app.extensions.pop(f"sprout.{self.name}", None)

    def get(self) -> T:
        built: _Built[T] | None = current_app.extensions.get(f"sprout.{self.name}")
        now = time.monotonic()
        if built is not None and now - built.checked < self._check_seconds:
            return built.value
        with self._lock:
            version = self._version()
            if built is None or built.version != version:
                built = _Built(version, now, self._build())
            else:
                built.checked = now
            current_app.extensions[f"sprout.{self.name}"] = built
        return built.value
