"""A witness on loopback speaking C2SP tlog-witness `add-checkpoint` (a real HTTP server on
a thread; https://c2sp.org/tlog-witness). Like a witness it checks the checkpoint note's
Ed25519 signature line against the log's public key (C2SP signed-note; 403 when none
verifies, 404 for another origin), checks the old size against the head it holds (409 with
`text/x.tlog.size` when they differ), verifies the RFC 6962 consistency proof from that
head to the new one (422 when it does not verify), and answers 200 with a C2SP
tlog-cosignature line by its own Ed25519 key, keeping the new head."""

from __future__ import annotations

import base64
import hashlib
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from bwc_custody.custody.merkle import verify_consistency

NAME = "witness.example/w1"


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def cosignature_key_id(name: str, key: Ed25519PublicKey) -> bytes:
    """SHA-256(name || "\\n" || 0x04 || key)[:4] (C2SP tlog-cosignature, Ed25519)."""
    return hashlib.sha256(name.encode() + b"\n\x04" + _raw(key)).digest()[:4]


def cosigned_message(timestamp: int, body: str) -> bytes:
    """What a cosignature v1 signs: the header line, the time line, the checkpoint body."""
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


@dataclass
class Witness:
    origin: str
    public_key: Ed25519PublicKey
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    size: int = 0  # the head it holds (0, and no root, before the first)
    root: bytes = b""
    notes: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def vkey(self) -> str:
        """Its verifier key as a witness publishes it (C2SP signed-note, cosignature/v1)."""
        raw = b"\x04" + _raw(self.key.public_key())
        return (f"{NAME}+{cosignature_key_id(NAME, self.key.public_key()).hex()}+"
                f"{base64.b64encode(raw).decode()}")

    def check(self, note: str) -> str | None:
        """None when `note` is a checkpoint of `origin` signed by `public_key`; else why not."""
        body, _, signatures = note.partition("\n\n")
        lines = body.split("\n")
        if len(lines) < 3 or lines[0] != self.origin:
            return "not a checkpoint of this log"
        want = hashlib.sha256(self.origin.encode() + b"\n\x01" + _raw(self.public_key)).digest()[:4]
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

    def add_checkpoint(self, request: str) -> tuple[int, str, str]:
        """(status, content type, body) for one add-checkpoint request body."""
        head, sep, note = request.partition("\n\n")
        lines = head.split("\n")
        if not sep or not lines[0].startswith("old ") or not lines[0][4:].isdigit():
            return 400, "text/plain", "malformed request"
        try:
            old, proof = int(lines[0][4:]), [base64.b64decode(x, validate=True) for x in lines[1:]]
        except ValueError:
            return 400, "text/plain", "a proof line is not base64"
        if len(proof) > 63:
            return 400, "text/plain", "too many proof lines"
        problem = self.check(note)
        if problem == "not a checkpoint of this log":
            return 404, "text/plain", problem
        if problem:
            return 403, "text/plain", problem
        body = note.partition("\n\n")[0] + "\n"
        _, size_line, root_b64 = body.split("\n")[:3]
        size, root = int(size_line), base64.b64decode(root_b64)
        if old > size:
            return 400, "text/plain", "old size beyond the checkpoint"
        with self.lock:  # the check and the update are one step (the spec's race)
            if old != self.size:
                return 409, "text/x.tlog.size", f"{self.size}\n"
            if old == 0 and proof:
                return 400, "text/plain", "a proof from size 0"
            if old == size and root != self.root:
                return 409, "text/plain", "same size, another root"
            if 0 < old < size and not verify_consistency(old, size, self.root, root, proof):
                return 422, "text/plain", "consistency proof does not verify"
            self.size, self.root = size, root
            self.notes.append(note)
        now = int(time.time())
        sig = self.key.sign(cosigned_message(now, body))
        blob = cosignature_key_id(NAME, self.key.public_key()) + struct.pack(">Q", now) + sig
        return 200, "text/plain", f"\u2014 {NAME} {base64.b64encode(blob).decode()}\n"


@contextmanager
def running_witness(port: int, witness: Witness) -> Iterator[Witness]:
    """Serve `witness` on 127.0.0.1:`port` (POST /add-checkpoint) until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            request = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if self.path != "/add-checkpoint":
                status, kind, text = 404, "text/plain", "no such endpoint"
            else:
                witness.requests.append(request)
                status, kind, text = witness.add_checkpoint(request)
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
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
