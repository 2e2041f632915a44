"""The feeds domain's per-app state: its tunables and the caches of this process.

Made once when the app registers the feeds blueprint (`init_app`), read through
`feeds_state()`. Tests run several apps in one process, so none of this is module-global.
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import dataclass, replace
from typing import Any

from flask import Flask, current_app

from app.core.config import Settings
from app.feeds.caches import (
    CatalogueCache,
    FallbackOrder,
    FeatureCache,
    ModelCache,
    ModelKeeper,
)
from app.feeds.config import FEEDS, FeedsConfig
from ranking.learn import BlendParams
from ranking.signals.factors import FactorModel
from ranking.signals.itemcf import ItemCF

log = logging.getLogger(__name__)

_KEY = "sprout.feeds"


@dataclass
class FeedsState:
    config: FeedsConfig
    catalogue: CatalogueCache
    itemcf: ModelCache[ItemCF]
    blend: ModelCache[BlendParams]  # the learned blend parameters (`app.feeds.blend_model`)
    # the blend's ALS/EASE component when the fit keeps it (None: stale, none served)
    extra: ModelCache[FactorModel | None]
    features: FeatureCache
    fallback_order: FallbackOrder  # notes past the ranked candidates, in fallback order

    @classmethod
    def create(cls, settings: Settings, config: FeedsConfig = FEEDS) -> FeedsState:
        caching = settings.ranking_cache_seconds > 0
        blend: ModelCache[BlendParams] = ModelCache(
            "blend", _load_blend, config.model_check_seconds
        )
        return cls(
            config=config,
            catalogue=CatalogueCache(hot_half_life=lambda: _half_life(blend)),
            itemcf=ModelCache("itemcf", ItemCF.from_bytes, config.model_check_seconds),
            blend=blend,
            extra=ModelCache("extra", _load_extra, config.model_check_seconds),
            features=FeatureCache(
                config.feature_ttl_seconds if caching else 0.0, config.feature_cache_size
            ),
            fallback_order=FallbackOrder(
                config.feature_ttl_seconds if caching else 0.0, config.fallback_order_size
            ),
        )

    @property
    def models(self) -> tuple[ModelCache[Any], ...]:
        """The stored ranking models this process serves (the keeper loads each of them)."""
        return (self.itemcf, self.blend, self.extra)

    def forget_models(self) -> None:
        """Drop the cached models and catalogue: the next request loads the new ones."""
        for model in self.models:
            model.invalidate()
        self.catalogue.invalidate()

    def configure(self, **changes: Any) -> None:
        """Change tunables on a running app (tests: e.g. `rng_seed`)."""
        self.config = replace(self.config, **changes)


def _half_life(blend: ModelCache[BlendParams]) -> float:
    """The hot half-life of the stored blend parameters (the configured one without them)."""
    params = blend.get()
    return (params or BlendParams()).hot_half_life_seconds


def _load_blend(blob: bytes) -> BlendParams:
    """The stored JSON, validated (`BlendParams.from_dict`): anything malformed → defaults."""
    try:
        return BlendParams.from_dict(json.loads(blob.decode("utf-8")))
    except (UnicodeDecodeError, ValueError):
        return BlendParams.defaults(note="stored parameters rejected: not JSON")


def _load_extra(blob: bytes) -> FactorModel | None:
    """The stored ALS/EASE model; an empty blob marks it stale (the blend dropped it), and a
    blob that does not load serves no component rather than failing requests."""
    if not blob:
        return None
    try:
        return FactorModel.from_bytes(blob)
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile):
        log.warning("stored extra model rejected", exc_info=True)
        return None


def init_app(app: Flask, config: FeedsConfig = FEEDS) -> FeedsState:
    state = FeedsState.create(app.config["SPROUT"], config)
    app.extensions[_KEY] = state
    return state


def feeds_state() -> FeedsState:
    """This app's feeds state."""
    return current_app.extensions[_KEY]  # type: ignore[no-any-return]


def start_model_keeper(app: Flask) -> ModelKeeper:
    """A web process (`app.wsgi`) loads its ranking models now, in a thread, and keeps them
    current there (`ModelKeeper`): no page waits for a load."""
    state: FeedsState = app.extensions[_KEY]
    keeper = ModelKeeper(
        state.models,
        lambda: state.catalogue.get(app.config["SPROUT"]),
        state.config.model_check_seconds,
    )
    keeper.start(app)
    return keeper


def forget_cached_models() -> None:
    """After the periodic ranking jobs were run on demand (admin)."""
    feeds_state().forget_models()
