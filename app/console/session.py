"""Console sign-in: the session cookie carries an ordinary API token, issued by
`accounts.login` and revoked on sign-out, so a console session obeys every rule a token does
(expiry, revocation, bans, password changes)."""

from __future__ import annotations

from flask import g, request, session

from app.accounts import services as accounts
from app.accounts.models import User
from app.core.errors import AppError
from app.core.extensions import rate_limiter
from app.core.routing import client_ip

_TOKEN = "token"


def sign_in(username: str, password: str) -> User:
    """Checks the password (rate-limited per address and per account, as the API's login)
    and starts a fresh session; raises the service's error otherwise."""
    rate_limiter().hit("login", f"ip:{client_ip()}")
    user, token = accounts.login(
        username.strip(), password, user_agent=f"console {request.user_agent.string}"
    )
    session.clear()  # no fixation: a new session (and CSRF token) for the new account
    g.pop("csrf_token", None)  # Flask-WTF's copy of the old session's token
    session[_TOKEN] = token
    session.permanent = True
    return user


def sign_out() -> None:
    token = session.get(_TOKEN)
    session.clear()
    g.pop("csrf_token", None)
    if token:
        accounts.logout(token)


def signed_in_user() -> User | None:
    token = session.get(_TOKEN)
    if not token:
        return None
    try:
        return accounts.authenticate(token)
    except AppError:
        session.pop(_TOKEN, None)  # revoked, expired or banned: signed out
        return None
