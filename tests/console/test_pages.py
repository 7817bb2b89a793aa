"""The console does what the API does, through forms: the whole review and release of a
request on real footage, refusals shown with their code and nothing changed, and the
retention of a recording (hold, lift, destroy)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bwc_custody.roles import Role
from tests.console.conftest import Browser
from tests.requests.test_review import Desk, desk
from tests.tags.conftest import KID_A, KID_B, make_clip

__all__ = ["desk", "make_clip"]


def _entries(target_id: str) -> list[tuple[str, str]]:
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return [(e.action, e.actor) for e in entries_for(session=session, target_id=target_id)]


@pytest.mark.slow
def test_review_and_release_through_the_console(
        desk: Desk, make_clip: Callable[..., Path], browser: Callable[..., Browser]) -> None:
    evidence_id = desk.recording(make_clip([KID_A], per_image=0.6))
    derivative = desk.redacted(evidence_id)
    request_id = desk.request(evidence_id)
    decision = desk.view(request_id)["decision"]
    custodian, counsel = browser("cust-1"), browser("counsel-1")
    url = f"/console/requests/{request_id}"
    one = f"{url}/recordings/{desk.item(request_id)}"

    page: Any = custodian.get(url)
    assert page.status_code == 200
    assert decision["effect"] in page.text
    for rule in decision["decision"]["rules"]:  # every rule behind it, with its citation
        assert rule["id"] in page.text
        assert escape(rule["citation"]) in page.text
    assert derivative["id"] in page.text  # offered for submission
    # with what its review will take, to choose the copy by (flagged footage is watched at 1x)
    offered = re.search(r"its review takes ([^,<]+?)[,<]", page.text)
    assert offered, "the copy offered says what its review takes"
    assert f'action="{one}/approve"' not in page.text  # not the custodian's to approve

    # the custodian watches the original first, saying why
    evidence_page = f"/console/evidence/{evidence_id}"
    assert 'name="watch"' in custodian.get(evidence_page).text
    player: Any = custodian.get(evidence_page, params={"watch": "checking what to redact"})
    assert "/original?reason=checking%20what%20to%20redact" in player.text
    original: Any = custodian.get(f"{evidence_page}/original",
                                  params={"reason": "checking what to redact"})
    assert original.status_code == 200
    meta = desk.client.get(f"/api/v1/evidence/{evidence_id}", headers=desk.custodian).json()
    assert hashlib.sha256(original.content).hexdigest() == meta["sha256"]
    assert ("evidence.stream", "cust-1") in _entries(evidence_id)

    r: Any = custodian.post(f"{one}/submit", {"derivative_id": derivative["id"],
                                              "note": "every face blurred"})
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=submitted")
    assert desk.state(request_id) == "in_review"

    page = counsel.get(url)
    assert f'action="{one}/approve"' in page.text
    # the file under review is the copy the server signed with the release's C2PA manifest;
    # the page says what that manifest tells whoever opens the file
    under_review = desk.under_review(request_id)
    video = f"/console/derivatives/{under_review['derivative_id']}/video?request_id={request_id}"
    assert escape(video) in page.text
    assert "Signed with the agency's content credentials (C2PA)" in page.text
    unseen: Any = counsel.post(f"{one}/approve", {"reason": "reviewed under KRS 610.320"})
    assert unseen.status_code == 409
    assert "file_not_viewed" in unseen.text
    assert desk.state(request_id) == "in_review"  # the refusal changed nothing

    watched: Any = counsel.get(video)
    assert watched.status_code == 200
    assert hashlib.sha256(watched.content).hexdigest() == under_review["sha256"]

    # sent back once: the custodian's queue and the request say so, with the reason
    assert "Nothing is waiting for you" not in counsel.get("/console/").text
    r = counsel.post(f"{one}/return", {"reason": "name the copy before it goes out"})
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=returned")
    assert "Nothing is waiting for you" in counsel.get("/console/").text
    queue: Any = custodian.get("/console/?show=returned")
    assert f'href="{url}"' in queue.text
    assert "sent back by legal review" in queue.text
    assert "name the copy before it goes out" in custodian.get(url).text
    copy = f"{evidence_page}/derivatives/{derivative['id']}/label"
    assert counsel.post(copy, {"label": "for the parent"}).status_code == 403
    r = custodian.post(copy, {"label": "  for the parent,   request 1 "})
    assert (r.status_code, r.headers["location"]) == (303, f"{evidence_page}?done=labelled")
    assert "for the parent, request 1" in custodian.get(evidence_page).text
    assert "for the parent, request 1" in custodian.get(url).text  # offered by its name
    assert ("derivative.label", "cust-1") in _entries(evidence_id)
    r = custodian.post(f"{one}/submit", {"derivative_id": derivative["id"],
                                         "note": "named, every face blurred"})
    assert r.status_code == 303
    assert f'href="{url}"' not in custodian.get("/console/?show=returned").text
    under_review = desk.under_review(request_id)  # signed again for the new round
    video = f"/console/derivatives/{under_review['derivative_id']}/video?request_id={request_id}"
    assert counsel.get(video).status_code == 200
    # the page's player reports what it played (static/coverage.js); the panel is redrawn
    page = counsel.get(url)
    assert "data-coverage-url" in page.text
    assert "nothing yet" in page.text
    assert "A whole review of this file takes" in page.text
    assert "<strong>Left to watch:</strong>" in page.text
    # the queue says what the file under review takes, as the panel does, and as the copy's
    # offer to the custodian did
    whole = re.search(r"A whole review of this file takes ([^:.,]+)", page.text)
    assert whole
    assert whole.group(1).strip() == offered.group(1).strip()
    assert f"review takes {whole.group(1).strip()}" in counsel.get("/console/").text
    assert 'name="attestation"' in page.text
    length = desk.duration(evidence_id)
    desk.clock.shift(length + 1)
    played = json.dumps([{"start": 0, "end": length, "rate": 1}])
    panel: Any = counsel.post(f"{one}/coverage", {"ranges": played})
    assert panel.status_code == 200, panel.text
    assert "The whole file is watched." in panel.text
    assert "A whole review of this file takes" not in panel.text  # done: nothing to plan
    assert 'data-complete="true"' in counsel.get(url).text
    r = counsel.post(f"{one}/approve", {"reason": "reviewed under KRS 610.320; all blurred"})
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=approved")
    unticked: Any = custodian.post(f"{one}/release", {"explanation": "faces blurred"})
    assert (unticked.status_code, "confirmation_required" in unticked.text) == (422, True)
    assert desk.state(request_id) == "approved"  # nothing released without the box ticked
    bare: Any = custodian.post(f"{one}/release", {"confirm": "yes"})  # part is withheld: say why
    assert (bare.status_code, "reason_required" in bare.text) == (422, True)
    r = custodian.post(f"{one}/release", {"explanation": "the other students' faces are "
                                                          "blurred (KRS 610.320(3))",
                                          "confirm": "yes"})
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=released%2C+answered")
    assert desk.state(request_id) == "released"
    assert "Released" in custodian.get(url).text
    assert "Written response" in custodian.get(url).text

    got = desk.download(request_id, desk.parent)
    assert hashlib.sha256(got.content).hexdigest() == under_review["sha256"]
    steps = [e for e in _entries(request_id) if e[0] in (
        "request.submit", "request.approve", "request.release")]
    assert steps == [("request.submit", "cust-1"), ("request.submit", "cust-1"),
                     ("request.approve", "counsel-1"), ("request.release", "cust-1")]
    assert ("derivative.stream", "counsel-1") in _entries(evidence_id)


def test_retention_through_the_console(
        client: TestClient, make_token: Callable[..., str], browser: Callable[..., Browser],
        ingest_clip: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    from bwc_custody.config import get_settings

    monkeypatch.setenv("BWC_RETENTION_DAYS", "0")
    get_settings.cache_clear()
    make_token(Role.custodian, username="cust-1")
    make_token(Role.legal_reviewer, username="counsel-1")
    custodian, counsel = browser("cust-1"), browser("counsel-1")
    evidence_id = ingest_clip()
    url = f"/console/evidence/{evidence_id}"
    assert evidence_id in custodian.get("/console/retention").text

    r: Any = counsel.post(f"{url}/holds", {"kind": "litigation", "reference": "26-CI-0101",
                                           "reason": "preservation letter received"})
    assert r.status_code == 303
    page: Any = custodian.get(url)
    assert "preservation letter received" in page.text
    assert f'action="{url}/dispose"' not in page.text  # held: nothing to destroy
    assert evidence_id not in custodian.get("/console/retention").text
    bad: Any = counsel.post(f"{url}/holds", {"kind": "whim", "reason": "no reason at all"})
    assert bad.status_code == 422
    assert "invalid_input" in bad.text
    missing: Any = counsel.post(f"{url}/holds", {"reason": "a form without its kind"})
    assert missing.status_code == 422  # a page naming the field, not a 500
    assert "invalid_input" in missing.text
    assert "kind" in missing.text

    r = counsel.post(f"{url}/holds/1/lift", {"reason": "case settled and dismissed"})
    assert r.status_code == 303
    assert counsel.post(f"{url}/dispose", {"reason": "period ran"}).status_code == 403
    short: Any = custodian.post(f"{url}/dispose", {"reason": "ok", "confirm": "yes"})
    assert short.status_code == 422
    assert "reason_required" in short.text
    unticked: Any = custodian.post(f"{url}/dispose", {"reason": "KDLA L6707 period ran"})
    assert (unticked.status_code, "confirmation_required" in unticked.text) == (422, True)
    r = custodian.post(f"{url}/dispose", {"reason": "KDLA L6707 period ran, nothing holds it",
                                          "confirm": "yes"})
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=destroyed")
    assert "destroyed" in custodian.get(url).text
    assert [a for a, _ in _entries(evidence_id) if a.startswith(("retention", "evidence.d"))] \
        == ["retention.hold", "retention.lift", "evidence.dispose"]


@pytest.mark.clock
def test_a_request_by_mail_is_recorded_and_decided_from_the_console(
        client: TestClient, make_token: Callable[..., str], browser: Callable[..., Browser],
        ingest_clip: Callable[..., str]) -> None:
    from sqlmodel import select

    from bwc_custody.db import session_scope
    from bwc_custody.requests.models import RecordsRequest

    make_token(Role.custodian, username="cust-1")
    custodian = browser("cust-1")
    evidence_id = ingest_clip(campus="Central High", involves_juvenile=True)
    short: Any = custodian.post("/console/requests", {
        "description": "x", "requester_name": "Lexington Herald", "requester_type": "news_media",
        "form": "copy"})
    assert short.status_code == 422
    assert "invalid_input" in short.text
    assert "description" in short.text
    with session_scope() as session:
        assert session.exec(select(RecordsRequest)).all() == []  # nothing half-recorded
    r: Any = custodian.post("/console/requests", {
        "description": "BWC video of the 2 March cafeteria incident",
        "requester_name": "Lexington Herald", "requester_type": "news_media", "form": "copy",
        "received_on": "2026-12-01", "evidence_ids": evidence_id[:8],
        "residency": "resident"})
    assert r.status_code == 303, r.text
    request_url = r.headers["location"].split("?")[0]
    page: Any = custodian.get(request_url)
    assert "BWC video of the 2 March cafeteria incident" in page.text
    assert "Tue 01 Dec 2026" in page.text  # dates as people read them
    assert "Recording 1" in page.text
    assert "release_redacted" in page.text
    assert "no recording is linked" not in page.text.lower()

    # the recording's page queues work for the worker, shown with its state
    r = custodian.post(f"/console/evidence/{evidence_id}/analysis")
    assert r.status_code == 303
    jobs = custodian.get(f"/console/evidence/{evidence_id}").text
    assert "person count" in jobs
    assert "waiting" in jobs
    assert f'hx-get="/console/evidence/{evidence_id}/jobs?watching=' in jobs  # updates itself
    assert f'href="{request_url}"' in jobs  # its request, listed on the recording's page


def test_a_withheld_record_is_denied_in_writing_from_the_console(
        client: TestClient, make_token: Callable[..., str], browser: Callable[..., Browser],
        ingest_clip: Callable[..., str]) -> None:
    from bwc_custody.releases.models import APPEAL_NOTICE

    token = make_token(Role.custodian, username="cust-1")
    custodian = browser("cust-1")
    evidence_id = ingest_clip(campus="Central High", involves_juvenile=True)
    for name in ("multi_student", "investigation_open"):
        r: Any = client.post(f"/api/v1/evidence/{evidence_id}/tags", json={"name": name},
                             headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
    r = client.put(f"/api/v1/evidence/{evidence_id}/facts", json={
        "articulated_harm": "the witnesses have not been interviewed",
        "reason": "the detective's memo"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    r = custodian.post("/console/requests", {
        "description": "the hallway video", "requester_name": "R. Doe",
        "requester_type": "parent_guardian", "parent_of_depicted": "1", "form": "copy",
        "residency": "resident", "evidence_ids": evidence_id})
    url = r.headers["location"].split("?")[0]
    r = custodian.post(f"{url}/relationship", {"reason": "birth certificate seen today"})
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=confirmed")
    one = url + "/recordings/" + client.get(
        "/api/v1/requests/" + url.rsplit("/", 1)[-1],
        headers={"Authorization": f"Bearer {token}"}).json()["recordings"][0]["id"]
    page: Any = custodian.get(url)
    assert f'action="{one}/deny"' in page.text
    # tags and the requester's type by their short names, never the identifier re-spaced
    assert '">several students</span>' in page.text
    assert "(parent or guardian, " in page.text
    assert "multi student" not in page.text
    assert "parent guardian" not in page.text
    assert f'action="{one}/submit"' not in page.text  # nothing to review when withheld
    unticked: Any = custodian.post(f"{one}/deny", {"explanation": "several students"})
    assert (unticked.status_code, "confirmation_required" in unticked.text) == (422, True)
    assert f'action="{one}/deny"' in custodian.get(url).text  # still to be answered
    r = custodian.post(f"{one}/deny", {"explanation": "several students, investigation open",
                                       "confirm": "yes"})
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=denied%2C+answered")
    page = custodian.get(r.headers["location"])
    assert "Every recording is answered" in page.text
    assert "Written response" in page.text
    assert escape(APPEAL_NOTICE) in page.text
    assert f'action="{one}/deny"' not in page.text

    # the requester appeals to the Attorney General: recorded, then decided, from the page
    from policies.calendar import kentucky_today

    today = kentucky_today().isoformat()
    appeal = {"forum": "attorney_general", "filed_on": today, "reference": "AG 26-555",
              "note": "the Attorney General sent us the appeal"}
    bad: Any = custodian.post(f"{url}/appeals", {**appeal, "filed_on": "2999-01-01"})
    assert (bad.status_code, "appeal_date_invalid" in bad.text) == (422, True)
    assert "Appeal 1" not in custodian.get(url).text
    r = custodian.post(f"{url}/appeals", appeal)
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=appeal+recorded")
    page = custodian.get(url)
    assert "Appeal 1" in page.text
    assert "the Attorney General's decision is due by" in page.text
    assert f'action="{url}/appeals/1/decision"' in page.text
    r = custodian.post(f"{url}/appeals/1/decision", {
        "outcome": "upheld", "decided_on": today, "reference": "26-ORD-200",
        "note": "the denial was upheld"})
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=appeal+decided")
    page = custodian.get(url)
    assert "26-ORD-200" in page.text
    assert "The recording is kept until" in page.text
    assert f'action="{url}/appeals/1/decision"' not in page.text


def test_a_case_is_closed_from_a_recordings_page(
        client: TestClient, make_token: Callable[..., str], browser: Callable[..., Browser],
        ingest_clip: Callable[..., str]) -> None:
    make_token(Role.legal_reviewer, username="counsel-1")
    counsel = browser("counsel-1")
    evidence_id = ingest_clip(case_number="2026-0042")
    url = f"/console/evidence/{evidence_id}"
    page: Any = counsel.get(url)
    assert f'action="{url}/case-closed"' in page.text
    assert "kept with the case file" in page.text
    r: Any = counsel.post(f"{url}/case-closed", {"reason": "judgment final, no appeal"})
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=case+closed")
    page = counsel.get(url)
    assert f'action="{url}/case-closed"' not in page.text
    assert "Case 2026-0042 closed" in page.text


@pytest.mark.slow
def test_a_rule_that_only_adds_a_redaction_says_what_it_adds(
        desk: Desk, make_clip: Callable[..., Path], browser: Callable[..., Browser]) -> None:
    """The whole-heads rule decides nothing (its effect is `none`) but asks for whole heads:
    its badge on the request page says so, not "none", which reads as "does nothing"."""
    evidence_id = desk.recording(make_clip([KID_A, KID_B], per_image=2.0))
    request_id = desk.request(evidence_id)
    decision = desk.view(request_id)["decision"]["decision"]
    rule = "school-students-whole-heads-involved"
    assert {"multi_student", "school_campus"} <= set(desk.view(request_id)["decision"]["tags"])
    assert next(r for r in decision["rules"] if r["id"] == rule)["effect"] == "none"
    page: Any = browser("cust-1").get(f"/console/requests/{request_id}")
    assert page.status_code == 200
    badges = dict((i, b) for b, i in re.findall(
        r'<span class="badge effect-[\w]+"[^>]*>([^<]+)</span>\s*<span class="mono muted">'
        r'([\w-]+)</span>', page.text))
    assert badges[rule] == "adds: whole heads (non-subject students)"
    assert 'title="Decides nothing; adds to the redactions: the whole head, not only the face' \
        in page.text
    decisive = next(r for r in decision["rules"] if r["decisive"])
    assert badges[decisive["id"]] == decisive["effect"].replace("_", " ")  # as before
    # a rule that decides nothing but requires legal sign-off says so too (it was "none")
    assert next(r for r in decision["rules"] if r["id"] == "sro-legal-review")["effect"] == "none"
    assert badges["sro-legal-review"] == "adds: legal sign-off"
    assert 'title="Decides nothing; requires legal sign-off: a review by legal authority' \
        in page.text


def test_a_badge_names_everything_a_rule_adds_by_its_label() -> None:
    """Redactions by their display labels (whole heads with who it hides), then what the rule
    requires; the hover text keeps the policy's words for each."""
    from bwc_custody.console.render import adds_meaning, adds_words, rule_adds

    decision = {"redaction_rules": {"whole_heads": ["r"], "non_subject_students": ["r"],
                                    "juveniles": ["other"]},
                "notices": [{"rule": "r", "code": "x"}]}
    rule = {"id": "r", "requires_legal_signoff": True, "actions": ["confirm_relationship"]}
    adds = rule_adds(decision, rule)
    assert adds_words(adds) == ("adds: whole heads (non-subject students), legal sign-off, "
                                "confirmed relationship, notice")
    meaning = adds_meaning(adds)
    assert meaning.startswith("Decides nothing; adds to the redactions: the whole head")
    assert "; requires legal sign-off: a review by legal authority" in meaning
    assert "juveniles" not in adds_words(adds)  # another rule's redaction
    # a decision stored before rules recorded their sign-off and actions: redactions only
    assert adds_words(rule_adds(decision, {"id": "other"})) == "adds: juveniles"
    assert rule_adds({}, {"id": "r"}) == []


