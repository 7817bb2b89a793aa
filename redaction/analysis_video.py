"""Video side of the person count: probe, sampled frames, face crops and encodings, camera
motion, cut detection."""

from __future__ import annotations

import math
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from fractions import Fraction
from pathlib import Path, PurePath
from typing import Any

import cv2
import ffmpeg
import numpy as np

from redaction import media
from redaction.detect import Box
from redaction.errors import CorruptVideo
from redaction.ffio import FFmpegProcess, read_frame
from redaction.keepface import _dlib_location


def face_recognition_module() -> Any:
    """Import face_recognition lazily (its model package is slow to import)."""
    import face_recognition

    return face_recognition


def probe(src: str) -> tuple[int, int, Fraction, int | None]:
    """(displayed width, height, frame rate, frame count or None) of the video at `src` (a
    path or a URL), with the redactor's checks and error codes (`redaction.media.probe`):
    what cannot be redacted cannot be counted either."""
    source = media.MediaSource(src, PurePath(src).name) if "://" in src else Path(src)
    info = media.probe(source)
    return info.width, info.height, info.fps, info.nb_frames


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


def encodable(box: Box, width: int, height: int, min_size: int) -> bool:
    """Whether a face is big enough to encode and not cut by the frame edge (a cut face's
    encoding was measured to wander 0.5-0.8 from the same face's next one)."""
    return (min(box.w, box.h) >= min_size and box.x0 > 1 and box.y0 > 1
            and box.x1 < width - 1 and box.y1 < height - 1)


def face_crop(rgb: np.ndarray, box: Box) -> tuple[np.ndarray, tuple[int, int, int, int], float]:
    """(crop around the face, face_recognition location in the crop, quality) where quality
    prefers large sharp faces: the short side (up to 96 px, the encoder's chip is 150 px)
    times the spread of the Laplacian of the face at 64 px (motion blur lowers it)."""
    h, w = rgb.shape[:2]
    pad = 0.5 * max(box.w, box.h)
    x0, y0 = max(0, int(box.x0 - pad)), max(0, int(box.y0 - pad))
    x1, y1 = min(w, int(math.ceil(box.x1 + pad))), min(h, int(math.ceil(box.y1 + pad)))
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    inner = Box(box.x0 - x0, box.y0 - y0, box.x1 - x0, box.y1 - y0, box.score)
    loc = _dlib_location(inner, x1 - x0, y1 - y0)
    face = cv2.cvtColor(rgb[int(box.y0):int(box.y1), int(box.x0):int(box.x1)],
                        cv2.COLOR_RGB2GRAY)
    face = cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA)
    sharp = float(cv2.Laplacian(face, cv2.CV_32F).std())
    return crop, loc, min(box.w, box.h, 96.0) * sharp


def encode_crops(crops: Sequence[tuple[np.ndarray, tuple[int, int, int, int]]]
                 ) -> list[np.ndarray]:
    """face_recognition encodings (128-d) of faces at known locations in their crops."""
    fr = face_recognition_module()
    out = []
    for crop, loc in crops:
        out.append(np.asarray(fr.face_encodings(crop, known_face_locations=[loc])[0]))
    return out


def _warm() -> None:
    face_recognition_module()  # each encoder process loads the models once


def _start_encoder(parent: int) -> None:
    """Initializer of an encoder process: load the models, and exit when the parent is gone
    (a job worker killed outright would otherwise leave its encoders waiting forever; they
    hold the pool's pipes open themselves, so they never see it close)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="bwc-encoder-watch", daemon=True).start()
    _warm()


_POOL: ProcessPoolExecutor | None = None
_POOL_WORKERS = 0
_POOL_LOCK = threading.Lock()


def default_encoders() -> int:
    """Encoder processes by default: one per CPU (the decode and detection loop mostly
    waits on them), none on a single CPU."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 0 if (cpus or 1) < 2 else int(cpus or 1)


