"""The app's search backend, chosen from the settings: Elasticsearch when
`ELASTICSEARCH_URL` is set, else the embedded index in the data directory."""

from __future__ import annotations

from flask import current_app

from app.core.config import Settings
from app.search.backend import SearchBackend


def get_search() -> SearchBackend:
    """The search backend: Elasticsearch when `ELASTICSEARCH_URL` is set, else the embedded
    index in the data directory. One per app (it keeps a connection per thread)."""
    backend = current_app.extensions.get("sprout.search")
    if backend is None:
        settings: Settings = current_app.config["SPROUT"]
        # Imported here: each backend pulls in its own libraries (the Elasticsearch client
        # costs about 0.4 s a process), and a deployment only ever uses one.
        if settings.elasticsearch_url:
            from app.search.elasticsearch import ElasticsearchSearch

            backend = ElasticsearchSearch(settings.elasticsearch_url)
        else:
            from app.search.embedded import EmbeddedSearch

            backend = EmbeddedSearch(settings.data_dir / "search.sqlite3")
        current_app.extensions["sprout.search"] = backend
    return backend
