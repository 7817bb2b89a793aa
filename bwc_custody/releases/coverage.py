"""A review that means watched: the seconds of a file under review each legal reviewer's
player reports having played, kept per reviewer and review round (one exact file), and the
check a sign-off must pass.

The player reports the ranges it played since its last report, each with its playback rate
(`report`); the server checks them against the file (an end after its start, within the
file's length), merges them per speed class and refuses a report that claims more playing
time than has passed since the reviewer began streaming the file. What counts, and at which
speed, is `review.coverage.POLICY` (normal speed everywhere; up to 2x outside the flagged
low-confidence ranges; faster for nothing). A sign-off (`signoff_coverage`, called by
`releases.service.approve`) needs the whole file watched, or the reviewer's written
attestation of why the rest need not be; every flagged range must be watched at normal speed
regardless. Each report that adds anything is a custody entry (`review.coverage`), and the
signed approval records the coverage, the policy and the attestation.

The file's length is the original's, as probed at ingest: a redacted copy keeps every frame
at its source timestamp (redaction/pipeline.py), so the two agree to within a frame or so,
which the policy's gap tolerance absorbs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlmodel import Session, col, select

from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.custody.models import CustodyEntry
from bwc_custody.evidence.service import get_or_raise as get_evidence_or_raise
from bwc_custody.reasons import MIN_REASON
from bwc_custody.redactions.models import Derivative
from bwc_custody.redactions.service import get_derivative
from bwc_custody.releases.errors import (
    CoverageImplausible,
    CoverageRangeInvalid,
    FlaggedNotCovered,
    NotInReview,
    NotViewed,
    ReviewNotCovered,
)
from bwc_custody.releases.models import CoverageRead, CoverageReport, ReviewCoverage, ReviewRound
from bwc_custody.requests import service as requests
from bwc_custody.requests.models import RequestRecording
from bwc_custody.timeutil import as_utc, utcnow, video_clock
from redaction.manifest import FLAG_LABELS
from review.coverage import (
    POLICY,
    RATE_CLASSES,
    Span,
    Verdict,
    judge,
    merge,
    rate_class,
    subtract,
    total,
)

# A report may claim this many seconds of playing beyond the time since the first stream
# began (rounding: the stream is logged when the player asks for the file, before it plays
# a frame, on the same server clock).
PLAY_SLACK_S = 1.0


def first_stream_at(session: Session, *, reviewer: str, evidence_id: str,
                    round_: ReviewRound) -> datetime | None:
    """When `reviewer` first streamed the round's exact file after it was submitted (the
    log says), or None if they have not."""
    seen = session.exec(select(CustodyEntry).where(
        CustodyEntry.action == "derivative.stream", CustodyEntry.actor == reviewer,
        CustodyEntry.target_id == evidence_id, col(CustodyEntry.seq) > round_.submit_seq)
        .order_by(col(CustodyEntry.seq)))
    return next((as_utc(e.at) for e in seen if e.details.get("derivative_id")
                 == round_.derivative_id and e.details.get("sha256") == round_.sha256), None)


def _in_review(session: Session, item: RequestRecording) -> ReviewRound:
    """The round under review of the recording, or NotInReview."""
    found = session.exec(select(ReviewRound).where(ReviewRound.item_id == item.id)
                         .where(col(ReviewRound.outcome).is_(None))
                         .order_by(col(ReviewRound.id).desc()).limit(1)).first()
    if item.state != "in_review" or found is None:
        raise NotInReview(f"recording {item.position} of request {item.request_id} is "
                          f"{item.state}: no file is under review", state=item.state)
    return found


def _duration(session: Session, derivative: Derivative) -> float | None:
    """The file's length in seconds (its original's, probed at ingest), None if unknown."""
    evidence = get_evidence_or_raise(session=session, evidence_id=derivative.evidence_id)
    value = (evidence.media or {}).get("duration_s")
    return float(value) if isinstance(value, int | float) and value > 0 else None


def _flags(derivative: Derivative) -> list[tuple[float, float, str]]:
    """The file's flagged ranges (the manifest's low-confidence ranges), in seconds."""
    return [(float(f["start_time"]), float(f.get("end_time", f["start_time"])),
             str(f.get("reason", "low_confidence")))
            for f in derivative.flags or [] if "start_time" in f]


def _played(row: ReviewCoverage | None) -> dict[str, list[Span]]:
    stored = row.played if row is not None else {}
    return {c: merge((float(s), float(e)) for s, e in stored.get(c, [])) for c in RATE_CLASSES}


def _row(session: Session, round_: ReviewRound, reviewer: str) -> ReviewCoverage | None:
    return session.exec(select(ReviewCoverage).where(ReviewCoverage.round_id == round_.id)
                        .where(ReviewCoverage.reviewer == reviewer)).first()


def _verdict(session: Session, round_: ReviewRound, row: ReviewCoverage | None) -> Verdict:
    derivative = get_derivative(session=session, derivative_id=round_.derivative_id)
    return judge(duration=_duration(session, derivative), played=_played(row),
                 flags=_flags(derivative))


class ReviewTime(NamedTuple):
    """How long a whole legal review of a file takes at the least."""

    least_s: float  # playing time: flagged spans at normal speed, the rest at up to 2x
    flagged_s: float  # of the file, flagged footage (played at normal speed only)


def review_time(*, session: Session, derivative: Derivative) -> ReviewTime | None:
    """How long a whole legal review of `derivative` takes at the least, before anyone has
    watched any of it, for the custodian choosing which copy to submit and counsel planning
    the queue; None where the file's length is not known."""
    verdict = judge(duration=_duration(session, derivative), played={},
                    flags=_flags(derivative))
    least = verdict.least_watch_s
    return None if least is None else ReviewTime(least, verdict.flagged_s)