def test_a_flagged_range_says_what_to_check_and_what_its_number_measures() -> None:
    """The reviewer's panel and the recording page name each flag by what happened and what
    to check ("crowd limit, lowest score 0.0" said neither), and give a number only where it
    means something, saying what it measures."""
    import redaction
    from bwc_custody.console.render import TEMPLATES, flag_measure
    from bwc_custody.releases.models import CoverageRead, CoverageSpan, FlagCoverage
    from redaction.manifest import FLAG_LABELS, ManifestWriter

    span = CoverageSpan(start=1.0, end=3.0)
    cov = CoverageRead(
        round_id=7, reviewer="counsel-1", derivative_id="d", sha256="0" * 64, duration_s=4.0,
        covered=[], covered_at_normal_speed=[], played_too_fast=[], uncovered=[span],
        covered_s=0.0, uncovered_s=4.0, whole_file=False, flags_watched=False,
        complete=False, policy={}, flagged_s=2.0, least_watch_s=3.0, watch_left_s=3.0,
        flagged_left_s=2.0, rest_left_s=2.0,
        flagged=[FlagCoverage(start=1.5, end=2.0, reason=reason, span=span,
                              unwatched=[span], watched=False)
                 for reason in ("crowd_limit", "weak_detection")])
    panel = TEMPLATES.env.get_template("_coverage.html").render(cov=cov, player="p")
    assert "(a crowd: more people than the head model finds in one search (six)" in panel
    assert "(faces found only faintly: check that each is blurred)" in panel
    assert "crowd limit" not in panel
    # what the review will take, to plan it: flagged spans at normal speed, the rest at 2x
    assert ("<strong>Left to watch:</strong>\n    at least 2 s of flagged footage at normal "
            "speed (required, whatever you attest); 2 s of other footage, at least 1 s at 2x, "
            "or attest below why it need not be watched.") in panel
    assert ("A whole review of this file takes at least 3 s: at least 2 s of flagged footage "
            "at normal speed, the rest at up to 2x.") in panel
    hour = cov.model_copy(update={"duration_s": 7300.0, "flagged_s": 1200.5,
                                  "least_watch_s": 4250.25, "watch_left_s": 0.4,
                                  "flagged_left_s": 0.4, "rest_left_s": 0.0})
    panel = TEMPLATES.env.get_template("_coverage.html").render(cov=hour, player="p")
    assert ("under a second of flagged footage at normal speed (required, whatever you "
            "attest).") in panel
    assert "other footage" not in panel  # only the flagged sliver is left
    assert ("takes at least 1 h 10 min: at least 20 min 00 s of flagged footage") in panel
    assert flag_measure("weak_detection", 0.0812) == "detector's lowest score 0.08"
    assert flag_measure("keep_face_near_miss", 0.53) == "closest likeness distance 0.53"
    assert flag_measure("crowd_limit", 0.0) == ""
    assert flag_measure("dark_footage", 0.071) == (
        "darkest frame's mean brightness 0.07 (white is 1)")
    # every reason the redactor flags has words (read from its calls), none with underscores,
    # and a new one without them is refused
    flagged = set()
    for source in Path(redaction.__file__).parent.glob("*.py"):
        flagged |= set(re.findall(r'\.flag\(\w+, \w+, "(\w+)"', source.read_text()))
    assert flagged == set(FLAG_LABELS)
    assert all("_" not in words for words in FLAG_LABELS.values())
    with pytest.raises(ValueError, match="FLAG_LABELS"):
        ManifestWriter().flag(0, 0.0, "something_new", 0.5, merge_gap=3)


