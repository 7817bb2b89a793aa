"""`bwc redact`: writes the derivative and manifest, and reports domain errors as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bwc_custody.cli import app
from tests.redaction.conftest import Clip


def test_cli_redacts_with_manifest_and_regions(face_clip: Clip, tmp_path: Path) -> None:
    regions = tmp_path / "r.json"
    regions.write_text(json.dumps({"mute": [{"start": 0.5, "end": 1.0}]}))
    out, man = tmp_path / "o.mp4", tmp_path / "o.json"
    res = CliRunner().invoke(app, ["redact", str(face_clip.path), str(out), "--manifest",
                                   str(man), "--regions", str(regions), "--quiet"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["frames"] == len(face_clip.truth["frames"])
    assert out.is_file()
    assert json.loads(man.read_text())["mute"][0]["start"] == 0.5


def test_cli_reports_error_codes(face_clip: Clip, tmp_path: Path) -> None:
    bad = tmp_path / "r.json"
    bad.write_text('{"mute": [{"start": 3, "end": 1}]}')
    res = CliRunner().invoke(app, ["redact", str(face_clip.path), str(tmp_path / "o.mp4"),
                                   "--regions", str(bad), "-q"])
    assert res.exit_code == 2
    assert json.loads(res.stderr)["error"]["code"] == "invalid_regions"
    res = CliRunner().invoke(app, ["redact", str(face_clip.path), str(face_clip.path), "-q"])
    assert res.exit_code == 2
    assert json.loads(res.stderr)["error"]["code"] == "output_is_input"
    assert not (tmp_path / "o.mp4").exists()
