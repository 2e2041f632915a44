"""HTTP blueprints: parse → call one service → serialise."""

from __future__ import annotations

from types import ModuleType


def blueprint_modules() -> list[ModuleType]:
    """Every module that defines a `bp`, in the order create_app registers them."""
    from app.accounts import api as accounts
    from app.admin import api as admin
    from app.console import web as console
    from app.core import health, openapi
    from app.creators import api as creators
    from app.editorial import api as editorial
    from app.experiments import api as experiments
    from app.feeds import api as feeds
    from app.growth import api as growth_api
    from app.lifecycle import api as lifecycle
    from app.media import api as media
    from app.media import files_api as media_files
    from app.notes.api import albums, comments, notes, shares
    from app.notifications import api as notifications
    from app.search import api as search
    from app.social import api as social
    from app.topics import api as topics
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
        experiments,
        lifecycle,
        creators,
        console,
    ]
