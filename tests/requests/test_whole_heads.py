"""Whole heads asked by the decision (issue 23), on real footage through the API and the
console: a parent asks for school video of several students; the decision lists `whole_heads`
with its rule and citation; a copy made with faces only is refused at submission for legal
review (`heads_required`, the rule and citation in the message, nothing stored lost or
moved); a new redaction of the recording has heads mode on by default (the console's box comes
ticked, saying which rule asks); the copy made that way, with the real heads model, is
accepted."""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import Browser, browser
from tests.requests.test_review import Desk, _code, _drain, _log, desk
from tests.tags.conftest import KID_A, KID_B, make_clip

__all__ = ["browser", "desk", "make_clip"]
pytestmark = pytest.mark.slow
RULE = "school-students-whole-heads-involved"


def _derivatives(desk: Desk, evidence_id: str) -> list[dict[str, Any]]:
    r = desk.client.get(f"/api/v1/evidence/{evidence_id}/derivatives", headers=desk.custodian)
    assert r.status_code == 200
    return list(r.json())


def _job_params(job_id: str) -> dict[str, Any]:
    from bwc_custody.db import session_scope
    from bwc_custody.jobs.models import Job

    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return dict(job.params)


def test_a_faces_only_copy_is_refused_where_the_decision_asks_for_whole_heads(
        desk: Desk, make_clip: Callable[..., Path],
        browser: Callable[..., Browser]) -> None:
    evidence_id = desk.recording(make_clip([KID_A, KID_B], per_image=2.0))
    faces_only = desk.redacted(evidence_id)  # made before any request: nothing asked heads
    assert "heads" not in faces_only["request"]
    request_id = desk.request(evidence_id)
    decided = desk.view(request_id)["decision"]
    assert {"multi_student", "school_campus"} <= set(decided["tags"])
    decision = decided["decision"]
    assert decision["effect"] == "view_only"  # a parent of a student: inspects, no copy
    assert "whole_heads" in decision["redact"]
    assert decision["redaction_rules"]["whole_heads"] == [RULE]
    part = next(w for w in decision["withheld"] if w["redaction"] == "whole_heads")
    assert part["rules"] == [RULE]
    assert "KRS 610.320(3)" in part["citations"][0]

    # the console's request page says only a copy with whole heads is accepted, and which
    # copy is faces only, before anyone tries
    custodian = browser("cust-1")
    url = f"/console/requests/{request_id}"
    page: Any = custodian.get(url)
    assert "Only a copy with every whole head blurred is accepted" in page.text
    assert RULE in page.text
    assert "faces only: refused here" in page.text

    # submitted through the API: refused with the rule and its citation; nothing moved,
    # nothing signed, the copy kept
    before = _derivatives(desk, evidence_id)
    log_before = len(_log(request_id))
    refused = desk.post(request_id, "review", desk.custodian,
                        {"derivative_id": faces_only["id"], "note": "faces blurred"})
    assert (refused.status_code, _code(refused)) == (409, "heads_required")
    error = refused.json()["error"]
    assert RULE in error["message"]
    assert "KRS 610.320(3)" in error["message"]
    assert error["details"]["rule_ids"] == [RULE]
    assert error["details"]["derivative_id"] == faces_only["id"]
    assert desk.state(request_id) == "open"
    assert _derivatives(desk, evidence_id) == before
    assert len(_log(request_id)) == log_before

    # and through the console: the refusal page names the code and the rule
    one = f"{url}/recordings/{desk.item(request_id)}"
    shown: Any = custodian.post(f"{one}/submit", {"derivative_id": faces_only["id"]})
    assert shown.status_code == 409
    assert "heads_required" in shown.text
    assert RULE in shown.text
    assert escape("KRS 610.320(3)") in shown.text
    assert desk.state(request_id) == "open"

    # the recording's page: the heads box comes ticked, saying which request and rule ask
    evidence_page: Any = custodian.get(f"/console/evidence/{evidence_id}")
    assert 'name="heads" value="yes" checked' in evidence_page.text
    assert 'name="heads_asked" value="yes"' in evidence_page.text
    assert "Ticked because the decision asks for whole heads" in evidence_page.text
    assert RULE in evidence_page.text

    # unticked on purpose there: a faces-only copy, and the job says who asked for heads
    r: Any = custodian.post(f"/console/evidence/{evidence_id}/redactions",
                            {"heads_asked": "yes"})
    assert r.status_code == 303
    unticked = next(j for j in desk.client.get("/api/v1/jobs", headers=desk.custodian,
                                               params={"evidence_id": evidence_id}).json()
                    if j["kind"] == "redaction" and j["state"] == "queued")
    params = _job_params(unticked["id"])
    assert params["heads"] is False
    assert params["heads_asked_by"][0]["rules"][0]["id"] == RULE
    cancelled = desk.client.post(f"/api/v1/jobs/{unticked['id']}/cancel",
                                 headers=desk.custodian, json={"reason": "made by mistake"})
    assert cancelled.status_code == 200, cancelled.text

    # the API with `heads` left out: heads mode on, because the decision asks
    queued = desk.client.post(f"/api/v1/evidence/{evidence_id}/redactions", json={},
                              headers=desk.custodian)
    assert queued.status_code == 202, queued.text
    params = _job_params(queued.json()["id"])
    assert params["heads"] is True
    assert params["heads_asked_by"] == [{
        "request_id": request_id, "item_id": desk.item(request_id), "position": 1,
        "rules": [{"id": RULE, "title": params["heads_asked_by"][0]["rules"][0]["title"],
                   "citation": part["citations"][0]}]}]
    _drain(desk.home)
    job = desk.client.get(f"/api/v1/jobs/{queued.json()['id']}", headers=desk.custodian).json()
    assert job["state"] == "succeeded", job
    with_heads = desk.client.get(f"/api/v1/derivatives/{job['result']['derivative_id']}",
                                 headers=desk.custodian).json()
    assert with_heads["request"]["heads"] is True
    manifest = desk.client.get(f"/api/v1/derivatives/{with_heads['id']}/manifest",
                               params={"reason": "checking the heads mode ran"},
                               headers=desk.custodian).json()
    assert manifest["heads"] is not None  # the real head model ran on this copy
    assert manifest["heads"]["people"] >= 1

    accepted = desk.post(request_id, "review", desk.custodian,
                         {"derivative_id": with_heads["id"], "note": "whole heads blurred"})
    assert accepted.status_code == 200, accepted.text
    assert desk.state(request_id) == "in_review"


