"""Person counting: how many distinct people a video shows, and when each is seen.

Frames are streamed from ffmpeg (never the whole video in memory), every Nth frame is
sampled, faces are found by the redaction detector (`redaction.detect`, CenterFace) and
encoded with face_recognition (128-d). Detections are linked into tracks across
neighbouring sampled frames (IoU with the predicted box, gated by encoding distance); track
fragments are then clustered over the whole video with complete linkage under a strict
distance threshold and a cannot-link rule (two tracks seen in the same frame are two
people). When unsure the pipeline counts two people: a student merged into another
student, or into a known adult, would weaken the protection of KRS 610.320.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import cv2
import ffmpeg
import numpy as np

from redaction.detect import Box, Detector, iou, make_detector
from redaction.errors import CorruptVideo, NoVideoStream
from redaction.ffio import FFmpegProcess, read_frame
from redaction.keepface import _dlib_location

ANALYSIS_VERSION = "analysis-1"


@dataclass(frozen=True)
class AnalysisSettings:
    """Every knob of the analysis; recorded with each result so it can be reproduced."""

    # Sampled frames per second of video: faces move little in 1/5 s, so IoU links them.
    sample_fps: float = 5.0
    # Frames are decoded at most this wide; encodings are computed on these pixels.
    max_width: int = 1280
    detector: str = "centerface"
    detect_area: int = 640 * 384
    # A detection counts only at this CenterFace score (0.1 suits blurring, not counting).
    min_score: float = 0.5
    # Faces smaller than this (px, short side) are tracked but not encoded (too noisy).
    min_encode: int = 24
    # Faces too small to encode link to a track at this overlap.
    link_iou: float = 0.3
    # Encoded faces link within this many face sizes per sampled frame of gap...
    link_radius: float = 2.5
    # Bhattacharyya distance between grey histograms of neighbouring samples taken as a
    # cut, which ends every track (measured on make_clip clips: motion <= 0.12, cuts >= 0.15).
    cut_threshold: float = 0.14
    # ...and this encoding distance (same face between samples: 0.05-0.25 measured).
    link_distance: float = 0.4
    # Sampled frames a track may go unseen and still continue.
    max_gap: int = 3
    # Complete-linkage threshold between tracks of one person. Measured: same face in one
    # clip 0.05-0.25 (90% <= 0.29); same person in two photos 0.35-0.41; different people in
    # faces-dev as close as 0.30 (0.1% of pairs < 0.40, 7% < 0.6, children closest); at
    # face_recognition's 0.6 the bench counted 98 of 160 people. Below 0.40: when unsure,
    # two people.
    cluster_distance: float = 0.38
    # A person matches an enrolled known adult only this close (median over observations).
    known_distance: float = 0.45
    # A track counts as a person with this many detections, or one confident one. Small
    # faces under a shaking camera are often seen once: 0.8 dropped real children
    # (bench/analysis.py: 152 counted for 160 truth), 0.5 counted noise (176); 0.7: 162.
    min_track_detections: int = 2
    single_detection_score: float = 0.7


@dataclass
class KnownAdult:
    """An enrolled consenting adult (SRO, staff): name and reference encodings."""

    name: str
    encodings: list[np.ndarray]


@dataclass
class _Obs:
    frame: int
    box: Box
    enc: np.ndarray | None


@dataclass
class _Track:
    id: int
    obs: list[_Obs] = field(default_factory=list)
    sample_last: int = 0
    closed: bool = False

    def predict(self) -> Box:
        b = self.obs[-1].box
        if len(self.obs) < 2:
            return b
        a = self.obs[-2].box
        return Box(2 * b.x0 - a.x0, 2 * b.y0 - a.y0, 2 * b.x1 - a.x1, 2 * b.y1 - a.y1, b.score)

    def last_encoding(self) -> np.ndarray | None:
        for o in reversed(self.obs):
            if o.enc is not None:
                return o.enc
        return None

    def encodings(self) -> list[np.ndarray]:
        return [o.enc for o in self.obs if o.enc is not None]


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

    @property
    def frames_per_second(self) -> float:
        """Video frames covered per second of analysis time."""
        return self.frames_total / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = asdict(self)
        d["analysis_fps"] = round(self.frames_per_second, 2)
        return d


def _face_recognition() -> Any:
    """Import face_recognition lazily (its model package is slow to import)."""
    import face_recognition

    return face_recognition


def _probe(src: str) -> tuple[int, int, Fraction, int | None]:
    """(displayed width, height, frame rate, frame count or None) of the first video stream."""
    try:
        info = ffmpeg.probe(src)
    except ffmpeg.Error as exc:
        reason = (exc.stderr or b"").decode(errors="replace").strip()[-300:]
        raise CorruptVideo("not a readable video", reason=reason) from None
    video = next((s for s in info.get("streams", []) if s.get("codec_type") == "video"), None)
    if video is None or not video.get("width"):
        raise NoVideoStream("no video stream to analyse")
    w, h = int(video["width"]), int(video["height"])
    rot = 0.0
    for sd in video.get("side_data_list", []) or []:
        rot = float(sd.get("rotation", rot))
    if int(round(rot / 90)) % 2:
        w, h = h, w
    rate = Fraction(video.get("avg_frame_rate") or "0/1") if video.get("avg_frame_rate") \
        not in (None, "0/0") else Fraction(video.get("r_frame_rate") or "30/1")
    if rate <= 0:
        rate = Fraction(30)
    nb = video.get("nb_frames")
    return w, h, rate, int(nb) if nb and str(nb).isdigit() else None


def sampled_frames(src: str, *, every: int, max_width: int, width: int, height: int
                   ) -> Iterator[tuple[int, np.ndarray]]:
    """(source frame number, RGB frame) for every `every`-th frame, streamed from ffmpeg."""
    scale = min(1.0, max_width / width)
    out_w = max(2, int(round(width * scale / 2)) * 2)
    out_h = max(2, int(round(height * scale / 2)) * 2)
    v = ffmpeg.input(src).video.filter("select", f"not(mod(n,{every}))")
    v = v.filter("scale", out_w, out_h)
    node = v.output("pipe:", format="rawvideo", pix_fmt="rgb24", fps_mode="passthrough")
    proc = FFmpegProcess(node, stdin=False, stdout=True)
    size = out_w * out_h * 3
    k = 0
    try:
        assert proc.proc.stdout is not None
        while (buf := read_frame(proc.proc.stdout, size)) is not None:
            yield k * every, buf.reshape(out_h, out_w, 3)
            k += 1
    finally:
        proc.kill() if proc.proc.poll() is None else None
        rc = proc.wait()
    if rc != 0 and k == 0:
        raise CorruptVideo("ffmpeg could not decode the video", stderr=proc.tail(),
                           args=proc.args)


def encode_faces(rgb: np.ndarray, boxes: Sequence[Box], min_size: int) -> list[np.ndarray | None]:
    """face_recognition encodings of the boxes big enough to encode (None for the others).

    A face cut by the frame edge is not encoded: its encoding was measured to wander 0.5-0.8
    from the same face's next one, enough to split one person in two."""
    h, w = rgb.shape[:2]
    idx = [i for i, b in enumerate(boxes) if min(b.w, b.h) >= min_size
           and b.x0 > 1 and b.y0 > 1 and b.x1 < w - 1 and b.y1 < h - 1]
    out: list[np.ndarray | None] = [None] * len(boxes)
    if idx:
        fr = _face_recognition()
        encs = fr.face_encodings(rgb, known_face_locations=[_dlib_location(boxes[i], w, h)
                                                             for i in idx])
        for i, e in zip(idx, encs, strict=True):
            out[i] = e
    return out


