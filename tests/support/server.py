"""Start a real `bwc serve` (uvicorn, its own process) for tests that kill it or load it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.s3server import free_port

STARTUP_DEADLINE_S = 60


@contextmanager
def running_server(env: dict[str, str], log: Path, *, worker: bool = False
                   ) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`bwc serve` on a free loopback port with `env`; yields the process and its base URL
    once it answers, and kills it (if still alive) on exit."""
    port = free_port()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bwc_custody", "serve", "--host", "127.0.0.1",
             "--port", str(port), *([] if worker else ["--no-worker"])],
            env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while True:  # a readiness probe: the server answers, or it died, or time is up
            if proc.poll() is not None:
                raise RuntimeError(f"bwc serve exited ({proc.returncode}): "
                                   f"{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/api/v1/keys/signing", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"bwc serve did not answer in {STARTUP_DEADLINE_S} s")
            time.sleep(0.2)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
