from __future__ import annotations

from tests.conftest import assert_error, make_app


def test_register_login_logout_revokes_token(api):
    user = api.register("alice", nickname="爱丽丝")
    assert user["nickname"] == "爱丽丝" and user["roles"] == ["user"]
    me = api.get("/me", "alice")
    assert me.status_code == 200 and me.get_json()["username"] == "alice"

    login = api.post("/auth/login", json={"username": "ALICE", "password": "correct horse 1"})
    assert login.status_code == 200
    second_token = login.get_json()["token"]

    assert api.post("/auth/logout", "alice").status_code == 204
    assert_error(api.get("/me", "alice"), 401, "invalid_token")
    # Logging out one session leaves the other one signed in.
    ok = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {second_token}"})
    assert ok.status_code == 200


def test_password_is_hashed_with_argon2(api, app):
    from app.accounts.models import User
    from app.core.extensions import db

    api.register("bob", password="s3cret-password")
    stored = db.session.query(User).filter_by(username="bob").one().password_hash
    assert stored.startswith("$argon2id$") and "s3cret-password" not in stored


def test_wrong_password_and_unknown_user_look_the_same(api):
    api.register("carol")
    wrong = api.post("/auth/login", json={"username": "carol", "password": "nope-nope"})
    unknown = api.post("/auth/login", json={"username": "nobody", "password": "nope-nope"})
    assert_error(wrong, 401, "invalid_credentials")
    assert_error(unknown, 401, "invalid_credentials")


def test_register_rejects_bad_input_and_duplicates(api):
    api.register("dave")
    assert_error(
        api.post("/auth/register", json={"username": "DAVE", "password": "longenough1"}),
        409,
        "username_taken",
    )
    bad = [
        {"username": "a", "password": "longenough1"},
        {"username": "ok_name", "password": "short"},
        {"username": "bad name!", "password": "longenough1"},
        {"username": 123, "password": "longenough1"},
        {"username": "ok_name", "password": ["x"]},
        {"username": "ok_name", "password": "longenough1", "nickname": "a\x00b"},
        {"username": "ok_name", "password": "longenough1", "nickname": "x" * 41},
    ]
    for payload in bad:
        assert_error(api.post("/auth/register", json=payload), 400, "validation_error")
    assert_error(
        api.post("/auth/register", data="{not json", content_type="application/json"),
        400,
        "malformed_json",
    )
    assert_error(api.post("/auth/register", json=["a", "list"]), 400, "malformed_json")


def test_profile_update_and_public_profile(api):
    api.register("erin")
    response = api.patch("/me", "erin", json={"nickname": "小艾", "bio": "爱旅行 ✈️"})
    assert response.status_code == 200
    assert response.get_json()["bio"] == "爱旅行 ✈️"
    assert_error(api.patch("/me", "erin", json={"nickname": ""}), 400)
    assert_error(api.patch("/me", "erin", json={"avatar_image_id": 999999}), 404)


def test_roles_only_by_admin(api):
    api.register("root")
    target = api.register("frank")
    assert_error(
        api.put(f"/admin/users/{target['id']}/roles", "frank", json={"roles": ["admin"]}), 403
    )
    api.grant("root", "admin")
    ok = api.put(f"/admin/users/{target['id']}/roles", "root", json={"roles": ["editor"]})
    assert ok.status_code == 200 and ok.get_json()["roles"] == ["editor", "user"]
    assert_error(
        api.put(f"/admin/users/{target['id']}/roles", "root", json={"roles": ["wizard"]}), 400
    )
    assert_error(api.put("/admin/users/424242/roles", "root", json={"roles": []}), 404)
    listing = api.get("/admin/users?q=fra", "root").get_json()
    assert [user["username"] for user in listing["items"]] == ["frank"]


def test_bootstrap_admin_from_environment(database_url, tmp_path):
    app = make_app(database_url, tmp_path, admin_username="Boss", admin_password="pw-from-env-1")
    with app.app_context():
        from app.cli import ensure_bootstrap_admin

        ensure_bootstrap_admin()
        ensure_bootstrap_admin()  # idempotent
        client = app.test_client()
        login = client.post(
            "/api/v1/auth/login", json={"username": "boss", "password": "pw-from-env-1"}
        )
        assert login.status_code == 200
        assert "admin" in login.get_json()["user"]["roles"]


def test_login_and_register_are_rate_limited(database_url, tmp_path):
    app = make_app(
        database_url, tmp_path, rate_limits={"register": "2/minute", "login": "3/minute"}
    )
    with app.app_context():
        client = app.test_client()
        for name in ("u_one", "u_two"):
            assert (
                client.post(
                    "/api/v1/auth/register", json={"username": name, "password": "longenough1"}
                ).status_code
                == 201
            )
        limited = client.post(
            "/api/v1/auth/register", json={"username": "u_three", "password": "longenough1"}
        )
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["Retry-After"]) >= 1
        for _ in range(3):
            client.post("/api/v1/auth/login", json={"username": "u_one", "password": "wrong-pass"})
        assert_error(
            client.post(
                "/api/v1/auth/login", json={"username": "u_one", "password": "longenough1"}
            ),
            429,
        )


def test_unknown_route_and_method_use_the_envelope(client):
    assert_error(client.get("/api/v1/nope"), 404, "not_found")
    assert_error(client.delete("/healthz"), 405, "method_not_allowed")


def test_health_and_openapi(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and ready["checks"]["database"]["ok"]
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/auth/register" in spec["paths"]
    assert "RegisterIn" in spec["components"]["schemas"]
    assert client.get("/api/v1/docs").status_code == 200


def test_password_change_signs_out_other_sessions(api):
    api.register("gina", password="first-password")
    other = api.post("/auth/login", json={"username": "gina", "password": "first-password"})
    other_token = other.get_json()["token"]
    assert_error(
        api.post(
            "/me/password",
            "gina",
            json={"current_password": "wrong-one", "new_password": "second-password"},
        ),
        403,
    )
    ok = api.post(
        "/me/password",
        "gina",
        json={"current_password": "first-password", "new_password": "second-password"},
    )
    assert ok.status_code == 204
    assert api.get("/me", "gina").status_code == 200  # this session stays
    revoked = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {other_token}"})
    assert_error(revoked, 401, "invalid_token")
    assert (
        api.post(
            "/auth/login", json={"username": "gina", "password": "second-password"}
        ).status_code
        == 200
    )


def test_banned_user_cannot_log_in_and_token_stops(api, app):
    from app.accounts.models import User
    from app.core.extensions import db

    api.register("henry")
    user = db.session.query(User).filter_by(username="henry").one()
    user.status = "banned"
    db.session.commit()
    assert_error(api.get("/me", "henry"), 403, "account_banned")
    assert_error(
        api.post("/auth/login", json={"username": "henry", "password": "correct horse 1"}),
        403,
        "account_banned",
    )


def test_out_of_range_ids_are_404_everywhere(api):
    api.register("ivan")
    paths = (
        "/media/images/6734866958946801048092672",
        "/users/0",
        "/notes/9223372036854775808",
        "/topics/-1",
        "/albums/99999999999999999999999",
        "/users/007",
    )
    for path in paths:
        assert_error(api.get(path, "ivan"), 404)
        assert_error(api.delete(path + "/follow", "ivan"), 404)
