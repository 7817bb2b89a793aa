"""A suggestion only the keyword spotter heard, through the API and the console: its level
in words ("unsure", with what that means), and that it was picked out by keyword search,
not written in the transcript. The search's row is the one a worker keeps, built from the
matcher's own output on a transcript whose only hits are spotted words (which of a
recording's words Whisper misses cannot be arranged on a clean voice)."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from bwc_custody.roles import Role
from redaction.speech import find_in_transcript
from redaction.speech_match import LEVEL_HELP, LEVEL_PRECISION, SPOTTED
from redaction.speech_models import SpeechTerms, Transcript, Word
from tests.console.conftest import Browser, browser
from tests.redaction.util import spoken_clip

__all__ = ["browser"]
TERMS = SpeechTerms(terms=["Marcus Washington"])


def _searched(evidence_id: str, username: str) -> int:
    """A finished speech search of the recording whose one suggestion was spotted only."""
    from bwc_custody.auth.service import Principal
    from bwc_custody.db import session_scope
    from bwc_custody.redactions.models import SpeechAnalysis
    from bwc_custody.redactions.service import request_speech_search

    tr = Transcript([Word("Come", 2.4, 2.6, 0.9), Word("here.", 2.6, 2.9, 0.9)], 3.0,
                    spotted=[Word("marcus", 1.2, 1.6, 1.0), Word("washington", 1.65, 2.3, 1.0)])
    suggestions = find_in_transcript(tr, TERMS)
    with session_scope() as session:
        job = request_speech_search(session=session, evidence_id=evidence_id, terms=TERMS,
                                    actor=Principal(user_id=None, username=username,
                                                    roles=frozenset({Role.custodian})))
        row = SpeechAnalysis(evidence_id=evidence_id, job_id=job.id, terms=TERMS.model_dump(),
                             created_by=username, has_audio=True, words=2,
                             suggestions=[s.to_dict() for s in suggestions])
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def test_a_spotted_only_suggestion_shows_its_level_in_words(
        client: TestClient, browser: Callable[..., Browser], make_token: Callable[..., str],
        ingest_clip: Callable[..., str], tmp_path: Path) -> None:
    evidence_id = ingest_clip(spoken_clip("Marcus Washington, come here.", tmp_path))
    token = make_token(Role.custodian, username="cust-spot")
    speech_id = _searched(evidence_id, "cust-spot")

    [search] = client.get(f"/api/v1/evidence/{evidence_id}/speech",
                          headers={"Authorization": f"Bearer {token}"}).json()
    assert search["id"] == speech_id
    [s] = search["suggestions"]
    assert (s["kind"], s["term"], s["level"], s["spotted_only"]) == (
        "term", "Marcus Washington", "unsure", True)
    assert s["low_confidence"] is True
    assert s["confidence"] == LEVEL_PRECISION["unsure"]
    assert s["why"].startswith(SPOTTED)
    assert s["engine_confidence"] is None

    page = html.unescape(browser("cust-spot").get(f"/console/evidence/{evidence_id}").text)
    assert "“marcus washington”" in page
    assert "picked out by keyword search only, not in the transcript" in page
    assert f'title="{LEVEL_HELP["unsure"]}">unsure</span>' in page
    assert "listen before deciding" in page
