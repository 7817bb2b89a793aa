"""Shared fixtures: an isolated BWC_HOME, SQLite and PostgreSQL databases migrated with the
real migrations, API clients with real tokens, and a real S3 server."""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient

from bwc_custody.roles import Role
from tests.support.clock import travelling
from tests.support.s3server import S3Server, running_s3
from tests.support.tsa import TsaServer, running_tsa

PG_BASE_URL = os.environ.get("BWC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[time_machine.Traveller]:
    """Every test starts at the same instant (tests/support/clock.py), ticking from there."""
    with travelling() as traveller:
        yield traveller


def _reset_caches() -> None:
    from bwc_custody.config import get_settings
    from bwc_custody.db import get_engine
    from bwc_custody.vault.service import get_signer, get_store

    try:
        get_engine().dispose()
    except Exception:  # noqa: BLE001 (the engine of a dropped test DB)
        pass
    for fn in (get_settings, get_engine, get_store, get_signer):
        fn.cache_clear()


@pytest.fixture
def bwc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh BWC_HOME with every BWC_* variable cleared; caches reset around the test."""
    for key in list(os.environ):
        if key.startswith("BWC_") and key != "BWC_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    home = tmp_path / "bwc-home"
    monkeypatch.setenv("BWC_HOME", str(home))
    # Small segments so multi-segment paths run on small test files.
    monkeypatch.setenv("BWC_SEGMENT_SIZE", str(64 * 1024))
    # Tests that count custody entries exactly would see the ingest's analysis job; the
    # tests of that default turn it back on.
    monkeypatch.setenv("BWC_AUTO_ANALYZE", "false")
    _agency_ca_on_the_real_clock(home / "keys" / "c2pa")
    _reset_caches()
    yield home
    _reset_caches()


def _agency_ca_on_the_real_clock(directory: Path) -> None:
    """The home's C2PA certificate authority, dated by the machine's clock as `bwc init`
    dates it: c2pa's native code checks the signing certificate by that clock, and one made
    at the suite's fixed instant (months ahead) is "not yet valid" to it."""
    from provenance.ca import AgencyCA

    hatch = time_machine.escape_hatch
    real_now = (hatch.datetime.datetime.now(tz=UTC) if hatch.is_travelling()
                else datetime.now(tz=UTC))
    AgencyCA.create(directory, agency="the law enforcement agency", now=real_now)


def _pg_admin_url() -> str:
    return PG_BASE_URL.replace("postgresql+psycopg://", "postgresql://")


def _postgres_available() -> str | None:
    import psycopg

    try:
        with psycopg.connect(_pg_admin_url(), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_BASE_URL}: {exc}"


class _MigratedTemplates:
    """One migrated database of each kind per test process, copied for each test that
    wants a migrated one: migrating costs ~3 s a database (28 migrations), a copy ~1 ms
    (SQLite, a file) or ~1 s (PostgreSQL, `CREATE DATABASE ... TEMPLATE`), and most of
    the suite's tests want one. PostgreSQL copies are made, and used ones dropped, on
    background threads while tests run (a DROP DATABASE waits ~1.5 s on the server's disk).
    Both templates are made with the real migrations (`bwc_custody.db.upgrade`); a test of
    the migrations themselves asks for `db_url` alone and gets an empty database."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sqlite: Path | None = None
        self.pg_template: str | None = None
        self.pg_spare: Future[str] | None = None
        self.pg_makes = ThreadPoolExecutor(1, thread_name_prefix="pg-copy")
        self.pg_drops = ThreadPoolExecutor(1, thread_name_prefix="pg-drop")
        self.pg_made: set[str] = set()

    def sqlite_copy(self, target: Path) -> None:
        from bwc_custody.db import upgrade

        if self.sqlite is None:
            path = self.directory / "migrated.db"
            upgrade(f"sqlite:///{path}")
            _reset_caches()
            self.sqlite = path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.sqlite, target)

    def _pg_create(self, template: str | None = None) -> str:
        import psycopg

        name = f"bwc_t_{secrets.token_hex(6)}"
        with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'
                         + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def pg_copy(self) -> str:
        """The name of a new migrated PostgreSQL database (made ahead while the last test ran)."""
        if self.pg_template is None:
            from bwc_custody.db import upgrade

            name = self._pg_create()
            upgrade(f"{PG_BASE_URL.rsplit('/', 1)[0]}/{name}")
            _reset_caches()
            self.pg_template = name
        spare = self.pg_spare or self.pg_makes.submit(self._pg_create, self.pg_template)
        self.pg_spare = self.pg_makes.submit(self._pg_create, self.pg_template)
        name = spare.result()
        self.pg_made.add(name)
        return name

    def pg_drop(self, name: str) -> None:
        self.pg_drops.submit(_pg_drop, name)

    def close(self) -> None:
        if self.pg_spare is not None:
            self.pg_drop(self.pg_spare.result())
        self.pg_makes.shutdown()
        if self.pg_template is not None:
            self.pg_drop(self.pg_template)
        self.pg_drops.shutdown()


def _pg_drop(name: str) -> None:
    import psycopg

    with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_MigratedTemplates]:
    templates = _MigratedTemplates(tmp_path_factory.mktemp("migrated"))
    yield templates
    templates.close()


_WANTS_MIGRATED = {"migrated", "sqlite_migrated"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, bwc_home: Path,
           _migrated_templates: _MigratedTemplates) -> Iterator[str]:
    """A new database of each kind (PostgreSQL skipped with the reason if absent): already
    at the newest schema when the test also asks for `migrated`, else empty."""
    wants_migrated = bool(_WANTS_MIGRATED & set(request.fixturenames))
    if request.param == "sqlite":
        path = bwc_home / "test.db"
        if wants_migrated:
            _migrated_templates.sqlite_copy(path)
            _MIGRATED_URLS.add(f"sqlite:///{path}")
        yield f"sqlite:///{path}"
        return
    reason = _postgres_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI claims PostgreSQL: its absence is a failure
        pytest.skip(reason)
    if wants_migrated:
        name = _migrated_templates.pg_copy()
    else:
        name = _migrated_templates._pg_create()
    base = PG_BASE_URL.rsplit("/", 1)[0]
    if wants_migrated:
        _MIGRATED_URLS.add(f"{base}/{name}")
    yield f"{base}/{name}"
    _reset_caches()
    _MIGRATED_URLS.discard(f"{base}/{name}")
    _migrated_templates.pg_drop(name)


# URLs of test databases copied from a migrated template (nothing left to upgrade)
_MIGRATED_URLS: set[str] = set()


@pytest.fixture
def migrated(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test database at the newest schema, configured as BWC_DATABASE_URL."""
    from bwc_custody.db import upgrade

    monkeypatch.setenv("BWC_DATABASE_URL", db_url)
    _reset_caches()
    if db_url not in _MIGRATED_URLS:
        upgrade(db_url)
    return db_url


@pytest.fixture
def sqlite_migrated(bwc_home: Path, monkeypatch: pytest.MonkeyPatch,
                    _migrated_templates: _MigratedTemplates) -> str:
    """A migrated SQLite database only (for tests whose subject is not the DB)."""
    path = bwc_home / "test.db"
    _migrated_templates.sqlite_copy(path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("BWC_DATABASE_URL", url)
    _reset_caches()
    return url


@pytest.fixture
def make_token() -> Callable[..., str]:
    """Factory: create a user with roles and return a live API token for it."""
    from bwc_custody.auth.service import create_api_token, create_user
    from bwc_custody.db import session_scope

    def _make(*roles: Role, username: str | None = None) -> str:
        with session_scope() as session:
            user = create_user(session=session, username=username or f"u-{uuid.uuid4().hex[:8]}",
                               roles=roles)
            return create_api_token(session=session, user=user)

    return _make


@pytest.fixture
def client(migrated: str) -> Iterator[TestClient]:
    """An API client against the migrated database (lifespan runs the schema check)."""
    from bwc_custody.app import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


def _server_or_skip(what: str, started: Any) -> Iterator[Any]:
    """Yield the server the context manager `started` runs; when it cannot start, fail in
    CI (a test that claims a real server must have one) and skip elsewhere, saying why."""
    try:
        with started as server:
            yield server
    except RuntimeError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{what} could not start: {exc}")
        pytest.skip(f"{what} could not start: {exc}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real SeaweedFS S3 server for the session; skipped with the reason if it cannot start."""
    yield from _server_or_skip("S3 server", running_s3(tmp_path_factory.mktemp("seaweed")))


@pytest.fixture(scope="session")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TsaServer]:
    """A real RFC 3161 TSA (`openssl ts -reply` over HTTP on 127.0.0.1) for the session
    (fails in CI, skips elsewhere, when it cannot start)."""
    yield from _server_or_skip("the TSA", running_tsa(tmp_path_factory.mktemp("tsa")))


@pytest.fixture
def shared_dir() -> Path:
    """../shared (seeds, real faces, make_clip.py); skipped when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is missing (the shared data lives beside the checkout)")
    return SHARED


@pytest.fixture
def ingest_clip() -> Callable[..., str]:
    """Factory: take a file or bytes into custody with dock metadata (the test picks the
    database fixture); returns the evidence id. Without a file or data each call stores
    different bytes, so two calls are two recordings."""
    import io
    from datetime import datetime

    from bwc_custody.db import session_scope
    from bwc_custody.evidence.models import DockMetadata
    from bwc_custody.flows.ingest import ingest_stream
    from bwc_custody.vault.service import get_keyring, get_signer, get_store
    from tests.support.actors import LOCAL_OPERATOR

    def _ingest(path: Path | None = None, *, data: bytes | None = None, **meta: Any) -> str:
        body = (path.read_bytes() if path is not None
                else data or f"not a video {uuid.uuid4()} ".encode() * 100)
        meta.setdefault("officer_id", "officer-1")
        if isinstance(meta.get("recorded_at"), str):
            meta["recorded_at"] = datetime.fromisoformat(meta["recorded_at"])
        with session_scope() as session:
            receipt = ingest_stream(
                session=session, store=get_store(), keyring=get_keyring(), signer=get_signer(),
                source=io.BytesIO(body), metadata=DockMetadata(**meta), actor=LOCAL_OPERATOR,
                client_addr="127.0.0.1")
        return receipt.evidence_id

    return _ingest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with the most slow tests (marked `slow` or `browser`) first, each file's own
    order kept: the workers take whole files as they free up (scripts/test.sh), and a
    minutes-long file collected last kept one worker busy long after the other was done."""
    weight: dict[Path, int] = {}
    for item in items:
        slow = item.get_closest_marker("slow")
        if slow or item.get_closest_marker("browser"):
            # `slow(cost=N)`: a test that takes as long as N slow ones (test_clock's each run
            # the date-sensitive tests again in a pytest of their own, 60-95 s on CI)
            cost = int(slow.kwargs.get("cost", 1)) if slow else 1
            weight[item.path] = weight.get(item.path, 0) + cost
    items.sort(key=lambda item: -weight.get(item.path, 0))