def _link_score(t: _Track, box: Box, enc: np.ndarray | None, gap: int,
                s: AnalysisSettings) -> float | None:
    """How well `box` continues track `t` after `gap` samples (None: it does not).

    A body camera pans fast: faces move about their own size between samples (measured on
    make_clip clips), so two encoded faces link by appearance (distance under
    `link_distance`) within `link_radius` face sizes per sample; faces too small to encode
    link by overlap alone."""
    pred, last = t.predict(), t.obs[-1].box
    size_p, size_d = max(1.0, min(last.w, last.h)), max(1.0, min(box.w, box.h))
    if not 0.6 <= size_d / size_p <= 1.0 / 0.6:
        return None
    near = min(math.hypot(b.cx - box.cx, b.cy - box.cy) for b in (pred, last))
    near /= max(size_p, size_d)
    enc_t = t.last_encoding()
    if enc is not None and enc_t is not None:
        dist = float(np.linalg.norm(enc - enc_t))
        if dist > s.link_distance or near > s.link_radius * gap:
            return None
        return 2.0 - dist
    overlap = max(iou(pred, box), iou(last, box))
    return overlap if overlap >= s.link_iou else None


def _link(tracks: list[_Track], dets: list[tuple[Box, np.ndarray | None]], frame: int,
          sample: int, s: AnalysisSettings, next_id: Callable[[], int]) -> None:
    """Attach this sampled frame's detections to live tracks (best score first) or start
    new ones."""
    live = [t for t in tracks if not t.closed and sample - t.sample_last <= s.max_gap + 1]
    pairs = []
    for ti, t in enumerate(live):
        for di, (box, enc) in enumerate(dets):
            score = _link_score(t, box, enc, sample - t.sample_last, s)
            if score is not None:
                pairs.append((score, ti, di))
    used_t: set[int] = set()
    used_d: set[int] = set()
    for _, ti, di in sorted(pairs, reverse=True):
        if ti in used_t or di in used_d:
            continue
        used_t.add(ti)
        used_d.add(di)
        box, enc = dets[di]
        live[ti].obs.append(_Obs(frame, box, enc))
        live[ti].sample_last = sample
    for di, (box, enc) in enumerate(dets):
        if di not in used_d:
            tracks.append(_Track(next_id(), [_Obs(frame, box, enc)], sample))


