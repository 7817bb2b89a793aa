"""`bwc package` and the standalone verifier a defence attorney runs."""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bwc_custody.cli import app
from bwc_custody.evidence.package import VERIFIER


def _bwc(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    text = result.stdout if result.exit_code in (0, 1) else (result.stderr or result.stdout)
    try:
        return result.exit_code, json.loads(text)
    except json.JSONDecodeError:
        return result.exit_code, text


def _run_verifier(out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    # -I: isolated mode, run from the package directory: the script stands on its own.
    proc = subprocess.run([sys.executable, "-I", str(out / "verify_package.py"), str(out), *extra],
                          capture_output=True, text=True, cwd=out, check=False)
    return proc.returncode, json.loads(proc.stdout)


def test_verifier_imports_only_stdlib_and_cryptography() -> None:
    tree = ast.parse(VERIFIER.read_text())
    # c2pa is optional: imported only to check a released copy (--file), under a try that
    # says "not checked" when it is missing; so is rfc3161-client (openssl checks the
    # checkpoint's timestamp instead)
    optional = {a.name for n in ast.walk(tree) if isinstance(n, ast.Try)
                and any(isinstance(h.type, ast.Name) and h.type.id == "ImportError"
                        for h in n.handlers)
                for m in n.body if isinstance(m, ast.Import) for a in m.names}
    assert optional == {"c2pa", "rfc3161_client"}
    roots = {(n.module or "").split(".")[0] for n in ast.walk(tree)
             if isinstance(n, ast.ImportFrom)}
    roots |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
              for a in n.names}
    assert roots - set(sys.stdlib_module_names) - optional == {"cryptography"}


def test_package_verifies_standalone_and_catches_tampering(
    migrated: str, ingest: Callable[..., str], append_entries: Callable[..., None],
    tmp_path: Path,
) -> None:
    from bwc_custody.vault.service import get_signer

    data = b"footage " * 20_000
    evidence_id = ingest(data, filename="../../etc/passwd")
    append_entries(3, target=evidence_id)
    append_entries(2, target="someone-else")
    out = tmp_path / "pkg"
    code, result = _bwc("package", evidence_id, "--out", str(out), "--reason", "subpoena 42")
    assert code == 0, result
    assert result["entries"] == 6  # ingest, 3 events, the export, and the list of them all
    assert result["key_id"] == get_signer().key_id
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["file"] == "evidence/passwd"
    assert (out / manifest["file"]).read_bytes() == data
    assert (out / "public_key.pem").read_text() == get_signer().public_pem
    actions = [json.loads(e["canonical"])["action"] for e in manifest["entries"]]
    assert actions[0] == "evidence.ingest"
    assert actions[-2:] == ["evidence.export", "evidence.package"]
    assert json.loads(manifest["entries"][-2]["canonical"])["reason"] == "subpoena 42"
    listed = json.loads(manifest["entries"][-1]["canonical"])
    assert listed["seq"] == manifest["checkpoint"]["tree_size"]
    assert listed["details"]["seqs"] == [json.loads(e["canonical"])["seq"]
                                         for e in manifest["entries"][:-1]]

    key_id = get_signer().key_id
    code, report = _run_verifier(out, "--key-id", key_id)
    assert code == 0, report
    assert report["ok"]
    code, report = _run_verifier(out, "--key-id", "0" * 16)
    assert code == 1
    assert any("expected" in p for p in report["problems"])

    # One flipped byte in the footage.
    video = out / manifest["file"]
    video.write_bytes(data[:100] + b"X" + data[101:])
    code, report = _run_verifier(out, "--key-id", key_id)
    assert code == 1
    assert report["problems"] == ["evidence/passwd: SHA-256 differs from the manifest"]
    video.write_bytes(data)

    # A custody entry whose text was edited (its hash recomputed to match).
    edited = json.loads((out / "manifest.json").read_text())
    second = edited["entries"][1]
    body = json.loads(second["canonical"])
    seq = body["seq"]
    body["reason"] = "routine"
    second["canonical"] = json.dumps(body, sort_keys=True, separators=(",", ":"))
    second["entry_hash"] = hashlib.sha256(second["canonical"].encode()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(edited))
    code, report = _run_verifier(out, "--key-id", key_id)
    assert code == 1
    assert report["problems"] == [
        f"custody entry seq {seq}: inclusion proof does not lead to the checkpoint root"]


def test_package_refuses_a_used_directory_and_unknown_evidence(
    migrated: str, ingest: Callable[..., str], tmp_path: Path
) -> None:
    evidence_id = ingest()
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("x")
    code, err = _bwc("package", evidence_id, "--out", str(used))
    assert code == 2
    assert err["error"]["code"] == "package_exists"
    code, err = _bwc("package", "no-such-id", "--out", str(tmp_path / "new"))
    assert code == 2
    assert err["error"]["code"] == "evidence_not_found"


def test_cli_verify_and_checkpoint(migrated: str, ingest: Callable[..., str]) -> None:
    from bwc_custody.vault.service import get_store

    evidence_id = ingest()
    code, cp = _bwc("checkpoint")
    assert code == 0
    assert cp["tree_size"] == 1
    code, report = _bwc("verify")
    assert code == 0
    assert report["ok"]
    path = get_store().path(f"originals/{evidence_id}")  # type: ignore[attr-defined]
    path.chmod(0o600)
    path.write_bytes(path.read_bytes()[:-1])
    code, report = _bwc("verify")
    assert code == 1
    assert [f["ref"] for f in report["findings"]] == [f"originals/{evidence_id}"]


def _entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(e["canonical"]) for e in manifest["entries"]]