def encoder_pool(workers: int) -> ProcessPoolExecutor | None:
    """The process's encoder pool with `workers` processes (None for 0: encode in this
    process). dlib's face descriptor holds the GIL and is most of the analysis time (~80 ms
    a face on this project's 2-core machine, against ~25 ms for detecting a frame), so
    threads would not help; the pool is started once and kept, as a job worker runs many
    analyses."""
    global _POOL, _POOL_WORKERS
    if workers <= 0:
        return None
    with _POOL_LOCK:
        if _POOL is None or _POOL_WORKERS != workers:
            if _POOL is not None:
                _POOL.shutdown(wait=False, cancel_futures=True)
            _POOL = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start_encoder,
                                        initargs=(os.getpid(),))
            _POOL_WORKERS = workers
        return _POOL


def reset_encoders() -> None:
    """Forget the encoder pool (the next analysis starts a new one)."""
    global _POOL, _POOL_WORKERS
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=False, cancel_futures=True)
        _POOL, _POOL_WORKERS = None, 0


def warm_encoders(workers: int | None = None) -> None:
    """Start the encoder pool and load the models in every process now (the bench does this
    before timing, as a long-running job worker has them loaded after its first analysis)."""
    n = default_encoders() if workers is None else workers
    pool = encoder_pool(n)
    _warm()
    if pool is not None:
        for f in [pool.submit(_warm) for _ in range(n)]:
            f.result()


def encode_later(crops: Sequence[tuple[np.ndarray, tuple[int, int, int, int]]],
                 workers: int) -> Future[list[np.ndarray]]:
    """`encode_crops` in the encoder pool (or now, in this process, for 0 workers)."""
    pool = encoder_pool(workers)
    done: Future[list[np.ndarray]] = Future()
    if pool is None:
        done.set_result(encode_crops(crops))
        return done
    try:
        return pool.submit(encode_crops, list(crops))
    except BrokenProcessPool as exc:  # the caller finishes the work itself
        done.set_exception(exc)
        return done


def motion_grey(rgb: np.ndarray, width: int = 320) -> tuple[np.ndarray, float]:
    """A small grey copy of the frame for motion estimation, and its scale to the frame."""
    scale = min(1.0, width / rgb.shape[1])
    size = (max(16, round(rgb.shape[1] * scale)), max(16, round(rgb.shape[0] * scale)))
    grey = cv2.cvtColor(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    return grey, scale


def estimate_motion(prev: np.ndarray, cur: np.ndarray, scale: float) -> np.ndarray | None:
    """The camera's motion from `prev` to `cur` as a 2x3 similarity in frame pixels (corners
    followed by pyramidal Lucas-Kanade, fitted with RANSAC), or None when too few points
    agree (a blank wall, a cut)."""
    pts = cv2.goodFeaturesToTrack(prev, maxCorners=200, qualityLevel=0.01, minDistance=6)
    if pts is None or len(pts) < 12:
        return None
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None,  # type: ignore[call-overload]
                                              winSize=(21, 21), maxLevel=3)
    ok = status.ravel() == 1
    if int(ok.sum()) < 12:
        return None
    m, inliers = cv2.estimateAffinePartial2D(pts[ok] / scale, nxt[ok] / scale,
                                             method=cv2.RANSAC,
                                             ransacReprojThreshold=2.0 / scale)
    if m is None or inliers is None or int(inliers.sum()) < max(10, int(0.3 * ok.sum())):
        return None
    out: np.ndarray = m
    return out


def histogram(rgb: np.ndarray) -> np.ndarray:
    """A 32-bin grey histogram of a 160x90 thumbnail, for noticing cuts (motion barely
    changes it; a cut does)."""
    grey = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (160, 90),
                      interpolation=cv2.INTER_AREA)
    hist = np.asarray(cv2.calcHist([grey], [0], None, [32], [0, 256]),
                      dtype=np.float32).flatten()
    out: np.ndarray = hist / max(float(np.linalg.norm(hist)), 1e-9)
    return out
