"""`flask init`, the first half of `make run`: one line per step, then a short summary (what
is there, where it lives, where it serves, how to sign in), never raw dictionaries."""

from __future__ import annotations

import re

import seed_content.loader
from tests.api.test_cold_start import small_packs
from tests.conftest import insert_note, make_app

ADMIN = {"admin_username": "Boss", "admin_password": "pw-from-env-1"}


def _init(app) -> str:  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    assert "{" not in result.output, result.output  # no raw dictionaries
    return result.output


def test_a_first_start_seeds_and_says_what_it_made(database_url, tmp_path, monkeypatch):
    real = seed_content.loader.load_seed_content
    monkeypatch.setattr(
        seed_content.loader,
        "load_seed_content",
        lambda progress=None: real(progress=progress, packs=small_packs(1)),
    )
    app = make_app(database_url, tmp_path, seed_on_empty=True, port=5123, **ADMIN)
    with app.app_context():
        output = _init(app)
    for line in (
        r"✓ database +(\d+ migrations applied|up to date) \(\d+\.\d s\)",
        r"✓ admin +'boss' ready",
        r"✓ seed content +created 10 accounts, \d+ topics, \d+ notes",
        r"✓ rankings +ran .*rebuild_hot",
        r"✓ search index +indexed \d+ notes, 11 users, \d+ topics",
        r"Set up in \d+\.\d s\.",
        r"content +11 users, \d+ notes, \d+ topics",
        rf"data +{re.escape(str(tmp_path))}",
        r"URL +http://127\.0\.0\.1:5123$",
        r"API docs +http://127\.0\.0\.1:5123/api/v1/docs$",
        r"admin +'boss', password SPROUT_ADMIN_PASSWORD: POST /api/v1/auth/login",
    ):
        assert re.search(line, output, re.MULTILINE), (line, output)


def test_a_second_start_only_checks(database_url, tmp_path):
    app = make_app(database_url, tmp_path, seed_on_empty=True)
    with app.app_context():
        author = app.test_client().post(
            "/api/v1/auth/register", json={"username": "ann", "password": "correct horse 1"}
        )
        insert_note(author.get_json()["user"]["id"])
        _init(app)  # builds the search index once
        output = _init(app)
    assert re.search(r"✓ database +up to date", output)
    assert re.search(r"✓ admin +none configured", output)
    assert "seed content" not in output and "search index" not in output
    assert re.search(r"content +1 user, 1 note$", output, re.MULTILINE), output
    assert "SPROUT_ADMIN_USERNAME" in output
