"""Memory of a real `bwc serve` before and after unauthenticated 400 MB request bodies
(#22, finding 6): before the body guard, FastAPI read each body whole before answering 401.

    .venv/bin/python bench/body_limits.py                     # this checkout
    .venv/bin/python bench/body_limits.py --checkout DIR      # another tree (e.g. `git
                                                              # archive main` unpacked), same run

Each body is sent over a raw socket, 1 MiB at a time, watching for the answer between pieces:
a server that answers before reading stops the sending. Reported per checkout: the server's
RSS before and after, the answers, and how much of each body went out before the answer.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _send(port: int, size: int, *, chunked: bool) -> tuple[str, int]:
    """POST /api/v1/users with `size` bytes and no credentials; returns the status line and
    how many body bytes went out before the answer (or the server closing)."""
    sock = socket.create_connection(("127.0.0.1", port))
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    sock.sendall((f"POST /api/v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Content-Type: application/json\r\n{framing}\r\n\r\n").encode())
    piece, sent = b" " * MIB, 0
    try:
        while sent < size:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered (or closed)
            data = (f"{len(piece):x}\r\n".encode() + piece + b"\r\n") if chunked else piece
            sock.sendall(data)
            sent += len(piece)
        else:
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        sock.settimeout(120)
        answer = sock.recv(4096).split(b"\r\n", 1)[0].decode() or "(closed)"
    except (BrokenPipeError, ConnectionResetError):
        answer = "(connection reset while sending)"
    finally:
        sock.close()
    return answer, sent


def measure(checkout: Path, *, bodies: int, size: int) -> dict[str, object]:
    """Start `bwc serve` from `checkout`, send the bodies, return what was seen."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "BWC_HOME": home, "PYTHONPATH": str(checkout),
               "BWC_AUTO_ANALYZE": "false"}
        env.pop("BWC_DATABASE_URL", None)
        subprocess.run([sys.executable, "-m", "bwc_custody", "db", "upgrade"], env=env,
                       cwd=checkout, check=True, capture_output=True)
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "bwc_custody", "serve", "--no-worker",
                                 "--host", "127.0.0.1", "--port", str(port)], env=env,
                                cwd=checkout, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("bwc serve did not start") from None
                    time.sleep(0.2)
            server = psutil.Process(proc.pid)
            before = server.memory_info().rss
            peak = before
            answers = []
            for i in range(bodies):
                answers.append(_send(port, size, chunked=bool(i % 2)))
                peak = max(peak, server.memory_info().rss)
            after = server.memory_info().rss
        finally:
            proc.kill()
            proc.wait()
    return {"checkout": str(checkout), "rss_before_mb": round(before / MIB),
            "rss_after_mb": round(after / MIB), "rss_peak_seen_mb": round(peak / MIB),
            "answers": [f"{a} after {s // MIB} MiB sent" for a, s in answers]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, action="append",
                        help="a source tree to run (repeatable); default: this one")
    parser.add_argument("--bodies", type=int, default=3)
    parser.add_argument("--size-mb", type=int, default=400)
    args = parser.parse_args()
    for checkout in args.checkout or [ROOT]:
        print(measure(checkout.resolve(), bodies=args.bodies, size=args.size_mb * MIB))


if __name__ == "__main__":
    main()
