"""How console pages are rendered and how their errors become pages (one place for both)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from dk_sentinel.console.session import SignInRequired
from dk_sentinel.errors import SentinelError
from dk_sentinel.vocabulary import REGISTRY
from dk_sentinel.web.problems import STATUS, RateLimited

log = logging.getLogger("dk_sentinel.api")

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["components"] = REGISTRY  # the history table's columns
#: No inline script or style, nothing from elsewhere, never framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page from ``template`` with the security headers."""
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def status_of(exc: SentinelError) -> int:
    """The HTTP status of an error (the API's mapping, :data:`problems.STATUS`)."""
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 500)


def local_path(target: str | None, default: str = "/queue") -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


def see_other(target: str) -> RedirectResponse:
    """Redirect after a form (303: the browser follows with GET)."""
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


class ConsoleRoute(APIRoute):
    """A console route: sign-in redirects and errors are pages, not problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler so the console's errors render as pages."""
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                if request.method != "GET":  # a form posted after the session ended: back to
                    wanted = "/queue"  # the lists (its target answers only POST)
                return see_other(f"/signin?next={quote(wanted, safe='')}")
            except RequestValidationError as exc:
                if any(e["loc"][-1:] == ("csrf_token",) for e in exc.errors()):
                    # a form without its security token is refused like one with a wrong one
                    return render(request, "error.html", 403, title="That did not work",
                                  message="the form's security token is missing or stale",
                                  hint="Reload the page and submit the form again.")  # fmt: skip
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()
                )
                return render(request, "error.html", 422, title="That did not work",
                              message=problems, hint="Check the filters or the form.")  # fmt: skip
            except RateLimited as exc:
                response = render(request, "error.html", 429, title="Too many requests",
                                  message=f"The limit is {exc.limit} per key.",
                                  hint=f"Wait {exc.retry_after} s and reload.")  # fmt: skip
                response.headers["Retry-After"] = str(exc.retry_after)
                return response
            except SentinelError as exc:
                status = status_of(exc)
                if status >= 500 and status != 503:
                    log.error("console %s: %s", request.url.path, exc.message)
                return render(request, "error.html", status, title="That did not work",
                              message=exc.message if status < 500 or status == 503
                              else "internal error", hint=exc.hint)  # fmt: skip

        return console_handler


#: A required and an optional form field.
FormText = Annotated[str, Form()]
OptionalText = Annotated[str | None, Form()]
#: Rows on a worklist page (the queue, the cases).
PAGE_SIZE = 50


def blank_is_none(value: str | None) -> str | None:
    """A filter left blank in a form is no filter."""
    return value.strip() or None if value else None


def page_links(
    path: str, filters: dict[str, str], start: int, following: str | None
) -> dict[str, Any]:
    """The pager's links: the next page (by its cursor) and, past the first, the first."""
    given = {k: v for k, v in filters.items() if v}  # blank filters stay out of the links
    return {
        "next_page": f"{path}?{urlencode({**given, 'cursor': following})}" if following else None,
        "first_page": f"{path}?{urlencode(given)}" if start else None,
    }
