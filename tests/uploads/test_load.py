"""A crowd on a real `bwc serve` with PostgreSQL (#22, finding 7): 20 docks uploading at
once while 50 readers use the API. Before, the tus PATCH ran database calls on the event
loop and held a pooled connection while its bytes streamed in: 7-9 of 20 uploads and ~40
reads got a 500 (the pool empty for 30 s), and even the public key took 30 s to answer.

Asserts that nothing fails; prints the latencies seen (p50, p99, max: a measure, never a
pass mark, the machine is shared)."""

from __future__ import annotations

import base64
import hashlib
import os
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bwc_custody.roles import Role
from tests.concurrency import run_in_threads
from tests.support.server import running_server

pytestmark = [pytest.mark.slow, pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)]

UPLOADS = 20
READERS = 50
UPLOAD_BYTES = 6 * 1024 * 1024
PATCH_BYTES = 2 * 1024 * 1024  # three PATCHes an upload
PIECE = 256 * 1024  # the client sends each PATCH's body in pieces, as a dock on a network
TUS = {"Tus-Resumable": "1.0.0"}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _summary(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (f"{name}: n={len(ms)} p50={statistics.median(ms):.0f} ms "
            f"p99={_percentile(ms, 0.99):.0f} ms max={max(ms):.0f} ms")


def test_twenty_uploads_and_fifty_readers_all_succeed(
        migrated: str, bwc_home: Path, make_token: Callable[..., str], tmp_path: Path) -> None:
    env = {"BWC_HOME": str(bwc_home), "BWC_DATABASE_URL": migrated,
           "BWC_AUTO_ANALYZE": "false", "BWC_SEGMENT_SIZE": str(1024 * 1024)}
    docks = [make_token(Role.dock) for _ in range(UPLOADS)]
    custodian = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    errors: list[str] = []
    patch_times: list[float] = []
    read_times: list[float] = []
    uploads_left = threading.Semaphore(0)  # released once per finished upload
    lock = threading.Lock()
    next_dock = iter(docks)

    def failed(what: str, resp: httpx.Response) -> None:
        with lock:
            errors.append(f"{what}: {resp.status_code} {resp.text[:200]}")

    with running_server(env, tmp_path / "serve.log") as (_proc, url):
        def upload() -> None:
            with lock:
                auth = {"Authorization": f"Bearer {next(next_dock)}"}
            data = os.urandom(UPLOAD_BYTES)
            try:
                with httpx.Client(base_url=url, timeout=120) as http:
                    made = http.post("/api/v1/uploads", headers={
                        **TUS, **auth, "Upload-Length": str(len(data)),
                        "Upload-Metadata": "filename " + base64.b64encode(b"cam.mp4").decode()})
                    if made.status_code != 201:
                        return failed("create", made)
                    where = made.headers["Location"]
                    for start in range(0, len(data), PATCH_BYTES):
                        body = data[start:start + PATCH_BYTES]
                        began = time.perf_counter()
                        resp = http.patch(where, content=(
                            body[i:i + PIECE] for i in range(0, len(body), PIECE)), headers={
                                **TUS, **auth, "Upload-Offset": str(start),
                                "Content-Type": "application/offset+octet-stream"})
                        with lock:
                            patch_times.append(time.perf_counter() - began)
                        if resp.status_code != 204:
                            return failed("patch", resp)
                    done = http.post(f"{where}/finalize", headers=auth, json={
                        "officer_id": "o-1", "sha256": hashlib.sha256(data).hexdigest()})
                    if done.status_code != 200:
                        return failed("finalize", done)
            finally:
                uploads_left.release()

        def read() -> None:
            paths = ["/api/v1/evidence", "/api/v1/auth/me", "/api/v1/keys/signing"]
            with httpx.Client(base_url=url, timeout=120, headers=custodian) as http:
                count = 0
                # read until the uploads are over, at least five times
                while count < 5 or not finished.is_set():
                    began = time.perf_counter()
                    resp = http.get(paths[count % len(paths)])
                    with lock:
                        read_times.append(time.perf_counter() - began)
                    if resp.status_code != 200:
                        failed("read", resp)
                    count += 1

        finished = threading.Event()

        def watch() -> None:
            for _ in range(UPLOADS):
                uploads_left.acquire()
            finished.set()

        crowd = iter([upload] * UPLOADS + [read] * READERS + [watch])

        def one_of_the_crowd() -> None:
            with lock:
                job = next(crowd)
            job()

        began = time.perf_counter()
        raised = run_in_threads(one_of_the_crowd, UPLOADS + READERS + 1)
        took = time.perf_counter() - began
        with httpx.Client(base_url=url, headers=custodian) as http:
            stored = int(http.get("/api/v1/evidence").headers["X-Total-Count"])
    print(f"\n{UPLOADS} uploads of {UPLOAD_BYTES >> 20} MiB + {READERS} readers on PostgreSQL, "
          f"{took:.1f} s; errors: {len(errors)}")
    print(_summary("reads", read_times))
    print(_summary("PATCH (2 MiB)", patch_times))
    assert raised == []
    assert errors == []
    assert stored == UPLOADS
