"""Keep-person decides by place: a detection stays sharp only on a chosen person's track at
that frame, with no one else's face as near; never beyond a track's ends or across a long
gap; two faces the count's boxes cannot tell apart are both blurred."""

from __future__ import annotations

from redaction.detect import Box
from redaction.keepperson import KeepPeople, TrackPath

KID = TrackPath.of(1, "7-1", [(0, 100, 100, 150, 160), (6, 112, 100, 162, 160),
                              (12, 124, 100, 174, 160), (60, 300, 100, 350, 160)])
OTHER = TrackPath.of(2, None, [(0, 400, 100, 450, 160), (12, 400, 100, 450, 160)])


def _keep(tracks: list[TrackPath], frame: int, boxes: list[Box]) -> list[str | None]:
    return KeepPeople(tracks, sample_every=6).decide(frame, boxes)[0]


def test_the_chosen_face_is_kept_where_the_count_saw_it_and_between_samples() -> None:
    assert _keep([KID, OTHER], 0, [Box(101, 99, 151, 161), Box(401, 100, 451, 160)]) == [
        "7-1", None]
    assert _keep([KID, OTHER], 3, [Box(106, 100, 156, 160)]) == ["7-1"]  # interpolated


def test_nothing_is_kept_beyond_a_track_or_across_a_long_gap() -> None:
    assert _keep([KID], 30, [Box(200, 100, 250, 160)]) == [None]  # 12 -> 60: too far apart
    assert _keep([KID], 65, [Box(300, 100, 350, 160)]) == ["7-1"]  # until the next sample
    assert _keep([KID], 66, [Box(300, 100, 350, 160)]) == [None]  # after its last sample
    assert _keep([KID], 12, [Box(300, 300, 350, 360)]) == [None]  # somewhere else


def test_a_face_as_near_to_someone_else_is_blurred() -> None:
    beside = TrackPath.of(3, None, [(0, 110, 100, 160, 160), (12, 130, 100, 180, 160)])
    assert _keep([KID, beside], 0, [Box(101, 99, 151, 161)]) == [None]


def test_the_manifest_summary_counts_what_was_kept() -> None:
    people = KeepPeople([KID, OTHER], sample_every=6, persons=[{"id": "7-1"}])
    people.decide(0, [Box(101, 99, 151, 161), Box(300, 300, 350, 360)])
    people.decide(6, [Box(150, 100, 200, 160)])  # overlaps the kid's box, too little
    summary = people.summary()
    assert summary["kept_keyframe_faces"] == {"7-1": 1}
    assert summary["tracks_chosen"] == [1]
    assert summary["near_misses"] == 1
