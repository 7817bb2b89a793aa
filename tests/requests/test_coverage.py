"""A review that means watched, through the API on real footage: the reviewer's player
reports what it played; a reviewer who skipped a part cannot sign until they watch it or
attest in writing why it need not be watched; a flagged range must be watched at normal
speed even with an attestation; another reviewer's watching does not count; a report that is
not of the file, or claims more playing than time allows, is refused and counts for nothing;
the signed approval records the coverage, the speed policy and the attestation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bwc_custody.roles import Role
from bwc_custody.timeutil import video_clock
from redaction.manifest import FLAG_LABELS
from tests.requests.test_review import Desk, _code, _h, _log, _verifies, desk
from tests.tags.conftest import KID_A, KID_B, make_clip

__all__ = ["desk", "make_clip"]
pytestmark = pytest.mark.slow
BASIS = {"reason": "every student's face is blurred; KRS 610.320(3) met"}


def _under_review(desk: Desk, make_clip: Callable[..., Path]) -> tuple[str, dict[str, Any],
                                                                        float]:
    """A 4 s clip of two students, redacted (its low-confidence ranges flagged), submitted;
    returns the request id, the derivative and its length. The copy is made after the
    request is decided: its decision asks for whole heads, so the copy has them by default
    (a faces-only one would be refused, tests/requests/test_whole_heads.py)."""
    evidence_id = desk.recording(make_clip([KID_A, KID_B], per_image=2.0))
    request_id = desk.request(evidence_id)
    derivative = desk.redacted(evidence_id)
    assert desk.post(request_id, "review", desk.custodian,
                     {"derivative_id": derivative["id"]}).status_code == 200
    return request_id, derivative, desk.duration(evidence_id)


def test_a_reviewer_who_skipped_a_part_signs_only_after_watching_it_or_attesting(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    request_id, derivative, length = _under_review(desk, make_clip)
    assert 3.9 < length < 4.2
    flags = [(f["start_time"], f["end_time"]) for f in derivative["flags"]]
    assert flags, "the clip's weak detections are flagged for the reviewer"
    first_flag = min(s for s, _e in flags)

    # nothing streamed yet: nothing can be reported
    early = desk.cover(request_id, desk.reviewer, [{"start": 0, "end": 1, "rate": 1}])
    assert (early.status_code, _code(early)) == (409, "file_not_viewed")

    # the first second, at normal speed; then the sign-off is refused, naming what is left
    desk.watch_review(request_id, desk.reviewer)
    desk.clock.shift(2)
    r = desk.cover(request_id, desk.reviewer, [{"start": 0, "end": 1.0, "rate": 1}])
    assert r.status_code == 200, r.text
    seen = r.json()
    assert seen["covered"] == [{"start": 0.0, "end": 1.0}]
    assert seen["uncovered"] == [{"start": 1.0, "end": length}]
    assert (seen["whole_file"], seen["complete"], seen["reviewer"]) == (False, False,
                                                                        "counsel-1")
    assert seen["policy"]["skim_rate"] == 2.0
    # to plan the review: what is left, flagged spans at normal speed and the rest at 2x
    flagged_s = seen["flagged_s"]
    assert 0 < flagged_s <= length
    assert seen["least_watch_s"] == pytest.approx(flagged_s + (length - flagged_s) / 2,
                                                  abs=0.002)
    assert 0 < seen["watch_left_s"] < seen["least_watch_s"]
    assert desk.client.get(f"/api/v1/requests/{request_id}/recordings/"
                           f"{desk.item(request_id)}/coverage",
                           headers=desk.reviewer).json() == seen

    # the flagged ranges lie in the part skipped: no attestation excuses them
    attest = {**BASIS, "attestation": "the rest is the same hallway with nobody in it"}
    r = desk.post(request_id, "approve", desk.reviewer, attest)
    assert (r.status_code, _code(r)) == (409, "flagged_not_covered"), r.text
    refused = r.json()["error"]
    assert refused["details"]["flagged"]
    # the message names each range as the player shows it and what happened there, in words
    first = refused["details"]["flagged"][0]
    assert video_clock(first["span"]["start"]) in refused["message"]
    assert FLAG_LABELS[first["reason"]].split(": ")[0] in refused["message"]
    assert "_" not in refused["message"]
    assert desk.state(request_id) == "in_review"

    # the rest at 2x: counts for the whole file, but not for the flagged ranges
    desk.clock.shift(3)
    r = desk.cover(request_id, desk.reviewer, [{"start": 1.0, "end": length, "rate": 2}])
    assert (r.json()["whole_file"], r.json()["flags_watched"]) == (True, False)
    assert 0 < r.json()["watch_left_s"] < seen["watch_left_s"]
    r = desk.post(request_id, "approve", desk.reviewer, attest)
    assert (r.status_code, _code(r)) == (409, "flagged_not_covered")

    # each flagged range again at normal speed, with its context: now it can be signed
    desk.clock.shift(length)
    r = desk.cover(request_id, desk.reviewer,
                   [{"start": max(0.0, first_flag - 0.5), "end": length, "rate": 1}])
    assert r.json()["complete"], r.json()
    approved = desk.post(request_id, "approve", desk.reviewer, BASIS)
    assert approved.status_code == 200, approved.text
    review = approved.json()["recordings"][0]["review"]
    statement = review["statement"]
    assert statement["format"] == "bwc-release-approval/3"
    watched = statement["coverage"]
    assert (watched["complete"], watched["attestation"], watched["reports"]) == (True, None, 3)
    assert watched["uncovered"] == []
    assert all(f["watched"] for f in watched["flagged"])
    assert watched["policy"]["name"] == "bwc-review-coverage/1"
    assert "watch_left_s" not in watched  # planning figures, not part of what is signed
    assert _verifies(statement, review["signature"],
                     desk.client.get("/api/v1/keys/signing").json())

    log = [e for e in _log(request_id) if e.action == "review.coverage"]
    assert [e.actor for e in log] == ["counsel-1"] * 3
    assert log[0].details["added"] == {"full": [[0.0, 1.0]]}
    assert log[1].details["added"] == {"skim": [[1.0, length]]}
    assert log[-1].details["complete"] is True


def test_an_attestation_excuses_an_unflagged_part_and_is_signed(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    request_id, derivative, length = _under_review(desk, make_clip)
    flagged = [(max(0.0, f["start_time"] - 0.5), min(length, f["end_time"] + 0.5))
               for f in derivative["flags"]]
    desk.watch_review(request_id, desk.reviewer)
    desk.clock.shift(length + 1)
    r = desk.cover(request_id, desk.reviewer,
                   [{"start": s, "end": e, "rate": 1} for s, e in flagged])
    assert r.status_code == 200, r.text
    assert (r.json()["flags_watched"], r.json()["whole_file"]) == (True, False)

    r = desk.post(request_id, "approve", desk.reviewer, BASIS)
    assert (r.status_code, _code(r)) == (409, "review_not_covered")
    now = desk.client.get(f"/api/v1/requests/{request_id}/recordings/"
                          f"{desk.item(request_id)}/coverage", headers=desk.reviewer).json()
    assert r.json()["error"]["details"]["uncovered"] == now["uncovered"]
    assert now["uncovered"][0]["start"] == 0.0  # the start was never played
    short = desk.post(request_id, "approve", desk.reviewer, {**BASIS, "attestation": "ok"})
    assert (short.status_code, _code(short)) == (409, "review_not_covered")

    why = "the custodian's note and the manifest show nothing was blurred before 2 s"
    r = desk.post(request_id, "approve", desk.reviewer, {**BASIS, "attestation": why})
    assert r.status_code == 200, r.text
    watched = r.json()["recordings"][0]["review"]["statement"]["coverage"]
    assert (watched["complete"], watched["whole_file"], watched["attestation"]) == (
        False, False, why)
    assert watched["uncovered"]


def test_another_reviewers_watching_does_not_count(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    request_id, derivative, length = _under_review(desk, make_clip)
    other = _h(desk.make_token(Role.legal_reviewer, username="counsel-2"))
    desk.watch_through(derivative, other, request_id)
    desk.watch_review(request_id, desk.reviewer)
    mine = desk.client.get(f"/api/v1/requests/{request_id}/recordings/"
                           f"{desk.item(request_id)}/coverage", headers=desk.reviewer).json()
    assert (mine["covered"], mine["reviewer"]) == ([], "counsel-1")
    r = desk.post(request_id, "approve", desk.reviewer, BASIS)
    assert (r.status_code, _code(r)) == (409, "flagged_not_covered")
    assert desk.post(request_id, "approve", other, BASIS).status_code == 200


def test_reports_that_are_not_of_the_file_or_not_possible_are_refused(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    request_id, derivative, length = _under_review(desk, make_clip)
    desk.watch_review(request_id, desk.reviewer)
    # the whole file just after it was first streamed: not possible at any speed that counts
    r = desk.cover(request_id, desk.reviewer, [{"start": 0.0, "end": length, "rate": 2}])
    assert (r.status_code, _code(r)) == (409, "coverage_implausible")
    desk.clock.shift(2)
    for ranges, code in (
            ([{"start": 2.0, "end": 1.0}], "coverage_range_invalid"),
            ([{"start": 1.0, "end": 1.0}], "coverage_range_invalid"),
            ([{"start": -1.0, "end": 1.0}], "coverage_range_invalid"),
            ([{"start": 0.0, "end": length + 5}], "coverage_range_invalid"),
            ([{"start": 0.0, "end": 1.0, "rate": 0}], "invalid_input"),
            ([{"start": 0.0, "end": 1.0, "rate": 17}], "invalid_input"),
            ([{"start": 0.0, "end": 1.0, "speed": 1}], "invalid_input"),
            ([], "invalid_input")):
        r = desk.cover(request_id, desk.reviewer, ranges)
        assert (r.status_code, _code(r)) == (422, code), (ranges, r.text)
    r = desk.cover(request_id, desk.reviewer, [{"start": 0.0, "end": 1.0},
                                               {"start": 3.0, "end": 1.0}])
    assert r.json()["error"]["details"]["index"] == 1  # the one named; none of it counted
    # two seconds later, the first three seconds at 2x (1.5 s of playing) are possible
    ok = desk.cover(request_id, desk.reviewer, [{"start": 0.0, "end": 3.0, "rate": 2}])
    assert ok.status_code == 200, ok.text
    assert ok.json()["covered"] == [{"start": 0.0, "end": 3.0}]
    # a little past the file's end (the player's clock) is cut to it
    desk.clock.shift(length)
    r = desk.cover(request_id, desk.reviewer, [{"start": 3.0, "end": length + 0.2}])
    assert r.json()["covered"] == [{"start": 0.0, "end": length}]
    # the custodian reports nothing; only what is under review is reported on
    r = desk.cover(request_id, desk.custodian, [{"start": 0.0, "end": 1.0}])
    assert (r.status_code, _code(r)) == (403, "forbidden")
    assert desk.post(request_id, "return", desk.reviewer,
                     {"reason": "blur the poster on the wall too"}).status_code == 200
    r = desk.cover(request_id, desk.reviewer, [{"start": 0.0, "end": 1.0}])
    assert (r.status_code, _code(r)) == (409, "not_in_review")
    assert [e.details["added"] for e in _log(request_id) if e.action == "review.coverage"] \
        == [{"skim": [[0.0, 3.0]]}, {"full": [[3.0, length]]}]
