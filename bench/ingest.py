"""Ingest throughput against the in-memory crypto limit, measured in the same run.

    python bench/ingest.py --size 1GiB

Prints: the one-pass SHA-256 + AES-256-GCM limit (no I/O), end-to-end CLI ingest
(`bwc ingest`, a fresh process: start-up, hashing, encryption, fsync'd write, ffprobe,
DB), HTTP ingest (tus PATCHes in 8 MiB chunks to a `bwc serve` process, then finalise),
each as a ratio to the limit, and the peak RSS of the ingesting processes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage.crypto import SegmentCipher, new_data_key  # noqa: E402


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)\s*([KMG]i?B?)?", text.strip(), re.I)
    if not match:
        raise argparse.ArgumentTypeError(f"bad size {text!r}")
    unit = (match.group(2) or "").upper()[:1]
    return int(match.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit]


def make_file(path: Path, size: int) -> None:
    block = os.urandom(8 << 20)
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(left, len(block))
            fh.write(block[:n])
            left -= n


def crypto_limit(size: int, segment: int = 1 << 20) -> float:
    """Bytes/s of one pass hashlib SHA-256 + AES-256-GCM over in-memory segments."""
    buf = os.urandom(64 << 20)
    cipher = SegmentCipher.new(new_data_key(), uuid.uuid4(), segment)
    hasher = hashlib.sha256()
    segments = size // segment
    start = time.perf_counter()
    for i in range(segments):
        off = (i * segment) % len(buf)
        piece = memoryview(buf)[off : off + segment]
        hasher.update(piece)
        cipher.encrypt(i, piece, i == segments - 1)
    return segments * segment / (time.perf_counter() - start)


def disk_limit(directory: Path, size: int) -> float:
    """Bytes/s of writing `size` bytes to `directory` and fsyncing, no crypto."""
    block = os.urandom(8 << 20)
    path = directory / "disk-baseline.bin"
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        left = size
        while left:
            left -= os.write(fd, block[: min(left, len(block))])
        os.fsync(fd)
    finally:
        os.close(fd)
    elapsed = time.perf_counter() - start
    path.unlink()
    return size / elapsed


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, int, bytes]:
    """(seconds, peak RSS bytes, stdout) of one child process."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        out.seek(0)
        data = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd} failed")
    return elapsed, usage.ru_maxrss * 1024, data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vm_hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def http_ingest(path: Path, env: dict[str, str], token: str) -> tuple[float, int]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bwc_custody", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            deadline = time.monotonic() + 60
            while True:  # readiness poll with a deadline
                try:
                    client.get("/api/v1/keys/signing")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("bwc serve did not start") from None
                    time.sleep(0.1)
            auth = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
            size = path.stat().st_size
            start = time.perf_counter()
            resp = client.post("/api/v1/uploads", headers={**auth, "Upload-Length": str(size)})
            url = resp.headers["Location"]
            hasher = hashlib.sha256()
            offset = 0
            with open(path, "rb") as fh:
                while chunk := fh.read(8 << 20):
                    hasher.update(chunk)
                    digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
                    resp = client.patch(url, content=chunk, headers={
                        **auth, "Upload-Offset": str(offset),
                        "Content-Type": "application/offset+octet-stream",
                        "Upload-Checksum": f"sha256 {digest}"})
                    assert resp.status_code == 204, resp.text
                    offset = int(resp.headers["Upload-Offset"])
            resp = client.post(f"{url}/finalize", json={"sha256": hasher.hexdigest()},
                               headers=auth)
            assert resp.status_code == 200, resp.text
            elapsed = time.perf_counter() - start
            return elapsed, vm_hwm(server.pid)
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where to put the data and BWC_HOME (default: a temp dir)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bwc-bench-", dir=args.workdir))
    try:
        data = work / "footage.bin"
        make_file(data, args.size)
        env = {**os.environ, "BWC_HOME": str(work / "home")}
        env.pop("BWC_DATABASE_URL", None)
        subprocess.run([sys.executable, "-m", "bwc_custody", "db", "upgrade"], env=env,
                       check=True, capture_output=True)
        out = subprocess.run(
            [sys.executable, "-m", "bwc_custody", "users", "add", "bench-dock", "--role", "dock"],
            env=env, check=True, capture_output=True)
        token = json.loads(out.stdout)["token"]

        limit = crypto_limit(args.size)
        disk = disk_limit(work, args.size)
        ceiling = min(limit, disk)
        cli_s, cli_rss, _ = run_measured(
            [sys.executable, "-m", "bwc_custody", "ingest", str(data)], env)
        # A second file with other bytes (the first is already in custody: dedupe).
        with open(data, "r+b") as fh:
            fh.write(os.urandom(4096))
        http_s, http_rss = http_ingest(data, env, token)

        size = args.size
        rows = [
            ("crypto limit (in memory, 1 pass)", size / limit, limit, None),
            ("disk limit (write + fsync, no crypto)", size / disk, disk, None),
            ("CLI ingest (bwc ingest)", cli_s, size / cli_s, cli_rss),
            ("HTTP ingest (tus, 8 MiB PATCH)", http_s, size / http_s, http_rss),
        ]
        print(f"ingest benchmark, {size / (1 << 20):.0f} MiB, {os.cpu_count()} cores")
        print(f"{'path':38} {'seconds':>8} {'MiB/s':>7} {'x crypto':>8} {'x min(crypto,disk)':>18}"
              f" {'peak RSS':>9}")
        for name, seconds, rate, rss in rows:
            rss_text = f"{rss / (1 << 20):.0f} MiB" if rss else "-"
            print(f"{name:38} {seconds:8.2f} {rate / (1 << 20):7.0f} {rate / limit:8.2f}"
                  f" {rate / ceiling:18.2f} {rss_text:>9}")
        print("targets: CLI >= 0.80x, HTTP >= 0.50x of the crypto limit, peak RSS < 200 MiB;"
              " an ingest that fsyncs cannot beat the disk, hence the last ratio")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
