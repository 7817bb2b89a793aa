"""Ingest into a real S3 server: locked originals, unreachable store, flat memory."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from bwc_custody.db import get_engine
from bwc_custody.evidence.models import Evidence
from storage.errors import ObjectLocked
from tests.support.s3server import S3Server, free_port

Bwc = Callable[..., tuple[int, Any]]


def _use_s3(monkeypatch: pytest.MonkeyPatch, endpoint: str, server: S3Server) -> str:
    from tests.conftest import _reset_caches

    bucket = f"ev-{secrets.token_hex(4)}"
    monkeypatch.setenv("BWC_S3_ENDPOINT", endpoint)
    monkeypatch.setenv("BWC_S3_ACCESS_KEY", server.access_key)
    monkeypatch.setenv("BWC_S3_SECRET_KEY", server.secret_key)
    monkeypatch.setenv("BWC_S3_SECURE", "false")
    monkeypatch.setenv("BWC_S3_BUCKET", bucket)
    _reset_caches()
    return bucket


@pytest.mark.s3
def test_ingest_to_s3_locks_the_original(sqlite_migrated: str, bwc: Bwc, video: Path,
                                         s3_server: S3Server, monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    _use_s3(monkeypatch, s3_server.endpoint, s3_server)
    expected = hashlib.sha256(video.read_bytes()).hexdigest()
    code, out = bwc("ingest", str(video), "--sha256", expected)
    assert code == 0, out
    from bwc_custody.vault.service import get_store

    store = get_store()
    key = f"originals/{out['evidence_id']}"
    lock = store.get_lock(key)
    assert lock.mode == "GOVERNANCE"
    assert lock.retain_until is not None
    with pytest.raises(ObjectLocked):
        store.delete(key)
    assert store.read_at(key, 0, 4) == b"BWCE"
    dest = tmp_path / "back.mp4"
    assert bwc("export", out["evidence_id"], "--out", str(dest))[0] == 0
    assert dest.read_bytes() == video.read_bytes()


@pytest.mark.s3
def test_unreachable_s3_then_retry_succeeds(sqlite_migrated: str, bwc: Bwc, video: Path,
                                            s3_server: S3Server,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _use_s3(monkeypatch, f"127.0.0.1:{free_port()}", s3_server)
    code, out = bwc("ingest", str(video))
    assert code == 2
    assert out["error"]["code"] == "storage_unavailable"
    with Session(get_engine()) as session:
        assert list(session.exec(select(Evidence))) == []
    _use_s3(monkeypatch, s3_server.endpoint, s3_server)
    code, out = bwc("ingest", str(video))
    assert code == 0, out


@pytest.mark.slow
def test_ingest_memory_stays_flat(sqlite_migrated: str, bwc_home: Path, tmp_path: Path) -> None:
    """512 MiB through the CLI: the child's peak RSS stays far below the file size."""
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        block = os.urandom(8 << 20)
        for _ in range(64):
            fh.write(block)
    env = {**os.environ, "BWC_HOME": str(bwc_home), "BWC_DATABASE_URL": sqlite_migrated}
    env.pop("BWC_SEGMENT_SIZE", None)
    out = tmp_path / "out.json"
    hwm = tmp_path / "vmhwm.txt"
    # Run the CLI in a wrapper that records the process's own peak RSS (VmHWM) at exit;
    # wait4's figure would also include ffprobe, a separate process.
    wrapper = (
        "import atexit, sys\n"
        "def _hwm():\n"
        "    line = [x for x in open('/proc/self/status') if x.startswith('VmHWM')][0]\n"
        f"    open({str(hwm)!r}, 'w').write(line.split()[1])\n"
        "atexit.register(_hwm)\n"
        "sys.argv = ['bwc', 'ingest', sys.argv[1]]\n"
        "from bwc_custody.cli import main\n"
        "main()\n"
    )
    with open(out, "wb") as stdout:
        proc = subprocess.Popen([sys.executable, "-c", wrapper, str(big)], env=env,
                                stdout=stdout)
        _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert json.loads(out.read_text())["size"] == 512 << 20
    peak_mib = int(hwm.read_text()) / 1024
    with_children_mib = usage.ru_maxrss / 1024
    print(f"ingest peak RSS {peak_mib:.0f} MiB (with ffprobe: {with_children_mib:.0f} MiB)")
    assert peak_mib < 200, f"peak RSS {peak_mib:.0f} MiB for a 512 MiB ingest"


@pytest.mark.s3
def test_upload_finalised_while_s3_is_down_can_be_retried(
    sqlite_migrated: str, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch,
    make_token: Callable[..., str],
) -> None:
    """The staged upload survives a failed publish; finalising again later succeeds."""
    from fastapi.testclient import TestClient

    from bwc_custody.app import create_app
    from bwc_custody.roles import Role

    _use_s3(monkeypatch, f"127.0.0.1:{free_port()}", s3_server)
    token = make_token(Role.dock)
    auth = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    data = os.urandom(200_000)
    with TestClient(create_app()) as client:
        url = client.post("/api/v1/uploads", headers={**auth, "Upload-Length": str(len(data))}
                          ).headers["Location"]
        resp = client.patch(url, content=data, headers={
            **auth, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        assert resp.status_code == 204
        down = client.post(f"{url}/finalize", json={}, headers=auth)
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "storage_unavailable"
        with Session(get_engine()) as session:
            assert list(session.exec(select(Evidence))) == []
    _use_s3(monkeypatch, s3_server.endpoint, s3_server)
    with TestClient(create_app()) as client:
        up = client.post(f"{url}/finalize", json={}, headers=auth)
        assert up.status_code == 200, up.text
        assert up.json()["sha256"] == hashlib.sha256(data).hexdigest()
