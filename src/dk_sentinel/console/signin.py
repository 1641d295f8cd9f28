"""Signing in and out of the console (a server-side session behind a cookie)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dk_sentinel.console.rendering import (
    ConsoleRoute,
    FormText,
    OptionalText,
    local_path,
    render,
    see_other,
)
from dk_sentinel.console.session import (
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    Signed,
    check_csrf,
    end_session,
    new_signin_token,
    set_signin_cookie,
    start_session,
)

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home() -> RedirectResponse:
    """The console starts at the queue."""
    return see_other("/queue")


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, next: str | None = None) -> HTMLResponse:
    """The sign-in form (an API key, as for the API)."""
    token = new_signin_token()
    page = render(request, "signin.html", next=local_path(next), error=None, csrf=token)
    set_signin_cookie(page, token, request.url.scheme == "https")
    return page


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    api_key: FormText,
    csrf_token: FormText,
    next: OptionalText = None,
) -> Response:
    """Check the key; keep it in the session cookie and go on to ``next``."""
    check_csrf(request.cookies.get(SIGNIN_COOKIE, ""), csrf_token)
    state = request.app.state.sentinel
    key = state.authenticate(api_key.strip()) if api_key.strip() else None
    if key is None:
        error = "That key is not valid (or it was revoked)."
        return render(request, "signin.html", 401, next=local_path(next), error=error,
                      csrf=csrf_token)  # fmt: skip
    token = state.runtime.app.keys.start_session(key)  # the cookie never holds the key
    response = see_other(local_path(next))
    start_session(response, token, request.url.scheme == "https")
    return response


@router.post("/signout")
def signout(request: Request, session: Signed, csrf_token: FormText) -> RedirectResponse:
    """End the session: its token stops working here and on every worker."""
    check_csrf(session.csrf, csrf_token)
    token = request.cookies.get(SESSION_COOKIE, "")
    state = request.app.state.sentinel
    state.runtime.app.keys.end_session(token)
    state.forget(token)
    response = see_other("/signin")
    end_session(response)
    return response
