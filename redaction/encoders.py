"""Face encodings (face_recognition's 128-d descriptors), computed in this process or in a
pool of encoder processes.

dlib's descriptor is the costly part of everything that compares faces (~80 ms a face on this
project's 2-core machine, against ~25 ms for detecting a whole frame) and it holds the GIL,
so threads do not help; the person count and keep-face send crops to the pool instead. The
pool uses multiprocessing's "spawn": a script that uses it must start its work under
`if __name__ == "__main__":` (the `bwc` commands, the job worker, the bench and pytest do).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import select
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import cv2
import numpy as np

from redaction.detect import Box

log = logging.getLogger(__name__)

# A face crop and face_recognition's (top, right, bottom, left) location of the face in it.
Crop = tuple[np.ndarray, tuple[int, int, int, int]]


def face_recognition_module() -> Any:
    """Import face_recognition lazily (its model package is slow to import)."""
    import face_recognition

    return face_recognition


def dlib_location(b: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """A CenterFace box (hairline to chin) -> face_recognition's (top, right, bottom, left)
    around the inner face, clipped to the image, which its landmark model expects."""
    top = b.y0 + 0.12 * b.h
    return (max(0, int(top)), min(width, int(b.x1)), min(height, int(b.y1)), max(0, int(b.x0)))


def face_crop(rgb: np.ndarray, box: Box) -> Crop:
    """The crop around the face (half its size on each side) and face_recognition's
    location of the face in it."""
    h, w = rgb.shape[:2]
    pad = 0.5 * max(box.w, box.h)
    x0, y0 = max(0, int(box.x0 - pad)), max(0, int(box.y0 - pad))
    x1, y1 = min(w, int(math.ceil(box.x1 + pad))), min(h, int(math.ceil(box.y1 + pad)))
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    inner = Box(box.x0 - x0, box.y0 - y0, box.x1 - x0, box.y1 - y0, box.score)
    return crop, dlib_location(inner, x1 - x0, y1 - y0)


def crop_quality(rgb: np.ndarray, box: Box) -> float:
    """How good a face is to encode, preferring large sharp faces: the short side (up to
    96 px, the encoder's chip is 150 px) times the spread of the Laplacian of the face at
    64 px (motion blur lowers it)."""
    face = cv2.cvtColor(rgb[int(box.y0):int(box.y1), int(box.x0):int(box.x1)],
                        cv2.COLOR_RGB2GRAY)
    face = cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA)
    sharp = float(cv2.Laplacian(face, cv2.CV_32F).std())
    return min(box.w, box.h, 96.0) * sharp


def encode_crops(crops: Sequence[Crop]) -> list[np.ndarray]:
    """face_recognition encodings (128-d) of faces at known locations in their crops."""
    fr = face_recognition_module()
    out = []
    for crop, loc in crops:
        out.append(np.asarray(fr.face_encodings(crop, known_face_locations=[loc])[0]))
    return out


def _warm() -> None:
    face_recognition_module()  # each encoder process loads the models once


def _wait_for_exit(pid: int) -> None:
    """Return once process `pid` (this process's parent) has ended."""
    try:
        fd = os.pidfd_open(pid)  # Linux 5.3+: readable when the process ends, no polling
    except (AttributeError, OSError):  # no pidfd here, or the parent is already gone
        while os.getppid() == pid:
            time.sleep(1.0)
        return
    # Opened after the parent ended, the pid could name another process: still the parent?
    if os.getppid() == pid:
        select.select([fd], [], [])
    os.close(fd)


def _start_encoder(parent: int) -> None:
    """Initializer of an encoder process: load the models, and exit when the parent is gone
    (a job worker killed outright would otherwise leave its encoders waiting forever; they
    hold the pool's pipes open themselves, so they never see it close)."""
    def watch() -> None:
        _wait_for_exit(parent)
        os._exit(0)

    threading.Thread(target=watch, name="bwc-encoder-watch", daemon=True).start()
    _warm()


_POOL: ProcessPoolExecutor | None = None
_POOL_WORKERS = 0
_POOL_LOCK = threading.Lock()


def default_encoders() -> int:
    """Encoder processes by default: one per CPU (the decode and detection loop mostly
    waits on them), none on a single CPU."""
    cpus = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1)
    return cpus if cpus >= 2 else 0


def encoder_pool(workers: int) -> ProcessPoolExecutor | None:
    """The process's encoder pool with `workers` processes (None for 0: encode in this
    process), started once and kept, as a job worker runs many analyses."""
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


def encode_later(crops: Sequence[Crop],
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


def receive(parts: Sequence[tuple[Sequence[Crop], Future[list[np.ndarray]]]]
            ) -> list[list[np.ndarray]]:
    """The encodings of each (crops, `encode_later` future) part, in order. A dead encoder
    (killed, out of memory, or a main module that starts work on import) costs time, not
    the answer: what it did not return is encoded here, and the next call gets a new pool."""
    out: list[list[np.ndarray]] = []
    broken = False
    for crops, future in parts:
        if not broken:
            try:
                out.append(future.result())
                continue
            except BrokenProcessPool as exc:
                log.warning("face encoder processes stopped (%s); encoding in this process",
                            exc)
                reset_encoders()
                broken = True
        out.append(encode_crops(crops))
    return out


def encode_now(crops: Sequence[Crop], workers: int) -> list[np.ndarray]:
    """`encode_crops`, spread over the encoder pool and waited for (or in this process for 0
    workers)."""
    if workers <= 0 or len(crops) < 2:
        return encode_crops(crops)
    n = min(workers, len(crops))
    shares = [crops[i::n] for i in range(n)]
    done = receive([(share, encode_later(share, workers)) for share in shares])
    out: list[np.ndarray] = [np.empty(0)] * len(crops)
    for i, encs in enumerate(done):
        out[i::n] = encs
    return out
