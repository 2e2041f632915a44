"""Browser tests: Playwright (PyPI) driving Debian's Chromium against a live deployment
(gunicorn with three workers on SQLite, or PostgreSQL + a Redis of the test's own + an RQ
worker). No browser is ever downloaded: a missing /usr/bin/chromium fails the run
(`.ci/run` installs it).

Screenshots of every page a test visits go to `$SPROUT_TEST_OUTPUT/browser` (default
`test-output/browser` in the checkout), desktop and phone widths, to be looked at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.servers import LiveServer, RedisServer, Worker, call, server_env

CHROMIUM = os.environ.get("SPROUT_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(os.environ.get("SPROUT_TEST_OUTPUT") or ROOT / "test-output") / "browser"
ADMIN, ADMIN_PASSWORD = "boss", "boss-secret-1"
PASSWORD = "correct horse 1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Deployment:
    """A running deployment and a JSON client for setting the scene."""

    kind: str
    server: LiveServer
    processes: list[Any] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.server.base

    def api(self, method: str, path: str, user: str | None = None, body: Any = None) -> Any:
        return call(self.server.api, method, path, self.tokens.get(user) if user else None, body)

    def login(self, username: str, password: str) -> None:
        response = self.api(
            "POST", "/auth/login", body={"username": username, "password": password}
        )
        assert response.status == 200, response
        self.tokens[username] = response.body["token"]
        self.ids[username] = response.body["user"]["id"]

    def user(self, username: str, *roles: str) -> int:
        """Register an account (password `PASSWORD`) and give it roles as the admin would."""
        made = self.api("POST", "/auth/register", body={"username": username, "password": PASSWORD})
        assert made.status == 201, made
        self.tokens[username] = made.body["token"]
        self.ids[username] = made.body["user"]["id"]
        if roles:
            if ADMIN not in self.tokens:
                self.login(ADMIN, ADMIN_PASSWORD)
            granted = self.api(
                "PUT", f"/admin/users/{self.ids[username]}/roles", ADMIN, {"roles": list(roles)}
            )
            assert granted.status == 200, granted
        return self.ids[username]

    def note(self, author: str, title: str, **extra: Any) -> int:
        body = {"title": title, "body": f"{title}：正文", "status": "published", **extra}
        made = self.api("POST", "/notes", author, body)
        assert made.status == 201, made
        return int(made.body["id"])

    def logs(self) -> str:
        return "\n".join(p.output()[-3000:] for p in self.processes)


@pytest.fixture(params=["sqlite", "services"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    extra = {
        "SPROUT_RATE_LIMITS": "off",
        "SPROUT_ADMIN_USERNAME": ADMIN,
        "SPROUT_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    processes: list[Any] = []
    if request.param == "sqlite":
        db_file = tmp_path / "sprout.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), db_file)
        env = server_env(f"sqlite:///{db_file}", tmp_path / "data", extra=extra)
    else:
        from tests.conftest import _clean_postgres

        url = request.getfixturevalue("pg_database")
        _clean_postgres(url)
        redis_server = RedisServer(tmp_path / "redis.log")
        redis_server.start()
        processes.append(redis_server)
        env = {**server_env(url, tmp_path / "data", redis_url=redis_server.url), **extra}
        worker = Worker(env, tmp_path / "worker.log")
        worker.start()
        processes.append(worker)
    # as `make run` does: migrations, the bootstrap admin (no seed content: SEED_ON_EMPTY=0)
    init = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "app", "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert init.returncode == 0, init.stderr[-3000:]
    server = LiveServer(env, tmp_path / "gunicorn.log")
    server.start()
    processes.append(server)
    deployment = Deployment(request.param, server, processes)
    yield deployment
    for process in reversed(processes):
        process.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is required for the browser tests and {CHROMIUM} is missing "
            "(apt-get install chromium; .ci/run does it)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Page:
    """A Playwright page that records console errors and failed requests and saves a
    screenshot of each page it is asked to (desktop, then phone width)."""

    def __init__(self, page: Any, deployment: Deployment, name: str) -> None:
        self.page = page
        self.deployment = deployment
        self.name = name
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # a refused page (403, 400) is reported as "Failed to load resource" too: statuses
        # are checked by `_response` (sub-resources) and by the tests (documents)
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _response(self, response: Any) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            self.errors.append(f"{response.status} {response.url}")

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.deployment.base + path)
        return response

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        self.goto("/console/login")
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.page.click("button[type=submit].primary")
        self.page.wait_for_load_state()

    def shot(self, label: str) -> Path:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", f"{self.name}-{self.deployment.kind}-{label}".lower())
        desktop = OUTPUT / f"{slug}.png"
        self.page.set_viewport_size({"width": 1280, "height": 900})
        self.page.screenshot(path=str(desktop), full_page=True)
        self.page.set_viewport_size({"width": 390, "height": 844})
        self.page.screenshot(path=str(OUTPUT / f"{slug}-phone.png"), full_page=True)
        self.page.set_viewport_size({"width": 1280, "height": 900})
        return desktop


@pytest.fixture
def page(browser: Any, deployment: Deployment, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    wrapped = Page(context.new_page(), deployment, request.node.originalname)
    yield wrapped
    context.close()
