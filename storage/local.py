"""The embedded object store: a local directory with the same semantics as the S3 backend.

Atomic publish: bytes go to a temp file, fsync, then `link()` to the final name (which,
unlike rename, fails if the name exists: write-once without a race), fsync the directory.
Retention and legal hold are kept in a sidecar under `.locks/` and enforced by this code;
a local filesystem cannot stop root from deleting files, which is why production uses S3
object lock.
"""

from __future__ import annotations

import errno
import json
import os
import queue
import secrets
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from bwc_custody.timeutil import as_utc, utcnow
from storage.errors import ObjectExists, ObjectLocked, ObjectMissing, StorageUnavailable
from storage.objectstore import ObjectLock, WriterBase

_TMP = ".tmp"
_LOCKS = ".locks"
# Bytes in flight between the encrypting thread and the disk-writing thread (bounds memory).
_QUEUE_CHUNKS = 16


def _storage_error(exc: OSError, action: str) -> StorageUnavailable:
    reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return StorageUnavailable(
        f"local object store cannot {action}: {reason}; nothing was stored, retry later",
        errno=exc.errno,
    )


def fsync_dir(path: Path) -> None:
    """Make a directory entry durable (after link/rename)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalWriter(WriterBase):
    """Writes on a background thread so encryption (CPU) and disk I/O overlap.

    Measured on the development VM: disk ~390 MB/s, hash+encrypt ~1.3 GB/s; serial
    writes made ingest the sum of both, overlapped it approaches the disk's speed.
    """

    def __init__(self, store: LocalObjectStore, key: str, lock: ObjectLock | None) -> None:
        self.store = store
        self.key = key
        self.lock = lock
        self.final = store.path(key)
        if self.final.exists():
            raise ObjectExists(f"object {key!r} already exists (write-once)", key=key)
        tmp_dir = store.root / _TMP
        self.tmp = tmp_dir / f"{secrets.token_hex(12)}.part"
        try:
            tmp_dir.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise _storage_error(exc, "start a write") from exc
        self._size = 0
        self._error: OSError | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUE_CHUNKS)
        self._thread = threading.Thread(target=self._drain, name=f"store-{key}", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so the producer never blocks forever
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view):]
            except OSError as exc:
                self._error = exc

    def _raise_pending(self, action: str) -> None:
        if self._error is not None:
            exc = self._error
            self.abort()
            raise _storage_error(exc, action) from exc

    def write(self, data: bytes) -> None:
        self._raise_pending("write")
        self._queue.put(data)
        self._size += len(data)

    def _stop_thread(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def commit(self) -> int:
        self._stop_thread()
        self._raise_pending("write")
        try:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
            os.chmod(self.tmp, 0o444)
            self.final.parent.mkdir(parents=True, exist_ok=True)
            os.link(self.tmp, self.final)
            if self.lock:
                self.store._write_lock(self.key, self.lock)
            fsync_dir(self.final.parent)
        except FileExistsError:
            self.abort()
            raise ObjectExists(
                f"object {self.key!r} already exists (write-once)", key=self.key
            ) from None
        except OSError as exc:
            self.abort()
            raise _storage_error(exc, "publish") from exc
        self._done = True
        self.tmp.unlink(missing_ok=True)
        return self._size

    def abort(self) -> None:
        self._done = True
        self._stop_thread()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.tmp.unlink(missing_ok=True)


class LocalObjectStore:
    """Objects as files under `root`, keys as relative paths."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """The file holding `key`; keys may not escape the root."""
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise ValueError(f"bad object key {key!r}")
        return self.root.joinpath(*parts)

    def _lock_path(self, key: str) -> Path:
        return self.root / _LOCKS / (key.replace("/", "__") + ".json")

    def _write_lock(self, key: str, lock: ObjectLock) -> None:
        path = self._lock_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "mode": lock.mode,
            "retain_until": lock.retain_until.isoformat() if lock.retain_until else None,
            "legal_hold": lock.legal_hold,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body))
        os.replace(tmp, path)

    def writer(self, key: str, *, lock: ObjectLock | None = None) -> LocalWriter:
        return LocalWriter(self, key, lock)

    def publish_file(self, key: str, path: Path, *, lock: ObjectLock | None = None) -> int:
        # Same filesystem (the default layout): a hard link publishes without copying.
        final = self.path(key)
        size = path.stat().st_size
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path, 0o444)
            os.link(path, final)
        except FileExistsError:
            raise ObjectExists(f"object {key!r} already exists (write-once)", key=key) from None
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise _storage_error(exc, "publish") from exc
            return self._copy_in(key, path, lock)
        if lock:
            self._write_lock(key, lock)
        fsync_dir(final.parent)
        return size

    def _copy_in(self, key: str, path: Path, lock: ObjectLock | None) -> int:
        with self.writer(key, lock=lock) as writer, open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                writer.write(chunk)
            return writer.commit()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise ObjectMissing(f"no object {key!r}", key=key) from None

    def read_at(self, key: str, offset: int, length: int) -> bytes:
        try:
            with open(self.path(key), "rb") as fh:
                fh.seek(offset)
                return fh.read(length)
        except FileNotFoundError:
            raise ObjectMissing(f"no object {key!r}", key=key) from None

    def iter_bytes(self, key: str, chunk_size: int = 8 * 1024 * 1024) -> Iterator[bytes]:
        try:
            fh = open(self.path(key), "rb")  # noqa: SIM115
        except FileNotFoundError:
            raise ObjectMissing(f"no object {key!r}", key=key) from None
        with fh:
            while chunk := fh.read(chunk_size):
                yield chunk

    def get_lock(self, key: str) -> ObjectLock:
        if not self.exists(key):
            raise ObjectMissing(f"no object {key!r}", key=key)
        path = self._lock_path(key)
        if not path.exists():
            return ObjectLock()
        body = json.loads(path.read_text())
        until = body.get("retain_until")
        return ObjectLock(
            mode=body.get("mode"),
            retain_until=datetime.fromisoformat(until) if until else None,
            legal_hold=bool(body.get("legal_hold")),
        )

    def set_legal_hold(self, key: str, on: bool) -> None:
        lock = self.get_lock(key)
        self._write_lock(key, ObjectLock(lock.mode, lock.retain_until, on))

    def extend_retention(self, key: str, until: datetime) -> None:
        lock = self.get_lock(key)
        if lock.retain_until and as_utc(until) < as_utc(lock.retain_until):
            raise ObjectLocked("retention can be extended, never shortened", key=key)
        self._write_lock(key, ObjectLock(lock.mode or "GOVERNANCE", until, lock.legal_hold))

    def delete(self, key: str) -> None:
        lock = self.get_lock(key)
        if lock.legal_hold:
            raise ObjectLocked(f"object {key!r} is under legal hold", key=key)
        if lock.retain_until and as_utc(lock.retain_until) > utcnow():
            raise ObjectLocked(
                f"object {key!r} is retained until {lock.retain_until.isoformat()}", key=key
            )
        self.path(key).unlink()
        self._lock_path(key).unlink(missing_ok=True)

    def keys(self) -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]  # .tmp, .locks
            rel = Path(dirpath).relative_to(self.root).parts
            for name in filenames:
                if not name.startswith("."):
                    yield "/".join((*rel, name))

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StorageUnavailable(f"local object store {self.root} is not writable")
