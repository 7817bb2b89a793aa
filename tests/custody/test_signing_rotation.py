"""Signing-key rotation: old checkpoints still verify with the retired public key (kept,
published), the old private key is gone, new checkpoints use the new key, and a verifier
that lost the retired key names the checkpoints it can no longer check."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bwc_custody.cli import app


def _refs(report: dict[str, Any]) -> set[str]:
    return {f["ref"] for f in report["findings"] if f["kind"] == "checkpoint"}


def test_rotation_keeps_history_verifiable(migrated: str, bwc_home: Path,
                                           append_entries: Callable[..., None],
                                           checkpoint: Callable[[], int],
                                           run_verify: Callable[..., dict]) -> None:
    from bwc_custody.app import create_app
    from bwc_custody.config import get_settings
    from bwc_custody.vault.service import get_signer
    from storage.keys import RETIRED_DIR, SIGNING_FILE

    append_entries(3)
    assert checkpoint() == 3
    keys = get_settings().keys_dir
    old_private = (keys / SIGNING_FILE).read_bytes()
    old_id = get_signer().key_id

    run = CliRunner().invoke(app, ["keys", "rotate-signing"], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    out = json.loads(run.stdout)
    assert out["previous"] == old_id
    assert out["active"] != old_id
    assert out["checkpoint"] == 2  # signed with the new key at once
    assert (keys / SIGNING_FILE).read_bytes() != old_private  # old private key destroyed
    assert old_private not in b"".join(p.read_bytes() for p in keys.rglob("*") if p.is_file())
    assert (keys / RETIRED_DIR / f"{old_id}.pub.pem").is_file()

    append_entries(2)
    assert checkpoint() == 6
    report = run_verify()
    assert report["ok"], report["findings"]
    assert report["checkpoints"] == 3

    published = TestClient(create_app()).get("/api/v1/keys/signing").json()
    assert published["key_id"] == out["active"]
    assert list(published["retired"]) == [old_id]

    # a verifier without the retired public key cannot vouch for checkpoint 1: it says so
    (keys / RETIRED_DIR / f"{old_id}.pub.pem").unlink()
    get_signer.cache_clear()
    report = run_verify()
    assert not report["ok"]
    assert _refs(report) == {"checkpoint 1 (size 3)"}