def _histogram(rgb: np.ndarray) -> np.ndarray:
    """A 32-bin grey histogram of a 160x90 thumbnail, for noticing cuts (motion barely
    changes it; a cut does)."""
    grey = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (160, 90),
                      interpolation=cv2.INTER_AREA)
    hist = np.asarray(cv2.calcHist([grey], [0], None, [32], [0, 256]),
                      dtype=np.float32).flatten()
    out: np.ndarray = hist / max(float(np.linalg.norm(hist)), 1e-9)
    return out


def _mean(encs: list[np.ndarray]) -> np.ndarray:
    out: np.ndarray = np.mean(np.stack(encs), axis=0)
    return out


def cluster_tracks(means: list[np.ndarray | None], spans: list[set[int]],
                   threshold: float) -> list[int]:
    """Person label per track: complete-linkage merge under `threshold`, never merging
    tracks seen in the same frame; tracks without an encoding stay alone."""
    labels = list(range(len(means)))
    clusters: dict[int, list[int]] = {i: [i] for i in range(len(means))}
    enc_idx = [i for i, m in enumerate(means) if m is not None]
    if len(enc_idx) < 2:
        return labels
    mat = np.stack([means[i] for i in enc_idx])  # type: ignore[misc]
    dist = np.linalg.norm(mat[:, None, :] - mat[None, :, :], axis=2)
    pos = {t: k for k, t in enumerate(enc_idx)}
    while True:
        best: tuple[float, int, int] | None = None
        keys = [c for c in clusters if all(m in pos for m in clusters[c])]
        for ai, a in enumerate(keys):
            for b in keys[ai + 1:]:
                d = max(dist[pos[x], pos[y]] for x in clusters[a] for y in clusters[b])
                if d > threshold or (best is not None and d >= best[0]):
                    continue
                if any(spans[x] & spans[y] for x in clusters[a] for y in clusters[b]):
                    continue
                best = (d, a, b)
        if best is None:
            break
        _, a, b = best
        clusters[a].extend(clusters.pop(b))
    for label, members in clusters.items():
        for m in members:
            labels[m] = label
    return labels


def _box_at(t: _Track, frame: int) -> Box | None:
    """Track `t`'s box at `frame`, interpolated between its observations (None outside)."""
    before = [o for o in t.obs if o.frame <= frame]
    after = [o for o in t.obs if o.frame >= frame]
    if not before or not after:
        return None
    a, b = before[-1], after[0]
    if a.frame == b.frame:
        return a.box
    u = (frame - a.frame) / (b.frame - a.frame)
    return Box(a.box.x0 + (b.box.x0 - a.box.x0) * u, a.box.y0 + (b.box.y0 - a.box.y0) * u,
               a.box.x1 + (b.box.x1 - a.box.x1) * u, a.box.y1 + (b.box.y1 - a.box.y1) * u)


