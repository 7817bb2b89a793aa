"""Legal review and release, end to end on real footage: for one recording of a request,
the custodian submits one redacted file, the server signs a copy of it with the release's
C2PA manifest (the file under review), a different legal reviewer who has watched that copy
signs off on its SHA-256, the custodian releases exactly that file, and the requester
downloads exactly those bytes; the written response goes out when every recording is answered. A
changed decision voids the sign-off; every refusal has its code; every step is in the
custody log."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient

from bwc_custody.roles import Role
from tests.support.custody import recomputed_entry_hash
from tests.tags.conftest import KID_A, KID_C, make_clip

__all__ = ["make_clip"]
pytestmark = pytest.mark.slow

PARENT = {"description": "video of the hallway incident on 2 March", "requester_name": "R. Doe",
          "requester_type": "parent_guardian", "parent_of_depicted": True,
          "residency": "resident", "form": "copy"}
WATCH = {"reason": "legal review of the release"}
BIRTH_CERTIFICATE = {"reason": "birth certificate seen at the front desk, copy on file"}
# what the letter says of the part withheld (the faces of the other children)
WHY_BLURRED = {"explanation": "the faces of the other students are blurred: KRS 610.320(3)"}
ITEM_STEPS = ("review", "approve", "return", "release", "deny", "close")


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _code(r: Any) -> str:
    return str(r.json()["error"]["code"])


def _drain(home: Path) -> None:
    from bwc_custody.db import get_engine
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_worker

    run_worker(engine=get_engine(), home=home, handlers=HANDLERS, lease_seconds=30, drain=True)


class Desk:
    """The people of one test: a custodian, two legal reviewers, a requester (the parent)."""

    def __init__(self, client: TestClient, make_token: Callable[..., str], home: Path,
                 ingest_clip: Callable[..., str], clock: time_machine.Traveller | None) -> None:
        self.client, self.home, self.make_token = client, home, make_token
        self.ingest_clip, self.clock = ingest_clip, clock
        self.custodian = _h(make_token(Role.custodian, username="cust-1"))
        self.reviewer = _h(make_token(Role.legal_reviewer, username="counsel-1"))
        # a custodian who also holds the reviewer role: may not approve what they submitted
        self.both = _h(make_token(Role.custodian, Role.legal_reviewer, username="cust-counsel"))
        self.parent = _h(make_token(Role.requester, username="parent-1"))

    def recording(self, clip: Path, *, analyse: bool = True) -> str:
        """Ingest a campus clip, run its person count (unless not), and return its id."""
        evidence_id = self.ingest_clip(clip, campus="Central High", involves_juvenile=True)
        if analyse:
            r = self.client.post(f"/api/v1/evidence/{evidence_id}/analysis",
                                 headers=self.custodian)
            assert r.status_code == 202, r.text
            _drain(self.home)
        return evidence_id

    def redacted(self, evidence_id: str) -> dict[str, Any]:
        """A derivative of the recording made by the redaction worker."""
        r = self.client.post(f"/api/v1/evidence/{evidence_id}/redactions", json={},
                             headers=self.custodian)
        assert r.status_code == 202, r.text
        _drain(self.home)
        job = self.client.get(f"/api/v1/jobs/{r.json()['id']}", headers=self.custodian).json()
        assert job["state"] == "succeeded", job
        d = self.client.get(f"/api/v1/derivatives/{job['result']['derivative_id']}",
                            headers=self.custodian)
        return dict(d.json())

    def request(self, *evidence_ids: str, confirm: bool = True) -> str:
        """The parent asks; the custodian names the recordings and confirms the parent from
        the birth certificate; returns the request id."""
        r = self.client.post("/api/v1/requests", headers=self.parent, json=PARENT)
        assert r.status_code == 201, r.text
        request_id = str(r.json()["id"])
        if evidence_ids:
            linked = self.client.post(f"/api/v1/requests/{request_id}/recordings",
                                      headers=self.custodian,
                                      json={"evidence_ids": list(evidence_ids)})
            assert linked.status_code == 200, linked.text
        if confirm:
            ok = self.client.post(f"/api/v1/requests/{request_id}/relationship",
                                  headers=self.custodian, json=BIRTH_CERTIFICATE)
            assert ok.status_code == 200, ok.text
        return request_id

    def item(self, request_id: str, position: int = 1) -> str:
        """The id of the request's recording at `position`."""
        view = self.client.get(f"/api/v1/requests/{request_id}",
                               headers=self.custodian).json()
        return str(next(x["id"] for x in view["recordings"] if x["position"] == position))

    def post(self, request_id: str, step: str, who: dict[str, str],
             body: dict[str, Any] | None = None, position: int = 1) -> Any:
        """A step of the workflow on the request's recording at `position`."""
        url = f"/api/v1/requests/{request_id}"
        if step in ITEM_STEPS:
            url += f"/recordings/{self.item(request_id, position)}"
        return self.client.post(f"{url}/{step}", headers=who, json=body)

    def view(self, request_id: str, who: dict[str, str] | None = None,
             position: int = 1) -> dict[str, Any]:
        """The request's recording at `position` as `who` (default the custodian) sees it."""
        view = self.client.get(f"/api/v1/requests/{request_id}",
                               headers=who or self.custodian).json()
        return dict(next(x for x in view["recordings"] if x["position"] == position))

    def under_review(self, request_id: str, position: int = 1) -> dict[str, Any]:
        """The review round of the recording at `position`: its `derivative_id` is the
        signed copy made at submission, the file the reviewer watches and signs off."""
        return dict(self.view(request_id, position=position)["review"])

    def watch_review(self, request_id: str, who: dict[str, str], position: int = 1) -> bytes:
        """`who` watches the file under review on the request's recording."""
        return self.watch(self.under_review(request_id, position)["derivative_id"], who)

    def watch(self, derivative_id: str, who: dict[str, str]) -> bytes:
        r = self.client.get(f"/api/v1/derivatives/{derivative_id}/content", params=WATCH,
                            headers=who)
        assert r.status_code == 200
        return bytes(r.content)

    def cover(self, request_id: str, who: dict[str, str], ranges: list[dict[str, float]],
              position: int = 1) -> Any:
        """Report ranges `who`'s player played of the file under review."""
        return self.client.post(f"/api/v1/requests/{request_id}/recordings/"
                                f"{self.item(request_id, position)}/coverage", headers=who,
                                json={"ranges": ranges})

    def duration(self, evidence_id: str) -> float:
        """The recording's length in seconds, as probed at ingest."""
        meta = self.client.get(f"/api/v1/evidence/{evidence_id}", headers=self.custodian)
        return float(meta.json()["media"]["duration_s"])

    def watch_through(self, derivative: dict[str, Any], who: dict[str, str], request_id: str,
                      position: int = 1) -> bytes:
        """`who` streams the file under review (the server's signed copy of `derivative`)
        and plays it through at normal speed (the clock moves on by its length), reported as
        covered; returns the bytes streamed."""
        data = self.watch_review(request_id, who, position)
        length = self.duration(derivative["evidence_id"])
        assert self.clock is not None, "the suite's fixed clock moves on by the file's length"
        self.clock.shift(length + 1)
        r = self.cover(request_id, who, [{"start": 0, "end": length, "rate": 1}], position)
        assert r.status_code == 200, r.text
        assert r.json()["complete"], r.json()
        return data

    def state(self, request_id: str, position: int = 1) -> str:
        return str(self.view(request_id, position=position)["state"])

    def download(self, request_id: str, who: dict[str, str], position: int = 1,
                 wanted: str = "") -> Any:
        return self.client.get(f"/api/v1/requests/{request_id}/recordings/"
                               f"{self.item(request_id, position)}/release/content",
                               headers=who | ({"Range": wanted} if wanted else {}))


