"""The manifest of a derivative: what went in, what came out, and every box blurred.

Per-frame rows are spooled to a temporary file as frames are written, so a four-hour video
costs disk, not memory; `write` then streams header and rows into one JSON document.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any

SCHEMA = "bwc-redaction-manifest/1"
# frames: [[frame, [box row, ...], [[x0, y0, x1, y1] blurred region, ...], time], ...]; the
# blurred regions are the padded boxes not kept (their union was blurred); `frame` counts the
# source's frames from 0 and `time` is the frame's timestamp in seconds (the source's, less
# the file's start time: the output's clock)
FRAME_LAYOUT = ["frame", "boxes", "blurred_regions", "time"]
# region: "face" (a detected face) or "head" (a whole head, heads mode)
FRAME_COLUMNS = ["track", "x0", "y0", "x1", "y1", "score", "source", "kept", "region"]

# Why the redactor flags a range for the reviewer (`low_confidence` reasons), in the words
# the console shows: what happened there and what to check. A range's `min_score` measures
# something different for each reason, so each says what (none for a crowd).
FLAG_LABELS = {
    "weak_detection": "faces found only faintly: check that each is blurred",
    "crowd_limit": "a crowd: more people than the head model finds in one search (six), "
                   "so whole heads may be missed (their faces are still blurred where the "
                   "face detector finds them)",
    "keep_person_near_miss": "a face close to a person kept visible: check that only the "
                             "chosen person is",
    "keep_face_near_miss": "a face nearly matching a kept reference photo, blurred: check "
                           "whether it should be",
    "dark_footage": "a dark picture (night, deep shadow), where faces are most often missed: "
                    "check that every face is blurred",
}
FLAG_MEASURES = {
    "weak_detection": "detector's lowest score {:.2f}",
    "keep_person_near_miss": "lowest overlap with a kept person's place {:.2f}",
    "keep_face_near_miss": "closest likeness distance {:.2f}",
    "dark_footage": "darkest frame's mean brightness {:.2f} (white is 1)",
}


class ManifestWriter:
    """Collects per-frame box rows and low-confidence ranges, then writes the manifest."""

    def __init__(self, spool_dir: Path | None = None) -> None:
        self._spool: IO[str] = tempfile.TemporaryFile(
            "w+", encoding="utf-8", dir=spool_dir, prefix="bwc-manifest-")
        self._first = True
        self.frames_with_boxes = 0
        self.boxes = 0
        self.low_confidence: list[dict[str, Any]] = []
        self._last: dict[str, dict[str, Any]] = {}  # each reason's newest range

    def add_frame(self, frame: int, time: float, rows: list[list[Any]],
                  blurred: list[tuple[int, int, int, int]]) -> None:
        """Record the boxes of one output frame shown at `time` seconds (rows follow
        FRAME_COLUMNS) and the regions actually blurred."""
        if not rows and not blurred:
            return
        self.frames_with_boxes += 1
        self.boxes += len(rows)
        self._spool.write(("" if self._first else ",\n")
                          + json.dumps([frame, rows, blurred, round(time, 6)],
                                     separators=(",", ":")))
        self._first = False

    def flag(self, frame: int, time: float, reason: str, score: float, *,
             merge_gap: int) -> None:
        """Mark a frame (shown at `time` seconds) for a reviewer; flags of one reason at most
        `merge_gap` frames apart become one range, whatever other reasons flag the frames
        between. `reason` is one of FLAG_LABELS (the console explains it)."""
        if reason not in FLAG_LABELS:
            raise ValueError(f"unknown flag reason {reason!r}: add it to FLAG_LABELS")
        last = self._last.get(reason)
        if last and frame - last["end_frame"] <= merge_gap:
            last["end_frame"] = frame
            last["end_time"] = round(time, 3)
            last["min_score"] = round(min(last["min_score"], score), 3)
            return
        self._last[reason] = {"start_frame": frame, "end_frame": frame,
                              "start_time": round(time, 3), "end_time": round(time, 3),
                              "reason": reason, "min_score": round(score, 3)}
        self.low_confidence.append(self._last[reason])

    def write(self, path: Path, header: dict[str, Any]) -> None:
        """Write header + frame rows to `path` atomically (temp file, fsync, rename)."""
        header = {"schema": SCHEMA, **header, "low_confidence": self.low_confidence,
                  "frame_layout": FRAME_LAYOUT, "frame_columns": FRAME_COLUMNS}
        head = json.dumps(header, indent=1, default=str)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            with open(tmp, "w", encoding="utf-8") as out:
                out.write(head[:-1].rstrip() + ',\n "frames": [\n')
                self._spool.seek(0)
                while chunk := self._spool.read(1 << 20):
                    out.write(chunk)
                out.write("\n ]\n}\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def close(self) -> None:
        """Drop the spool file."""
        self._spool.close()


def read_manifest(path: Path) -> dict[str, Any]:
    """Load a manifest written by ManifestWriter."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
