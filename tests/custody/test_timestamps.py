"""RFC 3161 timestamps of custody checkpoints, from a real TSA (`openssl ts -reply` over HTTP
on 127.0.0.1): stored WORM beside each checkpoint, never holding one up, retried by the
worker, and checked by `bwc verify`, which names a swapped, unverifiable or missing token."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.custody.conftest import use_tsa as _use_tsa
from tests.support.tsa import TsaServer, running_tsa


def _stamp() -> Any:
    from bwc_custody.db import get_engine
    from bwc_custody.jobs.worker import stamp_if_pending

    return stamp_if_pending(get_engine())


def _by_checkpoint(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {t["checkpoint"]: t for t in report["timestamps"]["checkpoints"]}


def _problems(report: dict[str, Any], kind: str = "timestamp") -> dict[str, str]:
    return {f["ref"]: f["problem"] for f in report["findings"] if f["kind"] == kind}


@pytest.fixture
def three_stamped(with_tsa: TsaServer, append_entries: Callable[..., None],
                  checkpoint: Callable[[], int]) -> TsaServer:
    """Three checkpoints, each timestamped by the TSA as the worker does it."""
    for n in (3, 2, 4):
        append_entries(n)
        checkpoint()
        outcome = _stamp()
        assert outcome.error is None
        assert len(outcome.stamped) == 1
    return with_tsa


def test_each_checkpoint_is_timestamped_and_verify_reports_it(
        three_stamped: TsaServer, run_verify: Callable[..., dict], tmp_path: Path) -> None:
    from bwc_custody.custody import service as custody
    from bwc_custody.custody import timestamps
    from bwc_custody.db import session_scope
    from bwc_custody.vault.service import get_store

    report = run_verify()
    assert report["ok"], report["findings"]
    stamped = _by_checkpoint(report)
    assert sorted(stamped) == [1, 2, 3]
    for item in stamped.values():
        assert item["verified"] is True
        assert item["status"] == "verified"
        assert item["tsa"] == "CN=Test TSA,O=Test Time Authority"
        assert item["url"] == three_stamped.url
        assert item["time"] is not None
        assert item["line"].endswith("(verified)")
    assert report["timestamps"]["summary"] == (
        f"3 verified of 3 checkpoints (TSA: {three_stamped.url})")
    # the token is kept WORM beside the checkpoint, exactly as the TSA sent it: openssl checks
    # it against the checkpoint's signed bytes and signature without any of our code
    store = get_store()
    with session_scope() as session:
        cp = custody.list_checkpoints(session=session)[1]
        row = timestamps.get_timestamp(session=session, index=cp.index)
        message = timestamps.timestamped_bytes(custody.checkpoint_document(cp))
    assert row is not None
    assert row.object_key == "checkpoints/00000002.tsr"
    assert store.get_lock(row.object_key).mode == "COMPLIANCE"
    token = timestamps.read_token(store=store, index=2)
    assert token is not None
    (tmp_path / "cp").write_bytes(message)
    (tmp_path / "cp.tsr").write_bytes(token)
    run = subprocess.run(["openssl", "ts", "-verify", "-data", str(tmp_path / "cp"), "-in",
                          str(tmp_path / "cp.tsr"), "-CAfile", str(three_stamped.ca_file)],
                         capture_output=True, text=True, check=False)
    assert "Verification: OK" in run.stdout, run.stderr
    # the table is append-only like the log
    from sqlalchemy.exc import DBAPIError

    from bwc_custody.db import get_engine

    for stmt in ("UPDATE checkpoint_timestamp SET tsa_name = 'x'",
                 "DELETE FROM checkpoint_timestamp"):
        with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as conn:
            conn.execute(text(stmt))


def test_without_a_tsa_nothing_changes_and_verify_says_so(
        migrated: str, append_entries: Callable[..., None], checkpoint: Callable[[], int],
        run_verify: Callable[..., dict]) -> None:
    from bwc_custody.cli import app
    from bwc_custody.custody.verify import NOT_CONFIGURED

    append_entries(3)
    checkpoint()
    assert _stamp() is None
    report = run_verify()
    assert report["ok"], report["findings"]
    assert report["timestamps"] == {"summary": NOT_CONFIGURED, "checkpoints": []}
    result = CliRunner().invoke(app, ["verify"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stderr.strip().splitlines()[-1] == f"timestamps: {NOT_CONFIGURED}"
    result = CliRunner().invoke(app, ["checkpoint"], catch_exceptions=False)
    assert json.loads(result.stdout)["timestamp"] == "no TSA configured (BWC_TSA_URL)"


def test_only_the_newest_checkpoint_is_stamped_when_timestamps_begin(
        migrated: str, tsa: TsaServer, monkeypatch: pytest.MonkeyPatch,
        append_entries: Callable[..., None], checkpoint: Callable[[], int],
        run_verify: Callable[..., dict]) -> None:
    for n in (2, 2, 2):
        append_entries(n)
        checkpoint()
    _use_tsa(monkeypatch, tsa.url, tsa.ca_file)
    assert _stamp().stamped == [3]
    report = run_verify()
    assert report["ok"], report["findings"]
    assert [t["status"] for t in report["timestamps"]["checkpoints"]] == [
        "covered", "covered", "verified"]
    assert "covered by checkpoint 3's timestamp" in report["timestamps"]["checkpoints"][0]["line"]


def test_a_tsa_that_is_down_delays_the_timestamp_never_the_checkpoint(
        migrated: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        append_entries: Callable[..., None], run_verify: Callable[..., dict]) -> None:
    from bwc_custody.custody import timestamps
    from bwc_custody.db import get_engine, session_scope
    from bwc_custody.jobs.worker import checkpoint_if_due, run_timestamper

    engine = get_engine()
    with running_tsa(tmp_path / "tsa", name="Flaky TSA") as flaky:
        _use_tsa(monkeypatch, flaky.url, flaky.ca_file)
        append_entries(2)
        assert checkpoint_if_due(engine, 0, entries=1)
        assert _stamp().stamped == [1]
        flaky.stop()
        # down: each checkpoint is still signed and stored when it falls due
        for n in (2, 3):
            append_entries(n)
            assert checkpoint_if_due(engine, 0, entries=1)
        outcome = _stamp()
        assert (outcome.stamped, outcome.waiting) == ([], [2, 3])
        assert outcome.error.code == "tsa_unavailable"
        assert outcome.error.details["attempts"][0]["reason"].startswith("unreachable")
        report = run_verify()
        assert report["ok"], report["findings"]  # waiting is not tampering
        assert report["checkpoints"] == 3
        assert [t["status"] for t in report["timestamps"]["checkpoints"]] == [
            "verified", "pending", "pending"]
        assert _by_checkpoint(report)[3]["reason"] == "waiting for a TSA (the worker retries)"
        # the TSA comes back; the worker's timestamper retries and stamps both
        flaky.start()
        stop, wake = threading.Event(), threading.Event()
        thread = threading.Thread(target=run_timestamper, kwargs={
            "engine": engine, "stop": stop, "wake": wake, "look_seconds": 0.05,
            "retry_seconds": (0.05, 0.05)}, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while True:
                with session_scope(engine) as session:
                    done = len(timestamps.list_timestamps(session=session))
                if done == 3 or time.monotonic() > deadline:
                    break
                wake.wait(0.05)
        finally:
            stop.set()
            wake.set()
            thread.join(timeout=30)
        assert done == 3
        report = run_verify()
    assert report["ok"], report["findings"]
    assert [t["status"] for t in report["timestamps"]["checkpoints"]] == ["verified"] * 3


def test_a_token_swapped_between_checkpoints_is_named(
        three_stamped: TsaServer, dba: Callable, run_verify: Callable[..., dict]) -> None:
    with dba() as conn:
        rows = {r[0]: r[1:] for r in conn.execute(text(
            "SELECT checkpoint_index, object_key, object_version, token_sha256 "
            "FROM checkpoint_timestamp"))}
        for index, other in ((1, 2), (2, 1)):
            key, version, sha = rows[other]
            conn.execute(text("UPDATE checkpoint_timestamp SET object_key = :k, "
                              "object_version = :v, token_sha256 = :s "
                              "WHERE checkpoint_index = :i"),
                         {"k": key, "v": version, "s": sha, "i": index})
    report = run_verify()
    assert not report["ok"]
    # each row now names the other checkpoint's token: read as recorded, it is well signed
    # by the right TSA, but for another message
    for ref, other in (("checkpoint 1 (size 3)", 2), ("checkpoint 2 (size 5)", 1)):
        assert [f["problem"] for f in report["findings"] if f["ref"] == ref] == [
            f"its row names the token at checkpoints/0000000{other}.tsr, not the one beside "
            f"it (checkpoints/0000000{3 - other}.tsr)",
            "timestamp NOT verified: the token timestamps another message, not this one"]
    assert _by_checkpoint(report)[3]["verified"] is True


def test_a_token_replaced_in_the_store_is_named(
        three_stamped: TsaServer, run_verify: Callable[..., dict]) -> None:
    from bwc_custody.vault.service import get_store

    store: Any = get_store()
    path = store.path("checkpoints/00000002.tsr")
    moved = store.path("checkpoints/00000001.tsr").read_bytes()
    path.unlink()
    path.write_bytes(moved)
    report = run_verify()
    problems = [f["problem"] for f in report["findings"] if f["ref"] == "checkpoint 2 (size 5)"]
    assert any("written in its place (replaced)" in p for p in problems), problems
    assert "timestamp NOT verified: the token timestamps another message, not this one" \
        in problems


def test_a_wrong_tsa_ca_is_named(three_stamped: TsaServer, other_tsa: TsaServer,
                                 monkeypatch: pytest.MonkeyPatch,
                                 run_verify: Callable[..., dict]) -> None:
    _use_tsa(monkeypatch, three_stamped.url, other_tsa.ca_file)
    report = run_verify()
    assert not report["ok"]
    problems = _problems(report)
    assert len(problems) == 3
    assert all("does not verify under the configured CA" in p for p in problems.values())
    assert all(not t["verified"] for t in report["timestamps"]["checkpoints"])
    # a URL without any CA: tokens are asked for, but nothing can be verified; said once
    _use_tsa(monkeypatch, three_stamped.url, None)
    report = run_verify()
    assert _problems(report) == {"configuration": "BWC_TSA_URL is set but BWC_TSA_CA_FILE "
                                                  "is not: no timestamp can be verified"}


def test_a_missing_token_is_named(three_stamped: TsaServer, dba: Callable,
                                  run_verify: Callable[..., dict]) -> None:
    from bwc_custody.vault.service import get_store

    store: Any = get_store()
    # checkpoint 2: row and token both gone; checkpoint 1: its row kept, its token removed
    with dba() as conn:
        conn.execute(text("DELETE FROM checkpoint_timestamp WHERE checkpoint_index = 2"))
    for key in ("checkpoints/00000002.tsr", "checkpoints/00000001.tsr"):
        store.path(key).unlink()
        store._lock_path(key).unlink()
    report = run_verify()
    assert not report["ok"]
    problems = [f for f in report["findings"] if f["kind"] == "timestamp"]
    by_ref: dict[str, list[str]] = {}
    for f in problems:
        by_ref.setdefault(f["ref"], []).append(f["problem"])
    assert by_ref["checkpoint 2 (size 5)"] == [
        "its timestamp token was stored at checkpoints/00000002.tsr (the store's history "
        "lists it), and both it and its row are gone (deleted)"]
    assert any("no WORM copy of its timestamp token" in p
               for p in by_ref["checkpoint 1 (size 3)"])
    assert _by_checkpoint(report)[2]["status"] == "missing"


def test_a_token_whose_row_was_deleted_is_named(
        three_stamped: TsaServer, dba: Callable, run_verify: Callable[..., dict]) -> None:
    with dba() as conn:
        conn.execute(text("DELETE FROM checkpoint_timestamp WHERE checkpoint_index = 3"))
    report = run_verify()
    assert _problems(report) == {
        "checkpoint 3 (size 9)": "a token is in the store at checkpoints/00000003.tsr but "
                                 "recorded nowhere (its row was deleted)"}
    assert _problems(report, "object") == {}  # the token is the timestamp phase's, not orphaned


def test_a_checkpoint_left_unstamped_between_stamped_ones_is_named(
        with_tsa: TsaServer, append_entries: Callable[..., None], checkpoint: Callable[[], int],
        run_verify: Callable[..., dict]) -> None:
    """A row and token deleted without a trace in the store (a store that keeps no history):
    still named, by the stamped checkpoint after it."""
    from bwc_custody.custody import timestamps
    from bwc_custody.db import get_engine
    from bwc_custody.vault.service import get_store

    for n in (2, 2, 2):
        append_entries(n)
        checkpoint()
    # stamp only 1 and 3, as if 2's token and row had vanished with the store's journal
    tsa = timestamps.tsa_config()
    assert timestamps.stamp_pending(engine=get_engine(), store=get_store(), tsa=tsa,
                                    only=[3]).stamped == [3]
    report = run_verify()
    assert report["ok"], report["findings"]
    assert [t["status"] for t in report["timestamps"]["checkpoints"]] == [
        "covered", "covered", "verified"]
    # from then on every checkpoint is due: 1 and 2 are before the first, so only new ones
    append_entries(1)
    checkpoint()
    append_entries(1)
    checkpoint()
    assert timestamps.stamp_pending(engine=get_engine(), store=get_store(), tsa=tsa,
                                    only=[5]).stamped == [5]
    report = run_verify()
    assert _problems(report) == {"checkpoint 4 (size 7)": (
        "no timestamp token, though checkpoint 5 has one: deleted (a TSA that was down is "
        "retried oldest first)")}


def test_a_draining_worker_signs_and_timestamps(
        with_tsa: TsaServer, append_entries: Callable[..., None], bwc_home: Path,
        run_verify: Callable[..., dict]) -> None:
    from bwc_custody.db import get_engine
    from bwc_custody.jobs.worker import run_worker

    append_entries(3)
    assert run_worker(engine=get_engine(), home=bwc_home, handlers={}, drain=True) == 0
    report = run_verify()
    assert report["ok"], report["findings"]
    assert report["checkpoints"] == 1
    assert [t["status"] for t in report["timestamps"]["checkpoints"]] == ["verified"]


def test_a_hidden_or_overwritten_token_is_named_on_either_store(
        store_kind: str, tsa: TsaServer, monkeypatch: pytest.MonkeyPatch,
        append_entries: Callable[..., None], checkpoint: Callable[[], int],
        run_verify: Callable[..., dict]) -> None:
    """On S3 (object lock) a plain DELETE only hides the locked version behind a delete
    marker, and a PUT only puts a newer version over it: verify reads the recorded version
    and names both. Locally the file is removed or replaced behind the store's back."""
    from tests.custody.test_versions import _hide, _overwrite

    _use_tsa(monkeypatch, tsa.url, tsa.ca_file)
    for n in (2, 2):
        append_entries(n)
        checkpoint()
        assert _stamp().error is None
    assert run_verify()["ok"]
    _hide(store_kind, "checkpoints/00000001.tsr")
    _overwrite(store_kind, "checkpoints/00000002.tsr", b"not a token")
    report = run_verify()
    problems = {ref: [f["problem"] for f in report["findings"] if f["ref"] == ref]
                for ref in ("checkpoint 1 (size 2)", "checkpoint 2 (size 4)")}
    first, second = problems["checkpoint 1 (size 2)"], problems["checkpoint 2 (size 4)"]
    if store_kind == "s3":
        assert any("hidden behind a delete marker" in p for p in first), first
        assert any("a newer version" in p for p in second), second
        # the recorded versions are still there and still verify
        assert [t["status"] for t in report["timestamps"]["checkpoints"]] == ["verified"] * 2
    else:
        assert any("no WORM copy of its timestamp token" in p for p in first), first
        assert any("(replaced)" in p for p in second), second
        assert "timestamp NOT verified: not a readable timestamp token" in " ".join(second)
