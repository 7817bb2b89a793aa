"""The door before the body: each route's body limit, and the caller of a route that is not
public authenticated before a byte of the body is read.

FastAPI reads and parses a route's whole body before it runs the route's dependencies, where
authentication lives: anyone could make the server hold a 400 MB JSON body before it
answered 401 (three such bodies took it from 448 MB to 3.57 GB, #22 finding 6). This ASGI
middleware runs first. It refuses a declared Content-Length over the route's limit
(`body_too_large`, 413) and a caller who is not who the route admits (401) without reading
anything, then counts the bytes as the route reads them and stops at the limit (a chunked
body declares no length). Limits are per route (`deps.body_limit`, 1 MiB by default); the
tus PATCH streams its body to disk and is bounded by the upload's length instead.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bwc_custody.console.session import authenticate as console_authenticate
from bwc_custody.db import session_scope
from bwc_custody.deps import (
    BODY_LIMIT_KEY,
    DEFAULT_BODY_LIMIT,
    PUBLIC,
    STREAMED,
    get_principal,
    rules_in,
)
from bwc_custody.errors import BodyTooLarge, BwcError

Refuse = Callable[[Request, BwcError], Awaitable[Response]]


@dataclass(frozen=True)
class Door:
    """What the guard knows of one route: where, its body limit, whether it is public."""

    path: re.Pattern[str]
    methods: frozenset[str]
    limit: int | None  # None: streamed, bounded by the route itself
    public: bool
    reads_body: bool  # a JSON or form body that FastAPI reads before the route runs


def doors_of(app: FastAPI) -> list[Door]:
    """Every route of `app` as the guard sees it, in routing order."""
    found = []
    for route in app.routes:
        contexts: list[Any] = (route.effective_route_contexts()
                               if hasattr(route, "effective_route_contexts") else [route])
        for ctx in contexts:
            dependant = getattr(ctx, "dependant", None)
            if dependant is None:
                continue  # not an API route (the schema, the docs, static files)
            declared = (ctx.openapi_extra or {}).get(BODY_LIMIT_KEY, DEFAULT_BODY_LIMIT)
            found.append(Door(
                path=ctx.path_regex, methods=frozenset(m.upper() for m in ctx.methods or ()),
                limit=None if declared == STREAMED else int(declared),
                public=any(PUBLIC in r for r in rules_in(dependant)),
                reads_body=ctx.body_field is not None))
    return found


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _authenticate(request: Request) -> None:
    """Raise Unauthenticated unless the request comes from a live logon (the console's
    cookie on its pages, a bearer token elsewhere); the API's caller is kept for its route."""
    with session_scope() as session:
        if request.url.path.startswith("/console"):
            console_authenticate(request, session)
        else:
            request.state.authenticated = get_principal(request, session)


class BodyGuard:
    """ASGI middleware: see the module's doc. `refuse` renders a refusal as the app does."""

    def __init__(self, app: ASGIApp, *, fastapi_app: FastAPI, refuse: Refuse) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.refuse = refuse
        self._doors: list[Door] | None = None

    def _door(self, scope: Scope) -> Door | None:
        if self._doors is None:  # routes are all in place by the first request
            self._doors = doors_of(self.fastapi_app)
        path, method = scope["path"], scope["method"]
        return next((d for d in self._doors if method in d.methods and d.path.match(path)),
                    None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        door = self._door(scope)
        limit = DEFAULT_BODY_LIMIT if door is None else door.limit
        if limit is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            declared = _declared_length(scope)
            if declared is not None and declared > limit:
                raise BodyTooLarge(f"the request body is {declared} bytes; this route takes "
                                   f"at most {limit}", limit=limit)
            if door is not None and door.reads_body and not door.public:
                await run_in_threadpool(_authenticate, request)
        except BwcError as exc:
            response = await self.refuse(request, exc)
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(f"the request body is over {limit} bytes, the most "
                                       "this route takes", limit=limit)
            return message

        await self.app(scope, counted, send)
