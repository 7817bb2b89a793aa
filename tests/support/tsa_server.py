"""A real RFC 3161 Time Stamping Authority over HTTP: each POSTed query is answered by
`openssl ts -reply` (run as a script: stdlib only, started by `tests.support.tsa`).

    python tsa_server.py --port P --config openssl-tsa.cnf
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_QUERY = 64 * 1024


class TsaHandler(BaseHTTPRequestHandler):
    config: Path
    lock = threading.Lock()  # `openssl ts` bumps one serial file: one reply at a time

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        """Readiness probe: say what this server is."""
        self._send(200, "text/plain", b"RFC 3161 TSA (openssl ts): POST a timestamp query\n")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Content-Type") != QUERY_TYPE or not 0 < length <= MAX_QUERY:
            self._send(415, "text/plain", b"expected an application/timestamp-query body\n")
            return
        query = self.rfile.read(length)
        with tempfile.TemporaryDirectory() as tmp, self.lock:
            qpath, rpath = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
            qpath.write_bytes(query)
            run = subprocess.run(
                ["openssl", "ts", "-reply", "-config", str(self.config),
                 "-queryfile", str(qpath), "-out", str(rpath)],
                capture_output=True, check=False)
            if run.returncode != 0 or not rpath.exists():
                self._send(500, "text/plain", run.stderr[-2000:])
                return
            self._send(200, REPLY_TYPE, rpath.read_bytes())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: the fixture's log holds only openssl's own complaints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args()
    TsaHandler.config = args.config
    HTTPServer(("127.0.0.1", args.port), TsaHandler).serve_forever()


if __name__ == "__main__":
    main()
