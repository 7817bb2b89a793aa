"""What a legal reviewer has watched of a file under review, and whether it is enough to sign
the file off: pure arithmetic on the seconds their player reports, no database.

The reviewer's player reports the ranges it actually played and the speed it played them
at. Ranges are merged per speed class (`rate_class`), and judged against the file's length
and its flagged ranges (the low-confidence ranges the redaction manifest lists) by
`judge`.

How faster playback counts (`POLICY`, recorded in every signed sign-off):

- at normal speed or slower (rate <= 1): watched, everywhere;
- up to twice normal speed (1 < rate <= 2): watched, outside the flagged ranges. Nothing in
  such a stretch was found hard to redact, and what a reviewer checks there is that faces
  stay blurred and nothing else identifying shows or is said; at 2x the picture is still
  seen frame by frame and speech is still understood, so an hour with nothing flagged costs
  half an hour of counsel's time rather than an hour;
- faster than twice normal speed: played, not watched. It counts for nothing.
- a flagged range (with `flag_margin_s` of context either side, since a flag can be a
  single frame that no one sees in isolation) counts only when played at normal speed or
  slower: that is where the pipeline was unsure, and a face that escapes its blur for a few
  frames there is the failure the review exists to catch; at 2x those frames last half as
  long. No written attestation excuses a flagged range: it must be played.

A gap shorter than `gap_tolerance_s` in what was watched does not count as unwatched (a
player's reports land on its own clock ticks, and a seek can leave a sliver), except inside
a flagged range, where only `flag_gap_tolerance_s` (about a frame) is forgiven.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

Span = tuple[float, float]
RateClass = Literal["full", "skim", "fast"]
RATE_CLASSES: Final[tuple[RateClass, ...]] = ("full", "skim", "fast")
# ranges closer than this (a millisecond: the precision kept) are one range
_JOIN: Final[float] = 0.001


@dataclass(frozen=True)
class RatePolicy:
    """How playback speed counts toward a review (see the module's docstring for why)."""

    name: str = "bwc-review-coverage/1"
    full_rate: float = 1.0  # at or below: watched everywhere, flagged ranges included
    skim_rate: float = 2.0  # above full_rate up to this: watched outside flagged ranges
    flag_margin_s: float = 0.5  # context either side of a flagged range, watched with it
    gap_tolerance_s: float = 0.25  # a shorter gap outside flagged ranges is not unwatched
    flag_gap_tolerance_s: float = 0.05  # ... and inside them (about one frame)
    end_slack_s: float = 0.5  # a report may pass the file's known length by this much

    def to_dict(self) -> dict[str, Any]:
        """The policy as recorded in a signed sign-off."""
        return {"name": self.name, "full_rate": self.full_rate, "skim_rate": self.skim_rate,
                "flag_margin_s": self.flag_margin_s, "gap_tolerance_s": self.gap_tolerance_s,
                "flag_gap_tolerance_s": self.flag_gap_tolerance_s,
                "counts": {"rate <= full_rate": "everywhere",
                           "full_rate < rate <= skim_rate": "outside flagged ranges",
                           "rate > skim_rate": "nowhere"}}


POLICY: Final[RatePolicy] = RatePolicy()


def rate_class(rate: float, policy: RatePolicy = POLICY) -> RateClass:
    """`full`, `skim` or `fast`: how a range played at `rate` counts under `policy`."""
    if rate <= policy.full_rate:
        return "full"
    return "skim" if rate <= policy.skim_rate else "fast"


def _ms(value: float) -> float:
    return round(value, 3)


def merge(spans: Iterable[Span]) -> list[Span]:
    """`spans` as sorted, disjoint ranges (overlapping or touching ones joined), to the ms."""
    out: list[Span] = []
    for start, end in sorted((_ms(s), _ms(e)) for s, e in spans if e > s):
        if out and start <= out[-1][1] + _JOIN:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def subtract(spans: Iterable[Span], minus: Iterable[Span]) -> list[Span]:
    """The parts of `spans` outside every range of `minus` (merged, to the ms)."""
    return _cut(merge(spans), merge(minus))


def _cut(spans: Sequence[Span], cuts: Sequence[Span]) -> list[Span]:
    """`subtract` of merged `cuts` from merged `spans`, in one sweep over both (an hour
    watched in a thousand pieces is judged against each flagged range in milliseconds)."""
    out: list[Span] = []
    first = 0
    for start, end in spans:
        at = start
        # the cuts wholly before this span are before every later span too
        while first < len(cuts) and cuts[first][1] <= at:
            first += 1
        i = first
        while i < len(cuts) and cuts[i][0] < end:
            c0, c1 = cuts[i]
            if c0 > at:
                out.append((at, c0))
            at = max(at, c1)
            if at >= end:
                break
            i += 1
        if at < end:
            out.append((at, end))
    return out


def clip(spans: Iterable[Span], start: float, end: float) -> list[Span]:
    """`spans` cut to [start, end]."""
    return merge((max(s, start), min(e, end)) for s, e in spans)


def total(spans: Iterable[Span]) -> float:
    """The seconds `spans` cover (merged first, so overlaps count once)."""
    return _ms(sum(e - s for s, e in merge(spans)))


def gaps(within: Span, covered: Iterable[Span], tolerance: float) -> list[Span]:
    """The parts of `within` outside `covered`, each longer than `tolerance`."""
    return _gaps(within, merge(covered), tolerance)


def _gaps(within: Span, merged: Sequence[Span], tolerance: float) -> list[Span]:
    """`gaps` in already merged `covered`: only the ranges that can meet `within` are read."""
    first = max(0, bisect_right(merged, (within[0], within[0])) - 1)
    last = bisect_left(merged, (within[1], within[1]))
    return [g for g in _cut(merge([within]), merged[first:last + 1])
            if g[1] - g[0] > tolerance]


@dataclass(frozen=True)
class FlagVerdict:
    """One flagged range: as the manifest lists it, the span that must be watched at normal
    speed (the range with its margin), and what of that span is still unwatched."""

    start: float
    end: float
    reason: str
    span: Span
    unwatched: list[Span]

    @property
    def watched(self) -> bool:
        """Whether the whole span was played at normal speed or slower."""
        return not self.unwatched

    def to_dict(self) -> dict[str, Any]:
        """As the API and the signed sign-off show it."""
        return {"start": self.start, "end": self.end, "reason": self.reason,
                "span": _out([self.span])[0], "unwatched": _out(self.unwatched),
                "watched": self.watched}


@dataclass(frozen=True)
class Verdict:
    """What one reviewer has watched of one file, judged under a policy."""

    duration: float | None
    covered: list[Span]  # watched outside flagged ranges (normal speed or up to skim_rate)
    covered_full: list[Span]  # watched at normal speed or slower (what flagged ranges need)
    too_fast: list[Span]  # played faster than skim_rate and not otherwise watched
    uncovered: list[Span]  # of the whole file, longer than the gap tolerance
    flags: list[FlagVerdict]
    policy: RatePolicy

    @property
    def flags_watched(self) -> bool:
        """Whether every flagged range was played at normal speed or slower."""
        return all(f.watched for f in self.flags)

    @property
    def whole_file(self) -> bool:
        """Whether every second of the file was watched (False while its length is unknown:
        then nobody can show it was)."""
        return self.duration is not None and not self.uncovered

    @property
    def complete(self) -> bool:
        """Whether this is enough to sign off without an attestation."""
        return self.whole_file and self.flags_watched

    @property
    def flagged_s(self) -> float:
        """The seconds of the file inside a flagged range's span (margins included): what
        must be played at normal speed."""
        return total(f.span for f in self.flags)

    @property
    def least_watch_s(self) -> float | None:
        """The least playing time a whole review of the file takes under the policy: its
        flagged spans at normal speed, the rest at up to `skim_rate` (None while the length
        is unknown). Dark footage is flagged as a whole, so a night recording costs its own
        length: counsel plans a review with this."""
        if self.duration is None:
            return None
        rest = max(0.0, self.duration - self.flagged_s)
        return _ms(self.flagged_s + rest / self.policy.skim_rate)

    @property
    def flagged_left_s(self) -> float:
        """The unwatched parts of the flagged spans: playing time at normal speed that no
        attestation excuses."""
        return total(g for f in self.flags for g in f.unwatched)

    @property
    def rest_left_s(self) -> float:
        """The footage still unwatched once the flagged spans' unwatched parts are watched
        (gaps the tolerance forgives then left out): to be watched at up to `skim_rate`, or
        attested. Judged as the file would be then, so that nothing is left to watch only
        where nothing is left to do (a sliver beside a flagged span that the span's
        watching will absorb is not counted; one that stays a real gap is)."""
        if self.duration is None:
            return 0.0  # nothing can be shown unwatched of a file of unknown length
        flagged = [g for f in self.flags for g in f.unwatched]
        return total(_gaps((0.0, self.duration), merge([*self.covered, *flagged]),
                           self.policy.gap_tolerance_s))

    @property
    def watch_left_s(self) -> float | None:
        """The least playing time left before this is `complete` (no attestation needed):
        `flagged_left_s` at normal speed and `rest_left_s` at up to `skim_rate` (None while
        the length is unknown)."""
        if self.duration is None:
            return None
        return _ms(self.flagged_left_s + self.rest_left_s / self.policy.skim_rate)

    def to_dict(self) -> dict[str, Any]:
        """As the API and the signed sign-off show it."""
        return {"duration_s": self.duration, "covered": _out(self.covered),
                "covered_at_normal_speed": _out(self.covered_full),
                "played_too_fast": _out(self.too_fast), "uncovered": _out(self.uncovered),
                "covered_s": total(self.covered),
                "uncovered_s": total(self.uncovered),
                "flagged": [f.to_dict() for f in self.flags],
                "whole_file": self.whole_file, "flags_watched": self.flags_watched,
                "complete": self.complete, "policy": self.policy.to_dict()}

    def watch_times(self) -> dict[str, float | None]:
        """What the reviewer's page shows to plan the review with (not part of a signed
        sign-off: figures derived from what it records)."""
        return {"flagged_s": self.flagged_s, "least_watch_s": self.least_watch_s,
                "watch_left_s": self.watch_left_s, "flagged_left_s": self.flagged_left_s,
                "rest_left_s": self.rest_left_s}


def _out(spans: Sequence[Span]) -> list[dict[str, float]]:
    return [{"start": s, "end": e} for s, e in spans]


def judge(*, duration: float | None, played: Mapping[str, Sequence[Span]],
          flags: Sequence[tuple[float, float, str]],
          policy: RatePolicy = POLICY) -> Verdict:
    """What the ranges `played` (by rate class) cover of a file `duration` seconds long
    (None: not known) with the flagged ranges `flags` ((start, end, reason), seconds), under
    `policy`."""
    full = merge(played.get("full", ()))
    covered = merge([*full, *played.get("skim", ())])
    too_fast = subtract(played.get("fast", ()), covered)
    end = duration if duration is not None else max((e for _s, e in covered), default=0.0)
    uncovered = _gaps((0.0, end), covered, policy.gap_tolerance_s) if duration is not None \
        else []
    judged = []
    for start, stop, reason in flags:
        # a flag at or past the file's end (its frame times and its probed length disagree)
        # asks for the file's last moments: clamped, its span had ended before it began and
        # counted as watched
        at = min(start, end) if duration is not None else start
        span = (_ms(max(0.0, at - policy.flag_margin_s)),
                _ms(min(end, max(stop, at) + policy.flag_margin_s) if duration is not None
                    else stop + policy.flag_margin_s))
        judged.append(FlagVerdict(start=_ms(start), end=_ms(stop), reason=reason, span=span,
                                  unwatched=_gaps(span, full, policy.flag_gap_tolerance_s)))
    return Verdict(duration=duration, covered=covered, covered_full=full, too_fast=too_fast,
                   uncovered=uncovered, flags=judged, policy=policy)
