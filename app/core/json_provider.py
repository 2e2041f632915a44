"""Responses serialised with orjson: feed pages are the hottest path and the standard
library's encoder was a visible share of their time. Request bodies are still parsed by the
standard library, which keeps integers exact (orjson turns huge integers into floats)."""

from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_NON_STR_KEYS


class OrjsonProvider(DefaultJSONProvider):
    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:  # an explicit option (indent, sort_keys…) asked for: the standard encoder
            return super().dumps(obj, **kwargs)
        return self._encode(obj).decode()

    def response(self, *args: Any, **kwargs: Any) -> Any:
        body = self._encode(self._prepare_response_obj(args, kwargs))
        return self._app.response_class(body, mimetype=self.mimetype)

    def _encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=self.default, option=_OPTIONS)
        except TypeError:  # integers beyond 64 bits: the standard encoder has no such limit
            return super().dumps(obj, separators=(",", ":")).encode()
