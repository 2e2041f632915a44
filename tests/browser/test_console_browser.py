"""The console in a real browser (Chromium via Playwright) against a live deployment: the
flows the issue names, each on SQLite (gunicorn, three workers) and on PostgreSQL + Redis +
an RQ worker. Every page visited is saved as a screenshot (see conftest)."""

from __future__ import annotations

from tests.browser.conftest import ADMIN, ADMIN_PASSWORD, Deployment, Page


def test_a_plain_user_is_refused_and_sees_no_staff_data(deployment: Deployment, page: Page):
    deployment.user("plain")
    page.sign_in("plain")
    for section in ("moderation", "editorial", "dashboard", "users"):
        response = page.goto(f"/console/{section}")
        assert response.status == 403, section
        assert page.page.locator("h1").inner_text() == "无权访问"
        assert page.page.locator("table, [data-case-id], .chart").count() == 0
    page.shot("refused")
    assert not page.errors, page.errors


def test_a_form_posted_without_its_csrf_token_is_refused(deployment: Deployment, page: Page):
    page.sign_in(ADMIN, ADMIN_PASSWORD)
    assert page.page.url.rstrip("/").endswith("/console")
    # the sign-out form, stripped of its token as a forged cross-site form would be
    page.page.eval_on_selector_all("input[name=csrf_token]", "els => els.forEach(e => e.remove())")
    page.page.click("form[action$='/console/logout'] button")
    page.page.wait_for_load_state()
    assert page.page.locator("h1").inner_text() == "表单已失效"
    page.shot("csrf-refused")
    assert page.goto("/console/dashboard").status == 200  # still signed in: nothing changed


def test_sign_in_in_english_and_out(deployment: Deployment, page: Page):
    page.goto("/console/login")
    page.shot("login")
    page.page.click("a[lang=en]")
    assert page.page.locator("h1").inner_text() == "Sign in"
    page.sign_in(ADMIN, "wrong password")
    assert "Wrong username or password" in page.page.locator(".flash.error").inner_text()
    page.sign_in(ADMIN, ADMIN_PASSWORD)
    page.shot("home")
    nav = page.page.locator("nav a").all_inner_texts()
    assert nav == ["Moderation", "Editorial", "Dashboard", "Users"]
    page.page.click("form[action$='/console/logout'] button")
    page.page.wait_for_load_state()
    assert "/console/login" in page.page.url
    assert not page.errors, page.errors
