"""What the two web front ends share, below both: the REST API and the console.

:mod:`dk_sentinel.web.deps` holds what requests depend on -- the application, the caller's API
key and role (checked, cached and rate-limited per key), the page cursor; the console's sessions
go through the same checks. :mod:`dk_sentinel.web.problems` holds the one table from the
``SentinelError`` hierarchy to HTTP statuses and its ``application/problem+json`` bodies; the
console renders the same statuses as pages. Nothing here imports :mod:`dk_sentinel.api` or
:mod:`dk_sentinel.console`.
"""
