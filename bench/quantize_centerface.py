#!/usr/bin/env python3
"""Quantise CenterFace to int8 (onnxruntime static QDQ, per channel), calibrated on frames of
a bench clip built from faces-dev (never the identities photos). Measured and not shipped
(redaction/README.md, "Tilted faces"); kept so the measurement can be repeated, e.g. with
`CenterFaceDetector(model=PATH, backend="onnxruntime")` or the model swapped in for
centerface.onnx (on a CPU with native bfloat16, "auto" would run it by OpenVINO).

    .venv/bin/python bench/quantize_centerface.py CLIP [--frames 40] [--out PATH]

Calibration frames are taken evenly through CLIP, upright and turned +-45 degrees (the
turned pass feeds the model turned copies), at the pipeline's detection size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnx.version_converter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redaction.detect import MODEL_PATH, CenterFaceDetector, prepared_model  # noqa: E402


def calibration_blobs(clip: Path, frames: int) -> list[np.ndarray]:
    """Network inputs from `frames` frames spread through `clip`, as the pipeline makes them
    (upright, and turned copies for every other frame)."""
    cap = cv2.VideoCapture(str(clip))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    det = CenterFaceDetector()
    blobs: list[np.ndarray] = []
    for i, at in enumerate(np.linspace(0, total - 1, frames).astype(int)):
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(at))
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        images = [rgb]
        if i % 2:
            angle = 45.0 if i % 4 == 1 else -45.0
            m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            images.append(cv2.warpAffine(rgb, m, (w, h)))
        for img in images:
            in_w, in_h = det.input_size(w, h)
            blobs.append(cv2.dnn.blobFromImage(img, 1.0, (in_w, in_h), (0, 0, 0), False,
                                               False))
    return blobs


def main() -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clip", type=Path)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--out", type=Path, default=Path("centerface_int8.onnx"))
    a = ap.parse_args()
    blobs = calibration_blobs(a.clip, a.frames)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(blobs)

        def get_next(self) -> dict[str, np.ndarray] | None:
            b = next(self.it, None)
            return None if b is None else {"input.1": b}

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "float.onnx"
        # per-channel DequantizeLinear needs opset 13; the exported model is opset 9
        m = onnx.version_converter.convert_version(prepared_model(MODEL_PATH), 13)
        src.write_bytes(m.SerializeToString())
        quantize_static(str(src), str(a.out), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
    print(f"wrote {a.out} from {len(blobs)} calibration inputs")


if __name__ == "__main__":
    main()
