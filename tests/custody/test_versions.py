"""Objects are read and verified by the version written (issue 22, findings 4 and 16): a
delete marker or a newer version over a locked checkpoint or original, a checkpoint whose row
and entries were deleted behind it, a gap in the numbering, a replaced local file: each named
by `bwc verify`, on the local store and on a real S3 server with object lock."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text


def _findings(report: dict[str, Any], ref: str) -> list[str]:
    return [f["problem"] for f in report["findings"] if f["ref"] == ref]


def _hide(store_kind: str, key: str) -> None:
    """What an insider with write access to the store does to make an object disappear: on
    S3 a plain DELETE (object lock allows it: it only adds a delete marker); on the local
    store, removing the file and its lock sidecar behind the store's back."""
    from bwc_custody.vault.service import get_store

    store: Any = get_store()
    if store_kind == "s3":
        store.client.remove_object(store.bucket, key)  # no version id: a delete marker
    else:
        store.path(key).unlink()
        store._lock_path(key).unlink()
    assert not store.exists(key)


def _overwrite(store_kind: str, key: str, data: bytes) -> None:
    """Write new bytes under an existing key past the store's write-once check: S3 keeps the
    locked version and puts a newer one over it; locally the file is replaced."""
    from bwc_custody.vault.service import get_store

    store: Any = get_store()
    if store_kind == "s3":
        store.client.put_object(store.bucket, key, io.BytesIO(data), len(data))
    else:
        path = store.path(key)
        path.unlink()
        path.write_bytes(data)


@pytest.fixture
def three_checkpoints(store_kind: str, append_entries: Callable[..., None],
                      checkpoint: Callable[[], int], ingest: Callable[..., str]) -> str:
    """An original, then checkpoints over 6, 10 and 37 entries (the last 27 after the second),
    and two entries after them all."""
    evidence_id = ingest()
    append_entries(5)
    assert checkpoint() == 6
    append_entries(4)
    assert checkpoint() == 10
    append_entries(27)
    assert checkpoint() == 37
    append_entries(2)
    return evidence_id


def test_honest_log_verifies_on_both_stores(three_checkpoints: str,
                                            run_verify: Callable[..., dict]) -> None:
    report = run_verify()
    assert report["ok"], report["findings"]
    assert (report["entries"], report["checkpoints"], report["objects"]) == (39, 3, 1)


def test_versions_are_recorded(three_checkpoints: str, store_kind: str) -> None:
    from sqlmodel import select

    from bwc_custody.custody.models import Checkpoint
    from bwc_custody.db import session_scope
    from bwc_custody.vault.models import StoredObject
    from bwc_custody.vault.service import current_version, get_store

    with session_scope() as session:
        versions = [cp.object_version for cp in session.exec(select(Checkpoint))]
        versions += [o.version for o in session.exec(select(StoredObject))]
        keys = [cp.object_key for cp in session.exec(select(Checkpoint))]
        keys += [o.key for o in session.exec(select(StoredObject))]
    assert all(versions)
    assert len(set(versions)) == 4
    assert [current_version(store=get_store(), key=k) for k in keys] == versions
    assert all(v.startswith("sha256:") for v in versions) == (store_kind == "local")


def test_checkpoint_hidden_with_its_rows_and_entries_is_named(
        three_checkpoints: str, store_kind: str, dba: Callable, run_verify: Callable) -> None:
    """The attack of finding 4: hide the newest checkpoint's WORM copy, delete its row and
    the 29 entries after the checkpoint before it (triggers dropped). The log left is
    self-consistent and every remaining checkpoint reproduces."""
    _hide(store_kind, "checkpoints/00000003.json")
    with dba() as conn:
        conn.execute(text("DELETE FROM custody_checkpoint WHERE \"index\" = 3"))
        conn.execute(text("DELETE FROM custody_entry WHERE seq > 10"))
    report = run_verify()
    assert not report["ok"]
    problems = _findings(report, "checkpoint 3")
    assert any("missing from the database (deleted)" in p for p in problems), report
    if store_kind == "s3":
        # the locked version is still there: read behind the marker, it proves what is gone
        assert any("hidden behind a delete marker" in p for p in problems), problems
        assert _findings(report, "checkpoint 3 (size 37)") == [
            "covers 37 entries but the log holds only 10 (entries deleted)"]
    else:
        assert any("removed behind the store's back" in p for p in problems), problems
    assert {f["kind"] for f in report["findings"]} == {"checkpoint"}


