"""Spoken names through the system: a custodian asks for a speech search, the worker
transcribes the encrypted original (Whisper, offline) and suggests mute ranges; the
custodian answers every suggestion in a redaction request, and the copy is muted where
accepted, with who accepted in its manifest. The transcript is stored encrypted, its reads
logged; the custody log names kinds and counts, never the words."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bwc_custody.roles import Role
from tests.console.conftest import Browser, browser
from tests.redaction.util import ffmpeg
from tests.redaction.util import spoken_clip as make_spoken_clip
from tests.support.records import entries_about, job_now

__all__ = ["browser"]
pytestmark = pytest.mark.slow
TEXT = "Officer Daniels asked Jayden Okafor to sit down in the hallway."
LEAD = 0.5


@pytest.fixture(scope="module")
def spoken_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 320x240 clip over which espeak-ng says a student's name."""
    return make_spoken_clip(TEXT, tmp_path_factory.mktemp("spoken"), lead_s=LEAD)


def _drain() -> None:
    from bwc_custody.config import get_settings
    from bwc_custody.db import get_engine
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_worker

    run_worker(engine=get_engine(), home=get_settings().home, handlers=HANDLERS,
               lease_seconds=60, drain=True)


def test_spoken_name_is_suggested_answered_and_muted(
        client: TestClient, make_token: Callable[..., str], spoken_clip: Path,
        ingest_clip: Callable[..., str]) -> None:
    evidence_id = ingest_clip(spoken_clip)
    custodian = {"Authorization": f"Bearer {make_token(Role.custodian, username='cust-1')}"}
    officer = {"Authorization": f"Bearer {make_token(Role.officer)}"}
    base = f"/api/v1/evidence/{evidence_id}"

    # bad terms and other roles are refused, nothing queued
    bad = client.post(f"{base}/speech", json={"terms": ["!!"]}, headers=custodian)
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_input")
    assert client.post(f"{base}/speech", json={"terms": ["Okafor"]},
                       headers=officer).status_code == 403
    assert client.get(f"{base}/speech", headers=custodian).json() == []

    r = client.post(f"{base}/speech", json={"terms": ["Jayden Okafor"]}, headers=custodian)
    assert r.status_code == 202, r.text
    _drain()
    job = job_now(r.json()["id"])
    assert job.state == "succeeded", (job.error_code, job.error_message)
    [search] = client.get(f"{base}/speech", headers=custodian).json()
    assert search["has_audio"]
    assert search["words"] >= 5
    names = [s for s in search["suggestions"] if s["kind"] == "term"]
    assert names
    assert any("okafor" in s["heard"].lower() or "jayden" in s["heard"].lower()
                         for s in names)
    assert client.get(f"{base}/speech", headers=officer).status_code == 403

    # the log says what kind was found, never the words
    entry = next(e for e in entries_about(evidence_id) if e.action == "speech.search")
    assert entry.details["suggestions"].get("term", 0) >= 1
    assert "okafor" not in json.dumps(entry.details).lower()

    # the transcript: encrypted at rest, its read logged with the reason
    tr = client.get(f"{base}/speech/{search['id']}/transcript",
                    params={"reason": "checking the names heard"}, headers=custodian)
    assert tr.status_code == 200
    assert tr.json()["schema"] == "bwc-transcript/1"
    assert any(e.action == "speech.transcript" for e in entries_about(evidence_id))

    # every suggestion must be answered: one left out is refused, nothing queued
    first, *rest = search["suggestions"]
    partial = {"speech": {"analysis_id": search["id"],
                          "decisions": [{"id": s["id"], "action": "accept"} for s in rest]}}
    refused = client.post(f"{base}/redactions", json=partial, headers=custodian)
    assert (refused.status_code, refused.json()["error"]["code"]) == (
        422, "invalid_redaction_request")
    assert refused.json()["error"]["details"]["unanswered"] == [first["id"]]
    narrowed = {"speech": {"analysis_id": search["id"], "decisions": [
        {"id": s["id"], "action": "accept", "start": s["heard_start"] + 0.05,
         "end": s["heard_end"]} for s in search["suggestions"]]}}
    refused = client.post(f"{base}/redactions", json=narrowed, headers=custodian)
    assert refused.json()["error"]["code"] == "invalid_regions"  # widen, never narrow
    unknown = {"speech": {"analysis_id": search["id"] + 99, "decisions": []}}
    assert client.post(f"{base}/redactions", json=unknown,
                       headers=custodian).json()["error"]["code"] == "speech_search_not_found"

    answered = {"mute_sound": "bleep", "speech": {"analysis_id": search["id"], "decisions": [
        {"id": s["id"], "action": "accept"} for s in search["suggestions"]]}}
    r = client.post(f"{base}/redactions", json=answered, headers=custodian)
    assert r.status_code == 202, r.text
    _drain()
    done = job_now(r.json()["id"])
    assert done.state == "succeeded", (done.error_code, done.error_message)
    derivative = client.get(f"/api/v1/derivatives/{done.result['derivative_id']}",
                            headers=custodian).json()
    manifest = client.get(f"/api/v1/derivatives/{derivative['id']}/manifest",
                          params={"reason": "checking the mutes"}, headers=custodian).json()
    mutes = json.dumps(manifest)
    assert '"accepted_by": "cust-1"' in mutes
    assert '"origin": "speech"' in mutes