def absorb_fragments(tracks: list[_Track], *, max_len: int = 2,
                     min_iou: float = 0.5) -> list[_Track]:
    """Fold a short track into a longer one that passes through the same place in a frame
    the longer one has no detection of: one face whose encoding came out badly once."""
    tracks = sorted((_Track(t.id, list(t.obs), t.sample_last, t.closed) for t in tracks),
                    key=lambda t: -len(t.obs))
    out: list[_Track] = []
    for t in tracks:
        host = None
        if len(t.obs) <= max_len:
            for h in out:
                seen = {o.frame for o in h.obs}
                if all(o.frame not in seen and (b := _box_at(h, o.frame)) is not None
                       and iou(b, o.box) >= min_iou for o in t.obs):
                    host = h
                    break
        if host is None:
            out.append(t)
        else:
            host.obs = sorted(host.obs + t.obs, key=lambda o: o.frame)
    return out


def _label_unencoded(tracks: list[_Track], labels: list[int], cuts: list[int]) -> list[int]:
    """Person labels for tracks with no encoding (faces too small to tell apart): within a
    shot, tracks that never overlap in time may be one person, so the shot counts as many
    such people as were seen at once (interval colouring); shots are counted separately."""
    labels = list(labels)
    bounds = sorted(cuts)
    shot_of = {i: sum(1 for c in bounds if c <= t.obs[0].frame)
               for i, t in enumerate(tracks) if not t.encodings()}
    base = max(labels, default=0) + 1
    for shot in sorted(set(shot_of.values())):
        idx = sorted((i for i, sh in shot_of.items() if sh == shot),
                     key=lambda i: tracks[i].obs[0].frame)
        ends: list[tuple[int, int]] = []  # (last frame, label)
        for i in idx:
            free = [k for k, (end, _) in enumerate(ends) if end < tracks[i].obs[0].frame]
            if free:
                k = free[0]
                labels[i] = ends[k][1]
                ends[k] = (tracks[i].obs[-1].frame, labels[i])
            else:
                labels[i] = base
                ends.append((tracks[i].obs[-1].frame, base))
                base += 1
    return labels


def match_known(encs: list[np.ndarray], known: Sequence[KnownAdult],
                threshold: float) -> str | None:
    """The known adult whose references lie within `threshold` of the median observation,
    or None (unsure means unidentified, i.e. a presumed student)."""
    if not encs or not known:
        return None
    best: tuple[float, str] | None = None
    for adult in known:
        if not adult.encodings:
            continue
        refs = np.stack(adult.encodings)
        per_obs = [float(np.linalg.norm(refs - e, axis=1).min()) for e in encs]
        d = float(np.median(per_obs))
        if d <= threshold and (best is None or d < best[0]):
            best = (d, adult.name)
    return best[1] if best else None


def collect_tracks(src: str, s: AnalysisSettings, detector: Detector | None = None
                   ) -> tuple[list[_Track], dict[str, Any]]:
    """Decode, sample, detect, encode and link: the raw tracks and facts about the video."""
    width, height, rate, nb_frames = _probe(src)
    fps = float(rate)
    every = max(1, round(fps / s.sample_fps))
    det = detector or make_detector(s.detector, threshold=s.min_score,
                                    detect_area=s.detect_area)
    tracks: list[_Track] = []
    counter = iter(range(1, 1 << 30))
    analysed = 0
    last_frame = -1
    prev_hist: np.ndarray | None = None
    cuts: list[int] = []
    for sample, (frame, rgb) in enumerate(sampled_frames(
            src, every=every, max_width=s.max_width, width=width, height=height)):
        analysed += 1
        last_frame = frame
        hist = _histogram(rgb)
        if prev_hist is not None and cv2.compareHist(
                prev_hist, hist, cv2.HISTCMP_BHATTACHARYYA) > s.cut_threshold:
            cuts.append(frame)
            for t in tracks:
                t.closed = True
        prev_hist = hist
        boxes = [b for b in det(rgb) if b.score >= s.min_score]
        encs = encode_faces(rgb, boxes, s.min_encode)
        _link(tracks, list(zip(boxes, encs, strict=True)), frame, sample, s,
              lambda: next(counter))
    total = max(nb_frames or 0, last_frame + every if analysed else 0)
    meta = {"width": width, "height": height, "fps": fps, "every": every,
            "analysed": analysed, "frames_total": total, "cuts": cuts}
    return tracks, meta