def review_times(*, session: Session, item_ids: Sequence[str]) -> dict[str, ReviewTime]:
    """`review_time` of the file under review on each of these request recordings that has
    one (by item id)."""
    if not item_ids:
        return {}
    rounds = session.exec(select(ReviewRound).where(col(ReviewRound.item_id).in_(item_ids))
                          .where(col(ReviewRound.outcome).is_(None)))
    out = {}
    for round_ in rounds:
        took = review_time(session=session, derivative=get_derivative(
            session=session, derivative_id=round_.derivative_id))
        if took is not None:
            out[round_.item_id] = took
    return out


def _read(round_: ReviewRound, reviewer: str, verdict: Verdict) -> CoverageRead:
    assert round_.id is not None
    return CoverageRead.model_validate({
        "round_id": round_.id, "reviewer": reviewer, "derivative_id": round_.derivative_id,
        "sha256": round_.sha256, **verdict.to_dict(), **verdict.watch_times()})


def of_round(*, session: Session, round_: ReviewRound, reviewer: str) -> CoverageRead:
    """What `reviewer` has watched of the round's file, and what is still missing."""
    return _read(round_, reviewer, _verdict(session, round_, _row(session, round_, reviewer)))


def current(*, session: Session, request_id: str, item_id: str,
            actor: Principal) -> CoverageRead:
    """What `actor` has watched of the file under review on this recording of the request."""
    item = requests.get_recording_or_raise(session=session, request_id=request_id,
                                           item_id=item_id)
    return of_round(session=session, round_=_in_review(session, item),
                    reviewer=actor.username)


def _checked(body: CoverageReport, duration: float | None) -> list[tuple[float, float, float]]:
    """The reported ranges (start, end, rate), each ending after it starts and lying within
    the file (an end up to the policy's slack past the known length is cut to it), else
    CoverageRangeInvalid naming the first range that does not."""
    out = []
    for i, r in enumerate(body.ranges):
        problem = ("its end is not after its start" if r.end <= r.start
                   else "it starts before the file does" if r.start < 0
                   else "it ends after the file does"
                   if duration is not None and r.end > duration + POLICY.end_slack_s
                   else None)
        if problem is not None:
            raise CoverageRangeInvalid(
                f"played range {i} ({r.start:g}-{r.end:g} s) is not part of the file: "
                f"{problem}", index=i, start=r.start, end=r.end, duration_s=duration)
        end = min(r.end, duration) if duration is not None else r.end
        if end > r.start:
            out.append((r.start, end, r.rate))
    return out


