"""Face detectors behind one small Protocol: an RGB frame in, scored boxes out."""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import cv2
import numpy as np

from redaction.errors import ToolMissing
from storage.crypto import sha256_file

MODEL_PATH = Path(__file__).with_name("models") / "centerface.onnx"


@dataclass(frozen=True, slots=True)
class Box:
    """A face box in frame pixels (x0, y0 inclusive; x1, y1 exclusive) with a score in [0, 1]."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0
    # Distance between the eyes as a share of the box width, from the detector's landmarks
    # (None when it gives none): ~0.4 seen from the front, under 0.3 turned to the side.
    eye_span: float | None = None

    @property
    def w(self) -> float:
        return self.x1 - self.x0

    @property
    def h(self) -> float:
        return self.y1 - self.y0

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    def scaled(self, factor: float) -> Box:
        """This box with every coordinate multiplied by `factor`."""
        return Box(self.x0 * factor, self.y0 * factor, self.x1 * factor, self.y1 * factor,
                   self.score, self.eye_span)


def intersection(a: Box, b: Box) -> float:
    """The area two boxes share."""
    return (max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
            * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0)))


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when either is empty)."""
    inter = intersection(a, b)
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


class Detector(Protocol):
    """Anything that finds faces: an RGB uint8 frame (H, W, 3) -> boxes in its pixels."""

    name: str

    def __call__(self, rgb: np.ndarray) -> list[Box]: ...


@lru_cache(maxsize=4)
def file_sha256(path: Path) -> str:
    """Hex sha256 of the model file, cached: recorded in manifests."""
    return sha256_file(path)


_OUTS = ["537", "538", "539", "540"]  # CenterFace's heatmap, scale, offset, landmarks


def _onnxruntime_session(model: Path, threads: int) -> Any | None:
    """An onnxruntime session for CenterFace with free input size, or None when onnx or
    onnxruntime is not installed. Same maps as OpenCV DNN (max difference ~1e-5, measured)
    in about 2/3 of the time on this machine's CPUs."""
    try:
        import onnxruntime as ort
        m = prepared_model(model)
    except ImportError:
        return None
    return ort.InferenceSession(m.SerializeToString(), onnxruntime_options(threads),
                                providers=["CPUExecutionProvider"])


def onnxruntime_options(threads: int) -> Any:
    """onnxruntime's session options for a network of the pipeline (CenterFace, MoveNet):
    `threads` for one call, nothing run beside it."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    # idle threads sleep instead of spinning: the cores are shared with blur and ffmpeg
    # (measured in the pipeline: 48 -> 37 CPU ms a frame, same run)
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


# held to start OpenVINO and to read or clone its model: one thread at a time (re-entrant:
# reading the model starts OpenVINO)
_OPENVINO_START = threading.RLock()


@lru_cache(maxsize=1)
def _started_openvino() -> Any | None:
    """OpenVINO's runtime, started (see below), or None when openvino is not installed."""
    try:
        import openvino as ov
    except ImportError:
        return None
    core = ov.Core()
    # The first numpy view of a tensor in a process runs a one-time set-up inside OpenVINO's
    # Python binding (a C++ static that, while initialising, waits for the GIL); two threads
    # doing it at once deadlock, one holding the GIL and waiting for the static, the other
    # holding the static and waiting for the GIL. The upright and turned passes start their
    # first inference together, so a redaction hung for ever ~1 time in 2 when both reached
    # it at the same instant (tests/redaction/test_detect.py). Done once here, by one thread.
    tensor = ov.Tensor(ov.Type.f32, ov.Shape([1]))
    tensor.data[:] = np.zeros(1, np.float32)
    return core


def _openvino_core() -> Any | None:
    """One OpenVINO runtime per process, or None when openvino is not installed."""
    with _OPENVINO_START:
        return _started_openvino()


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.partition(":")[2].split())


