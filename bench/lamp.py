"""The bench's "lamp" clips: a dark clip with a light in view (a street lamp, a torch,
headlights), as night footage mostly is. The glow sits at a fixed place on screen, its centre
and saturated core radius given as shares of the frame's width; truth boxes within
LAMP_REACH core radii of its centre are dropped (the glare hides them as it would in a real
frame)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

LAMP_X, LAMP_Y, LAMP_R, LAMP_REACH = 0.85, 0.07, 0.045, 3.0


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
    dec = subprocess.Popen(["ffmpeg", "-v", "error", "-i", str(dark), "-f", "rawvideo",
                            "-pix_fmt", "bgr24", "-"], stdout=subprocess.PIPE)
    enc = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s",
         f"{w}x{h}", "-r", str(truth["fps"]), "-i", "-", "-i", str(dark), "-map", "0:v",
         "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt",
         "yuv420p", "-c:a", "copy", "-movflags", "+faststart", str(out)],
        stdin=subprocess.PIPE)
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