def test_hidden_checkpoint_with_its_row_kept_is_named(
        three_checkpoints: str, store_kind: str, run_verify: Callable) -> None:
    _hide(store_kind, "checkpoints/00000002.json")
    problems = _findings(run_verify(), "checkpoint 2 (size 10)")
    if store_kind == "s3":
        assert len(problems) == 1
        assert "hidden behind a delete marker" in problems[0]
        assert "still there" in problems[0]
    else:
        assert any("removed behind the store's back" in p for p in problems), problems
        assert any("no WORM copy" in p for p in problems), problems


def test_newer_version_over_a_checkpoint_is_named(
        three_checkpoints: str, store_kind: str, run_verify: Callable) -> None:
    """Finding 16 on a checkpoint: bytes written over the locked copy are not what verify
    reads; the recorded version is, and the newer one is named."""
    from bwc_custody.vault.service import get_store

    store: Any = get_store()
    forged = b"".join(store.iter_bytes("checkpoints/00000001.json"))
    _overwrite(store_kind, "checkpoints/00000002.json", forged)
    problems = _findings(run_verify(), "checkpoint 2 (size 10)")
    if store_kind == "s3":
        assert len(problems) == 1, problems  # the recorded version is read, still matches
        assert "a newer version" in problems[0]
    else:
        assert any("replaced" in p for p in problems), problems
        assert any("differs from the WORM copy" in p or "no WORM copy" in p
                   for p in problems), problems


def test_newer_version_over_an_original_is_named_and_not_read(
        three_checkpoints: str, store_kind: str, run_verify: Callable) -> None:
    """Finding 16 on an original: reads take the version recorded at ingest."""
    from bwc_custody.db import session_scope
    from bwc_custody.evidence.models import Evidence
    from bwc_custody.vault import service as vault
    from bwc_custody.vault.models import StoredObject

    key = f"originals/{three_checkpoints}"
    with session_scope() as session:
        obj = session.get(StoredObject, key)
        assert obj is not None
        before = b"".join(vault.iter_plaintext(store=vault.get_store(),
                                               keyring=vault.get_keyring(), obj=obj))
        evidence = session.get(Evidence, three_checkpoints)
        assert evidence is not None
        assert evidence.object_key == key
    # the attacker's bytes: a valid object of the same layout would do no better
    _overwrite(store_kind, key, b"BWCE" + b"\0" * 200)
    report = run_verify()
    problems = _findings(report, key)
    assert problems, report
    if store_kind == "s3":
        assert problems == [problems[0]]
        assert "a newer version" in problems[0]
        with session_scope() as session:
            obj = session.get(StoredObject, key)
            assert obj is not None
            after = b"".join(vault.iter_plaintext(store=vault.get_store(),
                                                  keyring=vault.get_keyring(), obj=obj))
        assert after == before
    else:
        assert "replaced" in problems[0]


def test_gap_in_checkpoint_numbering_is_named(
        three_checkpoints: str, store_kind: str, dba: Callable, run_verify: Callable) -> None:
    """A middle checkpoint gone from the database and from every listing of the store (a
    local store whose versions journal was rewritten too): the numbering still shows it."""
    from bwc_custody.vault.service import get_store

    with dba() as conn:
        conn.execute(text("DELETE FROM custody_checkpoint WHERE \"index\" = 2"))
    if store_kind == "s3":
        _hide(store_kind, "checkpoints/00000002.json")
        expected = "hidden behind a delete marker"
    else:
        store: Any = get_store()
        _hide(store_kind, "checkpoints/00000002.json")
        journal = store.root / ".versions" / "journal"
        journal.write_text("".join(line + "\n" for line in journal.read_text().splitlines()
                                   if "checkpoints/00000002.json" not in line))
        expected = "a gap in the checkpoint numbering"
    problems = _findings(run_verify(), "checkpoint 2")
    assert any(expected in p for p in problems), problems


def test_disposal_and_holds_go_by_version(three_checkpoints: str, store_kind: str) -> None:
    """A delete marker over an original does not make the store look empty to a disposition
    or a hold: `is_present` asks for the recorded version."""
    from bwc_custody.db import session_scope
    from bwc_custody.vault import service as vault
    from bwc_custody.vault.models import StoredObject

    key = f"originals/{three_checkpoints}"
    _hide(store_kind, key)
    with session_scope() as session:
        obj = session.get(StoredObject, key)
        assert obj is not None
        assert vault.is_present(store=vault.get_store(), obj=obj) == (store_kind == "s3")
