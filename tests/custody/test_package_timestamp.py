"""The evidence package carries its checkpoint's RFC 3161 timestamp and the TSA's CA, and the
standalone verifier checks them (real `openssl ts` TSA): a token from another checkpoint, a
wrong CA and a missing token each fail it."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from bwc_custody.cli import app
from tests.custody.conftest import use_tsa
from tests.support.tsa import TsaServer, running_tsa


def _package(evidence_id: str, out: Path) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["package", evidence_id, "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads((out / "manifest.json").read_text())


def _verifier(out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    from bwc_custody.vault.service import get_signer

    proc = subprocess.run([sys.executable, "-I", str(out / "verify_package.py"), str(out),
                           "--key-id", get_signer().key_id, *extra],
                          capture_output=True, text=True, cwd=out, check=False)
    return proc.returncode, json.loads(proc.stdout)


def _root_sha256(pem: Path) -> str:
    cert = x509.load_pem_x509_certificate(pem.read_bytes())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _copy(out: Path, name: str) -> Path:
    return Path(shutil.copytree(out, out.parent / name))


@pytest.fixture
def stamped_package(with_tsa: TsaServer, ingest: Callable[..., str],
                    append_entries: Callable[..., None], checkpoint: Callable[[], int],
                    tmp_path: Path) -> Path:
    """A package made with the TSA up, after an earlier timestamped checkpoint."""
    from bwc_custody.db import get_engine
    from bwc_custody.jobs.worker import stamp_if_pending

    evidence_id = ingest(b"footage " * 5000)
    append_entries(2, target=evidence_id)
    checkpoint()
    assert stamp_if_pending(get_engine()).stamped == [1]
    out = tmp_path / "pkg"
    _package(evidence_id, out)
    return out


def test_the_package_timestamp_verifies_and_can_be_pinned(
        stamped_package: Path, with_tsa: TsaServer) -> None:
    manifest = json.loads((stamped_package / "manifest.json").read_text())
    stamp = manifest["timestamp"]
    assert stamp["token_file"] == "checkpoint.tsr"
    assert stamp["tsa"] == "CN=Test TSA,O=Test Time Authority"
    assert stamp["url"] == with_tsa.url
    assert manifest["checkpoint"]["index"] == 2
    code, verdict = _verifier(stamped_package)
    assert (code, verdict["problems"]) == (0, [])
    found = verdict["timestamp"]
    root = _root_sha256(with_tsa.ca_file)
    assert found["status"] == "verified"
    assert found["tsa_ca_sha256"] == [root]
    assert found["tsa_pinned"] is False
    assert found["checked_by"] == "rfc3161-client"
    assert found["time"].startswith(stamp["time"][:16])
    code, verdict = _verifier(stamped_package, "--tsa-ca-sha256", root)
    assert (code, verdict["timestamp"]["tsa_pinned"]) == (0, True)
    code, verdict = _verifier(stamped_package, "--tsa-ca-sha256", "ab" * 32)
    assert code == 1
    assert verdict["problems"] == [f"the enclosed TSA root(s) {root} are not the expected "
                                   f"{'ab' * 32}"]


def test_a_token_from_another_checkpoint_fails(stamped_package: Path) -> None:
    from bwc_custody.custody import timestamps
    from bwc_custody.vault.service import get_store

    swapped = _copy(stamped_package, "swapped")
    token = timestamps.read_token(store=get_store(), index=1)
    assert token is not None
    (swapped / "checkpoint.tsr").write_bytes(token)
    code, verdict = _verifier(swapped)
    assert code == 1
    assert verdict["problems"] == ["checkpoint.tsr: the token timestamps another message, not "
                                   "this checkpoint (moved from another one?)"]
    assert verdict["timestamp"]["status"] == "NOT verified"


def test_a_wrong_tsa_ca_fails(stamped_package: Path, other_tsa: TsaServer) -> None:
    wrong = _copy(stamped_package, "wrong-ca")
    shutil.copyfile(other_tsa.ca_file, wrong / "tsa-ca.pem")
    code, verdict = _verifier(wrong)
    assert code == 1
    [problem] = verdict["problems"]
    assert problem.startswith("checkpoint.tsr: does not verify under the enclosed TSA CA")
    assert verdict["timestamp"]["tsa_ca_sha256"] == [_root_sha256(other_tsa.ca_file)]


def test_a_missing_token_fails(stamped_package: Path) -> None:
    missing = _copy(stamped_package, "missing")
    (missing / "checkpoint.tsr").unlink()
    code, verdict = _verifier(missing)
    assert code == 1
    assert verdict["problems"] == ["checkpoint.tsr: the checkpoint's timestamp token is missing"]
    # and with the manifest's mention of it taken out too, only a pinned TSA root shows it
    manifest = json.loads((missing / "manifest.json").read_text())
    del manifest["timestamp"]
    (missing / "manifest.json").write_text(json.dumps(manifest))
    assert _verifier(missing)[0] == 0
    code, verdict = _verifier(missing, "--tsa-ca-sha256", "ab" * 32)
    assert code == 1
    assert verdict["problems"] == ["--tsa-ca-sha256 was given but the package holds no "
                                   "timestamp"]


def _load_verifier(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("shipped_verify_package", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_rfc3161_client_openssl_checks_the_token(stamped_package: Path) -> None:
    from bwc_custody.custody import timestamps
    from bwc_custody.vault.service import get_store

    verifier = _load_verifier(stamped_package / "verify_package.py")
    manifest = json.loads((stamped_package / "manifest.json").read_text())
    message = verifier.checkpoint_timestamped_bytes(manifest["checkpoint"])
    ca_pem = (stamped_package / "tsa-ca.pem").read_bytes()
    good = verifier._with_openssl((stamped_package / "checkpoint.tsr").read_bytes(), message,
                                  ca_pem)
    assert good["checked_by"] == "openssl"
    assert "problem" not in good, good
    assert good["time"].endswith("GMT")
    other = timestamps.read_token(store=get_store(), index=1)
    bad = verifier._with_openssl(other, message, ca_pem)
    assert bad["problem"].startswith("the token timestamps another message")


def test_a_package_made_while_the_tsa_is_down_says_it_has_no_timestamp(
        migrated: str, monkeypatch: pytest.MonkeyPatch, ingest: Callable[..., str],
        tmp_path: Path) -> None:
    with running_tsa(tmp_path / "tsa", name="Down TSA") as down:
        use_tsa(monkeypatch, down.url, down.ca_file)
        down.stop()
        evidence_id = ingest(b"footage " * 5000)
        out = tmp_path / "pkg"
        manifest = _package(evidence_id, out)
    assert manifest["timestamp"]["token_file"] is None
    assert manifest["timestamp"]["missing"].startswith(
        "no timestamp when the package was made: no Time Stamping Authority gave a timestamp")
    code, verdict = _verifier(out)
    assert code == 1
    [problem] = verdict["problems"]
    assert problem.startswith("the checkpoint is not timestamped: no timestamp when the "
                              "package was made")


def test_without_a_tsa_the_package_says_so_and_passes(
        migrated: str, ingest: Callable[..., str], tmp_path: Path) -> None:
    evidence_id = ingest(b"footage " * 5000)
    manifest = _package(evidence_id, tmp_path / "pkg")
    assert "timestamp" not in manifest
    assert not (tmp_path / "pkg" / "tsa-ca.pem").exists()
    code, verdict = _verifier(tmp_path / "pkg")
    assert code == 0, verdict
    assert verdict["timestamp"]["status"].startswith("none: the agency's server timestamps")
