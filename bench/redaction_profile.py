#!/usr/bin/env python3
"""Where the CPU of one redaction goes, per frame: the ffmpeg decoder and encoder (each
child's own rusage), the main thread (read, blur, write), the detection thread, and inside
detection the colour conversion, the upright pass and the turned pass.

    .venv/bin/python bench/redaction_profile.py CLIP [--tree DIR] [--set key=value ...]

`--tree DIR` profiles another checkout (e.g. `git archive main`); `--set` overrides a
RedactOptions field (`--set rotated_pass=false`). CPU ms a frame are the figures: wall time
on a shared machine is others' load as much as ours.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clip", type=Path)
    ap.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    a = ap.parse_args()
    sys.path.insert(0, str(a.tree.resolve()))
    from redaction import detect, ffio, run
    from redaction.pipeline import RedactOptions, redact_file

    cpu: dict[str, float] = defaultdict(float)
    lock = threading.Lock()
    names: dict[int, str] = {}

    # each ffmpeg's own CPU, from wait4 (its rusage alone, not all children together)
    def wait(self: Any) -> int:
        if self.proc.returncode is None:
            _, status, ru = os.wait4(self.proc.pid, 0)
            self.proc.returncode = os.waitstatus_to_exitcode(status)
            cpu[names.get(self.proc.pid, "ffmpeg")] += ru.ru_utime + ru.ru_stime
        self._drain.join(timeout=10)
        return int(self.proc.returncode)

    ffio.FFmpegProcess.wait = wait  # type: ignore[method-assign]
    start_decoder, start_encoder = ffio.start_decoder, ffio.start_encoder

    def dec(*args: Any, **kw: Any) -> Any:
        d = start_decoder(*args, **kw)
        names[d.proc.pid] = "ffmpeg decode"
        return d

    def enc(*args: Any, **kw: Any) -> Any:
        e, mode = start_encoder(*args, **kw)
        names[e.proc.pid] = "ffmpeg encode"
        return e, mode

    import redaction.pipeline as pipeline
    pipeline.start_decoder, pipeline.start_encoder = dec, enc

    def timed(name: str, fn: Any) -> Any:
        def inner(*args: Any, **kw: Any) -> Any:
            t = time.thread_time()
            try:
                return fn(*args, **kw)
            finally:
                with lock:
                    cpu[name] += time.thread_time() - t
        return inner

    # thread CPU of the caller only: onnxruntime's own pool threads are in "rest of process"
    run.FrameRun.detect = timed("detect thread (calling thread)", run.FrameRun.detect)
    run.blur.to_rgb = timed("  to_rgb", run.blur.to_rgb)
    run.rotated_pass = timed("  turned pass (calling thread)", run.rotated_pass)
    run.FrameRun.apply = timed("main: apply (tracker boxes, blur, rows)", run.FrameRun.apply)
    run.blur.blur_boxes = timed("  blur_boxes", run.blur.blur_boxes)
    run.FrameRun.add_keyframe = timed("main: add_keyframe (tracker)", run.FrameRun.add_keyframe)
    ffio.Decoder.read = timed("main: decoder read", ffio.Decoder.read)
    ffio.Encoder.write = timed("main: encoder write", ffio.Encoder.write)
    if hasattr(detect, "CenterFaceDetector"):
        detect.CenterFaceDetector.__call__ = timed(  # type: ignore[method-assign]
            "  centerface call (calling thread)", detect.CenterFaceDetector.__call__)

    settings = {k: _value(v) for k, v in (s.split("=", 1) for s in a.set)}
    before = resource.getrusage(resource.RUSAGE_SELF)
    main_t = time.thread_time()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        res = redact_file(a.clip, Path(tmp) / "out.mp4",
                          options=RedactOptions(overwrite=True, **settings))
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    me = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    main_cpu = time.thread_time() - main_t
    n = res.frames
    print(f"{a.clip.name}: {n} frames, tree {a.tree}, settings {settings}, "
          f"wall {wall:.1f} s, load {os.getloadavg()}")
    total = me + cpu["ffmpeg decode"] + cpu["ffmpeg encode"]
    rows = [("total (process + ffmpegs)", total), ("ffmpeg decode", cpu["ffmpeg decode"]),
            ("ffmpeg encode", cpu["ffmpeg encode"]), ("python process", me),
            ("  main thread", main_cpu),
            ("  rest of process (detect thread, onnxruntime pool, hashing)", me - main_cpu)]
    rows += [(k, v) for k, v in cpu.items() if not k.startswith("ffmpeg")]
    for k, v in rows:
        print(f"  {k:62s} {1000 * v / n:7.1f} ms a frame")


if __name__ == "__main__":
    main()
