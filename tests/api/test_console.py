"""The console's shell: sign-in and sign-out, the role check on every section, CSRF,
security headers, the language, and a translation for every label."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo

from tests.api.console_client import PASSWORD, Console, csrf_token

SECTIONS = ("/console/moderation", "/console/editorial", "/console/dashboard", "/console/users")
CONSOLE = Path(__file__).resolve().parents[2] / "app" / "console"


@pytest.fixture
def console(client) -> Console:
    return Console(client)


def test_anonymous_visitors_are_sent_to_the_sign_in_form(api, console):
    for path in SECTIONS:
        response = console.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/console/login?next=")
    form = console.get("/console/login")
    assert form.status_code == 200
    assert 'name="username"' in form.text and 'name="password"' in form.text
    assert "登录" in form.text  # Chinese by default


def test_sign_in_sets_a_safe_cookie_and_sign_out_revokes_it(api, app, console):
    api.register("boss")
    api.grant("boss", "admin")
    response = console.sign_in("boss")
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here; behind TLS it is Secure (next test)
    for path in SECTIONS:
        assert console.get(path).status_code == 200, path
    saved = console.client.get_cookie("sprout_console", path="/console")
    assert saved is not None
    assert console.post("/console/logout").status_code == 303
    assert console.get("/console/moderation").status_code == 302
    # the old cookie replayed: its token was revoked with the sign-out
    console.client.set_cookie("sprout_console", saved.value, path="/console")
    assert console.get("/console/moderation").status_code == 302


def test_the_cookie_is_secure_behind_tls(api, client):
    api.register("boss")
    page = client.get("/console/login", base_url="https://console.example")
    response = client.post(
        "/console/login",
        base_url="https://console.example",
        data={"username": "boss", "password": PASSWORD, "csrf_token": csrf_token(page.text)},
        headers={"Referer": "https://console.example/console/login"},  # checked over TLS
    )
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]


def test_wrong_password_and_missing_token_are_refused(api, console):
    api.register("boss")
    wrong = console.sign_in("boss", "not the password")
    assert wrong.status_code == 400 and "用户名或密码错误" in wrong.text
    no_token = console.client.post(
        "/console/login", data={"username": "boss", "password": PASSWORD}
    )
    assert no_token.status_code == 400
    assert console.get("/console/moderation").status_code == 302  # not signed in


def test_a_plain_user_sees_nothing_of_staff_pages(api, console):
    api.register("plain")
    assert console.sign_in("plain").status_code == 303
    for path in SECTIONS:
        response = console.get(path)
        assert response.status_code == 403, path
        assert "无权访问" in response.text
    home = console.get("/console/")
    assert home.status_code == 200
    assert all(f'href="{path}"' not in home.text for path in SECTIONS)


def test_each_role_opens_its_own_sections_only(api, console):
    api.register("eddie")
    api.grant("eddie", "editor")
    console.sign_in("eddie")
    assert console.get("/console/editorial").status_code == 200
    for path in ("/console/moderation", "/console/dashboard", "/console/users"):
        assert console.get(path).status_code == 403, path


def test_a_form_posted_without_its_csrf_token_changes_nothing(api, console):
    api.register("boss")
    api.grant("boss", "admin")
    console.sign_in("boss")
    refused = console.post("/console/logout", {"csrf_token": None})
    assert refused.status_code == 400 and "安全令牌" in refused.text
    assert console.get("/console/dashboard").status_code == 200  # still signed in
    forged = console.post("/console/logout", {"csrf_token": "forged"})
    assert forged.status_code == 400


def test_pages_carry_a_strict_content_security_policy(api, console):
    response = console.get("/console/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in response.text and " style=" not in response.text
    script = console.get("/console/static/htmx.min.js")
    assert script.status_code == 200 and b"htmx" in script.data


def test_english_is_a_click_away_and_the_next_page_is_kept(api, console):
    switched = console.get("/console/lang/en?next=/console/login")
    assert switched.status_code == 302 and switched.headers["Location"] == "/console/login"
    assert "Sign in" in console.get("/console/login").text
    away = console.get("/console/lang/zh?next=https://evil.example/")
    assert away.headers["Location"] == "/console/"  # never an open redirect
    assert "登录" in console.get("/console/login").text


def test_sign_in_never_redirects_off_site(api, console):
    api.register("boss")
    page = console.get("/console/login?next=//evil.example/x")
    response = console.client.post(
        "/console/login",
        data={
            "username": "boss",
            "password": PASSWORD,
            "csrf_token": csrf_token(page.text),
            "next": "//evil.example/x",
        },
    )
    assert response.status_code == 303 and response.headers["Location"] == "/console/"


def test_every_console_message_has_a_chinese_translation():
    """Every `_()` in the console's code and templates is translated in some part's zh
    catalogue, and each committed .mo is the compiled form of its .po."""
    from babel.messages.pofile import read_po

    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    wanted = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(CONSOLE), method_map, keywords={"_": None, "gettext": None, "_l": None}
        )
    }
    translated: dict[str, str] = {}
    for po in sorted((CONSOLE / "translations").glob("*/zh/LC_MESSAGES/messages.po")):
        with po.open("rb") as fh:
            catalog = read_po(fh)
        mo = po.with_suffix(".mo")
        assert mo.exists(), f"{mo} missing: run make translations"
        with mo.open("rb") as fh:
            compiled = read_mo(fh)
        for message in catalog:
            if message.id and message.string:
                assert compiled.get(message.id) is not None, f"{po}: {message.id!r} not compiled"
                # the parts are merged into one catalogue: one English text, one Chinese one
                earlier = translated.setdefault(message.id, message.string)
                assert earlier == message.string, (
                    f"{message.id!r} is translated as {earlier!r} and as {message.string!r} "
                    f"({po.parts[-4]}): use distinct English texts"
                )
    missing = sorted(wanted - set(translated))
    assert not missing, f"untranslated console messages: {missing}"
