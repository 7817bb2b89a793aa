"""The analysis settings: every knob, recorded with each result so it can be reproduced."""

from __future__ import annotations

from dataclasses import dataclass

from redaction.options import check_detect_backend

ANALYSIS_VERSION = "analysis-4"


@dataclass(frozen=True)
class AnalysisSettings:
    """Every knob of the analysis; recorded with each result so it can be reproduced."""

    # Sampled frames per second of video.
    sample_fps: float = 5.0
    # Frames are decoded at most this wide; encodings are computed on these pixels.
    max_width: int = 1280
    detector: str = "centerface"
    # CenterFace's runtime (redaction.detect.BACKENDS); the result also records which ran
    detect_backend: str = "auto"
    detect_area: int = 640 * 384
    # A track counts only with a detection at this CenterFace score (0.1 suits blurring,
    # not counting); weaker detections down to `track_score` only extend tracks (hysteresis,
    # as in edge following: a face turning away keeps its track, noise starts none).
    min_score: float = 0.5
    track_score: float = 0.3
    # An under-exposed sample (night, an unlit room: `redaction.detect.exposure`) is
    # brightened for the detector and for the crops encoded and shown, as the redactor's face
    # passes see it (a dark sample with a light in view is searched both as it is and
    # lifted, its crops from the lifted copy: `redaction.detect.exposure`). A face seen only
    # in such samples counts from `dark_min_score`, for CenterFace scores a lifted face
    # (sensor noise lifted with it) lower than the same face lit. Measured on the bench's 11 clips
    # made dark (`bench/analysis.py --dark`): 354 of 372 people counted, against 329 before
    # and 365 lit (redaction/README.md, "In the dark"); chosen on the dev clips, 0.30-0.40
    # tried.
    dark_lift: bool = True
    dark_min_score: float = 0.35
    # Faces smaller than this (px, short side) are tracked but not encoded (too noisy).
    min_encode: int = 24
    # Sampled frames a track may go unseen and still continue.
    max_gap: int = 3
    # A detection continues a track within this many face sizes of where the camera's
    # motion puts the track's last box (per sampled frame of gap, +50% each extra one)...
    link_radius: float = 1.0
    # ...or at this overlap with it.
    link_iou: float = 0.3
    # A cut, which ends every track, is a jump of at least this Bhattacharyya distance
    # between grey histograms of neighbouring samples that the camera's motion does not
    # explain (no motion fits the two frames). Measured on the bench's 11 clips: cuts
    # 0.10-0.59, never with a motion; camera motion alone up to 0.18, always with one
    # (the histogram alone, at 0.14, cut a shot in two and missed two cuts).
    cut_threshold: float = 0.08
    # A track that ends is joined to one that starts within this many samples in the same
    # shot, where the camera's motion carries its face within `join_radius` face sizes and
    # the closest pair of their encodings is within `join_distance`: place and time say
    # "the same face", so appearance need only not contradict it (face_recognition's own
    # tolerance is 0.6).
    join_samples: int = 10
    join_radius: float = 1.0
    join_distance: float = 0.6
    # Encodings per track: the largest, sharpest crops (encoding is most of the run time).
    encode_per_track: int = 3
    # Complete-linkage threshold between tracks of one person. Measured: same face in one
    # clip 0.05-0.25 (90% <= 0.29); same person in two photos 0.35-0.41; different people in
    # faces-dev as close as 0.30 (0.1% of pairs < 0.40, 7% < 0.6, children closest); at
    # face_recognition's 0.6 the bench counted 98 of 160 people. Below 0.40: when unsure,
    # two people.
    cluster_distance: float = 0.38
    # Only faces seen from the front (eyes at least this share of the box width apart;
    # ~0.4 frontal) join tracks into one person by appearance or match a known adult:
    # face_recognition's encoder is trained on near-frontal faces, and every pair of
    # different people the bench merged was seen from the side (eye spans 0.03-0.27).
    # A track seen only from the side stays its own person.
    frontal_eye_span: float = 0.3
    # A person matches an enrolled known adult only this close (median over observations).
    known_distance: float = 0.45
    # A track counts as a person with this many detections, or one confident one. Small
    # faces under a shaking camera are often seen once: 0.8 dropped real children
    # (bench/analysis.py: 152 counted for 160 truth), 0.5 counted noise (176); 0.7: 162.
    min_track_detections: int = 2
    single_detection_score: float = 0.7

    def __post_init__(self) -> None:
        # refused here, with a code, as RedactOptions does: the detector would otherwise raise
        # a bare ValueError once the video is open (the server's setting is checked earlier)
        check_detect_backend(self.detect_backend)
