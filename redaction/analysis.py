"""Person counting: how many distinct people a video shows, and when each is seen.

Frames are streamed from ffmpeg (never the whole video in memory), every Nth frame is
sampled and faces are found by the redaction detector (`redaction.detect`, CenterFace), on a
dark sample brightened as the redactor does (`exposure`).
Detections are linked into tracks where the camera's motion between samples carries the
previous box (`analysis_link`); each track keeps its largest, sharpest crops, encoded with
face_recognition (128-d) by the encoder processes (`redaction.encoders`) from the moment
the track ends, while the video is still being read. Fragments of one face are joined again
by place, time and appearance; tracks are then clustered over the whole video with complete
linkage under a strict distance threshold and a cannot-link rule (two tracks seen at the
same time are two people) (`analysis_cluster`). When unsure the pipeline counts
two people: a student merged into another student, or into a known adult, would weaken the
protection of KRS 610.320.

Layout: `analysis_settings` (the knobs), `analysis_video` (frames, camera motion, cuts),
`redaction.encoders` (crops, encodings, the encoder pool), `analysis_link` (tracks),
`analysis_cluster` (persons, known adults), and this module (the public API: `analyze_file`,
`PersonCount`). Known adults' reference photos are encoded by `redaction.keepface`, under the
same rules as keep-face photos.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from redaction import analysis_faces
from redaction.analysis_cluster import (
    KnownAdult,
    cluster_tracks,
    match_known,
    mean_encoding,
)
from redaction.analysis_link import (
    Candidate,
    Track,
    absorb_fragments,
    advance,
    join_fragments,
    link,
    seen_from_front,
)
from redaction.analysis_settings import ANALYSIS_VERSION, AnalysisSettings
from redaction.analysis_video import (
    encodable,
    estimate_motion,
    histogram,
    motion_grey,
    probe,
    sample_size,
    sampled_frames,
)
from redaction.detect import Detector, exposure, make_detector, merge
from redaction.encoders import (
    Crop,
    crop_quality,
    default_encoders,
    encode_later,
    face_crop,
    receive,
)

__all__ = ["ANALYSIS_VERSION", "AnalysisSettings", "KnownAdult", "PersonCount",
           "TrackResult", "analyze_file", "build_result",
           "collect_tracks", "result_json"]


@dataclass
class TrackResult:
    """One followed face: first/last frame, how often seen, which person it belongs to."""

    id: int
    person: int
    first_frame: int
    last_frame: int
    first_s: float
    last_s: float
    detections: int
    encoded: int
    max_score: float
    known_adult: str | None = None


@dataclass
class PersonCount:
    """What a video shows: distinct people, their tracks, and how the analysis ran."""

    distinct_people: int
    unidentified_people: int
    known_adults: list[str]
    tracks: list[TrackResult]
    frames_total: int
    frames_analysed: int
    fps: float
    width: int
    height: int
    seconds: float
    settings: dict[str, Any]
    version: str = ANALYSIS_VERSION
    # every track's boxes and face thumbnails (for the studio; stored encrypted apart from
    # the count, never in to_dict)
    faces: list[analysis_faces.TrackFaces] = field(default_factory=list)
    # frames where the picture cut to another scene (every track ends there)
    cuts: list[int] = field(default_factory=list)

    @property
    def frames_per_second(self) -> float:
        """Video frames covered per second of analysis time."""
        return self.frames_total / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the faces)."""
        d = asdict(replace(self, faces=[]))
        del d["faces"]
        d["analysis_fps"] = round(self.frames_per_second, 2)
        return d


# A finished track's observations waiting for their encodings: (track, observation
# indices, their crops, the encodings in order).
Pending = list[tuple[Track, list[int], list[Crop], "Future[list[np.ndarray]]"]]


def _encode_track(t: Track, pending: Pending, encoders: int) -> None:
    """Send a finished track's kept crops to be encoded (the track keeps no pixels)."""
    assert not t.encoded, t.id
    crops = [(c.crop, c.location) for c in t.candidates]
    pending.append((t, [c.index for c in t.candidates], crops, encode_later(crops, encoders)))
    t.candidates = []
    t.encoded = True
    analysis_faces.seal(t.thumbs)


def _receive_encodings(pending: Pending) -> None:
    encodings = receive([(crops, future) for _, _, crops, future in pending])
    for (t, indices, _, _), encs in zip(pending, encodings, strict=True):
        for k, enc in zip(indices, encs, strict=True):
            t.obs[k].enc = enc


