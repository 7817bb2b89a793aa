"""S3 object store through the `minio` SDK (production: MinIO with object locking).

Writes are multipart uploads: nothing is visible under the key until the upload is
completed, and an aborted or crashed upload leaves no object. The bucket is created with
object lock (which implies versioning); each original gets its own retention and may get
a legal hold. minio's public `put_object` cannot defer publishing until our hash check, so
the writer drives the multipart calls the SDK itself uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import urllib3
from minio import Minio
from minio.commonconfig import GOVERNANCE
from minio.datatypes import Part
from minio.error import S3Error
from minio.objectlockconfig import ObjectLockConfig
from minio.retention import Retention

from bwc_custody.timeutil import as_utc
from storage.errors import ObjectExists, ObjectLocked, ObjectMissing, StorageUnavailable
from storage.objectstore import (
    ObjectLock,
    ObjectVersion,
    Published,
    WriterBase,
    describe_versions,
)

_NETWORK_ERRORS = (urllib3.exceptions.HTTPError, OSError)
_MISSING = ("NoSuchKey", "NoSuchObject", "NotFound", "NoSuchVersion", "MethodNotAllowed")
MIN_PART = 5 * 1024 * 1024


def _unavailable(exc: Exception, action: str) -> StorageUnavailable:
    return StorageUnavailable(
        f"S3 store cannot {action}: {exc.__class__.__name__}: {exc}; nothing was stored, "
        "retry later"
    )


class S3Writer(WriterBase):
    def __init__(self, store: S3ObjectStore, key: str, lock: ObjectLock | None) -> None:
        self.store = store
        self.key = key
        self.lock = lock
        if store.exists(key):
            raise ObjectExists(f"object {key!r} already exists (write-once)", key=key)
        self._client = store.client
        self._buf = bytearray()
        self._parts: list[Part] = []
        self._size = 0
        try:
            self._upload_id = self._client._create_multipart_upload(
                store.bucket, key, {"Content-Type": "application/octet-stream"}
            )
        except _NETWORK_ERRORS as exc:
            raise _unavailable(exc, "start an upload") from exc

    def _flush(self) -> None:
        number = len(self._parts) + 1
        try:
            etag = self._client._upload_part(
                self.store.bucket, self.key, bytes(self._buf), None, self._upload_id, number
            )
        except (*_NETWORK_ERRORS, S3Error) as exc:
            self.abort()
            raise _unavailable(exc, "upload a part") from exc
        self._parts.append(Part(number, etag))
        self._buf.clear()

    def write(self, data: bytes) -> None:
        self._buf += data
        self._size += len(data)
        if len(self._buf) >= self.store.part_size:
            self._flush()

    def commit(self) -> int:
        if self._buf or not self._parts:
            self._flush()
        if self.store.exists(self.key):
            self.abort()
            raise ObjectExists(f"object {self.key!r} already exists (write-once)", key=self.key)
        try:
            result = self._client._complete_multipart_upload(
                self.store.bucket, self.key, self._upload_id, self._parts
            )
            self._done = True
            # The version this upload made: what the database records and every read names,
            # so a newer version or a delete marker put over it later hides nothing.
            self.version = result.version_id
            if self.lock:
                self.store.apply_lock(self.key, self.lock, version=self.version)
        except (*_NETWORK_ERRORS, S3Error) as exc:
            if not self._done:
                self.abort()
            raise _unavailable(exc, "publish") from exc
        return self._size

    def abort(self) -> None:
        self._done = True
        self._buf.clear()
        try:
            self._client._abort_multipart_upload(self.store.bucket, self.key, self._upload_id)
        except (*_NETWORK_ERRORS, S3Error):
            pass  # the server expires abandoned multipart uploads; nothing was published


class S3ObjectStore:
    """Objects in one S3 bucket with object lock."""

    name = "s3"

    def __init__(
        self,
        endpoint: str,
        *,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = True,
        region: str | None = None,
        part_size: int = 16 * 1024 * 1024,
        default_retention_days: int | None = None,
        retention_mode: str = GOVERNANCE,
    ) -> None:
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=60),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[502, 503, 504]),
        )
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure,
            region=region, http_client=http,
        )
        self.bucket = bucket
        self.part_size = max(part_size, MIN_PART)
        self.default_retention_days = default_retention_days
        self.retention_mode = retention_mode

    def ensure_bucket(self) -> None:
        """Create the bucket with object lock (and a default retention) if it is missing."""
        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket, object_lock=True)
                if self.default_retention_days:
                    from minio.commonconfig import COMPLIANCE
                    from minio.objectlockconfig import DAYS

                    mode = COMPLIANCE if self.retention_mode == "COMPLIANCE" else GOVERNANCE
                    self.client.set_object_lock_config(
                        self.bucket, ObjectLockConfig(mode, self.default_retention_days, DAYS)
                    )
        except _NETWORK_ERRORS as exc:
            raise _unavailable(exc, "reach the bucket") from exc

    def writer(self, key: str, *, lock: ObjectLock | None = None) -> S3Writer:
        return S3Writer(self, key, lock)

    def publish_file(
        self, key: str, path: Path, *, lock: ObjectLock | None = None
    ) -> Published:
        with self.writer(key, lock=lock) as writer, open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                writer.write(chunk)
            size = writer.commit()
        return Published(size, writer.version)

    def _stat(self, key: str, version: str | None = None) -> Any:
        try:
            return self.client.stat_object(self.bucket, key, version_id=version)
        except S3Error as exc:
            if exc.code in _MISSING:
                raise ObjectMissing(f"no object {key!r}" + (f" version {version}" if version
                                                             else ""), key=key) from None
            raise _unavailable(exc, "read object metadata") from exc
        except _NETWORK_ERRORS as exc:
            raise _unavailable(exc, "read") from exc

    def exists(self, key: str) -> bool:
        try:
            self._stat(key)
        except ObjectMissing:
            return False
        return True

    def size(self, key: str, *, version: str | None = None) -> int:
        return int(self._stat(key, version).size)

    def read_at(self, key: str, offset: int, length: int, *,
                version: str | None = None) -> bytes:
        if length <= 0:
            return b""
        try:
            resp = self.client.get_object(self.bucket, key, offset=offset, length=length,
                                          version_id=version)
            try:
                return bytes(resp.read())
            finally:
                resp.close()
                resp.release_conn()
        except S3Error as exc:
            if exc.code in _MISSING:
                raise ObjectMissing(f"no object {key!r}", key=key) from None
            if exc.code == "InvalidRange":
                return b""
            raise
        except _NETWORK_ERRORS as exc:
            raise _unavailable(exc, "read") from exc

    def iter_bytes(self, key: str, chunk_size: int = 8 * 1024 * 1024, *,
                   version: str | None = None) -> Iterator[bytes]:
        try:
            resp = self.client.get_object(self.bucket, key, version_id=version)
        except S3Error as exc:
            raise ObjectMissing(f"no object {key!r}", key=key) from exc
        except _NETWORK_ERRORS as exc:
            raise _unavailable(exc, "read") from exc
        try:
            yield from resp.stream(chunk_size)
        finally:
            resp.close()
            resp.release_conn()

    def keys(self) -> Iterator[str]:
        try:
            for obj in self.client.list_objects(self.bucket, recursive=True):
                if obj.object_name and not obj.is_dir:
                    yield obj.object_name
        except S3Error as exc:
            raise _unavailable(exc, "list objects") from exc
        except _NETWORK_ERRORS as exc:
            raise _unavailable(exc, "list objects") from exc

    def versions(self, prefix: str) -> list[ObjectVersion]:
        try:
            listed = list(self.client.list_objects(self.bucket, prefix=prefix, recursive=True,
                                                   include_version=True))
        except S3Error as exc:
            raise _unavailable(exc, "list object versions") from exc
        except _NETWORK_ERRORS as exc:
            raise _unavailable(exc, "list object versions") from exc
        rows = [obj for obj in listed if obj.object_name and not obj.is_dir]
        # A listing gives versions, then delete markers, each newest first; which one is
        # latest is the server's word, and the rest go oldest first by time.
        epoch = datetime.fromtimestamp(0, tz=UTC)
        rows.sort(key=lambda o: (o.object_name, str(o.is_latest).lower() == "true",
                                 o.last_modified or epoch))
        return [ObjectVersion(key=str(obj.object_name),
                              version=None if obj.is_delete_marker else str(obj.version_id),
                              latest=str(obj.is_latest).lower() == "true",
                              size=None if obj.is_delete_marker else obj.size)
                for obj in rows]

    def version_problem(self, key: str, version: str) -> str | None:
        return describe_versions([v for v in self.versions(key) if v.key == key], version)

    def apply_lock(self, key: str, lock: ObjectLock, *, version: str | None = None) -> None:
        """Set retention and legal hold on `version` of `key` (default: the current one)."""
        if lock.retain_until:
            mode = lock.mode or self.retention_mode
            self.client.set_object_retention(
                self.bucket, key, Retention(mode, as_utc(lock.retain_until)), version_id=version
            )
        if lock.legal_hold:
            self.client.enable_object_legal_hold(self.bucket, key, version_id=version)

    def get_lock(self, key: str, *, version: str | None = None) -> ObjectLock:
        self._stat(key, version)
        try:
            ret = self.client.get_object_retention(self.bucket, key, version_id=version)
        except S3Error:
            ret = None
        try:
            hold = self.client.is_object_legal_hold_enabled(self.bucket, key,
                                                            version_id=version)
        except S3Error:
            hold = False
        return ObjectLock(
            mode=ret.mode if ret else None,  # type: ignore[arg-type]
            retain_until=ret.retain_until_date if ret else None,
            legal_hold=bool(hold),
        )

    def set_legal_hold(self, key: str, on: bool, *, version: str | None = None) -> None:
        self._stat(key, version)
        if on:
            self.client.enable_object_legal_hold(self.bucket, key, version_id=version)
        else:
            self.client.disable_object_legal_hold(self.bucket, key, version_id=version)

    def extend_retention(self, key: str, until: datetime, *,
                         version: str | None = None) -> None:
        lock = self.get_lock(key, version=version)
        if lock.retain_until and as_utc(until) < as_utc(lock.retain_until):
            raise ObjectLocked("retention can be extended, never shortened", key=key)
        self.apply_lock(key, ObjectLock(lock.mode or self.retention_mode, until),  # type: ignore[arg-type]
                        version=version)

    def delete(self, key: str, *, version: str | None = None) -> None:
        stat = self._stat(key, version)
        try:
            # Deleting the *version* is what object lock guards; a plain delete would
            # only add a delete marker and hide the locked original.
            self.client.remove_object(self.bucket, key, version_id=stat.version_id)
        except S3Error as exc:
            if exc.code in ("AccessDenied", "InvalidRequest", "ObjectLocked"):
                raise ObjectLocked(f"object {key!r} is locked: {exc.message}", key=key) from None
            raise

    def check(self) -> None:
        try:
            self.client.bucket_exists(self.bucket)
        except _NETWORK_ERRORS as exc:
            raise _unavailable(exc, "be reached") from exc
