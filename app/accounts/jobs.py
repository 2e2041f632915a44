"""Accounts' jobs: what must reach Redis after a change to accounts commits."""

from __future__ import annotations

from app.core.extensions import get_redis
from app.core.jobs import job


def token_key(digest: str) -> str:
    """Where services mode keeps what a token resolves to (`services.identify`)."""
    return f"sprout:token:{digest}"


@job("default", keep_result=False)
def forget_revoked_tokens(digests: list[str]) -> int:
    """Drop revoked tokens' cached resolutions; durable and retried, so a revocation made
    while Redis was unreachable still takes effect once it is back (idempotent)."""
    connection = get_redis()
    if connection is None or not digests:
        return 0
    return int(connection.delete(*(token_key(d) for d in digests)))
