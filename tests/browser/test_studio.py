"""The redaction studio in a real browser: a custodian keeps one child of a ten-person
classroom clip visible, draws a box over part of the picture, and makes the copy; the copy,
scored frame by frame against make_clip's truth boxes (as bench/redaction.py scores), shows
the kept face sharp, every other face blurred and the box blurred along its followed path.
The page actions and wall times of the studio part are recorded (the issue's figures)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bwc_custody.roles import Role
from redaction.manifest import FLAG_LABELS
from redaction.regions import ManualBox
from tests.browser.conftest import Walk, log_on, page_errors, staff
from tests.support.redaction_score import identities, identity_of, score
from tests.tags.conftest import DEV, make_clip

__all__ = ["make_clip"]
pytestmark = [pytest.mark.browser, pytest.mark.slow]
# ten children on three photos: six, three and one
CLASS = [DEV / f"29_Students_Schoolkids_Students_Schoolkids_29_{n}.jpg" for n in (84, 146, 148)]


def _count(evidence_id: str) -> None:
    """Queue the person count (the server's worker runs it)."""
    from bwc_custody.db import session_scope
    from bwc_custody.tags.analysis import request_analysis
    from tests.support.actors import LOCAL_OPERATOR

    with session_scope() as session:
        request_analysis(session=session, evidence_id=evidence_id, actor=LOCAL_OPERATOR)


def _people_doc(evidence_id: str) -> dict[str, Any]:
    from bwc_custody.db import session_scope
    from bwc_custody.tags.analysis import latest_analysis
    from bwc_custody.tags.people import read_document
    from bwc_custody.vault.service import get_keyring, get_store

    with session_scope() as session:
        row = latest_analysis(session=session, evidence_id=evidence_id)
        assert row.id is not None
        return {**read_document(session=session, store=get_store(), keyring=get_keyring(),
                                evidence_id=evidence_id, analysis_id=row.id),
                "analysis_id": row.id}


def _copy(evidence_id: str, where: Path) -> tuple[Path, dict[str, Any]]:
    from bwc_custody.db import session_scope
    from bwc_custody.redactions.service import list_derivatives, open_derivative
    from bwc_custody.vault.service import get_keyring, get_store
    from tests.support.actors import LOCAL_OPERATOR

    with session_scope() as session:
        (row,) = list_derivatives(session=session, evidence_id=evidence_id)
        parts = {}
        for part in ("video", "manifest"):
            _row, _obj, reader = open_derivative(
                session=session, store=get_store(), keyring=get_keyring(),
                derivative_id=row.id, part=part,  # type: ignore[arg-type]
                actor=LOCAL_OPERATOR, reason="the test scores it")
            parts[part] = b"".join(reader.iter_plaintext())
    (where / "copy.mp4").write_bytes(parts["video"])
    return where / "copy.mp4", json.loads(parts["manifest"])


def _render_job(evidence_id: str) -> Any:
    from bwc_custody.db import session_scope
    from bwc_custody.jobs.service import list_jobs

    with session_scope() as session:
        (job,) = list_jobs(session=session, kind="redaction", evidence_id=evidence_id)
        return job


def _far_corner(face: list[float], width: int, height: int) -> list[float]:
    """A 200 x 120 box in the corner of the frame farthest from `face` ([x, y, w, h])."""
    cx, cy = face[0] + face[2] / 2, face[1] + face[3] / 2
    x = 40.0 if cx > width / 2 else width - 240.0
    y = 40.0 if cy > height / 2 else height - 160.0
    return [x, y, 200.0, 120.0]


def test_keep_one_child_box_a_region_and_render(
        walk: Callable[[str], Walk], make_clip: Callable[..., Path],
        ingest_clip: Callable[..., str], tmp_path: Path,
        record_property: Callable[[str, Any], None]) -> None:
    clip = make_clip(CLASS, per_image=3.0, size="1280x720")
    truth = json.loads((clip.parent / "truth.json").read_text())
    seconds = len(truth["frames"]) / truth["fps"]
    evidence_id = ingest_clip(clip, campus="Central High", officer_id="off-7")
    key = staff("cust-1", Role.custodian)
    me = walk("studio")
    errors = page_errors(me)
    log_on(me, "cust-1", key)
    _count(evidence_id)
    me.go(f"/console/evidence/{evidence_id}")
    me.page.wait_for_selector("#jobs:not([hx-get])", timeout=300_000)  # reloads when counted

    # the child to keep: the person the count followed longest, among several at once
    doc = _people_doc(evidence_id)
    ids = identities(truth)
    counted = [t for t in doc["tracks"] if t["person"] is not None]
    person = max({t["person"] for t in counted},
                 key=lambda p: sum(len(t["obs"]) for t in counted if t["person"] == p))
    tracks = [t for t in counted if t["person"] == person]
    kid = {identity_of(t["obs"], truth, ids) for t in tracks}
    assert len(kid) == 1
    person_id = f"{doc['analysis_id']}-{person}"
    first = min(t["obs"][0][0] for t in tracks)
    at = (first + 12) / truth["fps"]  # a frame where the count saw the child
    face = next(b for i, b in zip(ids[first + 12], truth["frames"][first + 12], strict=True)
                if i in kid)
    box = _far_corner(face, *truth["size"])

    # the studio: keep the child, box a region, make the copy
    started = time.monotonic()
    before = len(me.actions)
    me.click("text=Open the redaction studio")
    # (no page.wait_for_function: the page's CSP forbids the eval it needs)
    me.page.wait_for_selector("#original[data-state=ready]")
    me.tick(f"div.person[data-person='{person_id}'] input.keep")
    me.fill(f"div.person[data-person='{person_id}'] input.keep-reason",
            "the requester's own child (request 12)")
    at = round(at, 2)
    me.page.evaluate(f"document.getElementById('original').currentTime = {at}")
    me.actions.append("seek to the frame")  # a click on the timeline or a face does this
    me.page.wait_for_selector(f"#original[data-at='{at:.2f}']")
    me.click("#draw")
    stage = me.page.locator("#overlay").bounding_box()
    assert stage is not None
    scale = stage["width"] / truth["size"][0]
    x0, y0 = stage["x"] + box[0] * scale, stage["y"] + box[1] * scale
    me.page.mouse.move(x0, y0)
    me.page.mouse.down()
    me.page.mouse.move(x0 + box[2] * scale, y0 + box[3] * scale, steps=8)
    me.page.mouse.up()
    me.actions.append("drag a box")
    me.shot("1-drawn")
    me.pick("#box-kind", "screen")
    me.fill("#box-reason", "a student's record on the screen")
    me.click("#box-add")
    me.page.wait_for_selector("text=follows it", timeout=120_000)
    me.shot("2-chosen")
    chose = time.monotonic() - started
    me.click("#render")
    rendered = time.monotonic()
    studio_actions = len(me.actions) - before
    me.page.wait_for_url("**/studio?done=copy+queued")
    # the page reloads itself when the copy is made; then the copy can play
    me.page.wait_for_selector("video#redacted[data-state=ready]", timeout=600_000)
    playable = time.monotonic() - rendered
    me.page.check("#outline")
    me.page.evaluate(f"document.getElementById('original').currentTime = {at}")
    me.page.wait_for_selector(f"#redacted[data-at='{at:.2f}']")  # the copy follows
    me.shot("3-compare")

    video, manifest = _copy(evidence_id, tmp_path)
    # what the copy was unsure of (this clip: faces found faintly) is listed under the
    # timeline, each in words, and its link takes the players there
    flags = manifest["low_confidence"]
    assert flags
    listed = me.page.locator(".copy-flags li")
    assert listed.count() == len(flags)
    far = max(range(len(flags)), key=lambda i: abs(flags[i]["start_time"] - at))
    assert FLAG_LABELS[flags[far]["reason"]] in listed.nth(far).inner_text()
    listed.nth(far).locator("a").click()
    me.page.wait_for_selector(f"#original[data-at='{flags[far]['start_time']:.2f}']")
    region = manifest["regions"]["boxes"][0]
    assert (region["kind"], region["follow"]) == ("screen", True)
    assert region["path"]
    drawn = ManualBox.model_validate(region)
    fps = truth["fps"]
    s = score(clip, video, truth, kid, regions=[
        (k / fps, k / fps, drawn.box_at(k / fps)) for k in range(len(truth["frames"]))
        if drawn.start <= k / fps <= drawn.end])
    assert s.kept_frames > 40
    assert s.kept_share >= 0.9, s  # the kept child is sharp where the count followed them
    assert s.recall >= 0.97, s.missed  # every other child is blurred
    assert s.box_frames > 20
    assert s.box_blurred == s.box_frames  # and the boxed region, all along its path
    log = manifest["exemption_log"]
    assert (log[0]["what"], log[0]["person"], log[0]["chosen_by"]) == (
        "kept_person", person_id, "cust-1")
    assert (log[1]["what"], log[1]["kind"], log[1]["reason"]) == (
        "box", "screen", "a student's record on the screen")
    assert errors == []

    job = _render_job(evidence_id)
    queued_s = (job.started_at - job.created_at).total_seconds()
    ran_s = (job.finished_at - job.started_at).total_seconds()
    record_property("studio_page_actions", studio_actions)
    record_property("studio_choose_seconds", round(chose, 1))
    record_property("render_to_playable_seconds", round(playable, 1))
    record_property("render_to_playable_ratio", round(playable / seconds, 2))
    print(f"\nstudio, {truth['people']}-person {seconds:.0f} s clip "
          f"{truth['size'][0]}x{truth['size'][1]}: {studio_actions} page actions, "
          f"{chose:.1f} s to keep one person and add one box (the box followed by the server "
          f"included); render to playable copy {playable:.1f} s = {playable / seconds:.2f} x "
          f"the clip's length (waiting for the worker {queued_s:.1f} s, the job {ran_s:.1f} s "
          f"of which redaction {manifest['summary']['seconds']:.1f} s, the rest the page "
          "noticing and loading the copy)")
