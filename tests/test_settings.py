"""A bad BWC_* value is a clear error naming the variable (code invalid_settings, exit 2
from the CLI), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner


@pytest.mark.parametrize(("variable", "value"), [
    ("BWC_RETENTION_DAYS", "-1"), ("BWC_RETENTION_DAYS", "sixty"),
    ("BWC_RETENTION_MODE", "FOREVER"), ("BWC_MFA_ROLES", "custodian,janitor"),
    ("BWC_CONSOLE_SESSION_HOURS", "72"), ("BWC_SPEECH_SPOT_DIGIT_THRESHOLD", "2"),
    ("BWC_SPEECH_SPOT_THRESHOLD", "0"), ("BWC_DETECT_BACKEND", "gpu")])
def test_a_bad_setting_names_its_variable(bwc_home: Path, monkeypatch: pytest.MonkeyPatch,
                                          variable: str, value: str) -> None:
    from bwc_custody.cli import app
    from bwc_custody.config import InvalidSettings, get_settings

    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    with pytest.raises(InvalidSettings) as caught:
        get_settings()
    assert caught.value.message.startswith(f"{variable}: ")
    result = CliRunner().invoke(app, ["retention", "due"])
    assert result.exit_code == 2
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "invalid_settings"
    assert [p["variable"] for p in error["details"]["problems"]] == [variable]
    get_settings.cache_clear()


def test_the_speech_spotter_takes_both_thresholds_from_the_settings(
        bwc_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bwc_custody.config import get_settings
    from bwc_custody.redactions.service import configured_spotter

    assert (configured_spotter().threshold, configured_spotter().digit_threshold) == (
        1e-10, 1e-3)  # the values the bench chose
    monkeypatch.setenv("BWC_SPEECH_SPOT_THRESHOLD", "1e-15")
    monkeypatch.setenv("BWC_SPEECH_SPOT_DIGIT_THRESHOLD", "1e-2")
    get_settings.cache_clear()
    spotter = configured_spotter()
    assert (spotter.threshold, spotter.digit_threshold) == (1e-15, 1e-2)
    assert spotter.describe()["settings"]["digit_threshold"] == 1e-2  # what the transcript says
    get_settings.cache_clear()


def test_the_detector_runtimes_the_settings_accept_are_the_detectors_own() -> None:
    from typing import get_args

    from bwc_custody.config import Settings
    from redaction.detect import BACKENDS

    assert get_args(Settings.model_fields["detect_backend"].annotation) == BACKENDS