@pytest.fixture
def desk(client: TestClient, make_token: Callable[..., str], bwc_home: Path,
         ingest_clip: Callable[..., str], fixed_clock: time_machine.Traveller) -> Desk:
    return Desk(client, make_token, bwc_home, ingest_clip, fixed_clock)


def _log(request_id: str) -> list[Any]:
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return entries_for(session=session, target_id=request_id)


def _verifies(statement: dict[str, Any], signature: str, key: dict[str, Any]) -> bool:
    from cryptography.exceptions import InvalidSignature

    public = load_pem_public_key(key["public_key_pem"].encode())
    assert isinstance(public, Ed25519PublicKey)
    body = json.dumps(statement, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()
    try:
        public.verify(base64.b64decode(signature), body)
    except InvalidSignature:
        return False
    return True


def test_the_released_copy_is_exactly_the_file_the_reviewer_watched_and_signed(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    c = desk.client
    evidence_id = desk.recording(make_clip([KID_A], per_image=0.6))
    derivative = desk.redacted(evidence_id)
    request_id = desk.request(evidence_id)
    decision = desk.view(request_id)["decision"]
    assert decision["effect"] == "release_redacted"

    submitted = desk.post(request_id, "review", desk.both,
                          {"derivative_id": derivative["id"], "note": "all faces blurred"})
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["recordings"][0]["state"] == "in_review"
    review = submitted.json()["recordings"][0]["review"]
    assert review["outcome"] is None
    # the file under review is a copy the server signed for this request, made from the
    # redacted copy submitted (provenance/README.md: the manifest is signed before review)
    signed = c.get(f"/api/v1/derivatives/{review['derivative_id']}", headers=desk.custodian)
    signed_copy = signed.json()
    assert (signed_copy["kind"], signed_copy["signed_from"]) == ("signed", derivative["id"])
    assert review["sha256"] == signed_copy["sha256"] != derivative["sha256"]
    assert signed_copy["source_sha256"] == derivative["source_sha256"]
    again = desk.post(request_id, "review", desk.custodian, {"derivative_id": derivative["id"]})
    assert (again.status_code, _code(again)) == (409, "transition_not_allowed")

    # The requester sees neither the file under review nor a way to get it early.
    mine = desk.view(request_id, desk.parent)
    assert (mine["state"], mine["review"], mine["release"], mine["decision"]) == (
        "in_review", None, None, None)
    early = desk.download(request_id, desk.parent)
    assert (early.status_code, _code(early)) == (409, "not_released")

    # Who submitted may not sign off, even holding the reviewer role; nobody signs unseen.
    desk.watch_review(request_id, desk.both)
    own = desk.post(request_id, "approve", desk.both, {"reason": "reviewed under KRS 610.320"})
    assert (own.status_code, _code(own)) == (403, "separation_of_duties")
    unseen = desk.post(request_id, "approve", desk.reviewer,
                       {"reason": "reviewed under KRS 610.320"})
    assert (unseen.status_code, _code(unseen)) == (409, "file_not_viewed")
    no_basis = desk.post(request_id, "approve", desk.reviewer)
    assert (no_basis.status_code, _code(no_basis)) == (422, "reason_required")
    early = desk.post(request_id, "release", desk.custodian)
    assert (early.status_code, _code(early)) == (409, "transition_not_allowed")
    assert desk.state(request_id) == "in_review"

    desk.watch(derivative["id"], desk.reviewer)  # the unsigned copy is not the file under review
    unsigned = desk.post(request_id, "approve", desk.reviewer,
                         {"reason": "every juvenile face blurred; KRS 610.320(3) met"})
    assert (unsigned.status_code, _code(unsigned)) == (409, "file_not_viewed")
    watched = desk.watch_through(derivative, desk.reviewer, request_id)
    approved = desk.post(request_id, "approve", desk.reviewer,
                         {"reason": "every juvenile face blurred; KRS 610.320(3) met"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["recordings"][0]["state"] == "approved"
    signed = approved.json()["recordings"][0]["review"]
    statement = signed["statement"]
    assert statement["sha256"] == review["sha256"] == hashlib.sha256(watched).hexdigest()
    assert statement["source_sha256"] == derivative["source_sha256"]
    assert (statement["reviewer"], statement["effect"], statement["delivery"]) == (
        "counsel-1", "release_redacted", "copy")
    assert statement["rule_ids"] == decision["rule_ids"]
    assert statement["citations"]
    key = c.get("/api/v1/keys/signing").json()
    assert signed["key_id"] == key["key_id"]
    assert _verifies(statement, signed["signature"], key)
    assert not _verifies({**statement, "sha256": "0" * 64}, signed["signature"], key)

    unexplained = desk.post(request_id, "release", desk.custodian)
    assert (unexplained.status_code, _code(unexplained)) == (422, "reason_required")
    released = desk.post(request_id, "release", desk.custodian, WHY_BLURRED)
    assert released.status_code == 200, released.text
    assert released.json()["recordings"][0]["state"] == "released"
    assert released.json()["state"] == "answered"  # its only recording is answered

    # The requester is told what was released and on which rules, and gets exactly it.
    whole = c.get(f"/api/v1/requests/{request_id}", headers=desk.parent).json()
    mine = whole["recordings"][0]
    assert mine["review"] is None
    assert mine["evidence_id"] is None
    assert mine["release"]["sha256"] == review["sha256"]
    assert mine["release"]["citations"] == statement["citations"]
    assert _verifies(mine["release"]["statement"], mine["release"]["signature"], key)
    # and the written response: what is released, what is withheld and why, the appeal
    [letter] = whole["letters"]
    assert (letter["kind"], letter["statement"]["letter"]) == ("response", "partial_denial")
    assert _verifies(letter["statement"], letter["signature"], key)
    [part] = letter["statement"]["recordings"]
    assert (part["outcome"], part["sha256"], part["delivery"]) == (
        "released", review["sha256"], "copy")
    assert part["explanation"] == WHY_BLURRED["explanation"]
    assert part["withheld"]
    assert all(w["citations"] for w in part["withheld"])
    assert any("Attorney General" in n for n in letter["statement"]["notices"])
    assert letter["statement"]["custodian_title"] == "Official Custodian of Records"
    copy = desk.download(request_id, desk.parent)
    assert copy.status_code == 200
    assert hashlib.sha256(copy.content).hexdigest() == review["sha256"]
    assert copy.headers["x-content-sha256"] == review["sha256"]
    assert copy.headers["content-disposition"].startswith("attachment; filename=")
    # a download broken off resumes from where it stopped (one byte range, 206), logged so
    size = len(copy.content)
    rest = desk.download(request_id, desk.parent, wanted=f"bytes={size // 2}-")
    assert (rest.status_code, rest.headers["content-range"]) == (
        206, f"bytes {size // 2}-{size - 1}/{size}")
    assert rest.content == copy.content[size // 2:]
    past = desk.download(request_id, desk.parent, wanted=f"bytes={size}-")
    assert (past.status_code, _code(past)) == (416, "range_not_satisfiable")
    downloads = [e.details["range"] for e in _log(request_id) if e.action == "release.download"]
    assert downloads == ["all", f"bytes={size // 2}-"]
    stranger = desk.download(request_id,
                             _h(desk.make_token(Role.requester, username="parent-2")))
    assert stranger.status_code == 404

    # Released is final: a tag change decides nothing more, nothing is released twice.
    c.post(f"/api/v1/evidence/{evidence_id}/tags", headers=desk.custodian,
           json={"name": "multi_student", "reason": "a second student seen at 0:02"})
    assert desk.state(request_id) == "released"
    twice = desk.post(request_id, "release", desk.custodian, WHY_BLURRED)
    assert (twice.status_code, _code(twice)) == (409, "transition_not_allowed")

    log = _log(request_id)
    steps = [e.action for e in log if e.action.startswith(("request.", "release."))
             and e.action != "request.decision"]
    assert steps == ["request.create", "request.link", "request.relationship_confirmed",
                     "request.submit", "request.approve", "request.release",
                     "request.letter_response", "request.answered", "release.download",
                     "release.download"]
    by_action = {e.action: e for e in log}
    assert by_action["request.approve"].actor == "counsel-1"
    assert by_action["request.approve"].details["signature"] == signed["signature"]
    assert by_action["request.release"].details["citations"] == statement["citations"]
    assert by_action["release.download"].actor == "parent-1"
    assert by_action["release.download"].details["sha256"] == review["sha256"]
    auditor = _h(desk.make_token(Role.auditor))
    entries = c.get("/api/v1/custody/entries", params={"limit": 1000}, headers=auditor).json()
    for before, entry in zip(entries, entries[1:], strict=False):
        assert entry["prev_hash"] == before["entry_hash"]
    assert all(recomputed_entry_hash(e) == e["entry_hash"] for e in entries)


def test_a_changed_decision_voids_the_sign_off_and_a_view_only_release_gives_no_copy(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    c = desk.client
    evidence_id = desk.recording(make_clip([KID_A], per_image=0.6))
    derivative = desk.redacted(evidence_id)
    request_id = desk.request(evidence_id)
    assert desk.post(request_id, "review", desk.custodian,
                     {"derivative_id": derivative["id"]}).status_code == 200
    desk.watch_through(derivative, desk.reviewer, request_id)
    assert desk.post(request_id, "approve", desk.reviewer,
                     {"reason": "faces blurred, release to the parent"}).status_code == 200

    # Several students are found on it after the sign-off: the parent may only look now.
    tag = c.post(f"/api/v1/evidence/{evidence_id}/tags", headers=desk.custodian,
                 json={"name": "multi_student", "reason": "a second student seen at 0:02"})
    assert tag.status_code == 201
    now = desk.view(request_id)
    assert (now["state"], now["review"], now["decision"]["effect"]) == (
        "open", None, "view_only")
    late = desk.post(request_id, "release", desk.custodian, WHY_BLURRED)
    assert (late.status_code, _code(late)) == (409, "transition_not_allowed")
    rounds = c.get(f"/api/v1/requests/{request_id}/rounds", headers=desk.reviewer).json()
    assert [r["outcome"] for r in rounds] == ["voided"]
    assert "release_redacted to view_only" in rounds[0]["outcome_reason"]
    [void] = [e for e in _log(request_id) if e.action == "request.void"]
    assert void.actor == "cust-1"  # whoever changed the tag
    assert (void.details["from"], void.details["to"]) == ("approved", "open")

    # Reviewed again on the new decision: an inspection at the agency, no copy handed out.
    # Several students at school: the decision now asks for whole heads, so the faces-only
    # copy is refused and a new one (heads on by default now) goes in.
    faces_only = desk.post(request_id, "review", desk.custodian,
                           {"derivative_id": derivative["id"]})
    assert (faces_only.status_code, _code(faces_only)) == (409, "heads_required")
    derivative = desk.redacted(evidence_id)
    assert derivative["request"]["heads"] is True
    assert desk.post(request_id, "review", desk.custodian,
                     {"derivative_id": derivative["id"]}).status_code == 200
    stale = desk.post(request_id, "approve", desk.reviewer,
                      {"reason": "inspection only at the agency"})
    assert (stale.status_code, _code(stale)) == (409, "file_not_viewed")  # a new file
    desk.watch_through(derivative, desk.reviewer, request_id)
    approved = desk.post(request_id, "approve", desk.reviewer,
                         {"reason": "inspection only at the agency"})
    assert approved.json()["recordings"][0]["review"]["statement"]["delivery"] == "inspection"
    assert desk.post(request_id, "release", desk.custodian, {
        "explanation": "several students are shown: viewing at the agency, no copy (policy "
                       "000 IV.H.c)"}).status_code == 200
    mine = desk.view(request_id, desk.parent)
    assert (mine["release"]["delivery"], mine["release"]["effect"]) == (
        "inspection", "view_only")
    copy = desk.download(request_id, desk.parent)
    assert (copy.status_code, _code(copy)) == (409, "inspection_only")
    rounds = c.get(f"/api/v1/requests/{request_id}/rounds", headers=desk.custodian).json()
    assert [r["outcome"] for r in rounds] == ["voided", "approved"]


def test_what_cannot_be_submitted_is_refused_with_its_reason_and_stores_nothing(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    c = desk.client
    evidence_id = desk.recording(make_clip([KID_A], per_image=0.6))
    derivative = desk.redacted(evidence_id)
    other_id = desk.recording(make_clip([KID_C], per_image=0.6))

    unlinked = c.post("/api/v1/requests", headers=desk.parent, json=PARENT).json()["id"]
    r = c.post(f"/api/v1/requests/{unlinked}/recordings/no-such-recording/review",
               headers=desk.custodian, json={"derivative_id": derivative["id"]})
    assert (r.status_code, _code(r)) == (404, "recording_not_in_request")
    unconfirmed = desk.request(evidence_id, confirm=False)  # the parent's claim not seen
    r = desk.post(unconfirmed, "review", desk.custodian, {"derivative_id": derivative["id"]})
    assert (r.status_code, _code(r)) == (409, "action_required")
    assert [a["code"] for a in r.json()["error"]["details"]["actions"]] == [
        "confirm_relationship"]

    elsewhere = desk.request(other_id)
    r = desk.post(elsewhere, "review", desk.custodian, {"derivative_id": derivative["id"]})
    assert (r.status_code, _code(r)) == (409, "derivative_mismatch")
    r = desk.post(elsewhere, "review", desk.custodian, {"derivative_id": "no-such-file"})
    assert (r.status_code, _code(r)) == (404, "derivative_not_found")

    withheld = desk.request(evidence_id)
    for name, why in (("multi_student", "three students at 0:01"),
                      ("investigation_open", "case 26-0113 is open")):
        c.post(f"/api/v1/evidence/{evidence_id}/tags", headers=desk.custodian,
               json={"name": name, "reason": why})
    r = desk.post(withheld, "review", desk.custodian, {"derivative_id": derivative["id"]})
    assert (r.status_code, _code(r)) == (409, "decision_withholds")
    assert r.json()["error"]["details"]["effect"] == "deny_during_investigation"
    assert r.json()["error"]["details"]["citations"]

    for request_id in (unconfirmed, elsewhere, withheld):
        assert desk.state(request_id) == "open"
        assert c.get(f"/api/v1/requests/{request_id}/rounds",
                     headers=desk.custodian).json() == []
        assert not [e for e in _log(request_id) if e.action == "request.submit"]
    copies = c.get(f"/api/v1/evidence/{evidence_id}/derivatives", headers=desk.custodian)
    assert [d["kind"] for d in copies.json()] == ["redacted"]  # nothing was signed either


def test_a_file_goes_back_with_reasons_and_a_closed_request_releases_nothing(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    c = desk.client
    evidence_id = desk.recording(make_clip([KID_A], per_image=0.6))
    derivative = desk.redacted(evidence_id)
    request_id = desk.request(evidence_id)
    body = {"derivative_id": derivative["id"]}
    assert desk.post(request_id, "review", desk.custodian, body).status_code == 200
    bare = desk.post(request_id, "return", desk.reviewer)
    assert (bare.status_code, _code(bare)) == (422, "reason_required")
    back = desk.post(request_id, "return", desk.reviewer,
                     {"reason": "the name tag at 0:01 must be blacked out too"})
    assert back.status_code == 200
    assert back.json()["recordings"][0]["state"] == "open"

    assert desk.post(request_id, "review", desk.custodian, body).status_code == 200
    desk.watch_through(derivative, desk.reviewer, request_id)
    assert desk.post(request_id, "approve", desk.reviewer,
                     {"reason": "name tag now covered"}).status_code == 200
    closed = c.post(f"/api/v1/requests/{request_id}/close", headers=desk.custodian,
                    json={"reason": "the parent withdrew the request by phone"})
    assert closed.status_code == 200
    assert closed.json()["state"] == "closed"
    assert closed.json()["recordings"][0]["state"] == "closed"
    rounds = c.get(f"/api/v1/requests/{request_id}/rounds", headers=desk.custodian).json()
    assert [r["outcome"] for r in rounds] == ["returned", "withdrawn"]
    assert rounds[0]["outcome_reason"] == "the name tag at 0:01 must be blacked out too"
    r = desk.post(request_id, "release", desk.custodian, WHY_BLURRED)
    assert (r.status_code, _code(r)) == (409, "transition_not_allowed")
    r = desk.download(request_id, desk.parent)
    assert (r.status_code, _code(r)) == (409, "not_released")


def test_nothing_is_submitted_before_the_person_count_has_run(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    evidence_id = desk.recording(make_clip([KID_A], per_image=0.6), analyse=False)
    derivative = desk.redacted(evidence_id)  # the redaction worker does not count people
    request_id = desk.request(evidence_id)
    r = desk.post(request_id, "review", desk.custodian, {"derivative_id": derivative["id"]})
    assert (r.status_code, _code(r)) == (409, "analysis_pending")
    assert desk.state(request_id) == "open"


def test_a_stored_file_that_no_longer_matches_its_sign_off_is_not_released(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    from bwc_custody.db import session_scope
    from bwc_custody.redactions.models import Derivative
    from bwc_custody.vault.service import get_store

    evidence_id = desk.recording(make_clip([KID_A], per_image=0.6))
    derivative = desk.redacted(evidence_id)
    request_id = desk.request(evidence_id)
    desk.post(request_id, "review", desk.custodian, {"derivative_id": derivative["id"]})
    desk.watch_through(derivative, desk.reviewer, request_id)
    desk.post(request_id, "approve", desk.reviewer, {"reason": "faces blurred, release"})
    approved = desk.under_review(request_id)["derivative_id"]

    with session_scope() as session:
        key = session.get(Derivative, approved).object_key  # type: ignore[union-attr]
    stored: Path = get_store().path(key)  # type: ignore[attr-defined]  (the local store)
    stored.chmod(0o600)
    raw = bytearray(stored.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped bit in the ciphertext on disk
    stored.write_bytes(bytes(raw))

    r = desk.post(request_id, "release", desk.custodian, WHY_BLURRED)
    assert (r.status_code, _code(r)) == (409, "fixity_failed")
    assert desk.state(request_id) == "approved"
    assert not [e for e in _log(request_id) if e.action == "request.release"]


def test_rows_edited_to_point_an_approval_at_the_original_release_nothing(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    """An insider with the database alone (#22, finding 1): the approved derivative's row and
    the round pointed at the original's object and hash; then the signed statement too.
    Release and download check the stored bytes against the signed approval itself."""
    from sqlalchemy import text

    from bwc_custody.db import session_scope
    from bwc_custody.evidence.models import Evidence

    evidence_id = desk.recording(make_clip([KID_A], per_image=0.6))
    derivative = desk.redacted(evidence_id)
    request_id = desk.request(evidence_id)
    desk.post(request_id, "review", desk.custodian, {"derivative_id": derivative["id"]})
    desk.watch_through(derivative, desk.reviewer, request_id)
    assert desk.post(request_id, "approve", desk.reviewer,
                     {"reason": "faces blurred, release"}).status_code == 200
    approved = desk.under_review(request_id)["derivative_id"]

    def point_at_the_original() -> None:
        with session_scope() as session:
            original = session.get(Evidence, evidence_id)
            assert original is not None
            edit = {"key": original.object_key, "sha": original.sha256, "size": original.size,
                    "d": approved, "r": request_id}
            session.execute(text("UPDATE derivative SET object_key = :key, sha256 = :sha, "
                                 "size = :size WHERE id = :d"), edit)
            session.execute(text("UPDATE review_round SET sha256 = :sha, size = :size "
                                 "WHERE request_id = :r"), edit)

    point_at_the_original()
    r = desk.post(request_id, "release", desk.custodian, WHY_BLURRED)
    assert (r.status_code, _code(r)) == (409, "fixity_failed"), r.text
    assert desk.state(request_id) == "approved"

    with session_scope() as session:  # the statement too, to the original's hash
        row = session.execute(text("SELECT statement FROM review_round WHERE request_id = :r"),
                              {"r": request_id}).one()
        statement = row[0] if isinstance(row[0], dict) else json.loads(row[0])
        original = session.get(Evidence, evidence_id)
        assert original is not None
        statement["sha256"], statement["size"] = original.sha256, original.size
        session.execute(text("UPDATE review_round SET statement = :s WHERE request_id = :r"),
                        {"s": json.dumps(statement), "r": request_id})
    r = desk.post(request_id, "release", desk.custodian, WHY_BLURRED)
    assert (r.status_code, _code(r)) == (409, "approval_invalid"), r.text
    assert not [e for e in _log(request_id) if e.action == "request.release"]


def test_rows_edited_after_a_release_hand_out_nothing(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    """The same edit made after the release: the requester's download is refused before a
    byte of the original leaves."""
    from sqlalchemy import text

    from bwc_custody.db import session_scope
    from bwc_custody.evidence.models import Evidence

    evidence_id = desk.recording(make_clip([KID_A], per_image=0.6))
    derivative = desk.redacted(evidence_id)
    request_id = desk.request(evidence_id)
    desk.post(request_id, "review", desk.custodian, {"derivative_id": derivative["id"]})
    desk.watch_through(derivative, desk.reviewer, request_id)
    desk.post(request_id, "approve", desk.reviewer, {"reason": "faces blurred, release"})
    approved = desk.under_review(request_id)["derivative_id"]
    assert desk.post(request_id, "release", desk.custodian, WHY_BLURRED).status_code == 200
    assert desk.download(request_id, desk.parent).status_code == 200
    # a range from the middle, just after the whole file was checked, is not checked again
    assert desk.download(request_id, desk.parent, wanted="bytes=100-199").status_code == 206
    with session_scope() as session:
        original = session.get(Evidence, evidence_id)
        assert original is not None
        edit = {"key": original.object_key, "sha": original.sha256, "size": original.size,
                "d": approved, "r": request_id}
        session.execute(text("UPDATE derivative SET object_key = :key, sha256 = :sha, "
                             "size = :size WHERE id = :d"), edit)
        session.execute(text("UPDATE review_round SET sha256 = :sha, size = :size "
                             "WHERE request_id = :r"), edit)
    r = desk.download(request_id, desk.parent)
    assert (r.status_code, _code(r)) == (409, "fixity_failed")
    # nor does a range from the middle: the row now names another object, checked afresh
    r = desk.download(request_id, desk.parent, wanted="bytes=100-199")
    assert (r.status_code, _code(r)) == (409, "fixity_failed")


def test_a_sign_off_racing_a_tag_change_never_leaves_an_approval_on_a_stale_decision(
        desk: Desk, make_clip: Callable[..., Path]) -> None:
    """Four approvals and the tag change that voids them, all at once: whichever commits
    first, every request ends open, its round voided or never approved."""
    import threading

    from bwc_custody.auth.service import Principal
    from bwc_custody.db import session_scope
    from bwc_custody.flows import tagging
    from bwc_custody.releases import service as releases
    from bwc_custody.vault.service import get_keyring, get_signer, get_store
    from review.workflow import TransitionNotAllowed
    from tests.concurrency import run_in_threads

    evidence_id = desk.recording(make_clip([KID_A], per_image=0.6))
    derivative = desk.redacted(evidence_id)
    requests = [desk.request(evidence_id) for _ in range(4)]
    for request_id in requests:
        assert desk.post(request_id, "review", desk.custodian,
                         {"derivative_id": derivative["id"]}).status_code == 200
    for request_id in requests:  # each request's own signed copy
        desk.watch_through(derivative, desk.reviewer, request_id)
    reviewer = Principal(user_id=None, username="counsel-1",
                         roles=frozenset({Role.legal_reviewer}))
    custodian = Principal(user_id=None, username="cust-1", roles=frozenset({Role.custodian}))
    items = {request_id: desk.item(request_id) for request_id in requests}
    todo, lock = [*requests, None], threading.Lock()
    start = threading.Barrier(len(todo))

    def one() -> None:
        with lock:
            request_id = todo.pop()
        start.wait()
        with session_scope() as session:
            if request_id is None:
                tagging.add_tag(session=session, evidence_id=evidence_id, name="multi_student",
                                source="custodian", actor=custodian,
                                reason="two students seen")
                return
            try:
                releases.approve(session=session, store=get_store(), keyring=get_keyring(),
                                 signer=get_signer(), request_id=request_id,
                                 item_id=items[request_id], reason="faces blurred, release",
                                 actor=reviewer)
            except TransitionNotAllowed:
                pass  # the tag change came first and voided the review: the right answer

    assert run_in_threads(one, len(todo)) == []
    for request_id in requests:
        assert desk.state(request_id) == "open"
        rounds = desk.client.get(f"/api/v1/requests/{request_id}/rounds",
                                 headers=desk.custodian).json()
        assert [r["outcome"] for r in rounds] == ["voided"]