def test_a_recording_without_sound_says_so(
        client: TestClient, make_token: Callable[..., str], ingest_clip: Callable[..., str],
        tmp_path: Path) -> None:
    silent = tmp_path / "silent.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15:duration=1", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(silent))
    evidence_id = ingest_clip(silent)
    custodian = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    r = client.post(f"/api/v1/evidence/{evidence_id}/speech", json={"terms": ["Okafor"]},
                    headers=custodian)
    _drain()
    assert job_now(r.json()["id"]).state == "succeeded"
    [search] = client.get(f"/api/v1/evidence/{evidence_id}/speech", headers=custodian).json()
    assert (search["has_audio"], search["suggestions"]) == (False, [])
    missing = client.get(f"/api/v1/evidence/{evidence_id}/speech/{search['id']}/transcript",
                         params={"reason": "looking"}, headers=custodian)
    assert missing.json()["error"]["code"] == "speech_search_not_found"


def test_the_cli_searches_and_answers(sqlite_migrated: str, spoken_clip: Path,
                                      ingest_clip: Callable[..., str]) -> None:
    from bwc_custody.cli import app

    evidence_id = ingest_clip(spoken_clip)
    runner = CliRunner()
    r = runner.invoke(app, ["redactions", "speech", evidence_id, "--words", "Jayden Okafor",
                            "--wait"])
    assert r.exit_code == 0, r.output
    [search] = json.loads(runner.invoke(app, ["redactions", "suggestions",
                                              evidence_id]).stdout)
    assert search["suggestions"]
    r = runner.invoke(app, ["redactions", "request", evidence_id, "--speech", str(search["id"]),
                            "--accept", "0"])
    if len(search["suggestions"]) > 1:  # the rest unanswered: refused
        assert r.exit_code == 2
        assert "invalid_redaction_request" in r.output
    r = runner.invoke(app, ["redactions", "request", evidence_id, "--speech", str(search["id"]),
                            "--accept", "all", "--wait"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["state"] == "succeeded"
    bad = runner.invoke(app, ["redactions", "request", evidence_id, "--speech",
                              str(search["id"]), "--accept", "one"])
    assert bad.exit_code == 2
    assert "invalid_input" in bad.output


def test_the_console_searches_and_mutes_what_stays_ticked(
        browser: Callable[..., Browser], make_token: Callable[..., str], spoken_clip: Path,
        ingest_clip: Callable[..., str]) -> None:
    evidence_id = ingest_clip(spoken_clip)
    make_token(Role.custodian, username="cust-2")
    make_token(Role.auditor, username="aud-1")
    custodian, auditor = browser("cust-2"), browser("aud-1")
    url = f"/console/evidence/{evidence_id}"
    assert auditor.post(f"{url}/speech", {"terms": "Jayden Okafor"}).status_code == 403
    bad = custodian.post(f"{url}/speech", {"terms": "!!\nOkafor"})
    assert bad.status_code == 422
    assert "invalid_terms" in bad.text
    r = custodian.post(f"{url}/speech", {"terms": "Jayden Okafor\n", "numbers": "yes"})
    assert r.status_code == 303
    _drain()
    page = custodian.get(url).text
    assert "ticked ones are muted" in page
    assert 'name="mute"' in page
    assert "ticked ones are muted" not in auditor.get(url).text  # the words heard: custodian's
    speech_id = page.split('name="speech_id" value="')[1].split('"')[0]
    # nothing ticked: every suggestion answered "keep audible", so no speech mute at all
    r = custodian.post(f"{url}/redactions", {"speech_id": speech_id})
    assert r.status_code == 303
    _drain()
    from bwc_custody.db import session_scope
    from bwc_custody.redactions.service import list_derivatives

    with session_scope() as session:
        [copy] = list_derivatives(session=session, evidence_id=evidence_id)
        assert copy.request["regions"].get("mute", []) == []


def test_the_studio_timeline_answers_and_renders_the_suggestions(
        browser: Callable[..., Browser], make_token: Callable[..., str], spoken_clip: Path,
        ingest_clip: Callable[..., str]) -> None:
    """The studio's timeline carries the newest search's suggestions (word, time, how sure),
    and its render sends the answers as the request's `speech`: one left unanswered is
    refused with nothing queued; a widened one is muted over the wider range, with who
    accepted it; the session entry counts the answers, never the words."""
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope
    from bwc_custody.jobs.service import list_jobs

    evidence_id = ingest_clip(spoken_clip)
    make_token(Role.custodian, username="cust-3")
    me = browser("cust-3")
    studio = f"/console/evidence/{evidence_id}/studio"
    assert me.get(f"{studio}/timeline").json()["speech"] is None  # no search yet
    assert 'id="speech-none"' in me.get(studio).text
    me.post(f"/console/evidence/{evidence_id}/speech", {"terms": "Jayden Okafor", "numbers": "yes"})
    _drain()
    speech = me.get(f"{studio}/timeline").json()["speech"]
    suggestions = speech["suggestions"]
    assert suggestions
    assert [s["start"] for s in suggestions] == sorted(s["start"] for s in suggestions)
    for s in suggestions:
        assert s["level"] in ("likely", "possible", "unsure")
        assert 0.0 <= s["confidence"] <= 1.0
        assert s["heard"]
        assert s["end"] > s["start"]
    name = next(s for s in suggestions if s["kind"] == "term")
    assert name["level"] == "likely"  # a clean voice saying the name as entered

    page = me.get(studio).text
    opened = page.split('data-opened="', 1)[1].split('"', 1)[0]
    url = f"{studio}/render"
    unanswered = {"speech": {"analysis_id": speech["id"], "decisions": []}}
    r = me.post(url, {"choices": json.dumps(unanswered), "opened": opened})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_redaction_request")
    assert r.json()["error"]["details"]["unanswered"] == sorted(s["id"] for s in suggestions)
    with session_scope() as session:
        assert list(list_jobs(session=session, kind="redaction",
                              evidence_id=evidence_id)) == []

    wider = (round(max(0.0, name["start"] - 0.5), 3), round(name["end"] + 0.4, 3))
    answers = [{"id": name["id"], "action": "accept", "start": wider[0], "end": wider[1]}] + [
        {"id": s["id"], "action": "reject"} for s in suggestions if s["id"] != name["id"]]
    r = me.post(url, {"choices": json.dumps(
        {"speech": {"analysis_id": speech["id"], "decisions": answers}}), "opened": opened})
    assert r.status_code == 200, r.text
    with session_scope() as session:
        (job,) = list_jobs(session=session, kind="redaction", evidence_id=evidence_id)
        (mute,) = job.params["regions"]["mute"]
        assert (mute["start"], mute["end"]) == pytest.approx(wider)
        assert (mute["origin"], mute["accepted_by"], mute["widened"]) == (
            "speech", "cust-3", True)
        assert mute["suggestion"] == name["id"]
        (closed,) = [e for e in entries_for(session=session, target_id=evidence_id)
                     if e.action == "studio.session"]
        assert closed.details["speech"] == {
            "speech_id": speech["id"], "accepted": 1, "rejected": len(suggestions) - 1,
            "widened": 1}
        assert "okafor" not in json.dumps(closed.details).lower()
