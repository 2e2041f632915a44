"""Multiple accounts through the API: sign-in signals kept as keyed hashes, links proposed to
moderators on shared evidence (never on a NAT-wide signal), confirm and reject with the staff
safeguards, signals only for moderators, the purge after the retention period, and a
confirmed link as the `multiple_accounts` circumstance of a penalty."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import assert_error

PASSWORD = "correct horse 1"
UA_A = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) Sprout/8.1"
UA_B = "Mozilla/5.0 (Linux; Android 14; Pixel 8) Sprout/8.1"


def _headers(ua, device):
    headers = {"User-Agent": ua}
    if device is not None:
        headers["X-Device-Id"] = device
    return headers


def register(api, name, *, ip="198.51.100.1", ua=UA_A, device=None):
    response = api.client.post(
        "/api/v1/auth/register",
        json={"username": name, "password": PASSWORD},
        headers=_headers(ua, device),
        environ_base={"REMOTE_ADDR": ip},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    api.tokens[name], api.users[name] = body["token"], body["user"]
    return body["user"]["id"]


def sign_in(api, name, *, ip="198.51.100.1", ua=UA_A, device=None):
    response = api.client.post(
        "/api/v1/auth/login",
        json={"username": name, "password": PASSWORD},
        headers=_headers(ua, device),
        environ_base={"REMOTE_ADDR": ip},
    )
    assert response.status_code == 200, response.get_json()
    api.tokens[name] = response.get_json()["token"]


def proposals(api, moderator="mod", status="proposed"):
    response = api.get(f"/moderation/link-proposals?status={status}&limit=50", moderator)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def pair(api, a, b, moderator="mod", status="proposed"):
    wanted = sorted([api.users[a]["id"], api.users[b]["id"]])
    return next((p for p in proposals(api, moderator, status) if p["user_ids"] == wanted), None)


@pytest.fixture
def mod(api):
    register(api, "mod", ip="192.0.2.200", ua="ModBrowser/1.0")
    api.grant("mod", "moderator")
    return api


def signal_rows():
    from app.core.extensions import db
    from moderation.models import AccountSignal

    db.session.expire_all()
    return list(db.session.scalars(select(AccountSignal)))


# -- recording -------------------------------------------------------------------------------------
def test_signals_are_kept_as_keyed_hashes_once_per_kind(mod):
    api = mod
    device = "A1B2C3D4-0000-4E5F-9999-ABCDEFABCDEF"
    user_id = register(api, "alice", ip="203.0.113.7", device=device)
    sign_in(api, "alice", ip="203.0.113.7", device=device)
    sign_in(api, "alice", ip="203.0.113.7", device=device)
    rows = [r for r in signal_rows() if r.user_id == user_id]
    assert sorted(r.kind for r in rows) == ["device", "ip", "ip_prefix", "ip_ua", "ua"]
    assert {r.seen_count for r in rows} == {3}  # one row per kind, counted, not one per sign-in
    assert {r.first_event for r in rows} == {"register"}
    for row in rows:
        stored = " ".join(str(getattr(row, c.key)) for c in row.__table__.columns)
        for raw in ("203.0.113", "iPhone", "Sprout/8.1", device, "A1B2C3D4"):
            assert raw not in stored
        assert len(row.digest) == 64
    # keyed: not the plain SHA-256 anyone could compute over every IPv4 address
    plain = {hashlib.sha256(v.encode()).hexdigest() for v in ("203.0.113.7", device)}
    assert not plain & {r.digest for r in rows}
    # the moderator sees kinds and a hash prefix, never the values
    body = api.get(f"/moderation/users/{user_id}/signals", "mod").get_json()
    assert body["retention_days"] == 90
    text = str(body)
    assert "203.0.113" not in text and device not in text and "iPhone" not in text
    device_view = next(i for i in body["items"] if i["kind"] == "device")
    assert device_view["seen_count"] == 3 and len(device_view["digest_prefix"]) == 12
    assert device_view["first_seen_at"].endswith("Z")


def test_an_invalid_device_id_is_ignored_and_never_fails_sign_in(mod):
    api = mod
    user_id = register(api, "bob", ip="203.0.113.8", device="short")
    sign_in(api, "bob", ip="203.0.113.8", device="x" * 500)
    sign_in(api, "bob", ip="not-an-address", device="bad\u00e9id-with-accent")
    kinds = sorted(r.kind for r in signal_rows() if r.user_id == user_id)
    assert kinds == ["ip", "ip_prefix", "ip_ua", "ua"]  # no device; the bad address left out


def test_recording_failure_is_logged_and_the_sign_in_stands(mod, monkeypatch, caplog):
    from moderation import signals

    api = mod
    register(api, "carol", ip="203.0.113.9")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(signals, "_upsert", broken)
    sign_in(api, "carol", ip="203.0.113.9")
    assert api.get("/me", "carol").status_code == 200
    assert "could not record the sign-in signals" in caplog.text


# -- proposals -------------------------------------------------------------------------------------
def test_a_shared_device_proposes_a_strong_link_with_evidence(mod):
    api = mod
    register(api, "main", ip="203.0.113.10", ua=UA_A, device="device-one-0001")
    register(api, "alt", ip="198.51.100.77", ua=UA_B)
    assert pair(api, "main", "alt") is None  # nothing shared yet
    sign_in(api, "alt", ip="198.51.100.77", ua=UA_B, device="device-one-0001")
    proposal = pair(api, "main", "alt")
    assert proposal is not None and proposal["strength"] == "strong"
    assert set(proposal["evidence"]["kinds"]) == {"device"}
    device = proposal["evidence"]["kinds"]["device"]
    assert device["accounts"] == 2 and device["seen"] == 2
    assert device["first_seen"] <= device["last_seen"]
    one = api.get(f"/moderation/link-proposals/{proposal['id']}", "mod").get_json()
    assert one == proposal
    # users never see proposals or signals
    assert_error(api.get("/moderation/link-proposals", "main"), 403)
    assert_error(api.get(f"/moderation/link-proposals/{proposal['id']}", "main"), 403)
    assert_error(api.get(f"/moderation/users/{api.users['alt']['id']}/signals", "main"), 403)
    assert_error(api.get(f"/moderation/users/{api.users['main']['id']}/signals", "main"), 403)
    assert_error(api.get("/moderation/link-proposals"), 401)


def test_address_and_user_agent_together_are_medium_alone_nothing(mod):
    api = mod
    register(api, "one", ip="203.0.113.20", ua=UA_A)
    register(api, "two", ip="203.0.113.20", ua=UA_A)  # same address and app: medium
    register(api, "three", ip="203.0.113.20", ua=UA_B)  # same address only
    register(api, "four", ip="203.0.113.21", ua=UA_B)  # same /24 prefix and agent as three
    medium = pair(api, "one", "two")
    assert medium is not None and medium["strength"] == "medium"
    assert set(medium["evidence"]["kinds"]) == {"ip", "ip_prefix", "ua", "ip_ua"}
    assert pair(api, "one", "three") is None and pair(api, "two", "three") is None
    assert pair(api, "three", "four") is None


def test_a_signal_on_too_many_accounts_is_no_evidence(mod, monkeypatch):
    from moderation import signals

    monkeypatch.setattr(
        signals, "SIGNALS", dataclasses.replace(signals.SIGNALS, max_accounts_per_signal=3)
    )
    api = mod
    for name in ("nat1", "nat2", "nat3"):
        register(api, name, ip="100.64.0.1", ua=UA_A)  # a carrier NAT, the same popular app
    assert pair(api, "nat1", "nat3") is not None and pair(api, "nat2", "nat3") is not None
    register(api, "nat4", ip="100.64.0.1", ua=UA_A)
    mine = [p for p in proposals(api) if api.users["nat4"]["id"] in p["user_ids"]]
    assert mine == []
    view = api.get(f"/moderation/users/{api.users['nat4']['id']}/signals", "mod").get_json()
    ip_ua = next(i for i in view["items"] if i["kind"] == "ip_ua")
    assert ip_ua["widely_shared"] and ip_ua["other_accounts"] == 3


def test_staff_and_official_accounts_are_not_proposed(mod):
    from app.accounts.models import User
    from app.core.extensions import db

    api = mod
    register(api, "brand", ip="203.0.113.30", device="office-tablet-01")
    db.session.execute(update(User).where(User.username == "brand").values(official=True))
    db.session.commit()
    register(api, "fan", ip="203.0.113.31", device="office-tablet-01")
    register(api, "helper", ip="203.0.113.32", device="office-tablet-02")
    api.grant("helper", "editor")
    register(api, "fan2", ip="203.0.113.33", device="office-tablet-02")
    assert pair(api, "brand", "fan") is None and pair(api, "helper", "fan2") is None


# -- decisions ----------------------------------------------------------------------------------
def test_confirming_links_both_ways_and_stops_points_between_them(mod):
    from app.core.extensions import db
    from moderation.models import AccountLink

    api = mod
    register(api, "main", ip="203.0.113.40", device="phone-of-main-1")
    register(api, "alt", ip="203.0.113.99", ua=UA_B, device="phone-of-main-1")
    register(api, "fan", ip="198.51.100.40", ua=UA_B)
    proposal = pair(api, "main", "alt")
    assert_error(api.post(f"/moderation/link-proposals/{proposal['id']}/confirm", "main"), 403)
    bad = api.post(
        f"/moderation/link-proposals/{proposal['id']}/confirm", "mod", json={"note": "x" * 1001}
    )
    assert_error(bad, 400)
    assert pair(api, "main", "alt")["status"] == "proposed"  # nothing changed
    done = api.post(
        f"/moderation/link-proposals/{proposal['id']}/confirm", "mod", json={"note": "同一设备"}
    )
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["status"] == "confirmed" and body["decided_by"] == api.users["mod"]["id"]
    main_id, alt_id = api.users["main"]["id"], api.users["alt"]["id"]
    db.session.expire_all()
    links = {(r.user_id, r.linked_user_id) for r in db.session.scalars(select(AccountLink))}
    assert {(main_id, alt_id), (alt_id, main_id)} <= links
    assert pair(api, "main", "alt", status="confirmed")["id"] == proposal["id"]
    assert_error(api.post(f"/moderation/link-proposals/{proposal['id']}/confirm", "mod"), 409)
    assert_error(api.post(f"/moderation/link-proposals/{proposal['id']}/reject", "mod"), 409)
    log = api.get("/moderation/log", "mod").get_json()["items"]
    actions = {e["action"]: e for e in log}
    assert actions["link_proposal_confirm"]["after"]["user_ids"] == sorted([main_id, alt_id])
    assert "link_accounts" in actions
    # the existing rule: no points between linked accounts, still from others
    note = api.post("/notes", "main", json={"title": "我的笔记", "status": "published"})
    note_id = note.get_json()["id"]
    api.post(f"/notes/{note_id}/like", "alt")
    entries = api.get("/me/points?limit=50", "main").get_json()["items"]
    assert "like_received" not in [e["action"] for e in entries]
    api.post(f"/notes/{note_id}/like", "fan")
    entries = api.get("/me/points?limit=50", "main").get_json()["items"]
    assert [e["action"] for e in entries].count("like_received") == 1
    # a linked pair is never proposed again
    sign_in(api, "alt", ip="203.0.113.40", device="phone-of-main-1")
    assert pair(api, "main", "alt") is None


def test_a_rejected_pair_returns_only_on_stronger_evidence(mod):
    api = mod
    register(api, "sis", ip="203.0.113.50", ua=UA_A)
    register(api, "bro", ip="203.0.113.50", ua=UA_A)  # one family, one router, one phone model
    proposal = pair(api, "sis", "bro")
    assert proposal["strength"] == "medium"
    assert_error(api.post("/moderation/link-proposals/999999/reject", "mod"), 404)
    assert_error(api.post("/moderation/link-proposals/99999999999999/reject", "mod"), 404)
    rejected = api.post(
        f"/moderation/link-proposals/{proposal['id']}/reject", "mod", json={"note": "兄妹"}
    )
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    assert rejected.get_json()["rejected_strength"] == "medium"
    # the same kind of evidence again, even from a new address: stays rejected
    sign_in(api, "sis", ip="203.0.113.51", ua=UA_A)
    sign_in(api, "bro", ip="203.0.113.51", ua=UA_A)
    assert pair(api, "sis", "bro") is None
    assert pair(api, "sis", "bro", status="rejected")["id"] == proposal["id"]
    # the same device: stronger, proposed again
    sign_in(api, "sis", ip="203.0.113.51", device="shared-ipad-777")
    sign_in(api, "bro", ip="203.0.113.51", device="shared-ipad-777")
    again = pair(api, "sis", "bro")
    assert again["id"] == proposal["id"] and again["strength"] == "strong"
    assert "device" in again["evidence"]["kinds"]
    log = api.get("/moderation/log", "mod").get_json()["items"]
    assert "link_proposal_reject" in {e["action"] for e in log}


def test_staff_safeguards_on_proposals_and_signals(mod):
    api = mod
    register(api, "mod1", ip="203.0.113.60", device="mod1-phone-0001")
    register(api, "sock", ip="203.0.113.61", ua=UA_B, device="mod1-phone-0001")
    register(api, "mod2", ip="203.0.113.62", device="mod2-phone-0002")
    register(api, "friend", ip="203.0.113.63", ua=UA_B, device="mod2-phone-0002")
    register(api, "root", ip="203.0.113.64", ua="AdminBrowser/2")
    own, peer = pair(api, "mod1", "sock"), pair(api, "mod2", "friend")
    api.grant("mod1", "moderator")
    api.grant("mod2", "moderator")
    api.grant("root", "admin")
    error = assert_error(
        api.post(f"/moderation/link-proposals/{own['id']}/reject", "mod1"),
        403,
        "conflict_of_interest",
    )
    assert error["details"]["proposal_id"] == own["id"]
    assert_error(
        api.post(f"/moderation/link-proposals/{peer['id']}/confirm", "mod1"),
        403,
        "insufficient_rank",
    )
    assert pair(api, "mod2", "friend")["status"] == "proposed"  # refused before any change
    # a moderator sees signals only of accounts below their rank, never their own
    assert_error(
        api.get(f"/moderation/users/{api.users['mod2']['id']}/signals", "mod1"),
        403,
        "insufficient_rank",
    )
    assert_error(api.get(f"/moderation/users/{api.users['mod1']['id']}/signals", "mod1"), 403)
    view = api.get(f"/moderation/users/{api.users['friend']['id']}/signals", "mod1").get_json()
    device = next(i for i in view["items"] if i["kind"] == "device")
    assert device["other_accounts"] == 1 and device["shared_with"] == []  # mod2 is a peer
    admin_view = api.get(f"/moderation/users/{api.users['friend']['id']}/signals", "root")
    device = next(i for i in admin_view.get_json()["items"] if i["kind"] == "device")
    assert device["shared_with"] == [api.users["mod2"]["id"]]
    assert_error(api.get("/moderation/users/99999999/signals", "root"), 404)
    # an admin outranks both moderators
    done = api.post(f"/moderation/link-proposals/{peer['id']}/confirm", "root")
    assert done.status_code == 200 and done.get_json()["status"] == "confirmed"
    assert_error(api.get("/moderation/link-proposals?status=bogus", "mod1"), 400)
    assert_error(api.get("/moderation/link-proposals?cursor=nonsense", "mod1"), 400)


def test_a_manual_link_settles_the_pairs_proposal(mod):
    api = mod
    register(api, "pair1", ip="203.0.113.70", device="pair-device-0070")
    register(api, "pair2", ip="203.0.113.71", ua=UA_B, device="pair-device-0070")
    ids = [api.users["pair1"]["id"], api.users["pair2"]["id"]]
    linked = api.post("/moderation/account-links", "mod", json={"user_ids": ids, "reason": "手动"})
    assert linked.status_code == 201
    assert pair(api, "pair1", "pair2") is None and pair(api, "pair1", "pair2", status="confirmed")


def test_proposals_page_with_their_cursor(mod):
    api = mod
    for index in range(4):
        register(api, f"xx{index}", ip=f"203.0.113.{80 + index}", device=f"pager-device-{index}")
        register(
            api,
            f"yy{index}",
            ip=f"198.51.100.{80 + index}",
            ua=UA_B,
            device=f"pager-device-{index}",
        )
    first = api.get("/moderation/link-proposals?limit=3", "mod").get_json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    rest = api.get(f"/moderation/link-proposals?limit=3&cursor={first['next_cursor']}", "mod")
    ids = [p["id"] for p in first["items"] + rest.get_json()["items"]]
    assert len(ids) == 4 and ids == sorted(ids, reverse=True)


# -- retention -------------------------------------------------------------------------------------
def test_signals_are_purged_after_the_period_and_with_the_account(mod, monkeypatch):
    from app.accounts.models import User
    from app.core.extensions import db
    from app.core.models import utcnow
    from moderation import purge_signals
    from moderation.models import AccountSignal, LinkProposal

    api = mod
    old = register(api, "old", ip="203.0.113.90", device="purge-device-001")
    recent = register(api, "recent", ip="203.0.113.91", ua=UA_B, device="purge-device-001")
    db.session.execute(
        update(AccountSignal)
        .where(AccountSignal.user_id == old)
        .values(last_seen_at=utcnow() - timedelta(days=91))
    )
    db.session.commit()
    # outside the period it is no evidence and not shown, even before the purge runs
    view = api.get(f"/moderation/users/{recent}/signals", "mod").get_json()
    assert next(i for i in view["items"] if i["kind"] == "device")["other_accounts"] == 0
    assert purge_signals()["purged"] == 5
    assert {r.user_id for r in signal_rows()} >= {recent} and old not in {
        r.user_id for r in signal_rows()
    }
    # the period comes from the environment
    monkeypatch.setenv("SPROUT_SIGNALS_RETENTION_DAYS", "10")
    db.session.execute(
        update(AccountSignal)
        .where(AccountSignal.user_id == recent)
        .values(last_seen_at=utcnow() - timedelta(days=11))
    )
    db.session.commit()
    assert purge_signals()["purged"] == 5
    # deleting an account deletes its signals and proposals (foreign keys cascade)
    gone = register(api, "gone", ip="203.0.113.92", device="purge-device-002")
    register(api, "stay", ip="203.0.113.93", ua=UA_B, device="purge-device-002")
    assert pair(api, "gone", "stay") is not None
    db.session.delete(db.session.get(User, gone))
    db.session.commit()
    assert gone not in {r.user_id for r in signal_rows()}
    db.session.expire_all()
    assert not list(db.session.scalars(select(LinkProposal).where(LinkProposal.user_id == gone)))


def test_the_purge_is_a_periodic_job():
    from app.schedule import periodic_job_definitions

    names = {d.name for d in periodic_job_definitions()}
    assert "purge_signals" in names


# -- the aggravating circumstance -----------------------------------------------------------------
def _report_and_mute(api, author, reporter, reason):
    note = api.post("/notes", author, json={"title": f"{author}的笔记", "status": "published"})
    note_id = note.get_json()["id"]
    api.post(
        "/reports",
        reporter,
        json={"target_type": "note", "target_id": note_id, "reason_code": reason},
    )
    items = api.get("/moderation/cases", "mod").get_json()["items"]
    case_id = next(c["id"] for c in items if c["target_id"] == note_id)
    decided = api.post(
        f"/moderation/cases/{case_id}/decision", "mod", json={"content": "hide", "account": "mute"}
    )
    assert decided.status_code == 200, decided.get_json()
    return next(a for a in decided.get_json()["actions"] if a["kind"] == "mute")


def test_a_confirmed_link_steps_the_ladder_up_once_for_any_reason(mod):
    from app.core.extensions import db
    from moderation import penalties
    from moderation.models import ModerationAction
    from moderation.taxonomy import taxonomy

    api = mod
    register(api, "plain", ip="203.0.113.100")
    register(api, "loner", ip="203.0.113.101", ua=UA_B)
    register(api, "main", ip="203.0.113.102", device="ladder-device-01")
    register(api, "alt", ip="198.51.100.102", ua=UA_B, device="ladder-device-01")
    register(api, "rep", ip="198.51.100.103", ua="Reporter/1")
    coordinated = taxonomy().reason("spam_ads.coordinated")
    repeated = taxonomy().reason("spam_ads.repeated")
    main_id = api.users["main"]["id"]
    # without a confirmed link: a reason listing multiple_accounts no longer steps up
    assert penalties.ladder_mute(api.users["loner"]["id"], coordinated) == ("mute_1d", "mute_1d", 1)
    assert _report_and_mute(api, "loner", "rep", "spam_ads.coordinated")["duration_days"] == 1
    assert _report_and_mute(api, "plain", "rep", "spam_ads.repeated")["duration_days"] == 1
    proposal = pair(api, "main", "alt")
    assert (
        api.post(f"/moderation/link-proposals/{proposal['id']}/confirm", "mod").status_code == 200
    )
    # with one: once, whatever the reason (also when the reason lists it: not twice)
    assert penalties.aggravating_circumstances(main_id, repeated) == ("multiple_accounts",)
    assert penalties.ladder_mute(main_id, repeated) == ("mute_7d", "mute_7d", 7)
    assert penalties.ladder_mute(main_id, coordinated) == ("mute_7d", "mute_7d", 7)
    mute = _report_and_mute(api, "main", "rep", "spam_ads.repeated")
    assert mute["duration_days"] == 7
    db.session.expire_all()
    action = db.session.get(ModerationAction, mute["id"])
    assert action.aggravating == ["multiple_accounts"]
    entry = next(
        e
        for e in api.get("/moderation/log", "mod").get_json()["items"]
        if e["action"] == "mute" and e["target_id"] == main_id
    )
    assert entry["after"]["aggravating"] == ["multiple_accounts"]
    # other circumstances stay what the reason says
    minors = taxonomy().reason("illegal.minor_harm")
    assert penalties.aggravating_circumstances(api.users["loner"]["id"], minors) == (
        "harm_to_minors",
    )


# -- for other checks ----------------------------------------------------------------------------
def test_shared_signals_summarises_without_values(mod):
    from moderation.signals import shared_signals

    api = mod
    a = register(api, "sum1", ip="203.0.113.110", device="shared-sum-0001")
    b = register(api, "sum2", ip="203.0.113.110", device="shared-sum-0001")
    c = register(api, "sum3", ip="203.0.113.111", ua=UA_B)
    found = shared_signals([a, b, c])
    kinds = {item["kind"]: item for item in found}
    assert set(kinds) == {"device", "ip", "ip_prefix", "ua", "ip_ua"}
    assert kinds["device"]["accounts"] == 2 and kinds["ip_prefix"]["accounts"] == 3
    assert set(kinds["device"]) == {"kind", "accounts", "first_seen", "last_seen", "widely_shared"}
    assert found[0]["kind"] == "ip_prefix"  # the most accounts first
    assert shared_signals([a]) == [] and shared_signals([c, api.users["mod"]["id"]]) == []


# -- the console ---------------------------------------------------------------------------------
def test_the_console_lists_proposals_and_confirms_or_rejects(mod, client):
    from tests.api.console_client import Console

    api = mod
    register(api, "cmain", ip="203.0.113.120", device="console-device-1")
    register(api, "calt", ip="198.51.100.120", ua=UA_B, device="console-device-1")
    register(api, "cone", ip="203.0.113.121", device="console-device-2")
    register(api, "ctwo", ip="198.51.100.121", ua=UA_B, device="console-device-2")
    register(api, "cplain", ip="203.0.113.122", ua="Plain/1")
    first, second = pair(api, "cmain", "calt"), pair(api, "cone", "ctwo")
    user = Console(client)
    assert user.sign_in("cplain").status_code == 303
    assert user.get("/console/moderation/link-proposals").status_code == 403
    assert user.post("/console/logout").status_code == 303
    console = Console(client)
    assert console.sign_in("mod").status_code == 303
    console.get("/console/lang/en?next=/console/")
    page = console.get("/console/moderation/link-proposals").text
    assert f'data-proposal-id="{first["id"]}"' in page and 'data-kind="device"' in page
    assert "console-device" not in page and "203.0.113" not in page
    confirmed = console.post(
        f"/console/moderation/link-proposals/{first['id']}/confirm", {"note": "同一手机"}
    )
    assert confirmed.status_code == 303
    rejected = console.post(f"/console/moderation/link-proposals/{second['id']}/reject", {})
    assert rejected.status_code == 303
    assert pair(api, "cmain", "calt", status="confirmed") is not None
    assert pair(api, "cone", "ctwo", status="rejected") is not None
    done = console.get("/console/moderation/link-proposals?status=confirmed").text
    assert f'data-proposal-id="{first["id"]}"' in done
    console.get("/console/lang/zh?next=/console/")
    assert "关联帐号建议" in console.get("/console/moderation/link-proposals").text


def test_addresses_and_their_prefixes():
    from moderation.signals import signal_values, valid_device_id

    v6 = signal_values("2001:db8:abcd:12:8a2e:370:7334:1", "UA", None)
    assert v6["ip_prefix"] == "2001:db8:abcd:12::/64" and v6["ip_ua"].startswith(v6["ip"])
    mapped = signal_values("::ffff:203.0.113.7", "", "")
    assert mapped == {"ip": "203.0.113.7", "ip_prefix": "203.0.113.0/24"}  # no agent, no device
    assert signal_values("unknown", "UA", None) == {"ua": "UA"}
    assert valid_device_id("  device-0001  ") == "device-0001"
    assert valid_device_id("device 0001") is None and valid_device_id("d" * 129) is None
