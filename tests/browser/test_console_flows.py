"""What staff do every day, in a real browser against a live deployment: a moderator
removes a reported note with a mute and finds it in the audit log; an editor pins a note and
the app's feed shows it first; the dashboard's charts render. Both deployments (see
conftest); screenshots of each page under test-output/browser."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.browser.conftest import ADMIN, ADMIN_PASSWORD, Deployment, Page


def _wait_until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Jobs run on the worker in services mode: poll until `check()` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def test_a_moderator_removes_a_reported_note_with_a_mute(deployment: Deployment, page: Page):
    deployment.user("mod", "moderator")
    deployment.user("author")
    note = deployment.note("author", "加我微信买便宜货")
    for i in range(3):
        deployment.user(f"reporter{i}")
        made = deployment.api(
            "POST",
            "/reports",
            f"reporter{i}",
            {"target_type": "note", "target_id": note, "reason_code": "spam_ads.repeated"},
        )
        assert made.status == 201, made
    queue = _wait_until(lambda: deployment.api("GET", "/moderation/cases", "mod").body["items"])
    assert queue and queue[0]["target_id"] == note, queue

    page.sign_in("mod")
    page.goto("/console/moderation")
    page.shot("queue")
    top = page.page.locator("tr[data-case-id]").first
    case_id = top.get_attribute("data-case-id")
    assert case_id == str(queue[0]["id"])
    top.locator("button[name=claim]").click()
    page.page.wait_for_load_state()
    page.goto(f"/console/moderation/cases/{case_id}")
    assert "加我微信买便宜货" in page.page.content()
    page.shot("case")
    form = page.page.locator("form#decision")
    form.locator("[name=content]").select_option("remove")
    form.locator("[name=account]").select_option("mute")
    form.locator("[name=note]").fill("广告，按阶梯禁言")
    form.locator("button[type=submit]").click()
    page.page.wait_for_load_state()
    page.shot("decided")

    # the app sees it: the note is gone for readers and the author is muted
    assert deployment.api("GET", f"/notes/{note}").status == 404
    muted = deployment.api("POST", "/notes", "author", {"title": "再发一条", "status": "published"})
    assert muted.status == 403 and muted.body["error"]["code"] == "account_muted", muted

    page.goto("/console/moderation/log")
    page.shot("audit-log")
    assert page.page.locator("tr[data-action=content_remove]").count() >= 1
    assert page.page.locator("tr[data-action=mute]").count() >= 1
    assert not page.errors, page.errors


def test_an_editor_pins_a_note_and_the_feed_shows_it_first(deployment: Deployment, page: Page):
    deployment.user("eddie", "editor")
    deployment.user("writer")
    notes = [deployment.note("writer", f"笔记{i}") for i in range(6)]
    quiet = notes[0]  # the oldest, nothing ranks it first on its own

    page.sign_in("eddie")
    page.goto("/console/editorial")
    page.shot("editorial")
    form = page.page.locator("form#pick-form")
    form.locator("[name=note_id]").fill(str(quiet))
    slot = form.locator("[name=slot]")
    if slot.evaluate("e => e.tagName") == "SELECT":
        slot.select_option("home")
    else:
        slot.fill("home")
    form.locator("[name=position]").fill("1")
    form.locator("button[type=submit]").click()
    page.page.wait_for_load_state()
    page.shot("picked")
    assert page.page.locator(f"tr[data-note-id='{quiet}']").count() >= 1

    def first_card() -> int | None:
        feed = deployment.api("GET", "/feeds/discover?limit=5")
        return feed.body["items"][0]["id"] if feed.status == 200 and feed.body["items"] else None

    assert _wait_until(lambda: first_card() == quiet), first_card()
    assert not page.errors, page.errors


def test_the_dashboard_charts_render_without_console_errors(deployment: Deployment, page: Page):
    deployment.user("someone")
    deployment.note("someone", "今天的早餐")
    page.sign_in(ADMIN, ADMIN_PASSWORD)
    page.goto("/console/dashboard")
    images = page.page.locator("figure.chart img.chart-img")
    assert images.count() >= 5
    page.page.wait_for_load_state("networkidle")
    for i in range(images.count()):
        image = images.nth(i)
        loaded = image.evaluate("img => img.complete && img.naturalWidth > 0")
        assert loaded, image.get_attribute("src")
    page.shot("dashboard")
    page.goto("/console/users")
    page.page.fill("form#user-search [name=q]", "someone")
    page.page.locator("form#user-search button").click()
    page.page.wait_for_load_state()
    assert "someone" in page.page.content()
    page.shot("users")
    assert not page.errors, page.errors
