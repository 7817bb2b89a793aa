"""Serve one object's plaintext on a one-time loopback URL with HTTP Range support.

ffprobe/ffmpeg must seek (an MP4's index is often at the end), and plaintext footage must
never be written to disk; they read the decrypted bytes over 127.0.0.1 instead, under an
unguessable path, for as long as the context lasts.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from storage.crypto import RangeReader

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
_CHUNK = 1024 * 1024  # one segment: per-connection memory stays small


def _handler(reader: RangeReader, path: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_HEAD(self) -> None:  # noqa: N802
            self._serve(body=False)

        def do_GET(self) -> None:  # noqa: N802
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            if self.path != path:
                self.send_error(404)
                return
            size = reader.size
            start, end = 0, size - 1
            match = _RANGE.match(self.headers.get("Range", ""))
            if match and (match.group(1) or match.group(2)):
                if match.group(1):
                    start = int(match.group(1))
                    end = int(match.group(2)) if match.group(2) else size - 1
                else:
                    start = max(size - int(match.group(2)), 0)
                end = min(end, size - 1)
                if start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            else:
                self.send_response(200)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(max(end - start + 1, 0)))
            self.end_headers()
            if not body:
                return
            pos = start
            try:
                while pos <= end:
                    n = min(_CHUNK, end - pos + 1)
                    self.wfile.write(reader.read(pos, n))
                    pos += n
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client closed early (ffprobe reads only what it needs)

    return Handler


@contextmanager
def serve_plaintext(reader: RangeReader) -> Iterator[str]:
    """A loopback URL serving `reader`'s plaintext until the block exits."""
    path = "/" + secrets.token_urlsafe(24)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(reader, path))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
