"""Send one request straight into the ASGI app, body piece by piece, and count how many
pieces the app asked for: whether a server read a body, without a server and a socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message


@dataclass
class Answer:
    """The app's answer, and how many body pieces it had read by then."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    pieces_read: int = 0

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def send(app: ASGIApp, method: str, path: str, *, pieces: Iterator[bytes],
         headers: dict[str, str] | None = None) -> Answer:
    """`method path` with the body `pieces` (one ASGI message each, pulled only when the app
    asks for the next); returns the answer."""
    answer = Answer()
    pending = iter(pieces)
    next_piece: bytes | None = next(pending, None)

    async def receive() -> Message:
        nonlocal next_piece
        if next_piece is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        piece, next_piece = next_piece, next(pending, None)
        answer.pieces_read += 1
        return {"type": "http.request", "body": piece, "more_body": next_piece is not None}

    async def send_message(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    asyncio.run(app(scope, receive, send_message))
    return answer
