"""The console's sign-in: an opaque server-side session in an HttpOnly, SameSite=Strict cookie.

The analyst types an API key once; the sign-in checks it and opens a session in the warehouse
(``{ops}.console_sessions``, so several workers agree). The cookie holds only the session's
random token -- never the key. A session ends after ``[api] session_idle_minutes`` without use,
``[api] session_hours`` after sign-in, on sign-out, or when its key is revoked; requests are
checked, cached and rate-limited per key by :func:`dk_sentinel.web.deps.admit`. Every form
carries a CSRF token derived from the session's token (an HMAC); the sign-in form, before there
is a session, uses a random token double-submitted in a short-lived cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request, Response

from dk_sentinel.errors import PermissionDenied
from dk_sentinel.usecases import SESSION_PREFIX, ApiKey
from dk_sentinel.vocabulary import Role
from dk_sentinel.web.deps import admit

SESSION_COOKIE = "sentinel_session"
SIGNIN_COOKIE = "sentinel_signin"


class SignInRequired(Exception):
    """No valid key in the session cookie: the console sends the browser to the sign-in page."""


def csrf_token(secret: str) -> str:
    """The CSRF token of a session (an HMAC of the key, so it never reveals the key)."""
    return hmac.new(secret.encode(), b"dk-sentinel console csrf", hashlib.sha256).hexdigest()


def check_csrf(expected: str, presented: str | None) -> None:
    """Refuse a form whose CSRF token is not the session's.

    Raises:
        PermissionDenied: Missing or wrong token.
    """
    if not presented or not hmac.compare_digest(expected, presented):
        raise PermissionDenied(
            "the form's security token is missing or stale",
            "Reload the page and submit the form again.",
        )


def new_signin_token() -> str:
    """A random token for the sign-in form (double-submitted: also set as a cookie)."""
    return secrets.token_urlsafe(24)


def set_signin_cookie(response: Response, token: str, secure: bool) -> None:
    """Set the sign-in form's token as a short-lived cookie."""
    response.set_cookie(SIGNIN_COOKIE, token, max_age=600, httponly=True, samesite="strict",
                        secure=secure, path="/signin")  # fmt: skip


def start_session(response: Response, token: str, secure: bool) -> None:
    """Keep the session's token in the cookie (ends with the browser session)."""
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                        secure=secure, path="/")  # fmt: skip
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")


def end_session(response: Response) -> None:
    """Forget the session's cookie (the session itself is ended in the warehouse)."""
    response.delete_cookie(SESSION_COOKIE, path="/")


class Session:
    """The signed-in analyst: their key and the CSRF token of their forms."""

    def __init__(self, key: ApiKey, presented: str) -> None:
        """Keep the checked key and derive the CSRF token from what was presented."""
        self.key = key
        self.csrf = csrf_token(presented)

    def require(self, needed: Role) -> None:
        """Refuse an action the role does not allow.

        Raises:
            PermissionDenied: The role does not include ``needed``.
        """
        if not self.key.allows(needed):
            raise PermissionDenied(
                f"the {self.key.role} role may not do this; it needs {needed}",
                "Ask an administrator for an analyst key (sentinel api-keys create).",
            )


def _session(request: Request) -> Session:
    from dk_sentinel.web.problems import Unauthorised

    presented = request.cookies.get(SESSION_COOKIE)
    if not presented or not presented.startswith(SESSION_PREFIX):  # an API key is no session
        raise SignInRequired()
    try:
        key = admit(request, presented, "viewer")
    except Unauthorised:
        raise SignInRequired() from None
    return Session(key, str(presented))


#: The signed-in analyst of a console page (no valid cookie: the sign-in page).
Signed = Annotated[Session, Depends(_session)]