def test_a_refusal_page_says_records_in_words_and_folds_their_data_away() -> None:
    """A refused sign-off carries its flagged ranges as records (the API's client needs them);
    the page printed them as a raw list of dictionaries, which counsel should not have to
    read. The message says them in words; the records are folded away, a field or a list
    of names still gets its line."""
    from html.parser import HTMLParser

    from bwc_custody.console.render import TEMPLATES
    from bwc_custody.releases.errors import FlaggedNotCovered

    flagged = [{"start": 2.8, "end": 2.8, "reason": "weak_detection",
                "span": {"start": 2.3, "end": 3.3}, "unwatched": [{"start": 2.3, "end": 3.3}],
                "watched": False}]
    error = FlaggedNotCovered("watch every flagged range at normal speed: 0:02.3-0:03.3: "
                              "faces found only faintly", flagged=flagged,
                              field_name="attestation", allowed=["GET", "POST"],
                              reclaimed_from=None, uncovered=[],
                              problems=[{"at": "label", "problem": "too long"},
                                        {"at": "pad", "problem": "at most 2"}])
    page = TEMPLATES.env.get_template("error.html").render(
        error=error, back="/console/", user=None, roles=[])

    class Shown(HTMLParser):
        """The text a reader sees before opening a folded <details>."""

        def __init__(self) -> None:
            super().__init__()
            self.text: list[str] = []
            self.folded = 0

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            self.folded += tag == "details"

        def handle_endtag(self, tag: str) -> None:
            self.folded -= tag == "details"

        def handle_data(self, data: str) -> None:
            if not self.folded:
                self.text.append(data)

    parser = Shown()
    parser.feed(page)
    shown = " ".join(" ".join(parser.text).split())
    assert "0:02.3-0:03.3: faces found only faintly" in shown
    assert "field name: attestation" in shown
    assert "allowed: GET, POST" in shown
    assert not any(raw in shown for raw in ("'start'", "weak_detection", "{"))
    assert "reclaimed from" not in shown  # a detail that says nothing has no line
    assert "uncovered" not in shown  # nor an empty list ("none" under such a refusal misleads)
    # every invalid field of a form, though the message names the first
    assert "label: too long" in shown
    assert "pad: at most 2" in shown
    # folded, not lost: the records are there as the API gives them
    assert '"reason": "weak_detection"' in page


