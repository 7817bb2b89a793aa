"""One contract, two backends: the local directory and a real S3 server (SeaweedFS)."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bwc_custody.timeutil import utcnow
from storage.errors import ObjectExists, ObjectLocked, ObjectMissing, StorageUnavailable
from storage.local import LocalObjectStore
from storage.objectstore import ObjectLock, ObjectStore
from storage.s3 import S3ObjectStore
from tests.support.s3server import S3Server, free_port


def _s3(server: S3Server, bucket: str | None = None) -> S3ObjectStore:
    store = S3ObjectStore(server.endpoint, access_key=server.access_key,
                          secret_key=server.secret_key, secure=False,
                          bucket=bucket or f"t-{secrets.token_hex(4)}", part_size=5 * 1024 * 1024)
    store.ensure_bucket()
    return store


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    return _s3(request.getfixturevalue("s3_server"))


def test_write_commit_read(store: ObjectStore) -> None:
    data = secrets.token_bytes(6 * 1024 * 1024 + 123)  # more than one S3 part
    with store.writer("originals/a") as w:
        for i in range(0, len(data), 1 << 20):
            w.write(data[i : i + (1 << 20)])
        assert w.commit() == len(data)
    assert store.exists("originals/a")
    assert store.size("originals/a") == len(data)
    assert store.read_at("originals/a", 5_000_000, 1000) == data[5_000_000:5_001_000]
    assert b"".join(store.iter_bytes("originals/a", 1 << 20)) == data


def test_keys_lists_published_objects_only(store: ObjectStore) -> None:
    from datetime import timedelta

    from bwc_custody.timeutil import utcnow
    from storage.objectstore import ObjectLock

    with store.writer("originals/a", lock=ObjectLock(
            mode="GOVERNANCE", retain_until=utcnow() + timedelta(days=1))) as w:
        w.write(b"one")
        w.commit()
    with store.writer("derivatives/e/d/redacted.mp4") as w:
        w.write(b"two")
        w.commit()
    pending = store.writer("originals/pending")
    pending.write(b"not yet")
    try:
        assert sorted(store.keys()) == ["derivatives/e/d/redacted.mp4", "originals/a"]
    finally:
        pending.abort()


def test_nothing_visible_before_commit_and_after_abort(store: ObjectStore) -> None:
    w = store.writer("originals/b")
    w.write(b"half an object")
    assert not store.exists("originals/b")
    w.abort()
    assert not store.exists("originals/b")


def test_exception_inside_writer_publishes_nothing(store: ObjectStore) -> None:
    def crash_mid_write() -> None:
        with store.writer("originals/c") as w:
            w.write(b"x" * 100)
            raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        crash_mid_write()
    assert not store.exists("originals/c")


def test_write_once(store: ObjectStore) -> None:
    with store.writer("originals/d") as w:
        w.write(b"first")
        w.commit()
    with pytest.raises(ObjectExists):
        store.writer("originals/d")
    assert store.read_at("originals/d", 0, 10) == b"first"


def test_second_writer_racing_the_first_cannot_replace_it(store: ObjectStore) -> None:
    first, second = store.writer("originals/e"), store.writer("originals/e")
    first.write(b"one")
    second.write(b"two")
    first.commit()
    with pytest.raises(ObjectExists):
        second.commit()
    assert store.read_at("originals/e", 0, 10) == b"one"


def test_retention_and_legal_hold_refuse_deletion(store: ObjectStore) -> None:
    until = utcnow() + timedelta(days=1)
    with store.writer("originals/f", lock=ObjectLock("GOVERNANCE", until)) as w:
        w.write(b"locked")
        w.commit()
    lock = store.get_lock("originals/f")
    assert lock.retain_until is not None
    assert lock.mode == "GOVERNANCE"
    with pytest.raises(ObjectLocked):
        store.delete("originals/f")
    with store.writer("originals/g") as w:
        w.write(b"held")
        w.commit()
    store.set_legal_hold("originals/g", True)
    assert store.get_lock("originals/g").legal_hold
    with pytest.raises(ObjectLocked):
        store.delete("originals/g")
    assert store.read_at("originals/g", 0, 4) == b"held"
    store.set_legal_hold("originals/g", False)
    store.delete("originals/g")
    assert not store.exists("originals/g")


def test_retention_can_be_extended_not_shortened(store: ObjectStore) -> None:
    until = utcnow() + timedelta(days=2)
    with store.writer("originals/h", lock=ObjectLock("GOVERNANCE", until)) as w:
        w.write(b"x")
        w.commit()
    with pytest.raises(ObjectLocked):
        store.extend_retention("originals/h", utcnow() + timedelta(days=1))
    store.extend_retention("originals/h", utcnow() + timedelta(days=5))
    lock = store.get_lock("originals/h")
    assert lock.retain_until is not None
    assert lock.retain_until > until


def test_missing_object(store: ObjectStore) -> None:
    with pytest.raises(ObjectMissing):
        store.size("originals/none")


def test_local_keys_cannot_escape_root(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    for bad in ("../x", "a/../../x", "", ".tmp/x", "a//b"):
        with pytest.raises(ValueError, match="bad object key"):
            store.writer(bad)


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB filesystem (tmpfs), to fill up."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_is_a_clear_error_and_leaves_nothing(tiny_fs: Path) -> None:
    store = LocalObjectStore(tiny_fs / "objects")
    w = store.writer("originals/big")

    def write_two_mib() -> None:
        for _ in range(4):
            w.write(b"\0" * (512 * 1024))
        w.commit()

    # The error may surface on a later write or at commit (writes run on a thread),
    # but always before anything is published.
    with pytest.raises(StorageUnavailable, match="disk full"):
        write_two_mib()
    assert not store.exists("originals/big")
    assert list((tiny_fs / "objects" / ".tmp").iterdir()) == []  # temp file removed too
    with store.writer("originals/small") as w2:  # space is back: a retry succeeds
        w2.write(b"fits")
        w2.commit()
    assert store.read_at("originals/small", 0, 4) == b"fits"


def test_unreachable_s3_is_a_clear_error() -> None:
    store = S3ObjectStore(f"127.0.0.1:{free_port()}", access_key="a", secret_key="b",
                          secure=False, bucket="evidence")
    with pytest.raises(StorageUnavailable, match="retry later"):
        store.check()
    with pytest.raises(StorageUnavailable):
        store.writer("originals/x")
