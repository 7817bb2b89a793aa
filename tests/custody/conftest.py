"""Fixtures for custody-log tests: entries, ingested objects, and tampering as a DBA would."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from tests.support.actors import LOCAL_OPERATOR
from tests.support.tsa import TsaServer, running_tsa


@pytest.fixture
def append_entries(migrated: str) -> Callable[[int], None]:
    """Factory: append `n` entries (committed) with varied content."""
    from bwc_custody.custody import service as custody
    from bwc_custody.db import session_scope

    def _append(n: int, target: str = "t-1") -> None:
        with session_scope() as session:
            for i in range(n):
                custody.append(session=session, actor=LOCAL_OPERATOR, action="test.event",
                               target_type="test", target_id=target, client_addr="127.0.0.1",
                               reason=f"reason {i}", details={"i": i, "note": "é"})

    return _append


@pytest.fixture
def checkpoint(migrated: str) -> Callable[[], int]:
    """Factory: sign a checkpoint now; returns its tree size."""
    from bwc_custody.custody import service as custody
    from bwc_custody.db import session_scope
    from bwc_custody.vault.service import get_signer, get_store

    def _checkpoint() -> int:
        with session_scope() as session:
            return custody.create_checkpoint(session=session, signer=get_signer(),
                                             store=get_store()).tree_size

    return _checkpoint


@pytest.fixture
def ingest(migrated: str) -> Callable[[bytes], str]:
    """Factory: take `data` into custody through the real ingest path; returns the id."""
    from bwc_custody.db import session_scope
    from bwc_custody.evidence.models import DockMetadata
    from bwc_custody.flows.ingest import ingest_stream
    from bwc_custody.vault.service import get_keyring, get_signer, get_store

    def _ingest(data: bytes | None = None, filename: str = "clip.mp4") -> str:
        with session_scope() as session:
            receipt = ingest_stream(
                session=session, store=get_store(), keyring=get_keyring(), signer=get_signer(),
                source=io.BytesIO(data if data is not None else os.urandom(150_000)),
                metadata=DockMetadata(officer_id="o-1", filename=filename),
                actor=LOCAL_OPERATOR, client_addr="127.0.0.1",
            )
        return receipt.evidence_id

    return _ingest


@pytest.fixture
def package(ingest: Callable[..., str], tmp_path: Path) -> tuple[Path, str]:
    """`bwc package` of a recording that was viewed (`evidence.stream`) and exported before
    (`evidence.export`), so the package carries entries about it besides the ingest; returns
    the package's folder and the recording's id."""
    from typer.testing import CliRunner

    from bwc_custody.cli import app
    from bwc_custody.db import session_scope
    from bwc_custody.evidence.service import export_original, open_original
    from bwc_custody.vault.service import get_keyring, get_store

    evidence_id = ingest(b"footage " * 5_000)
    with session_scope() as session:
        open_original(session=session, store=get_store(), keyring=get_keyring(),
                      evidence_id=evidence_id, actor=LOCAL_OPERATOR, reason="review")
        export_original(session=session, store=get_store(), keyring=get_keyring(),
                        evidence_id=evidence_id, out=tmp_path / "copy.mp4",
                        actor=LOCAL_OPERATOR, reason="to the prosecutor")
    out = tmp_path / "pkg"
    result = CliRunner().invoke(app, ["package", evidence_id, "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, evidence_id


@pytest.fixture
def run_verify(migrated: str) -> Callable[..., dict]:  # type: ignore[type-arg]
    """Run the full verification (`bwc verify`'s); returns the JSON report."""
    from bwc_custody.db import session_scope
    from bwc_custody.flows.verify_state import verify_everything
    from bwc_custody.vault.service import get_keyring, get_signer, get_store

    def _run(fixity: bool = True) -> dict:  # type: ignore[type-arg]
        with session_scope() as session:
            return verify_everything(session=session, store=get_store(), keyring=get_keyring(),
                              signer=get_signer(), fixity=fixity).to_dict()

    return _run


APPEND_ONLY = ("custody_entry", "custody_checkpoint", "checkpoint_timestamp",
               "checkpoint_publication")


@contextmanager
def _dba(url: str) -> Iterator[Connection]:
    from bwc_custody.db import make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                for table in APPEND_ONLY:
                    conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                for table in APPEND_ONLY:
                    for verb in ("update", "delete"):
                        conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))
            yield conn
    finally:
        engine.dispose()


@pytest.fixture
def dba(migrated: str) -> Callable[[], contextmanager]:  # type: ignore[type-arg]
    """A connection of someone with full DB rights who first switches off the triggers."""
    return lambda: _dba(migrated)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store_kind(request: pytest.FixtureRequest, migrated: str,
               monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test on the embedded local store and on a real S3 server with object lock
    (a bucket of its own); returns which."""
    if request.param == "s3":
        import secrets

        from tests.conftest import _reset_caches

        server = request.getfixturevalue("s3_server")
        monkeypatch.setenv("BWC_S3_ENDPOINT", server.endpoint)
        monkeypatch.setenv("BWC_S3_ACCESS_KEY", server.access_key)
        monkeypatch.setenv("BWC_S3_SECRET_KEY", server.secret_key)
        monkeypatch.setenv("BWC_S3_SECURE", "false")
        monkeypatch.setenv("BWC_S3_BUCKET", f"cu-{secrets.token_hex(4)}")
        _reset_caches()
    return str(request.param)


def use_tsa(monkeypatch: pytest.MonkeyPatch, url: str, ca_file: Path | None) -> None:
    """Configure the TSA (BWC_TSA_URL) and its CA (BWC_TSA_CA_FILE; None: unset)."""
    from bwc_custody.config import get_settings

    monkeypatch.setenv("BWC_TSA_URL", url)
    if ca_file is not None:
        monkeypatch.setenv("BWC_TSA_CA_FILE", str(ca_file))
    else:
        monkeypatch.delenv("BWC_TSA_CA_FILE", raising=False)
    get_settings.cache_clear()


@pytest.fixture
def with_tsa(migrated: str, tsa: TsaServer, monkeypatch: pytest.MonkeyPatch) -> TsaServer:
    """The session's TSA configured (BWC_TSA_URL, BWC_TSA_CA_FILE)."""
    use_tsa(monkeypatch, tsa.url, tsa.ca_file)
    return tsa


@pytest.fixture(scope="module")
def other_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TsaServer]:
    """A second real TSA under a CA of its own."""
    with running_tsa(tmp_path_factory.mktemp("other-tsa"), name="Other TSA") as server:
        yield server
