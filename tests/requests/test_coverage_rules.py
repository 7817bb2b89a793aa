"""The arithmetic of a review that means watched (review/coverage.py): ranges merged and cut,
speeds classed, and a file judged against its length and its flagged ranges."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from review.coverage import POLICY, judge, merge, rate_class, subtract, total


def test_ranges_merge_and_subtract_to_the_millisecond() -> None:
    assert merge([(3.0, 4.0), (0.0, 1.0), (0.9, 2.0), (2.0005, 2.5), (5.0, 5.0)]) == [
        (0.0, 2.5), (3.0, 4.0)]
    assert subtract([(0.0, 10.0)], [(2.0, 3.0), (2.5, 4.0), (9.0, 12.0)]) == [
        (0.0, 2.0), (4.0, 9.0)]
    assert total([(0.0, 2.0), (1.0, 3.0)]) == 3.0


def test_speed_classes_follow_the_policy() -> None:
    assert [rate_class(r) for r in (0.5, 1.0, 1.5, 2.0, 2.01, 16)] == [
        "full", "full", "skim", "skim", "fast", "fast"]
    assert (POLICY.full_rate, POLICY.skim_rate) == (1.0, 2.0)


def test_a_file_skimmed_at_2x_is_watched_except_where_flagged() -> None:
    flags = [(4.0, 4.0, "weak_detection")]  # one frame flagged
    skimmed = judge(duration=10.0, played={"skim": [(0.0, 10.0)]}, flags=flags)
    assert (skimmed.whole_file, skimmed.uncovered) == (True, [])
    [flag] = skimmed.flags
    assert flag.span == (3.5, 4.5)  # with its half second of context either side
    assert flag.unwatched == [(3.5, 4.5)]
    assert not skimmed.complete

    rewatched = judge(duration=10.0, played={"skim": [(0.0, 10.0)], "full": [(3.4, 4.6)]},
                      flags=flags)
    assert rewatched.complete


def test_too_fast_counts_for_nothing_and_small_gaps_are_forgiven_outside_flags() -> None:
    v = judge(duration=10.0, played={"full": [(0.0, 4.9), (5.1, 6.0), (6.1, 9.9)],
                                     "fast": [(4.0, 10.0)]},
              flags=[(5.0, 5.5, "weak_detection")])
    assert v.uncovered == []  # gaps of 0.2 s and 0.1 s, and 0.1 s at the end
    assert v.too_fast == [(4.9, 5.1), (6.0, 6.1), (9.9, 10.0)]
    [flag] = v.flags
    assert flag.unwatched == [(4.9, 5.1)]  # inside a flagged range a 0.2 s gap is not forgiven
    assert not v.complete
    late = judge(duration=10.0, played={"full": [(0.0, 4.0)]}, flags=[])
    assert late.uncovered == [(4.0, 10.0)]
    assert late.to_dict()["uncovered"] == [{"start": 4.0, "end": 10.0}]


def test_a_flag_past_the_files_end_asks_for_its_last_moments() -> None:
    """Frame times and the probed length can disagree; a flag wholly past the end had a span
    that ended before it began, and counted as watched."""
    v = judge(duration=10.0, played={"skim": [(0.0, 10.0)]},
              flags=[(10.4, 11.0, "weak_detection")])
    [flag] = v.flags
    assert flag.span == (9.5, 10.0)
    assert flag.unwatched == [(9.5, 10.0)]
    assert not v.complete
    assert judge(duration=10.0, played={"skim": [(0.0, 10.0)], "full": [(9.4, 10.0)]},
                 flags=[(10.4, 11.0, "weak_detection")]).complete


def test_a_gap_split_by_a_flagged_span_is_still_left_to_watch() -> None:
    """A 0.26 s gap, 0.23 s of it before a flag's span and 0.03 s inside: the span forgives
    its part (a frame), but the gap as a whole is unwatched. The panel said nothing was left
    to watch while the file was not complete: the part outside was cut to a sliver and
    dropped."""
    v = judge(duration=10.0, played={"full": [(0.0, 4.27), (4.53, 10.0)]},
              flags=[(5.0, 5.0, "weak_detection")])
    assert (v.uncovered, v.flags_watched, v.complete) == ([(4.27, 4.53)], True, False)
    assert v.rest_left_s == pytest.approx(0.26)
    assert v.watch_left_s == pytest.approx(0.13)


# times on a 10 ms grid: a gap meeting a span's edge within a frame is what goes wrong
_AT = st.integers(0, 1000).map(lambda n: n / 100)


@settings(deadline=None)  # pure arithmetic; a loaded CI machine is no reason to fail it
@given(played=st.lists(st.tuples(_AT, _AT, st.sampled_from(["full", "skim", "fast"])),
                       max_size=8),
       flags=st.lists(st.tuples(_AT, _AT), max_size=3))
def test_something_is_left_to_watch_exactly_while_the_review_is_not_complete(
        played: list[tuple[float, float, str]], flags: list[tuple[float, float]]) -> None:
    ranges: dict[str, list[tuple[float, float]]] = {}
    for start, length, cls in played:
        ranges.setdefault(cls, []).append((start, min(10.0, start + length / 3)))
    v = judge(duration=10.0, played=ranges,
              flags=[(s, s + n / 5, "weak_detection") for s, n in flags])
    assert v.watch_left_s is not None
    assert (v.watch_left_s > 0) == (not v.complete), (v.watch_left_s, v.to_dict())


def test_a_file_of_unknown_length_is_never_wholly_watched() -> None:
    v = judge(duration=None, played={"full": [(0.0, 60.0)]}, flags=[(10.0, 11.0, "crowd_limit")])
    assert (v.whole_file, v.flags_watched, v.complete) == (False, True, False)
    assert (v.least_watch_s, v.watch_left_s) == (None, None)


def test_the_least_watching_time_counts_flagged_spans_at_normal_speed() -> None:
    # 100 s with a dark range 20-40 s and a one-frame flag at 70 s: their spans (margins
    # included) 19.5-40.5 and 69.5-70.5, 22 s at normal speed, the other 78 s at 2x
    flags = [(20.0, 40.0, "dark_footage"), (70.0, 70.0, "weak_detection")]
    fresh = judge(duration=100.0, played={}, flags=flags)
    assert fresh.flagged_s == 22.0
    assert fresh.least_watch_s == fresh.watch_left_s == 22.0 + 78.0 / 2
    assert "least_watch_s" not in fresh.to_dict()  # the signed sign-off records no estimate
    assert fresh.watch_times()["least_watch_s"] == 61.0

    # skimmed all of it at 2x: only the flagged spans are left, at normal speed
    skimmed = judge(duration=100.0, played={"skim": [(0.0, 100.0)]}, flags=flags)
    assert (skimmed.least_watch_s, skimmed.watch_left_s, skimmed.flagged_left_s,
            skimmed.rest_left_s) == (61.0, 22.0, 22.0, 0.0)
    # ... and the dark range watched at normal speed too: the frame's second is left
    most = judge(duration=100.0, played={"skim": [(0.0, 100.0)], "full": [(19.0, 41.0)]},
                 flags=flags)
    assert most.watch_left_s == 1.0
    # the first half watched at normal speed: the dark span's rest is not counted twice
    half = judge(duration=100.0, played={"full": [(0.0, 50.0)]}, flags=flags)
    assert (half.watch_left_s, half.flagged_left_s, half.rest_left_s) == (
        1.0 + 49.0 / 2, 1.0, 49.0)
    # flags that overlap count once; a sliver beside a flagged span that watching the span
    # would forgive is not counted
    both = judge(duration=100.0, played={"full": [(0.0, 19.4), (40.6, 100.0)]},
                 flags=[(20.0, 40.0, "dark_footage"), (30.0, 30.0, "weak_detection")])
    assert (both.flagged_s, both.flagged_left_s, both.watch_left_s) == (21.0, 21.0, 21.0)
    done = judge(duration=100.0, played={"full": [(0.0, 100.0)]}, flags=flags)
    assert (done.complete, done.watch_left_s) == (True, 0.0)
