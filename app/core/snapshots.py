"""Process-local copies of small, rarely changed tables (the keyword filter, editorial picks
and boosts) that every request reads.

Each process keeps what it built and rebuilds it when the data's version moves. The version
is a counter in the shared state (Redis, or the embedded store every process of `make run`
opens), so every process sees a change at its next check, at most `check_seconds` (5 s)
later. If the counter cannot be read (Redis down) the process keeps serving what it built
and checks again later."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from flask import current_app

from app.core.extensions import shared_state

T = TypeVar("T")
log = logging.getLogger(__name__)


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

    def _version(self) -> int | None:
        try:
            return shared_state().get_int(self.version_key)
        except Exception:  # Redis down: serve what was built, check again later
            log.warning("version of %s unreadable; serving the last build", self.name)
            return None

    def changed(self) -> None:
        """Call after committing a change: every process rebuilds at its next check (this
        one at once)."""
        try:
            shared_state().incr(self.version_key)
        except Exception:
            log.warning("version of %s not bumped; other processes see it on restart", self.name)
        current_app.extensions.pop(f"sprout.{self.name}", None)

    def get(self) -> T:
        built: _Built[T] | None = current_app.extensions.get(f"sprout.{self.name}")
        now = time.monotonic()
        if built is not None and now - built.checked < self._check_seconds:
            return built.value
        with self._lock:
            version = self._version()
            if built is None or (version is not None and built.version != version):
                built = _Built(version if version is not None else -1, now, self._build())
            else:
                built.checked = now
            current_app.extensions[f"sprout.{self.name}"] = built
        return built.value
