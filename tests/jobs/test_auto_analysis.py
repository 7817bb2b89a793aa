"""Every ingested video is queued for analysis; a worker then sets the automatic tags."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.tags.conftest import KID_A, KID_B, make_clip

__all__ = ["make_clip"]
pytestmark = pytest.mark.slow


def test_campus_video_is_analysed_after_ingest_without_anyone_asking(
        sqlite_migrated: str, bwc_home: Path, monkeypatch: pytest.MonkeyPatch,
        make_clip: Callable[..., Path], ingest_clip: Callable[..., str]) -> None:
    from bwc_custody.config import get_settings
    from bwc_custody.db import get_engine, session_scope
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs import service as jobs
    from bwc_custody.jobs.worker import run_worker
    from bwc_custody.tags.analysis import latest_analysis, request_analysis
    from bwc_custody.tags.service import effective_tags
    from tests.support.actors import LOCAL_OPERATOR

    monkeypatch.setenv("BWC_AUTO_ANALYZE", "true")
    # the agency pins the detector's runtime: the count runs, and records, float32
    monkeypatch.setenv("BWC_DETECT_BACKEND", "float32")
    get_settings.cache_clear()
    video = ingest_clip(make_clip([KID_A, KID_B], per_image=1.5), campus="Central High")
    not_video = ingest_clip(data=b"a text file a dock picked up by mistake " * 50)
    with session_scope() as session:
        queued = jobs.list_jobs(session=session)
        assert [(j.kind, j.evidence_id) for j in queued] == [("analysis", video)]
        assert effective_tags(session=session, evidence_id=video) == {"school_campus"}
        # asking again while that count waits is answered by it, not by a second count
        again = request_analysis(session=session, evidence_id=video, actor=LOCAL_OPERATOR)
        assert again.id == queued[0].id
    assert run_worker(engine=get_engine(), home=bwc_home, handlers=HANDLERS, drain=True) == 1
    with session_scope() as session:  # once it has run, asking again counts again
        later = request_analysis(session=session, evidence_id=video, actor=LOCAL_OPERATOR)
        assert later.id != queued[0].id
    with session_scope() as session:
        assert {"juvenile", "multi_student", "school_campus"} <= effective_tags(
            session=session, evidence_id=video)
        counted = latest_analysis(session=session, evidence_id=video)
        assert counted.settings["detect_backend"] == "float32"
        assert counted.settings["detector_ran"] == "centerface/onnxruntime"
        assert effective_tags(session=session, evidence_id=not_video) == frozenset()