@lru_cache(maxsize=1)
def native_bfloat16() -> bool:
    """Whether OpenVINO is installed and this CPU computes in bfloat16 itself: AVX-512 BF16
    or AMX, the instruction sets the bfloat16 figures were measured with (OpenVINO may also
    offer bfloat16 on CPUs where it was never measured here)."""
    core = _openvino_core()
    if core is None or not _cpu_flags() & {"avx512_bf16", "amx_bf16"}:
        return False
    try:
        return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # noqa: BLE001 (any failure to ask means: do not use it)
        return False


def runs_bfloat16(backend: str) -> bool:
    """Whether a network asked to run by `backend` runs in bfloat16 by OpenVINO: "auto" on a
    CPU with native bfloat16, "openvino-bf16" always (refused, ToolMissing, where the CPU or
    OpenVINO cannot); the face and the head detector choose alike."""
    if backend == "openvino-bf16" and not native_bfloat16():
        raise ToolMissing("the openvino-bf16 backend needs OpenVINO and a CPU with native "
                          "bfloat16 (AVX-512 BF16 or AMX); set detect_backend "
                          "(BWC_DETECT_BACKEND) to auto or float32", backend=backend)
    return backend == "openvino-bf16" or (backend == "auto" and native_bfloat16())


@lru_cache(maxsize=2)
def _openvino_model(model: Path) -> Any:
    """A network (CenterFace, MoveNet) read by OpenVINO, once a process; each compiled copy
    is cloned from it and given its input size. Read from the file itself: OpenVINO folds
    the weights CenterFace's export lists as graph inputs by itself (the same outputs, bit
    for bit, as from `prepared_model`), and not importing `onnx` saves ~0.8 s of CPU in each
    process that redacts."""
    core = _openvino_core()
    assert core is not None
    return core.read_model(str(model))


class OpenVinoNetwork:
    """A network in bfloat16 by OpenVINO (CenterFace by default; MoveNet for heads): each
    thread compiles its own copy for each input size it meets (a video: upright and turned,
    one thread each), so the two passes never wait on one compiled model, and the copies go
    with the detector. On a CPU with native bfloat16 a CenterFace call costs ~0.6 of
    onnxruntime's float32 one (the pipeline: -13..-29% CPU a frame) with the same recall on
    the bench clips (README "Speed, fourth pass"); its heatmap differs from float32's by up
    to ~0.03. Compiling costs ~0.1-0.3 s a copy.

    CenterFace (`channels_first`) takes the frame's bytes, converted to its float planes
    inside the compiled model; a network taking rows of pixels (MoveNet) gets its input as
    given."""

    def __init__(self, model: Path, threads: int, precision: str = "bf16", *,
                 input_name: str = "input.1", outputs: Sequence[str] = tuple(_OUTS),
                 channels_first: bool = True) -> None:
        self._model = model
        self._threads = threads
        self._precision = precision  # "f32" only for tests on CPUs without bfloat16
        self._input = input_name
        self._outputs = outputs
        self._channels_first = channels_first
        self._local = threading.local()

    def _request(self, in_w: int, in_h: int) -> Any:
        requests: dict[tuple[int, int], Any] | None = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = {}
        if (in_w, in_h) not in requests:
            core = _openvino_core()
            assert core is not None
            try:
                with _OPENVINO_START:  # the shared model, cloned by one thread at a time
                    m = _openvino_model(self._model).clone()
                if self._channels_first:
                    m.reshape({self._input: [1, 3, in_h, in_w]})
                    m = _takes_rgb_bytes(m)
                else:
                    m.reshape({self._input: [1, in_h, in_w, 3]})
                compiled = core.compile_model(m, "CPU", {
                    "INFERENCE_PRECISION_HINT": self._precision,
                    "INFERENCE_NUM_THREADS": self._threads,
                    "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
                    "ENABLE_CPU_PINNING": False})
            except Exception as exc:  # noqa: BLE001 (OpenVINO raises plain RuntimeErrors)
                raise ToolMissing(f"OpenVINO could not compile {self._model.name} ({exc}); "
                                  "set detect_backend (BWC_DETECT_BACKEND) to float32",
                                  backend="openvino-bf16") from None
            requests[(in_w, in_h)] = compiled.create_infer_request()
        return requests[(in_w, in_h)]

    def run(self, frame: np.ndarray) -> list[np.ndarray]:
        """The network's outputs for `frame`, already at the input size: uint8 rows of RGB
        pixels for CenterFace, the network's own input type otherwise."""
        if self._channels_first and frame.dtype != np.uint8:
            # OpenVINO would quietly round other types to bytes
            raise TypeError(f"a frame of bytes (uint8) is expected, not {frame.dtype}")
        request = self._request(frame.shape[1], frame.shape[0])
        request.infer({self._input: frame[None]})
        return [request.get_tensor(name).data.copy() for name in self._outputs]


