"""Night clips with light in them, made from the bench's other clips.

"lamp": a dark clip with a light in view (a street lamp, headlights), as night footage mostly
is. The glow sits at a fixed place on screen, its centre and saturated core radius given as
shares of the frame's width; truth boxes within LAMP_REACH core radii of its centre are
dropped (the glare hides them as it would in a real frame).

"torch": an officer's torch on one person at a time at night, the faces in its beam lit and
every other face dark. Made from the upright (lit) clip: each frame under-exposed as
make_clip.py's --dark does (gamma 1.6, TORCH_AMBIENT of the light, sensor noise), except in
the beam, a soft disc TORCH_REACH face sizes wide around one truth face that moves to the
next face every TORCH_HOLD seconds and follows it, where the frame stays as lit. Every
truth face is kept: the lit ones are what the "lamp" clips lack. The truth's `beam` names
each frame's lit face (its index in that frame's boxes; None in a frame without faces).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

LAMP_X, LAMP_Y, LAMP_R, LAMP_REACH = 0.85, 0.07, 0.045, 3.0
TORCH_AMBIENT, TORCH_NOISE, TORCH_REACH, TORCH_HOLD = 0.3, 0.025, 1.5, 1.0


def _ffmpeg_frames(src: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["ffmpeg", "-v", "error", "-i", str(src), "-f", "rawvideo",
                             "-pix_fmt", "bgr24", "-"], stdout=subprocess.PIPE)


def _ffmpeg_encoder(src: Path, out: Path, w: int, h: int, fps: float
                    ) -> subprocess.Popen[bytes]:
    """x264 as make_clip.py encodes, the audio copied from `src`."""
    return subprocess.Popen(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s",
         f"{w}x{h}", "-r", str(fps), "-i", "-", "-i", str(src), "-map", "0:v",
         "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt",
         "yuv420p", "-c:a", "copy", "-movflags", "+faststart", str(out)],
        stdin=subprocess.PIPE)


def add_lamp(dark: Path, dark_truth: Path, out: Path, out_truth: Path) -> None:
    """`dark` with a lamp's glow added to every frame (encoded as make_clip.py encodes), and
    its truth without the faces the glare covers."""
    truth = json.loads(dark_truth.read_text())
    w, h = truth["size"]
    cx, cy, r = LAMP_X * w, LAMP_Y * w, LAMP_R * w
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.hypot(xx - cx, yy - cy)
    glow = np.exp(-np.maximum(0.0, d - r) ** 2 / (2 * r * r))[..., None]
    light = (glow * np.array([200, 240, 255]) * 1.2).astype(np.float32)  # warm white, BGR
    dec, enc = _ffmpeg_frames(dark), _ffmpeg_encoder(dark, out, w, h, truth["fps"])
    assert dec.stdout is not None
    assert enc.stdin is not None
    while raw := dec.stdout.read(w * h * 3):
        frame = np.frombuffer(raw, np.uint8).reshape(h, w, 3)
        enc.stdin.write(np.clip(frame + light, 0, 255).astype(np.uint8).tobytes())
    enc.stdin.close()
    if dec.wait() != 0 or enc.wait() != 0:
        sys.exit(f"could not add the lamp to {dark}")
    reach = LAMP_REACH * r
    truth["frames"] = [[b for b in boxes
                        if math.hypot(min(max(cx, b[0]), b[0] + b[2]) - cx,
                                      min(max(cy, b[1]), b[1] + b[3]) - cy) > reach]
                       for boxes in truth["frames"]]
    out_truth.write_text(json.dumps(truth, separators=(",", ":")))


def add_torch(lit: Path, lit_truth: Path, out: Path, out_truth: Path, seed: int) -> None:
    """`lit` at night with a torch on one face at a time (see the module's words); the truth
    is `lit`'s, every face kept."""
    truth = json.loads(lit_truth.read_text())
    w, h = truth["size"]
    hold = max(1, round(TORCH_HOLD * truth["fps"]))
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dec, enc = _ffmpeg_frames(lit), _ffmpeg_encoder(lit, out, w, h, truth["fps"])
    assert dec.stdout is not None
    assert enc.stdin is not None
    lit_face: list[int | None] = []
    while raw := dec.stdout.read(w * h * 3):
        j = len(lit_face)
        boxes = truth["frames"][j] if j < len(truth["frames"]) else []
        target = (j // hold) % len(boxes) if boxes else None
        lit_face.append(target)
        lit_frame = np.frombuffer(raw, np.uint8).reshape(h, w, 3).astype(np.float32) / 255
        dark = np.power(lit_frame, 1.6) * TORCH_AMBIENT
        dark += rng.normal(0, TORCH_NOISE, dark.shape).astype(np.float32)
        if target is not None:
            x, y, bw, bh = boxes[target]
            r = TORCH_REACH * max(bw, bh) / 2
            d = np.hypot(xx - (x + bw / 2), yy - (y + bh / 2))
            beam = np.exp(-np.maximum(0.0, d - r) ** 2 / (2 * (r / 2) ** 2))[..., None]
            dark = beam * lit_frame + (1 - beam) * dark
        enc.stdin.write((np.clip(dark, 0, 1) * 255).astype(np.uint8).tobytes())
    enc.stdin.close()
    if dec.wait() != 0 or enc.wait() != 0 or len(lit_face) != len(truth["frames"]):
        sys.exit(f"could not light {lit} with a torch ({len(lit_face)} frames read of "
                 f"{len(truth['frames'])} in its truth)")
    truth["beam"] = lit_face
    out_truth.write_text(json.dumps(truth, separators=(",", ":")))
