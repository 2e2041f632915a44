"""HTTP blueprints: parse → call one service → serialise."""

from __future__ import annotations

import importlib
from types import ModuleType

# Each module here defines `bp`; create_app registers them in this order.
AREA_MODULES = (
    "app.api.media",
    "app.api.notes",
    "app.api.comments",
    "app.api.albums",
    "app.api.shares",
    "app.api.social",
    "app.api.topics",
    "app.api.feeds",
    "app.api.notifications",
    "app.api.admin",
)


def BLUEPRINT_MODULES() -> list[ModuleType]:
    modules = []
    for name in AREA_MODULES:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return modules