def test_the_recordings_page_says_what_a_copy_should_take(
        desk: Desk, make_clip: Callable[..., Path], browser: Callable[..., Browser]) -> None:
    """Once a few copies have been made on this server, the custodian is told before asking
    what one of this recording should take (at the median pace of those copies)."""
    from datetime import timedelta

    from bwc_custody.db import session_scope
    from bwc_custody.jobs.models import Job
    from bwc_custody.timeutil import utcnow

    evidence_id = desk.recording(make_clip([KID_A], per_image=0.6))
    custodian = browser("cust-1")
    url = f"/console/evidence/{evidence_id}"
    assert "should take" not in custodian.get(url).text  # nothing made here yet to tell
    length = desk.duration(evidence_id)
    with session_scope() as session:
        for n, pace in enumerate((40.0, 60.0, 50.0)):  # a median of 50x: about 1 min
            end = utcnow() - timedelta(minutes=n)
            session.add(Job(kind="redaction", evidence_id=evidence_id, state="succeeded",
                            created_by="cust-1", params={}, finished_at=end,
                            started_at=end - timedelta(seconds=length * pace)))
    expected = round(length * 50 / 60)
    words = "under a minute" if expected < 1 else f"about {expected} min"
    page = " ".join(custodian.get(url).text.split())
    assert f"A copy of this recording should take {words} once a worker starts it" in page