def _takes_rgb_bytes(model: Any) -> Any:
    """`model` taking the frame as it is, uint8 rows of RGB pixels, the conversion to the
    network's float planes done by OpenVINO inside the compiled model: the same input values
    exactly (bytes to float is exact), ~0.7 ms less a call than `blobFromImage` (which also
    resized; `cv2.resize` does that the same way, bit for bit)."""
    from openvino import Layout, Type
    from openvino.preprocess import PrePostProcessor

    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(Type.u8).set_layout(Layout("NHWC"))
    ppp.input().model().set_layout(Layout("NCHW"))
    return ppp.build()


def prepared_model(model: Path) -> Any:
    """CenterFace as an onnx ModelProto with free input size and its weights taken out of the
    graph inputs (the exported model lists them there, which blocks constant folding)."""
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    m = onnx.load(str(model))
    if m.graph.input[0].type.tensor_type.shape.dim[2].dim_param:
        return m  # prepared already (the int8 model is made from a prepared one)
    weights = {i.name for i in m.graph.initializer}
    keep = [i for i in m.graph.input if i.name not in weights]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    return update_inputs_outputs_dims(
        m, {"input.1": ["B", 3, "H", "W"]},
        {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"], "539": ["B", 2, "h", "w"],
         "540": ["B", 10, "h", "w"]})


BACKENDS = ("auto", "float32", "openvino-bf16", "onnxruntime", "opencv")


