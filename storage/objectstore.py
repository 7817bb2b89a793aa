"""The object-store interface both backends implement.

Writes are two-phase: bytes go to a writer that publishes atomically on `commit()` and
leaves nothing under the final key on `abort()` or a crash. Keys are write-once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, Self

RetentionMode = Literal["GOVERNANCE", "COMPLIANCE"]


@dataclass(frozen=True)
class ObjectLock:
    """WORM protection on one object: retention until a date, and/or a legal hold."""

    mode: RetentionMode | None = None
    retain_until: datetime | None = None
    legal_hold: bool = False


CONTENT_VERSION = "sha256:"


def content_version(digest_hex: str) -> str:
    """The version name the local store gives an object: the SHA-256 of its stored bytes (a
    file has one version; a replaced file is another)."""
    return CONTENT_VERSION + digest_hex


def is_content_version(version: str | None) -> bool:
    """True for a version `content_version` made (checked by hashing, not by asking)."""
    return version is not None and version.startswith(CONTENT_VERSION)


@dataclass(frozen=True)
class ObjectVersion:
    """One version of one key as the store lists it, oldest first per key: a stored version,
    or a delete marker (`version` None: S3's plain DELETE, or a file removed behind the local
    store's back) hiding what is under it. `latest` is what a read without a version gets."""

    key: str
    version: str | None
    latest: bool
    size: int | None = None
    # False for a version the store listed once but cannot read back (a local file that
    # was replaced or removed: the file held only that one version).
    readable: bool = True

    @property
    def delete_marker(self) -> bool:
        """True when this entry hides the key rather than holding bytes."""
        return self.version is None


@dataclass(frozen=True)
class Published:
    """What a publish made: the object's size and the version that holds it."""

    size: int
    version: str | None


class ObjectWriter(Protocol):
    """A pending object: write bytes, then commit (publish) or abort (discard). After the
    commit, `version` names the version written (S3 version id, local content hash)."""

    key: str
    version: str | None

    def write(self, data: bytes) -> None: ...

    def commit(self) -> int:
        """Publish under the final key; returns the size. ObjectExists if taken."""
        ...

    def abort(self) -> None: ...

    def __enter__(self) -> ObjectWriter: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ObjectStore(Protocol):
    """Write-once object storage with retention and legal hold."""

    name: str

    def writer(self, key: str, *, lock: ObjectLock | None = None) -> ObjectWriter: ...

    def publish_file(
        self, key: str, path: Path, *, lock: ObjectLock | None = None
    ) -> Published:
        """Publish a finished local file under `key` (write-once, atomic); returns its size
        and version."""
        ...

    def exists(self, key: str) -> bool: ...

    # With `version`, the calls below read exactly that version (S3: even behind a delete
    # marker or a newer version; local: the file, which has only its current version).
    def size(self, key: str, *, version: str | None = None) -> int: ...

    def read_at(
        self, key: str, offset: int, length: int, *, version: str | None = None
    ) -> bytes: ...

    def iter_bytes(
        self, key: str, chunk_size: int = 8 * 1024 * 1024, *, version: str | None = None
    ) -> Iterator[bytes]: ...

    def keys(self) -> Iterator[str]:
        """Every published key (not pending writes or lock sidecars), in no set order."""
        ...

    def versions(self, prefix: str) -> list[ObjectVersion]:
        """Every version and delete marker of every key under `prefix`, oldest first per key
        (local: from the store's journal of publishes, plus what the files hold now)."""
        ...

    def version_problem(self, key: str, version: str) -> str | None:
        """None when `version` of `key` is stored and is what a plain read gets; else what
        happened to it, in words (hidden by a delete marker, a newer version, gone)."""
        ...

    def get_lock(self, key: str, *, version: str | None = None) -> ObjectLock: ...

    def set_legal_hold(self, key: str, on: bool, *, version: str | None = None) -> None: ...

    def extend_retention(
        self, key: str, until: datetime, *, version: str | None = None
    ) -> None: ...

    def delete(self, key: str, *, version: str | None = None) -> None:
        """Remove an object (that version of it); ObjectLocked while retention or a legal hold
        protects it."""
        ...

    def check(self) -> None:
        """Raise StorageUnavailable unless the store can be reached now."""
        ...


def describe_versions(history: list[ObjectVersion], version: str) -> str | None:
    """`version_problem` from one key's listed history (oldest first): None when `version`
    is there and latest, else what hides it or that it is gone."""
    mine = [v for v in history if v.version == version and v.readable]
    latest = next((v for v in reversed(history) if v.latest), history[-1] if history else None)
    if not mine:
        if latest is not None and latest.delete_marker:
            return (f"the recorded version {version} is gone, and nothing that deleted it "
                    "was recorded (removed behind the store's back)")
        if latest is not None and latest.version is not None:
            return (f"the recorded version {version} is gone; version {latest.version} was "
                    "written in its place (replaced)")
        return f"the recorded version {version} is gone from the store"
    if latest is None or latest.version == version:
        return None
    if latest.delete_marker:
        return (f"hidden behind a delete marker (deleted without its version id); the "
                f"recorded version {version} is still there")
    return (f"a newer version {latest.version} was written over the recorded version "
            f"{version}")


class WriterBase:
    """Context-manager behaviour shared by both backends' writers: abort unless committed."""

    key: str
    version: str | None = None
    _done: bool = False

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def commit(self) -> int:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            self.abort()
