"""HTTP blueprints: parse → call one service → serialise."""

from __future__ import annotations

from types import ModuleType


def blueprint_modules() -> list[ModuleType]:
    """Every module that defines a `bp`, in the order create_app registers them."""
    from app.api import (
        accounts,
        admin,
        albums,
        comments,
        editorial,
        feeds,
        health,
        media,
        media_files,
        notes,
        notifications,
        openapi,
        search,
        shares,
        social,
        topics,
    )
    from app.growth import api as growth_api
    from moderation import api as moderation_api

    return [
        health,
        openapi,
        media_files,
        accounts,
        media,
        notes,
        comments,
        albums,
        shares,
        social,
        topics,
        feeds,
        notifications,
        search,
        editorial,
        growth_api,
        moderation_api,
        admin,
    ]