class CenterFaceDetector:
    """CenterFace (MIT) on a downscaled frame. `backend` "auto" runs it in bfloat16 by
    OpenVINO where the CPU computes bfloat16 natively, else as "float32" does: by
    onnxruntime when installed, else by OpenCV DNN; "openvino-bf16", "onnxruntime" or
    "opencv" ask for one (the name says which ran, and manifests record it). Decisions on
    one photo (a reference photo's one face, a poster) use "float32": the same on every CPU.

    Chosen by measurement over dlib HOG and Haar cascades (see models/README.md): it finds
    small, turned and partly hidden faces that both of those miss.
    """

    name = "centerface"

    def __init__(self, *, threshold: float = 0.1, detect_area: int = 640 * 360,
                 threads: int = 1, model: Path = MODEL_PATH, backend: str = "auto") -> None:
        if not model.is_file():
            raise ToolMissing(f"face detector model missing: {model}", path=str(model))
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}")
        self.threshold = threshold
        self.detect_area = detect_area
        self.model = model
        self.threads = threads
        self._ov: OpenVinoNetwork | None = None
        self._sess = None
        self._net = None
        if runs_bfloat16(backend):
            self._ov = OpenVinoNetwork(model, threads)
        elif backend != "opencv":
            self._sess = _onnxruntime_session(model, threads)
            if backend == "onnxruntime" and self._sess is None:
                raise ToolMissing("onnxruntime backend asked for but onnx/onnxruntime missing")
        if self._ov is None and self._sess is None:
            self._net = cv2.dnn.readNetFromONNX(str(model))
        self.backend = ("openvino-bf16" if self._ov is not None else
                        "onnxruntime" if self._sess is not None else "opencv")
        self.name = f"centerface/{self.backend}"
        self._outs = _OUTS

    @property
    def model_sha256(self) -> str:
        return file_sha256(self.model)

    def with_threshold(self, threshold: float) -> CenterFaceDetector:
        """This detector (same loaded model) reporting faces down to `threshold`."""
        other = copy.copy(self)
        other.threshold = threshold
        return other

    def input_size(self, width: int, height: int) -> tuple[int, int]:
        """Network input (w, h): about `detect_area` pixels, never upscaled, multiples of 32."""
        scale = min(1.0, math.sqrt(self.detect_area / (width * height)))
        return (max(32, math.ceil(width * scale / 32) * 32),
                max(32, math.ceil(height * scale / 32) * 32))

    def __call__(self, rgb: np.ndarray) -> list[Box]:
        h, w = rgb.shape[:2]
        in_w, in_h = self.input_size(w, h)
        cv2.setNumThreads(self.threads)
        if self._ov is not None:
            small = rgb if (w, h) == (in_w, in_h) else cv2.resize(
                rgb, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
            heat, scale, offset, lms = self._ov.run(np.ascontiguousarray(small))
        else:
            blob = cv2.dnn.blobFromImage(rgb, 1.0, (in_w, in_h), (0, 0, 0), False, False)
            if self._sess is not None:
                heat, scale, offset, lms = self._sess.run(self._outs, {"input.1": blob})
            else:
                assert self._net is not None
                self._net.setInput(blob)
                heat, scale, offset, lms = self._net.forward(self._outs)
        return decode_centerface(heat, scale, offset, lms, self.threshold,
                                 sx=w / in_w, sy=h / in_h, frame_w=w, frame_h=h)


def decode_centerface(heat: np.ndarray, scale: np.ndarray, offset: np.ndarray,
                      landmarks: np.ndarray, threshold: float, *, sx: float, sy: float,
                      frame_w: int, frame_h: int) -> list[Box]:
    """Turn CenterFace's heatmap/scale/offset/landmark maps into boxes in frame pixels,
    after NMS. Of the five landmarks (eyes, nose, mouth corners; offsets from the box's
    corner in box sizes, y first) only the eyes are kept, as the box's `eye_span`."""
    hm = heat[0, 0]
    ys, xs = np.nonzero(hm > threshold)
    if len(ys) == 0:
        return []
    s0 = np.exp(scale[0, 0, ys, xs]) * 4
    s1 = np.exp(scale[0, 1, ys, xs]) * 4
    o0 = offset[0, 0, ys, xs]
    o1 = offset[0, 1, ys, xs]
    x0 = np.maximum(0, (xs + o1 + 0.5) * 4 - s1 / 2)
    y0 = np.maximum(0, (ys + o0 + 0.5) * 4 - s0 / 2)
    boxes = np.stack([x0 * sx, y0 * sy, np.minimum((x0 + s1) * sx, frame_w),
                      np.minimum((y0 + s0) * sy, frame_h)], axis=1)
    scores = hm[ys, xs]
    keep = nms(boxes, scores, 0.3)
    lm = landmarks[0][:, ys, xs]  # (10, n): eye 1 y, x; eye 2 y, x; nose; mouth corners
    span = np.hypot((lm[3] - lm[1]) * s1 * sx, (lm[2] - lm[0]) * s0 * sy) / (s1 * sx)
    return [Box(float(b[0]), float(b[1]), float(b[2]), float(b[3]), float(scores[i]),
                float(span[i])) for i, b in ((i, boxes[i]) for i in keep)]


def nms(boxes: np.ndarray, scores: np.ndarray, overlap: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = list(np.argsort(-scores))
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        if not order:
            break
        rest = np.array(order)
        xx0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.maximum(0, xx1 - xx0) * np.maximum(0, yy1 - yy0)
        ovr = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = [int(j) for j, o in zip(rest, ovr, strict=True) if o < overlap]
    return keep


def rotated_pass(detector: CenterFaceDetector, rgb: np.ndarray, angle: float) -> list[Box]:
    """Faces found on a copy of `rgb` turned by `angle` degrees (counter-clockwise), as
    upright boxes of the same size around the faces' centres in `rgb`.

    The turned copy is made straight at the detector's input area (the canvas of a turned
    16:9 frame is ~2x larger, so faces shrink by ~0.7), so the pass costs about one more
    detection. CenterFace, trained on mostly upright faces, then sees faces tilted by about
    `angle` upright: measured on the bench, tilted heads in upright photos too (a profile in a
    hood, a child leaning on another), which score near zero upright."""
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    cw, ch = h * s + w * c, h * c + w * s
    m[0, 2] += cw / 2 - w / 2
    m[1, 2] += ch / 2 - h / 2
    k = min(1.0, math.sqrt(detector.detect_area / (cw * ch)))
    m = m * k
    small = cv2.warpAffine(rgb, m, (max(32, round(cw * k)), max(32, round(ch * k))),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    inv = cv2.invertAffineTransform(m)
    out = []
    for b in detector(small):
        fx = inv[0, 0] * b.cx + inv[0, 1] * b.cy + inv[0, 2]
        fy = inv[1, 0] * b.cx + inv[1, 1] * b.cy + inv[1, 2]
        bw, bh = b.w / k, b.h / k
        out.append(Box(fx - bw / 2, fy - bh / 2, fx + bw / 2, fy + bh / 2, b.score,
                       b.eye_span))
    return out


# A frame is under-exposed when its mean is under DARK_MEAN of full scale and even its
# brightest hundredth is under DARK_P99: nothing in it is well exposed. It is lifted before
# detection by a gamma curve that maps its mean level to LIFTED_MEAN (a well-exposed frame's
# mean), never steeper than MIN_GAMMA (on a nearly black frame, a lens cap or a pocket, a
# steeper curve turns compression noise into speckle: MIN_GAMMA takes level 1 to 64). A
# frame with anything bright in it (a lit doorway, a lamp, a normal scene beside a dark
# wall) is never lifted alone: the curve would wash out what is lit (`exposure`: where much
# of it is deep shadow, it is searched both as it is and lifted). Frames at or under
# BLACK_MEAN hold nothing to lift.
DARK_MEAN = 0.25
DARK_P99 = 0.5
# A dark frame with something bright in it is searched lifted as well when at least
# SHADOW_SHARE of it is deep shadow (no channel above SHADOW_LEVEL): where faces can hide. On
# the bench, the darkest keyframes of the well-lit clips have at most 0.2 of such pixels (their
# photos on a grey canvas), the "lamp" clips' keyframes 0.03-0.72, a third at the median.
SHADOW_LEVEL = 0.1
SHADOW_SHARE = 0.25
LIFTED_MEAN = 0.45
MIN_GAMMA = 0.25  # what a mean of ~0.04 needs; the bench's dark frames' means are 0.05-0.2
BLACK_MEAN = 0.005


class Exposure(NamedTuple):
    """What `exposure` makes of a frame for the face detector."""

    copy: np.ndarray | None  # the frame lifted (None: it needs none, or none was asked for)
    alone: bool  # under-exposed: the lifted copy is all the detector needs
    level: float | None  # a dark frame's mean (0 black, 1 white); None: not dark

    def upright(self, rgb: np.ndarray) -> list[np.ndarray]:
        """The pictures of `rgb` the upright face pass searches: the lifted copy alone
        (under-exposed), the frame as it is and the copy (a light in view), else the frame."""
        if self.copy is None:
            return [rgb]
        return [self.copy] if self.alone else [rgb, self.copy]


def exposure(rgb: np.ndarray, lift: bool = True) -> Exposure:
    """Whether `rgb` is dark for the face detector, and (unless `lift` is False) a copy of it
    lifted for it (smoothed by a 3x3 Gaussian, then brightened by a gamma curve that maps its
    mean level to LIFTED_MEAN). `alone` is True for an under-exposed frame (nothing in it
    well exposed: the copy is all the detector needs), False for a dark frame with something
    bright in it (a lamp, a torch, headlights, a lit doorway) and at least SHADOW_SHARE of it
    in deep shadow (the curve washes out what is lit, so the frame as it is is searched too,
    the copy for the faces in its shadows). Any other frame is not dark: (None, False, None).
    The caller's frame is never changed.

    CenterFace learnt faces from well-exposed photos and scores under-exposed ones low. The
    smoothing comes first because the curve lifts the sensor noise with the faces. Measured
    on the bench's dark clips (`bench/redaction.py --kinds dark`, seeds 1-8): boxes missed
    260 -> 213 by the variance test, 193 -> 143 by detail kept; on its "lamp" clips (seeds
    1-3), 161 -> 115 and 138 -> 77 (redaction/README.md, "Dark frames", "A light in view").
    Dark frames are still where most misses are left: the redactor flags them for review."""
    sample = rgb[::8, ::8]
    mean = float(sample.mean()) / 255
    if not BLACK_MEAN < mean < DARK_MEAN:
        return Exposure(None, False, None)
    alone = float(np.percentile(sample, 99)) / 255 < DARK_P99
    if not alone and float((sample.max(axis=2) < SHADOW_LEVEL * 255).mean()) < SHADOW_SHARE:
        return Exposure(None, False, None)
    if not lift:
        return Exposure(None, alone, mean)
    gamma = max(MIN_GAMMA, math.log(LIFTED_MEAN) / math.log(mean))
    curve = np.round(np.linspace(0.0, 1.0, 256) ** gamma * 255).astype(np.uint8)
    return Exposure(cv2.LUT(cv2.GaussianBlur(rgb, (3, 3), 0), curve), alone, mean)


def merge(boxes: list[Box], overlap: float = 0.3) -> list[Box]:
    """`boxes` from several passes with duplicates removed (NMS, best score kept)."""
    if len(boxes) < 2:
        return boxes
    arr = np.array([[b.x0, b.y0, b.x1, b.y1] for b in boxes])
    return [boxes[i] for i in nms(arr, np.array([b.score for b in boxes]), overlap)]


class HogDetector:
    """dlib's HOG detector via face_recognition's models (kept for comparison and fallback)."""

    name = "dlib_hog"

    def __init__(self, *, scale: float = 1.0, upsample: int = 0, threshold: float = -0.5) -> None:
        import dlib

        self.scale = scale
        self.upsample = upsample
        self.threshold = threshold
        self._det = dlib.get_frontal_face_detector()

    def __call__(self, rgb: np.ndarray) -> list[Box]:
        img = rgb
        if self.scale != 1.0:
            img = cv2.resize(rgb, None, fx=self.scale, fy=self.scale,
                             interpolation=cv2.INTER_AREA)
        rects, scores, _ = self._det.run(img, self.upsample, self.threshold)
        inv = 1.0 / self.scale
        # dlib scores are SVM margins; squash to (0, 1) so they read like the others
        return [Box(r.left() * inv, r.top() * inv, r.right() * inv, r.bottom() * inv,
                    float(1 / (1 + math.exp(-s)))) for r, s in zip(rects, scores, strict=True)]


class NullDetector:
    """Finds nothing: measures the decode/blur/encode floor in the bench. Never for release."""

    name = "none"

    def __call__(self, rgb: np.ndarray) -> list[Box]:
        return []


def make_detector(name: str, *, threshold: float | None = None,
                  detect_area: int | None = None, threads: int = 1,
                  backend: str = "auto") -> Detector:
    """The detector called `name` ("centerface" or "dlib_hog") with optional settings
    (`backend`: CenterFace's runtime, see `CenterFaceDetector`)."""
    if name == "centerface":
        return CenterFaceDetector(threshold=0.1 if threshold is None else threshold,
                                  detect_area=detect_area or 640 * 360, threads=threads,
                                  backend=backend)
    if name == "dlib_hog":
        return HogDetector(threshold=-0.5 if threshold is None else threshold)
    if name == "none":
        return NullDetector()
    raise ValueError(f"unknown detector {name!r}")