def collect_tracks(src: str, s: AnalysisSettings, detector: Detector | None = None,
                   encoders: int | None = None) -> tuple[list[Track], dict[str, Any]]:
    """Decode, sample, detect, link and encode: the raw tracks and facts about the video
    (with the camera motion per sampled frame, for joining fragments later). Encoding runs
    in `encoders` processes beside the loop (default: one per CPU; 0: in this process); the
    encodings are the same either way."""
    workers = default_encoders() if encoders is None else encoders
    pending: Pending = []
    width, height, rate, nb_frames = probe(src)
    fps = float(rate)
    every = max(1, round(fps / s.sample_fps))
    thumb_gap = max(1, round(analysis_faces.THUMB_GAP_S * fps))
    det = detector or make_detector(s.detector, threshold=s.track_score,
                                    detect_area=s.detect_area, backend=s.detect_backend)
    tracks: dict[int, Track] = {}  # every track, by id
    live: list[Track] = []  # those a detection may still continue
    counter = iter(range(1, 1 << 30))
    last_frame = -1
    prev_hist: np.ndarray | None = None
    prev_grey: np.ndarray | None = None
    cuts: list[int] = []
    frames: list[int] = []
    lifted_frames: set[int] = set()  # samples searched lifted (dark, or dark with a light)
    motion: dict[int, np.ndarray | None] = {}
    for sample, (frame, rgb) in enumerate(sampled_frames(
            src, every=every, max_width=s.max_width, width=width, height=height)):
        frames.append(frame)
        last_frame = frame
        hist = histogram(rgb)
        grey, scale = motion_grey(rgb)
        m = None if prev_grey is None else estimate_motion(prev_grey, grey, scale)
        if m is None and prev_hist is not None and cv2.compareHist(
                prev_hist, hist, cv2.HISTCMP_BHATTACHARYYA) > s.cut_threshold:
            cuts.append(frame)
            for t in live:
                t.closed = True
        motion[frame] = m
        prev_hist, prev_grey = hist, grey
        advance(live, m)
        # cuts and motion are judged on the frame as it is; faces, on a dark one lifted (one
        # with a light in view searched both as it is and lifted, as the redactor does; its
        # crops and thumbnails from the lifted copy, where its faces are)
        light = exposure(rgb, lift=s.dark_lift)
        seen = rgb if light.copy is None else light.copy
        if light.copy is not None:
            lifted_frames.add(frame)
        views = light.upright(rgb)
        found = det(views[0]) if len(views) == 1 else merge([b for v in views for b in det(v)])
        boxes = [b for b in found if b.score >= s.track_score]
        h, w = rgb.shape[:2]
        for t, k in link(live, boxes, frame, sample, s, lambda: next(counter)):
            tracks.setdefault(t.id, t)
            box = t.obs[k].box
            thumb = analysis_faces.Thumb(frame, analysis_faces.quality(seen, box))
            if analysis_faces.offer(t.thumbs, thumb, keep=analysis_faces.THUMBS_PER_TRACK,
                                    min_gap=thumb_gap):
                thumb.rgb = analysis_faces.thumbnail(seen, box)
            if encodable(box, w, h, s.min_encode):
                crop, loc = face_crop(seen, box)
                t.offer(Candidate(crop_quality(seen, box), k, crop, loc,
                                  seen_from_front(box, s.frontal_eye_span)),
                        s.encode_per_track)
        still = []
        for t in live:  # encode tracks that can no longer continue; their crops go
            if t.closed or sample - t.sample_last > s.max_gap + 1:
                _encode_track(t, pending, workers)
            else:
                still.append(t)
        live = still
    for t in live:
        _encode_track(t, pending, workers)
    _receive_encodings(pending)
    analysed = len(frames)
    total = max(nb_frames or 0, last_frame + every if analysed else 0)
    meta = {"width": width, "height": height, "fps": fps, "every": every,
            "sample_size": sample_size(width, height, s.max_width),
            "analysed": analysed, "frames_total": total, "cuts": cuts,
            "frames": frames, "motion": motion, "detector": det.name,
            "lifted": lifted_frames}
    return list(tracks.values()), meta


def analyze_file(src: str, *, known_adults: Sequence[KnownAdult] = (),
                 settings: AnalysisSettings | None = None,
                 detector: Detector | None = None, encoders: int | None = None) -> PersonCount:
    """Count the distinct people in the video at `src` (a path or a loopback URL).

    Encodings are computed in `encoders` processes (default: one per CPU), started with
    multiprocessing's "spawn": a script that calls this must start its work under
    `if __name__ == "__main__":`, as the `bwc` commands, the job worker and the bench do."""
    s = settings or AnalysisSettings()
    started = time.perf_counter()
    tracks, meta = collect_tracks(src, s, detector, encoders)
    result = build_result(tracks, meta, s, known_adults)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _counts(t: Track, s: AnalysisSettings, lifted: set[int]) -> bool:
    """Whether a track is a face to count: seen often enough, at least once confidently (in a
    sample lifted as under-exposed, confidently is `dark_min_score`)."""
    if max(o.box.score for o in t.obs) >= s.single_detection_score:
        return True
    return len(t.obs) >= s.min_track_detections and any(
        o.box.score >= (s.dark_min_score if o.frame in lifted else s.min_score)
        for o in t.obs)