def test_a_recording_no_decision_asks_heads_for_keeps_faces_only_by_default(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    """One child on campus: no rule asks for whole heads, nothing is defaulted or refused."""
    evidence_id = desk.recording(make_clip([KID_A], per_image=0.6))
    request_id = desk.request(evidence_id)
    decision = desk.view(request_id)["decision"]["decision"]
    assert "whole_heads" not in decision["redact"]
    queued = desk.client.post(f"/api/v1/evidence/{evidence_id}/redactions", json={},
                              headers=desk.custodian)
    assert queued.status_code == 202
    params = _job_params(queued.json()["id"])
    assert "heads" not in params
    assert "heads_asked_by" not in params


def test_the_cli_defaults_heads_on_and_says_which_rule_asks(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    from typer.testing import CliRunner

    from bwc_custody.cli import app

    evidence_id = desk.recording(make_clip([KID_A, KID_B], per_image=2.0))
    request_id = desk.request(evidence_id)
    run = CliRunner().invoke(app, ["redactions", "request", evidence_id],
                             catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert f"heads on: request {request_id}, recording 1, asks for whole heads: {RULE}" \
        in run.stderr
    assert _job_params(json.loads(run.stdout)["id"])["heads"] is True
    run = CliRunner().invoke(app, ["redactions", "request", evidence_id, "--no-heads"],
                             catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert "heads OFF (--no-heads): that request will refuse this copy" in run.stderr
    assert _job_params(json.loads(run.stdout)["id"])["heads"] is False
