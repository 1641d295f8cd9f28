"""The REST API (``sentinel serve``): a second front end over the same use cases as the CLI.

A route (:mod:`dk_sentinel.api.routes`) parses its input, checks the caller's API key and role
(:mod:`~dk_sentinel.api.deps`), calls one method of the application object
(:class:`dk_sentinel.usecases.Sentinel`) and returns the same pydantic model the CLI prints
with ``--format json``. One mapping (:mod:`~dk_sentinel.api.problems`) turns the
``SentinelError`` hierarchy into HTTP statuses with ``application/problem+json`` bodies
(RFC 9457), as the CLI maps it to exit codes. The factory is :func:`create_app`
(:mod:`~dk_sentinel.api.app`).
"""

from dk_sentinel.api.app import app_from_environment, create_app

__all__ = ["app_from_environment", "create_app"]
