"""A process killed between publishing an original and recording it (#22, findings 2-3):
the write-once store keeps the object (locked for the retention period), the database has
nothing. Before, every retry then met `object_exists` and `bwc verify` stayed red; now the
retry (or a worker's housekeeping) adopts what was published.

The kill is real (SIGKILL of `bwc serve` and of `bwc ingest`); the moment is made certain by
holding PostgreSQL's lock on the evidence table, so the process blocks on recording the
recording after it has published the object."""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlmodel import Session, select

from bwc_custody.roles import Role
from tests.support.s3server import S3Server
from tests.support.server import running_server

# PostgreSQL only: SQLite cannot be held between publishing and recording from outside
pytestmark = [pytest.mark.slow, pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)]
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
              bwc_home: Path) -> dict[str, str]:
    """The BWC_* settings of the store under test (also set in this process)."""
    env = {"BWC_HOME": str(bwc_home)}
    if request.param == "s3":
        s3: S3Server = request.getfixturevalue("s3_server")
        env |= {"BWC_S3_ENDPOINT": s3.endpoint, "BWC_S3_ACCESS_KEY": s3.access_key,
                "BWC_S3_SECRET_KEY": s3.secret_key, "BWC_S3_SECURE": "false",
                "BWC_S3_BUCKET": f"ev-{secrets.token_hex(4)}"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def postgres(db_url: str, monkeypatch: pytest.MonkeyPatch, store_env: dict[str, str]) -> str:
    """The migrated PostgreSQL database, configured."""
    from bwc_custody.db import upgrade
    from tests.conftest import _reset_caches

    monkeypatch.setenv("BWC_DATABASE_URL", db_url)
    _reset_caches()
    upgrade(db_url)
    return db_url


@contextmanager
def evidence_table_held(db_url: str) -> Iterator[None]:
    """Readers pass, writers of `evidence` wait until the block ends."""
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("LOCK TABLE evidence IN EXCLUSIVE MODE")
        yield
        conn.rollback()


def _wait_until(what: Callable[[], bool], proc: subprocess.Popen[bytes] | None = None,
                deadline_s: float = 60) -> None:
    import time

    end = time.monotonic() + deadline_s
    while not what():
        assert proc is None or proc.poll() is None, "the process ended on its own"
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def _state() -> tuple[list[Any], list[str]]:
    from bwc_custody.db import get_engine
    from bwc_custody.evidence.models import Evidence
    from bwc_custody.vault.service import get_store

    with Session(get_engine()) as session:
        return list(session.exec(select(Evidence))), sorted(get_store().keys())


def _verify() -> dict[str, Any]:
    from bwc_custody.custody.verify import verify_all
    from bwc_custody.db import session_scope
    from bwc_custody.vault.service import get_keyring, get_signer, get_store

    with session_scope() as session:
        return verify_all(session=session, store=get_store(), keyring=get_keyring(),
                          signer=get_signer()).to_dict()


def test_a_dock_finalize_killed_after_publishing_completes_on_retry(
        postgres: str, store_env: dict[str, str], make_token: Callable[..., str],
        tmp_path: Path) -> None:
    env = {**store_env, "BWC_DATABASE_URL": postgres, "BWC_SEGMENT_SIZE": "65536",
           "BWC_AUTO_ANALYZE": "false"}
    auth = {"Authorization": f"Bearer {make_token(Role.dock)}"}
    data = os.urandom(300_000)
    log = tmp_path / "serve.log"
    with running_server(env, log) as (server, url):
        made = httpx.post(f"{url}/api/v1/uploads", headers={
            **TUS, **auth, "Upload-Length": str(len(data)),
            "Upload-Metadata": "filename " + base64.b64encode(b"cam.mp4").decode()})
        upload = made.headers["Location"]
        upload_id = upload.rsplit("/", 1)[-1]
        assert httpx.patch(f"{url}{upload}" if upload.startswith("/") else upload,
                           content=data, headers={
                               **TUS, **auth, "Upload-Offset": "0",
                               "Content-Type": "application/offset+octet-stream"}
                           ).status_code == 204
        finalize = f"{url}{upload}/finalize" if upload.startswith("/") else f"{upload}/finalize"
        body = {"officer_id": "o-7", "campus": "Central High",
                "sha256": hashlib.sha256(data).hexdigest()}
        with evidence_table_held(postgres):
            def finalize_once() -> None:
                try:
                    httpx.post(finalize, json=body, headers=auth, timeout=120)
                except httpx.TransportError:
                    pass  # the server is killed while it answers: that is the point

            threading.Thread(target=finalize_once, daemon=True).start()
            _wait_until(lambda: f"originals/{upload_id}" in _state()[1], server)
            server.send_signal(signal.SIGKILL)  # published, not recorded
            server.wait(timeout=30)
    evidence, keys = _state()
    assert (evidence, keys) == ([], [f"originals/{upload_id}"])  # the wedge of before
    assert not _verify()["ok"]

    with running_server(env, log) as (_server, url):
        retry = httpx.post(finalize.replace(finalize.split("/api/")[0], url), json=body,
                           headers=auth, timeout=120)
    assert retry.status_code == 200, retry.text
    receipt = retry.json()
    assert (receipt["evidence_id"], receipt["duplicate"]) == (upload_id, False)
    evidence, keys = _state()
    assert [(e.id, e.officer_id, e.campus) for e in evidence] == [
        (upload_id, "o-7", "Central High")]
    assert keys == [f"originals/{upload_id}"]
    report = _verify()
    assert report["ok"], report


def test_a_cli_ingest_killed_after_publishing_is_adopted_by_the_next(
        postgres: str, store_env: dict[str, str], tmp_path: Path) -> None:
    env = {**os.environ, **store_env, "BWC_DATABASE_URL": postgres,
           "BWC_AUTO_ANALYZE": "false"}
    footage = tmp_path / "cam.mp4"
    footage.write_bytes(os.urandom(400_000))
    cmd = [sys.executable, "-m", "bwc_custody", "ingest", str(footage), "--officer", "o-3"]
    with evidence_table_held(postgres):
        first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait_until(lambda: bool(_state()[1]), first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    (orphan,) = _state()[1]
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    receipt = json.loads(again.stdout)
    assert receipt["evidence_id"] == orphan.rsplit("/", 1)[-1]  # the first run's, adopted
    assert receipt["duplicate"] is False
    evidence, keys = _state()
    assert len(evidence) == 1
    assert keys == [orphan]
    report = _verify()
    assert report["ok"], report


def test_the_workers_housekeeping_adopts_without_a_retry(
        postgres: str, store_env: dict[str, str], tmp_path: Path) -> None:
    from bwc_custody.db import get_engine
    from bwc_custody.flows.ingest import recover_interrupted
    from bwc_custody.tags.service import effective_tags

    env = {**os.environ, **store_env, "BWC_DATABASE_URL": postgres,
           "BWC_AUTO_ANALYZE": "false"}
    footage = tmp_path / "cam.mp4"
    footage.write_bytes(os.urandom(200_000))
    with evidence_table_held(postgres):
        first = subprocess.Popen(
            [sys.executable, "-m", "bwc_custody", "ingest", str(footage), "--officer", "o-3",
             "--campus", "Central High"], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        _wait_until(lambda: bool(_state()[1]), first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    receipts = recover_interrupted(get_engine())
    assert len(receipts) == 1
    assert not receipts[0].duplicate
    (evidence,), _ = _state()
    assert (evidence.officer_id, evidence.ingested_by) == ("o-3", f"os:{getpass.getuser()}")
    from bwc_custody.db import session_scope

    with session_scope() as session:  # its follow-ups ran: the officer's campus tag
        assert "school_campus" in effective_tags(session=session, evidence_id=evidence.id)
    assert recover_interrupted(get_engine()) == []
    report = _verify()
    assert report["ok"], report
