"""Latency of the local engine on 640x480 frames, per stage and for ``analyze`` (all checks).

``python -m proctoring.analysis.bench [--images DIR] [--repeat N]`` prints median and p95 per
stage with one thread and with every core. Each thread setting runs in a fresh child process,
because OpenCV and onnxruntime fix their thread pools when the models load. When
``face_recognition`` (dlib HOG + ResNet) is importable, its detect+encode time on the same
frames is shown, and the ratio to ours.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FRAME_SIZE = (640, 480)
DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "images"
STAGES = ("decode", "faces", "embedding", "objects", "nanodet", "unsafe", "analyze", "face_recognition")
STAGE_NAMES = {
    "decode": "decode (Pillow, EXIF, BGR)",
    "faces": "faces (YuNet)",
    "embedding": "embedding (SFace, 1 face)",
    "objects": "objects (YOLOv4-tiny 256)",
    "nanodet": "phone/laptop/book (NanoDet-m)",
    "unsafe": "unsafe (open_nsfw)",
    "analyze": "analyze: all checks + search",
    "face_recognition": "face_recognition HOG+encode",
}


def frames(images: Path) -> list[bytes]:
    """Every JPEG/PNG in ``images``, centre-cropped and resized to 640x480, as JPEG q90."""
    from PIL import Image, ImageOps

    out = []
    for path in sorted(images.iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        image = ImageOps.fit(Image.open(path).convert("RGB"), FRAME_SIZE)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    if not out:
        raise SystemExit(f"no JPEG/PNG images in {images}")
    return out


def _time(fn: Callable[[], Any], repeat: int) -> list[float]:
    fn()  # warm: first calls load models and allocate
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def measure(images: Path, repeat: int) -> dict[str, list[float]]:
    """Per-stage samples (ms) in this process, cycling through the frames."""
    from . import faces, moderation, nanodet, objects
    from .imaging import decode
    from .local import LocalEngine
    from .store import MemoryFaceStore

    data = frames(images)
    decoded = [decode({"Bytes": d}, "Bench") for d in data]
    detected = [(f, faces.detect(f.bgr)) for f in decoded]
    with_face = [(f, found[0]) for f, found in detected if found]
    engine = LocalEngine(store=MemoryFaceStore())
    engine.create_collection(CollectionId="bench")
    for d in data:
        engine.index_faces(CollectionId="bench", Image={"Bytes": d}, MaxFaces=1, QualityFilter="NONE")

    def cycle(items: list[Any], fn: Callable[[Any], Any]) -> Callable[[], Any]:
        state = {"i": 0}

        def call() -> Any:
            item = items[state["i"] % len(items)]
            state["i"] += 1
            return fn(item)

        return call

    samples = {
        "decode": _time(cycle(data, lambda d: decode({"Bytes": d}, "Bench")), repeat),
        "faces": _time(cycle(decoded, lambda f: faces.detect(f.bgr)), repeat),
        "objects": _time(cycle(decoded, lambda f: objects.detect(f.bgr)), repeat),
        "nanodet": _time(cycle(decoded, lambda f: nanodet.detect(f.bgr)), repeat),
        "unsafe": _time(cycle(decoded, lambda f: moderation.unsafe_probability(f.bgr)), repeat),
        "analyze": _time(
            cycle(data, lambda d: engine.analyze(Image={"Bytes": d}, CollectionId="bench")), repeat
        ),
    }
    if with_face:
        samples["embedding"] = _time(cycle(with_face, lambda p: faces.embed(p[0].bgr, p[1])), repeat)
    fr = _face_recognition_timer(data)
    if fr is not None:
        samples["face_recognition"] = _time(cycle(data, fr), max(3, repeat // 3))
    return samples


def _face_recognition_timer(data: list[bytes]) -> Callable[[bytes], Any] | None:
    try:
        import face_recognition  # type: ignore[import-not-found]
        import numpy as np
        from PIL import Image
    except (ImportError, SystemExit):  # optional; without its models package it calls quit()
        return None

    def run(d: bytes) -> Any:
        rgb = np.asarray(Image.open(io.BytesIO(d)).convert("RGB"))
        locations = face_recognition.face_locations(rgb, model="hog")
        return face_recognition.face_encodings(rgb, locations)

    return run


def summary(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    out = {}
    for stage, values in samples.items():
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
        out[stage] = {"median": round(statistics.median(ordered), 1), "p95": round(p95, 1)}
    return out


def _child(threads: int, images: Path, repeat: int) -> dict[str, dict[str, float]]:
    env = dict(os.environ, ANALYSIS_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    command = [sys.executable, "-m", "proctoring.analysis.bench", "--child",
               "--images", str(images), "--repeat", str(repeat)]
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def format_table(results: dict[int, dict[str, dict[str, float]]], frame_count: int, repeat: int) -> str:
    settings = sorted(results)
    head = "".join(f" | {f'{t} thread' + ('s' if t > 1 else ''):>15s}" for t in settings)
    lines = [
        f"640x480 frames: {frame_count} distinct, {repeat} timed calls per stage (ms, median / p95)",
        f"{'stage':32s}{head}",
    ]
    for stage in STAGES:
        cells = ""
        for t in settings:
            figures = results[t].get(stage)
            cells += f" | {figures['median']:6.1f} / {figures['p95']:6.1f}" if figures else f" | {'n/a':>15s}"
        lines.append(f"{STAGE_NAMES[stage]:32s}{cells}")
    for t in settings:
        ours = results[t].get("faces", {}).get("median", 0) + results[t].get("embedding", {}).get("median", 0)
        theirs = results[t].get("face_recognition", {}).get("median")
        if theirs and ours:
            whole = results[t]["analyze"]["median"]
            lines.append(
                f"face_recognition / ours ({t} thread{'s' if t > 1 else ''}): detect+encode "
                f"{theirs / ours:.1f}x slower; vs our whole analyze {theirs / whole:.1f}x"
            )
    if not any("face_recognition" in r for r in results.values()):
        lines.append("face_recognition: not installed (needs dlib built from source), no comparison")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(summary(measure(args.images, args.repeat))))
        return 0
    cores = max(1, os.cpu_count() or 1)
    results = {t: _child(t, args.images, args.repeat) for t in sorted({1, cores})}
    print(format_table(results, len(frames(args.images)), args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
