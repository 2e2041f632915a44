"""Probe a running server across its processes, as a new user would: discover pages for
repeats, a new positioned pick, a new keyword against evasive spellings, the login limit.

Usage: python benchmarks/consistency_probe.py http://127.0.0.1:5000 DATABASE_URL
(the database URL grants the editor and moderator roles to the accounts it registers).
"""

import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import quote

from sqlalchemy import create_engine, text

BASE, DB = sys.argv[1], sys.argv[2]
API = BASE + "/api/v1"


def call(method, path, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(API + path, data=data, method=method)
    if data:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def register(prefix, *roles):
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    s, b = call("POST", "/auth/register", body={"username": name, "password": "long-password-1"})
    assert s == 201, (s, b)
    if roles:
        eng = create_engine(DB)
        with eng.begin() as c:
            for r in roles:
                c.execute(
                    text(
                        "INSERT INTO user_roles (user_id, role, granted_at)"
                        " VALUES (:u, :r, CURRENT_TIMESTAMP)"
                    ),
                    {"u": b["user"]["id"], "r": r},
                )
        eng.dispose()
    return b["token"], name


def pages(token, n, limit):
    out, cur = [], None
    for _ in range(n):
        s, b = call(
            "GET",
            f"/feeds/discover?limit={limit}" + (f"&cursor={quote(cur)}" if cur else ""),
            token,
        )
        assert s == 200, (s, b)
        out.append([i["id"] for i in b["items"]])
        cur = b["next_cursor"]
        if not cur:
            break
    return out


for label, tok in (("anonymous", None), ("signed-in", register("reader")[0])):
    ps = pages(tok, 10, 40)
    flat = [n for p in ps for n in p]
    first_repeat = next(
        (i + 1 for i, p in enumerate(ps) if set(p) & set(n for q in ps[:i] for n in q)), None
    )
    print(
        f"discover {label}: {len(ps)} pages, {len(flat)} cards, {len(set(flat))} distinct,"
        f" first repeat on page {first_repeat}"
    )

editor, _ = register("editor", "editor")
eng = create_engine(DB)
with eng.begin() as c:
    quiet = c.execute(
        text(
            "SELECT id FROM notes WHERE status='published' AND deleted_at IS NULL"
            " ORDER BY hot_score, id LIMIT 1"
        )
    ).scalar_one()
eng.dispose()
s, b = call("POST", "/editor/picks", editor, {"note_id": quiet, "slot": "home", "position": 1})
t0 = time.monotonic()
print("pick", s)
firsts = []
while time.monotonic() - t0 < 8:
    first = pages(register("new")[0], 1, 10)[0][0]
    firsts.append((round(time.monotonic() - t0, 2), first == quiet))
lead_from = next((t for t, ok in firsts if ok), None)
tail_ok = all(ok for t, ok in firsts if t >= 6)
print(
    f"pick: first led at {lead_from}s, all new users after 6 s led by it: {tail_ok}"
    f" ({len(firsts)} users)"
)

mod, _ = register("mod", "moderator")
author, _ = register("author")
s, note = call(
    "POST", "/notes", author, {"title": "周末去哪", "body": "推荐一下", "status": "published"}
)
commenter, _ = register("c")
for i in range(6):
    call("POST", f"/notes/{note['id']}/comments", commenter, {"body": f"好看{i}"})
word = "紫色" + uuid.uuid4().hex[:0] + "蘑菇汤"
s, b = call(
    "POST", "/moderation/keywords", mod, {"word": word, "category": "spam_ads", "action": "block"}
)
t0 = time.monotonic()
print("keyword", s)
time.sleep(0.2)
evasive = ["紫 色 蘑 菇 汤", "紫.色.蘑.菇.汤", "紫色-蘑菇-汤", "ＺＩ紫色蘑菇汤", "紫色 蘑菇 汤!"]
passed = [call("POST", f"/notes/{note['id']}/comments", commenter, {"body": e})[0] for e in evasive]
print("keyword immediately: statuses", passed)
time.sleep(max(0, 6 - (time.monotonic() - t0)))
passed = [
    call("POST", f"/notes/{note['id']}/comments", commenter, {"body": e + " 2"})[0]
    for e in evasive * 3
]
print("keyword after 6 s: passed unfiltered", sum(1 for x in passed if x != 422), "of", len(passed))

_, victim = register("victim")
statuses = [
    call("POST", "/auth/login", body={"username": victim, "password": "wrong-password"})[0]
    for _ in range(60)
]
print(
    "login: wrong passwords through before the first 429:",
    statuses.index(429) if 429 in statuses else "never",
    "; 5xx:",
    sum(1 for x in statuses if x >= 500),
)
