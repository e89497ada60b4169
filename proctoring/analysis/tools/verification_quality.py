"""Where the verification cut-offs come from: each clear face's quality against its best genuine
similarity, on a folder of labelled photos (``manifest.csv`` as in shared/data/images).

    .venv/bin/python -m proctoring.analysis.tools.verification_quality ../shared/data/images

Prints the percentiles of Brightness, Sharpness, |Yaw|, |Pitch| and face height (fraction of the
frame) over the largest clear face of every photo, then one line per photo of a person with two or
more photos: best genuine similarity, quality and pose, lowest similarity first.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import numpy as np

from proctoring.analysis import faces
from proctoring.analysis.imaging import decode
from proctoring.analysis.local.quality import clear


def measure(root: Path) -> list[dict[str, Any]]:
    found = []
    with open(root / "manifest.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        frame = decode({"Bytes": (root / row["file"]).read_bytes()}, "Study")
        counted = clear(faces.detect(frame.bgr), frame)
        if not counted:
            continue
        detail = faces.face_detail(counted[0], frame.bgr)
        found.append({"file": row["file"], "identity": row.get("identity", ""), "detail": detail,
                      "vector": faces.embed(frame.bgr, counted[0])})
    return found


def main(root: str) -> None:
    found = measure(Path(root))
    columns = {
        "Brightness": lambda d: d["Quality"]["Brightness"], "Sharpness": lambda d: d["Quality"]["Sharpness"],
        "|Yaw|": lambda d: abs(d["Pose"]["Yaw"]), "|Pitch|": lambda d: abs(d["Pose"]["Pitch"]),
        "Height": lambda d: d["BoundingBox"]["Height"],
    }
    print(f"{len(found)} clear faces; percentiles 1, 5, 10, 50, 90, 99")
    for name, value in columns.items():
        print(f"  {name:10} {np.percentile([value(f['detail']) for f in found], [1, 5, 10, 50, 90, 99]).round(3)}")
    lines = []
    for face in found:
        same = [other for other in found if other is not face and face["identity"]
                and other["identity"] == face["identity"]]
        if not same:
            continue
        best = max(faces.similarity(float(face["vector"] @ other["vector"])) for other in same)
        d = face["detail"]
        lines.append((best, f"{face['file'][:44]:44} {best:6.1f}  B{d['Quality']['Brightness']:5.1f} "
                            f"S{d['Quality']['Sharpness']:5.1f} Y{d['Pose']['Yaw']:6.1f} P{d['Pose']['Pitch']:6.1f} "
                            f"H{d['BoundingBox']['Height']:.3f}"))
    for _, line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/images")
