"""What a person sees of the discover feed, checked over HTTP against a running server.

    python benchmarks/feed_check.py http://127.0.0.1:5000 [--channels food pets ...]
        [--runs 3] [--admin USER:PASSWORD]

Registers throw-away users (the server's `register` rate limit must allow about 2 + 2 ×
channels × runs of them: `SPROUT_RATE_LIMITS="register=1000/hour"`) and reports, as JSON:

- how many distinct notes an anonymous visitor and a signed-in new user reach by paging
  `/feeds/discover` until it ends, and whether any card came twice;
- for a new user who picks one channel at onboarding (`PUT /me/interests`): that channel's
  cards and the editors' picks among the first 20;
- for a user who, after the first page, opens a channel's tab and likes 4 of its first 10
  cards (ones discover had not shown): that channel's cards among discover's next 10 (same
  session) and the first 10 of a new session.

With `--admin`, the users are made editors so pages carry `?explain=1` scores, and the pages
that miss a target are printed to stderr with them.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections import Counter
from typing import Any

import requests


class Client:
    def __init__(self, base: str, admin: str | None) -> None:
        self.base = base.rstrip("/") + "/api/v1"
        self.http = requests.Session()
        self.admin: dict[str, str] | None = None
        if admin:
            user, _, password = admin.partition(":")
            login = self.http.post(
                f"{self.base}/auth/login", json={"username": user, "password": password}
            )
            login.raise_for_status()
            self.admin = {"Authorization": f"Bearer {login.json()['token']}"}

    def register(self) -> dict[str, str]:
        name = "fc" + uuid.uuid4().hex[:12]
        made = self.http.post(
            f"{self.base}/auth/register", json={"username": name, "password": f"pw-{name}-1"}
        )
        if made.status_code != 201:
            raise SystemExit(f"register: {made.status_code} {made.text}")
        if self.admin:
            user_id = made.json()["user"]["id"]
            granted = self.http.put(
                f"{self.base}/admin/users/{user_id}/roles",
                json={"roles": ["user", "editor"]},
                headers=self.admin,
            )
            granted.raise_for_status()
        return {"Authorization": f"Bearer {made.json()['token']}"}

    def page(self, auth: dict[str, str] | None, limit: int = 20, **query: Any) -> dict[str, Any]:
        params = {"limit": limit, **{k: v for k, v in query.items() if v is not None}}
        if self.admin and auth:
            params["explain"] = 1
        got = self.http.get(f"{self.base}/feeds/discover", params=params, headers=auth or {})
        if got.status_code != 200:
            raise SystemExit(f"discover: {got.status_code} {got.text}")
        return got.json()

    def like(self, auth: dict[str, str], note_id: int) -> bool:
        return self.http.post(f"{self.base}/notes/{note_id}/like", headers=auth).status_code in (
            200,
            201,
        )


def channel_of(card: dict[str, Any]) -> str | None:
    return (card.get("channel") or {}).get("code")


def walk(client: Client, auth: dict[str, str] | None, max_pages: int) -> dict[str, Any]:
    ids: list[int] = []
    sources: Counter[str] = Counter()
    cursor = None
    pages = 0
    while pages < max_pages:
        body = client.page(auth, cursor=cursor)
        pages += 1
        ids += [card["id"] for card in body["items"]]
        sources.update(card.get("source", "?") for card in body["items"])
        cursor = body["next_cursor"]
        if not body["items"] or not cursor:
            break
    return {"distinct": len(set(ids)), "served": len(ids), "pages": pages, "sources": sources}


def report_miss(what: str, channel: str, cards: list[dict[str, Any]]) -> None:
    print(f"-- {what} missed for {channel}:", file=sys.stderr)
    for card in cards:
        explain = card.get("explain") or {}
        print(
            f"   {card['id']:>6} {channel_of(card)!s:<10} {card.get('source')!s:<10}"
            f" {explain.get('score', 0):.3f} {explain.get('components', {})}",
            file=sys.stderr,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("base_url")
    parser.add_argument("--channels", nargs="+", default=["food", "pets", "travel", "tech"])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--max-pages", type=int, default=100)
    parser.add_argument("--admin", default=None, help="USER:PASSWORD of an admin (explain)")
    args = parser.parse_args()
    client = Client(args.base_url, args.admin)
    out: dict[str, Any] = {
        "anonymous": walk(client, None, args.max_pages),
        "signed_in_new": walk(client, client.register(), args.max_pages),
        "onboarding_first_20": {},
        "after_4_likes_next_10": {},
    }
    for channel in args.channels:
        onboarding, likes = [], []
        for _ in range(args.runs):
            print(f"[feed_check] {channel}", file=sys.stderr, flush=True)
            auth = client.register()
            chosen = client.http.put(
                f"{client.base}/me/interests",
                json={"channels": [channel], "topics": []},
                headers=auth,
            )
            chosen.raise_for_status()
            cards = client.page(auth)["items"]
            mine = sum(1 for card in cards if channel_of(card) == channel)
            onboarding.append(
                {"in_channel": mine, "of": len(cards), "picks": sum(c["pick"] for c in cards)}
            )
            if mine < 10:
                report_miss("onboarding", channel, cards)

            auth = client.register()
            first = client.page(auth)
            shown = {card["id"] for card in first["items"]}
            # the channel tab's first 10 cards (each one served there is not served again
            # on discover for a while: a longer look would leave little of the channel)
            candidates = client.page(auth, limit=10, channel=channel)["items"]
            liked = 0
            for card in candidates:
                if liked == 4:
                    break
                if card["id"] not in shown and client.like(auth, card["id"]):
                    liked += 1
            after = client.page(auth, limit=10, cursor=first["next_cursor"])["items"]
            fresh = client.page(auth, limit=10)["items"]
            mine = sum(1 for card in after if channel_of(card) == channel)
            likes.append(
                {
                    "liked": liked,
                    "next_10_in_channel": mine,
                    "new_session_10_in_channel": sum(
                        1 for card in fresh if channel_of(card) == channel
                    ),
                    "repeats": len(shown & {card["id"] for card in after}),
                }
            )
            if mine < 5:
                report_miss("4 likes", channel, after)
        out["onboarding_first_20"][channel] = onboarding
        out["after_4_likes_next_10"][channel] = likes
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False, default=dict)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
