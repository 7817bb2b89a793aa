"""The agency's content-credentials CA in a BWC home: made by `bwc init`, shown, rotated and
imported by `bwc keys`, each change in the custody log; its roots published at
/api/v1/keys/c2pa and put into every evidence package."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bwc_custody.cli import app
from provenance.ca import ROOTS_DIR, SIGNERS_DIR, AgencyCA, load_certificates


def _bwc(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    text = result.stdout if result.exit_code == 0 else (result.stderr or result.stdout)
    try:
        return result.exit_code, json.loads(text)
    except json.JSONDecodeError:
        return result.exit_code, text


def _log(action: str) -> list[Any]:
    from sqlmodel import select

    from bwc_custody.custody.models import CustodyEntry
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return list(session.exec(select(CustodyEntry).where(CustodyEntry.action == action)))


def test_init_makes_the_ca_beside_the_other_keys_and_logs_it(migrated: str,
                                                              bwc_home: Path) -> None:
    from bwc_custody.config import get_settings

    directory = get_settings().c2pa_dir
    assert directory == bwc_home / "keys" / "c2pa"
    shutil.rmtree(directory)  # the fixture's CA: this test watches init make one
    code, out = _bwc("init", "--password", "a long enough password")
    assert code == 0, out
    ca = AgencyCA(directory)
    assert out["c2pa"]["root_id"] == ca.root_id
    assert out["c2pa"]["signer_id"] == ca.signer_id
    assert directory.stat().st_mode & 0o777 == 0o700
    keys = list(directory.rglob("*.key.pem"))
    assert len(keys) == 2
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in keys)
    [made] = _log("keys.c2pa_create")
    assert (made.target_type, made.target_id) == ("c2pa_ca", ca.signer_id)
    assert made.details["root_id"] == ca.root_id

    # a second init keeps the CA (releases are signed under it) and logs nothing new
    code, again = _bwc("init")
    assert code == 0, again
    assert again["c2pa"]["root_id"] == ca.root_id
    assert len(_log("keys.c2pa_create")) == 1


def test_rotation_keeps_every_root_published_and_destroys_retired_keys(
        client: TestClient, bwc_home: Path) -> None:
    code, first = _bwc("keys", "c2pa")
    assert code == 0, first
    assert first["trusted_root_ids"] == [first["root_id"]]

    code, signer = _bwc("keys", "rotate-c2pa")
    assert code == 0, signer
    assert signer["root_id"] == first["root_id"]
    assert signer["signer_id"] != first["signer_id"]
    assert signer["previous_signer"] == first["signer_id"]

    code, root = _bwc("keys", "rotate-c2pa", "--root")
    assert code == 0, root
    assert root["root_id"] != first["root_id"]
    assert root["trusted_root_ids"] == [root["root_id"], first["root_id"]]
    directory = bwc_home / "keys" / "c2pa"
    assert sorted(p.name for p in directory.rglob("*.key.pem")) == sorted(
        [f"{root['root_id']}.key.pem", f"{root['signer_id']}.key.pem"])

    rotations = _log("keys.c2pa_rotate")
    assert [(e.details["root"], e.target_id) for e in rotations] == [
        (False, signer["signer_id"]), (True, root["signer_id"])]

    published = client.get("/api/v1/keys/c2pa")
    assert published.status_code == 200
    body = published.json()
    assert (body["root_id"], body["signer_id"]) == (root["root_id"], root["signer_id"])
    assert body["root_ids"] == root["trusted_root_ids"]
    assert len(load_certificates(body["roots_pem"].encode())) == 2
    pem = client.get("/api/v1/keys/c2pa/roots.pem")
    assert pem.status_code == 200
    assert pem.headers["content-type"].startswith("application/x-pem-file")
    assert pem.text == body["roots_pem"]


def test_import_from_the_agency_s_own_ca(migrated: str, bwc_home: Path,
                                         tmp_path: Path) -> None:
    own = AgencyCA.create(tmp_path / "agency-own-ca", agency="Test County Sheriff")
    chain = tmp_path / "chain.pem"
    chain.write_bytes((own.directory / SIGNERS_DIR / f"{own.signer_id}.pem").read_bytes()
                      + (own.directory / ROOTS_DIR / f"{own.root_id}.pem").read_bytes())
    key = own.directory / SIGNERS_DIR / f"{own.signer_id}.key.pem"

    code, refused = _bwc("keys", "import-c2pa", str(chain), str(key))
    assert code == 2
    assert refused["error"]["code"] == "ca_exists"  # the CA in use is not silently replaced
    wrong = tmp_path / "root-only.pem"
    wrong.write_bytes((own.directory / ROOTS_DIR / f"{own.root_id}.pem").read_bytes())
    code, refused = _bwc("keys", "import-c2pa", str(wrong), str(key), "--replace")
    assert code == 2
    assert refused["error"]["code"] == "invalid_certificate_chain"

    _, before = _bwc("keys", "c2pa")
    code, imported = _bwc("keys", "import-c2pa", str(chain), str(key), "--replace")
    assert code == 0, imported
    assert (imported["root_id"], imported["signer_id"], imported["source"]) == (
        own.root_id, own.signer_id, "imported")
    assert imported["trusted_root_ids"] == [own.root_id, before["root_id"]]
    [entry] = _log("keys.c2pa_import")
    assert entry.details["previous_root"] == before["root_id"]
    code, refused = _bwc("keys", "rotate-c2pa")
    assert code == 2
    assert refused["error"]["code"] == "ca_imported"


def test_the_evidence_package_carries_the_roots(migrated: str, bwc_home: Path,
                                                ingest_clip: Callable[..., str],
                                                tmp_path: Path) -> None:
    from bwc_custody.vault.service import get_agency_ca

    evidence_id = ingest_clip()
    out = tmp_path / "pkg"
    code, result = _bwc("package", evidence_id, "--out", str(out), "--reason", "subpoena 9")
    assert code == 0, result
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["c2pa_roots_file"] == "c2pa-roots.pem"
    assert (out / "c2pa-roots.pem").read_text() == get_agency_ca().trusted_roots_pem()