def person_labels(tracks: list[Track], meta: dict[str, Any], s: AnalysisSettings
                  ) -> tuple[list[Track], list[int]]:
    """Join, filter and cluster the tracks: the tracks kept and a person label for each."""
    joined = join_fragments(tracks, meta["motion"], meta["frames"], s)
    lifted = meta.get("lifted", set())
    kept = absorb_fragments([t for t in joined if _counts(t, s, lifted)])
    encs = [t.frontal_encodings(s.frontal_eye_span) for t in kept]
    means = [mean_encoding(e) if e else None for e in encs]
    spans = [(t.obs[0].frame, t.obs[-1].frame) for t in kept]
    # A track too small to encode, or seen only from the side, stays its own person:
    # fragments of one face were joined by place and time above, and two such faces seen
    # at different times (a walk down a hallway) are two students unless something says
    # otherwise.
    return kept, cluster_tracks(means, spans, s.cluster_distance)


def build_result(tracks: list[Track], meta: dict[str, Any], s: AnalysisSettings,
                 known_adults: Sequence[KnownAdult]) -> PersonCount:
    """Filter, cluster and name the tracks: the counted result."""
    fps = meta["fps"]
    kept, labels = person_labels(tracks, meta, s)
    # Renumber persons 1..n in order of first appearance.
    order: dict[int, int] = {}
    for _t, lab in sorted(zip(kept, labels, strict=True), key=lambda p: p[0].obs[0].frame):
        order.setdefault(lab, len(order) + 1)
    person_encs: dict[int, list[np.ndarray]] = {}
    for t, lab in zip(kept, labels, strict=True):
        person_encs.setdefault(order[lab], []).extend(t.frontal_encodings(s.frontal_eye_span))
    person_adult = {p: match_known(e, known_adults, s.known_distance)
                    for p, e in person_encs.items()}
    results = []
    for t, lab in zip(kept, labels, strict=True):
        p = order[lab]
        results.append(TrackResult(
            id=t.id, person=p, first_frame=t.obs[0].frame, last_frame=t.obs[-1].frame,
            first_s=round(t.obs[0].frame / fps, 3), last_s=round(t.obs[-1].frame / fps, 3),
            detections=len(t.obs), encoded=len(t.encodings()),
            max_score=round(max(o.box.score for o in t.obs), 3), known_adult=person_adult[p]))
    results.sort(key=lambda r: (r.first_frame, r.id))
    found_faces = track_faces(tracks, kept, [order[lab] for lab in labels], meta)
    adults = sorted({a for a in person_adult.values() if a})
    unidentified = sum(1 for a in person_adult.values() if a is None)
    return PersonCount(
        distinct_people=len(order), unidentified_people=unidentified, known_adults=adults,
        tracks=results, frames_total=meta["frames_total"], frames_analysed=meta["analysed"],
        fps=round(fps, 3), width=meta["width"], height=meta["height"],
        seconds=0.0, settings={**asdict(s), "sample_every": meta["every"],
                                "detector_ran": meta["detector"],
                                # samples lifted as under-exposed (kept with the settings: a
                                # fact of how this count ran, as the detector that ran is)
                                "samples_lifted": len(meta.get("lifted", ()))},
        faces=found_faces, cuts=list(meta["cuts"]))


def track_faces(raw: list[Track], kept: list[Track], persons: list[int],
                meta: dict[str, Any]) -> list[analysis_faces.TrackFaces]:
    """Every track's boxes (in the displayed frame's pixels) and best thumbnails: the kept
    tracks with their person, and the tracks the count left out (seen too briefly or too
    weakly) with none, so that keeping a person can tell their face from anyone else's."""
    sw, sh = meta.get("sample_size") or (meta["width"], meta["height"])
    fx, fy = meta["width"] / sw, meta["height"] / sh
    owner = {id(o): t for t in raw for o in t.obs}

    def rows(obs: list[Any]) -> list[tuple[int, float, float, float, float, float]]:
        return [(o.frame, round(o.box.x0 * fx, 1), round(o.box.y0 * fy, 1),
                 round(o.box.x1 * fx, 1), round(o.box.y1 * fy, 1), round(o.box.score, 3))
                for o in obs]

    out: list[analysis_faces.TrackFaces] = []
    used: set[int] = set()
    for t, person in zip(kept, persons, strict=True):
        members = {id(owner[id(o)]): owner[id(o)] for o in t.obs if id(o) in owner}
        used.update(members)
        thumbs = [th for m in members.values() for th in m.thumbs if th.jpeg]
        out.append(analysis_faces.TrackFaces(
            t.id, person, rows(t.obs),
            analysis_faces.best(thumbs, analysis_faces.THUMBS_PER_TRACK)))
    for t in raw:
        if id(t) not in used:
            out.append(analysis_faces.TrackFaces(t.id, None, rows(t.obs)))
    return sorted(out, key=lambda f: (f.obs[0][0] if f.obs else 0, f.id))


def result_json(result: PersonCount) -> str:
    """The result as JSON text."""
    return json.dumps(result.to_dict(), sort_keys=True)
