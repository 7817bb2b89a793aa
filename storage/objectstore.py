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


class ObjectWriter(Protocol):
    """A pending object: write bytes, then commit (publish) or abort (discard)."""

    key: str

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

    def publish_file(self, key: str, path: Path, *, lock: ObjectLock | None = None) -> int:
        """Publish a finished local file under `key` (write-once, atomic); returns its size."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def read_at(self, key: str, offset: int, length: int) -> bytes: ...

    def iter_bytes(self, key: str, chunk_size: int = 8 * 1024 * 1024) -> Iterator[bytes]: ...

    def keys(self) -> Iterator[str]:
        """Every published key (not pending writes or lock sidecars), in no set order."""
        ...

    def get_lock(self, key: str) -> ObjectLock: ...

    def set_legal_hold(self, key: str, on: bool) -> None: ...

    def extend_retention(self, key: str, until: datetime) -> None: ...

    def delete(self, key: str) -> None:
        """Remove an object; ObjectLocked while retention or a legal hold protects it."""
        ...

    def check(self) -> None:
        """Raise StorageUnavailable unless the store can be reached now."""
        ...


class WriterBase:
    """Context-manager behaviour shared by both backends' writers: abort unless committed."""

    key: str
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
