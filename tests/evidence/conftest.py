"""Fixtures for ingest tests: real video made with ffmpeg, and CLI invocation."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bwc_custody.cli import app


@pytest.fixture(scope="session")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-second H.264/AAC clip, 320x240 at 30 fps, made by ffmpeg."""
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440", "-t", "2", "-shortest",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)],
        check=True,
    )
    return path


@pytest.fixture
def bwc() -> Callable[..., tuple[int, Any]]:
    """Run a `bwc` command in-process; returns (exit code, parsed JSON of stdout or stderr)."""
    runner = CliRunner()

    def _run(*args: str) -> tuple[int, Any]:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        text = result.stdout if result.exit_code == 0 else (result.stderr or result.stdout)
        try:
            return result.exit_code, json.loads(text)
        except json.JSONDecodeError:
            return result.exit_code, text

    return _run