def analyze_file(src: str, *, known_adults: Sequence[KnownAdult] = (),
                 settings: AnalysisSettings | None = None,
                 detector: Detector | None = None) -> PersonCount:
    """Count the distinct people in the video at `src` (a path or a loopback URL)."""
    s = settings or AnalysisSettings()
    started = time.perf_counter()
    tracks, meta = collect_tracks(src, s, detector)
    result = build_result(tracks, meta, s, known_adults)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def build_result(tracks: list[_Track], meta: dict[str, Any], s: AnalysisSettings,
                 known_adults: Sequence[KnownAdult]) -> PersonCount:
    """Filter, cluster and name the tracks: the counted result."""
    fps = meta["fps"]
    kept = absorb_fragments([t for t in tracks if len(t.obs) >= s.min_track_detections
                             or max(o.box.score for o in t.obs) >= s.single_detection_score])
    means = [_mean(t.encodings()) if t.encodings() else None for t in kept]
    spans = [set(range(t.obs[0].frame, t.obs[-1].frame + 1)) for t in kept]
    labels = cluster_tracks(means, spans, s.cluster_distance)
    labels = _label_unencoded(kept, labels, meta.get("cuts", []))
    # Renumber persons 1..n in order of first appearance.
    order: dict[int, int] = {}
    for _t, lab in sorted(zip(kept, labels, strict=True), key=lambda p: p[0].obs[0].frame):
        order.setdefault(lab, len(order) + 1)
    person_encs: dict[int, list[np.ndarray]] = {}
    for t, lab in zip(kept, labels, strict=True):
        person_encs.setdefault(order[lab], []).extend(t.encodings())
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
    adults = sorted({a for a in person_adult.values() if a})
    unidentified = sum(1 for a in person_adult.values() if a is None)
    return PersonCount(
        distinct_people=len(order), unidentified_people=unidentified, known_adults=adults,
        tracks=results, frames_total=meta["frames_total"], frames_analysed=meta["analysed"],
        fps=round(fps, 3), width=meta["width"], height=meta["height"],
        seconds=0.0, settings={**asdict(s), "sample_every": meta["every"]})


def result_json(result: PersonCount) -> str:
    """The result as JSON text."""
    return json.dumps(result.to_dict(), sort_keys=True)


class ReferencePhotoError(ValueError):
    """A reference photo without exactly one clear face (raised by `encode_reference`)."""


def encode_reference(data: bytes, *, min_face: int = 60) -> np.ndarray:
    """The 128-d encoding of the one clear face in a reference photo (JPEG/PNG bytes)."""
    import io

    fr = _face_recognition()
    try:
        rgb = fr.load_image_file(io.BytesIO(data))
    except (OSError, ValueError) as exc:
        raise ReferencePhotoError(f"not a readable image: {exc}") from None
    h, w = rgb.shape[:2]
    det = make_detector("centerface", threshold=0.5, detect_area=min(w * h, 1920 * 1088))
    faces = [b for b in det(rgb) if b.score >= 0.5]
    clear = [b for b in faces if min(b.w, b.h) >= min_face]
    if len(faces) != 1 or len(clear) != 1:
        raise ReferencePhotoError(
            f"a reference photo must show exactly one clear face (at least {min_face} px); "
            f"found {len(faces)} face(s), {len(clear)} large enough")
    enc = fr.face_encodings(rgb, known_face_locations=[_dlib_location(clear[0], w, h)],
                            num_jitters=3)
    if not enc:
        raise ReferencePhotoError("the face could not be encoded")
    return np.asarray(enc[0], dtype=np.float64)