@pytest.mark.parametrize("action", ["evidence.stream", "evidence.export"])
def test_a_package_missing_an_entry_about_the_evidence_fails(
        package: tuple[Path, str], action: str) -> None:
    """Issue 22, finding 10: entries left out of the manifest are named."""
    from bwc_custody.vault.service import get_signer

    out, _ = package
    manifest = json.loads((out / "manifest.json").read_text())
    # the first of them: the export in the package's own making stays
    seq = next(e["seq"] for e in _entries(manifest) if e["action"] == action)
    manifest["entries"] = [e for e in manifest["entries"]
                           if json.loads(e["canonical"])["seq"] != seq]
    (out / "manifest.json").write_text(json.dumps(manifest))
    code, report = _run_verifier(out, "--key-id", get_signer().key_id)
    assert code == 1
    [problem] = report["problems"]
    assert problem.startswith(f"custody entries about the evidence are missing from the "
                              f"package: seq {seq} (the log listed ")


def test_a_package_cut_short_fails(package: tuple[Path, str]) -> None:
    from bwc_custody.vault.service import get_signer

    out, _ = package
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["entries"] = manifest["entries"][:-2]  # the export and the list
    (out / "manifest.json").write_text(json.dumps(manifest))
    code, report = _run_verifier(out, "--key-id", get_signer().key_id)
    assert code == 1
    assert report["problems"] == [
        "the package does not end with the evidence.package entry that is the checkpoint's "
        f"last leaf (seq {manifest['checkpoint']['tree_size']}): it cannot show that it holds "
        "every entry about the evidence"]


def test_a_package_resigned_with_another_key_fails_unless_that_key_is_pinned(
        package: tuple[Path, str]) -> None:
    """The forger leaves out the viewing, rebuilds the list, a tree and its proofs, and signs
    a checkpoint with a key of their own: everything holds together but the key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from bwc_custody.custody import merkle
    from bwc_custody.custody import service as custody
    from bwc_custody.vault.service import get_signer
    from storage.keys import Signer

    out, _ = package
    manifest = json.loads((out / "manifest.json").read_text())
    kept = [e for e in _entries(manifest) if e["action"] != "evidence.stream"]
    kept[-1]["details"]["seqs"] = [e["seq"] for e in kept[:-1]]
    kept[-1]["details"]["entries"] = len(kept) - 1
    size = kept[-1]["seq"]
    canon = {e["seq"]: json.dumps(e, sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False).encode() for e in kept}
    leaves = [merkle.leaf_hash(canon.get(i + 1, b"filler %d" % i)) for i in range(size)]
    forger = Signer(Ed25519PrivateKey.generate())
    cp = {**manifest["checkpoint"], "root_hash": merkle.root(leaves).hex(),
          "key_id": forger.key_id}
    cp["signature"] = forger.sign(custody.document_signed_bytes(cp))
    manifest.update(checkpoint=cp, key_id=forger.key_id, entries=[
        {"canonical": canon[e["seq"]].decode(), "leaf_index": e["seq"] - 1,
         "entry_hash": hashlib.sha256(canon[e["seq"]]).hexdigest(),
         "inclusion_proof": [h.hex() for h in merkle.inclusion_proof(e["seq"] - 1, leaves)]}
        for e in kept])
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / "public_key.pem").write_text(forger.public_pem)

    code, report = _run_verifier(out)
    assert code == 1
    assert report["key_id"] == forger.key_id
    assert not report["key_pinned"]
    assert "GET /api/v1/keys/signing" in report["compare_key_id_with"]
    assert report["problems"] == [
        f"the signing key is not pinned: compare key id {forger.key_id} with the key id the "
        "agency publishes at GET /api/v1/keys/signing on its server (`key_id`, or one of "
        "`retired`), or states under oath, then run again with --key-id"]
    code, report = _run_verifier(out, "--key-id", get_signer().key_id)
    assert code == 1
    assert report["problems"] == [f"public key id {forger.key_id} is not the expected "
                                  f"{get_signer().key_id}: the package was signed by another key"]
    assert _run_verifier(out, "--key-id", forger.key_id)[0] == 0  # pinned to the forger's
