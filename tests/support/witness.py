"""A witness on loopback that takes tlog-checkpoint notes by POST (a real HTTP server on a
thread): it checks each note's Ed25519 signature line against the log's public key, as a
witness does (C2SP signed-note), keeps the notes it accepts, and refuses the rest (403)."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


@dataclass
class Witness:
    origin: str
    public_key: Ed25519PublicKey
    notes: list[str] = field(default_factory=list)

    def check(self, note: str) -> str | None:
        """None when `note` is a checkpoint of `origin` signed by `public_key`; else why not."""
        body, _, signatures = note.partition("\n\n")
        lines = body.split("\n")
        if len(lines) < 3 or lines[0] != self.origin:
            return "not a checkpoint of this log"
        raw = self.public_key.public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
        want = hashlib.sha256(self.origin.encode() + b"\n\x01" + raw).digest()[:4]
        for line in signatures.splitlines():
            dash, name, b64 = line.split(" ")
            blob = base64.b64decode(b64)
            if dash != "\u2014" or name != self.origin or blob[:4] != want:
                continue
            try:
                self.public_key.verify(blob[4:], (body + "\n").encode())
            except InvalidSignature:
                return "bad signature"
            return None
        return "no signature by this log's key"


@contextmanager
def running_witness(port: int, witness: Witness) -> Iterator[Witness]:
    """Serve `witness` on 127.0.0.1:`port` until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            note = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            problem = witness.check(note)
            if problem is None:
                witness.notes.append(note)
            body = (problem or "ok").encode()
            self.send_response(403 if problem else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield witness
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
