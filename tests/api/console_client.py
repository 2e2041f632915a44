"""A browser-less console user for test-client tests: signs in through the form and posts
forms with the page's CSRF token, as a browser would."""

from __future__ import annotations

import re
from typing import Any

from flask import g, has_app_context
from flask.testing import FlaskClient

PASSWORD = "correct horse 1"  # what `Api.register` gives every account
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


class Console:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token: str | None = None
        # The tests share one app context, and Flask-WTF keeps the token it last made there:
        # a second browser must not start with the first one's.
        if has_app_context():
            g.pop("csrf_token", None)

    def sign_in(self, username: str, password: str = PASSWORD) -> Any:
        page = self.client.get("/console/login")
        assert page.status_code == 200
        response = self.client.post(
            "/console/login",
            data={"username": username, "password": password, "csrf_token": csrf_token(page.text)},
        )
        if response.status_code == 303:
            self.token = csrf_token(self.client.get("/console/login").text)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """A form post with the session's CSRF token (`csrf_token=None` in data leaves it out)."""
        form = {"csrf_token": self.token, **(data or {})}
        form = {k: v for k, v in form.items() if v is not None}
        return self.client.post(path, data=form, **kwargs)