def report(*, session: Session, request_id: str, item_id: str, body: CoverageReport,
           actor: Principal, client_addr: str = "") -> CoverageRead:
    """Add the ranges a legal reviewer's player played of the file under review to what they
    have watched; returns what they have watched and what is still missing."""
    request, item = requests.get_for_transition(session=session, request_id=request_id,
                                                item_id=item_id)
    assert item is not None
    round_ = _in_review(session, item)
    started = first_stream_at(session, reviewer=actor.username, evidence_id=item.evidence_id,
                              round_=round_)
    if started is None:
        raise NotViewed("nothing of the file under review was streamed to you since it was "
                        "submitted: play it in the player first",
                        derivative_id=round_.derivative_id)
    derivative = get_derivative(session=session, derivative_id=round_.derivative_id)
    ranges = _checked(body, _duration(session, derivative))
    row = _row(session, round_, actor.username)
    played = _played(row)
    added: dict[str, list[Span]] = {}
    took = 0.0
    for start, end, rate in ranges:
        cls = rate_class(rate)
        new = subtract([(start, end)], played[cls])
        if new:
            took += total(new) / rate
            played[cls] = merge([*played[cls], *new])
            added[cls] = merge([*added.get(cls, []), *new])
    if not added:  # all of it was already counted: nothing to keep or log
        return _read(round_, actor.username, _verdict(session, round_, row))
    if row is None:
        assert round_.id is not None
        row = ReviewCoverage(round_id=round_.id, reviewer=actor.username,
                             derivative_id=round_.derivative_id, sha256=round_.sha256)
    elapsed = (utcnow() - started).total_seconds()
    if row.played_for_s + took > elapsed + PLAY_SLACK_S:
        raise CoverageImplausible(
            f"the ranges reported take {row.played_for_s + took:.1f} s to play at their "
            f"speeds, but the file was first streamed to you {elapsed:.1f} s ago",
            claimed_s=round(row.played_for_s + took, 3), elapsed_s=round(elapsed, 3))
    row.played = {c: [[s, e] for s, e in spans] for c, spans in played.items() if spans}
    row.played_for_s = round(row.played_for_s + took, 3)
    row.reports += 1
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    verdict = _verdict(session, round_, row)
    custody.append(session=session, actor=actor, action="review.coverage",
                   target_type="records_request", target_id=request.id,
                   client_addr=client_addr,
                   details={"round_id": round_.id, "item_id": item.id,
                            "derivative_id": round_.derivative_id, "sha256": round_.sha256,
                            "added": {c: [[s, e] for s, e in spans]
                                      for c, spans in added.items()},
                            "covered_s": total(verdict.covered),
                            "uncovered_s": total(verdict.uncovered),
                            "complete": verdict.complete})
    return _read(round_, actor.username, verdict)


def _what_happened(reason: str) -> str:
    """A flag's reason as its label's first half, what happened there (the second half, what
    to check, is on the reviewer's panel)."""
    return FLAG_LABELS.get(reason, reason.replace("_", " ")).split(": ")[0]


def signoff_coverage(*, session: Session, round_: ReviewRound, reviewer: str,
                     attestation: str) -> dict[str, Any]:
    """What the signed approval records of `reviewer`'s watching of the round's file (the
    ranges, the speed policy, the attestation), once it is enough to sign: every flagged
    range watched at normal speed (else FlaggedNotCovered), and the whole file watched or
    an attestation of why the rest need not be (else ReviewNotCovered)."""
    row = _row(session, round_, reviewer)
    verdict = _verdict(session, round_, row)
    shown = verdict.to_dict()
    if not verdict.flags_watched:
        missing = [f for f in shown["flagged"] if not f["watched"]]
        raise FlaggedNotCovered(
            "watch every flagged range at normal speed before signing off (no attestation "
            "excuses a flagged range): " + "; ".join(
                f"{video_clock(f['span']['start'])}-{video_clock(f['span']['end'])}: "
                + _what_happened(f["reason"]) for f in missing), flagged=missing)
    text = attestation.strip()
    if not verdict.whole_file and len(text) < MIN_REASON:
        where = ("the file's length is not known, so whether all of it was watched cannot "
                 "be shown" if verdict.duration is None else "still unwatched: " + ", ".join(
                     f"{video_clock(g['start'])}-{video_clock(g['end'])}"
                     for g in shown["uncovered"]))
        raise ReviewNotCovered(
            f"watch the whole file, or attest in writing (at least {MIN_REASON} characters) "
            f"why the rest need not be watched; {where}", uncovered=shown["uncovered"],
            duration_s=verdict.duration, min_length=MIN_REASON)
    return {**shown, "attestation": text or None,
            "reports": row.reports if row is not None else 0,
            "played_for_s": row.played_for_s if row is not None else 0.0}
