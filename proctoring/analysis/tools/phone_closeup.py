"""What the closer look for phones (``closeup.phones_near_face``) would add to the engine's phones.

    .venv/bin/python -m proctoring.analysis.tools.phone_closeup ../shared/data/images

Each image as the engine decodes it; its phone score is the highest raw score (YOLO's scale) of the
full-frame passes (YOLO and NanoDet, as ``analyze`` merges them), then the same with the crop pass
added. For both: phones found and images without a phone flagged, at the product's cut
(``objects.CONFIDENCE_85``) and at the cut ``measurement``'s rule chooses on the other source folds
(at most 5%/3 of the images without a phone flagged); and the process CPU time of the crop pass
(all threads, ``time.process_time``) on the images where it ran.

Dev photos (143, repository labels; 2026-12-01, a shared 2-core machine): the crop ran on 26 (the
others have no confident face, or one so large that the crop would be most of the frame); the one
phone image (at the ear, D_tj_on_bus) was already found on the full frame (raw 0.70); images
without a phone flagged, full frame -> with the crop: product's cut 2/142 -> 3/142, held out
2/142 -> 3/142 (C_kd_hollande, an audience: 0.107 -> 0.143); the crop pass took a median 77 ms of
process CPU where it ran (NanoDet at 416 on the crop, all its threads). So it found nothing new,
raised a false phone and costs about as much as the whole object pass: not in ``analyze``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from proctoring.analysis import faces as face_ops
from proctoring.analysis import nanodet, objects
from proctoring.analysis.calibration import threshold_for
from proctoring.analysis.evaluation import read_manifest
from proctoring.analysis.imaging import DEFAULT_WORK_SIDE, decode
from proctoring.analysis.measurement import FOLDS, OBJECT_CLASSES, TARGETS, objects_of, source_folds
from proctoring.analysis.tools import closeup

PHONE = "cell phone"


def scores(root: Path) -> list[dict[str, object]]:
    result = []
    for row in read_manifest(root):
        frame = decode({"Bytes": (root / row["file"]).read_bytes()}, "DetectLabels", DEFAULT_WORK_SIDE)
        full = nanodet.merge(objects.detect(frame.bgr), nanodet.detect(frame.bgr))
        found = face_ops.detect(frame.bgr)
        start = time.process_time()
        near = closeup.phones_near_face(frame.bgr, found)
        spent = 1000 * (time.process_time() - start)
        ran = any(f.score >= face_ops.PERSON_FACE_SCORE for f in found) and closeup.region(
            max(found, key=lambda f: f.area).box, frame.bgr.shape[1], frame.bgr.shape[0]) is not None
        best = max((d.score for d in full if d.coco == PHONE), default=0.0)
        result.append({"file": row["file"], "source": row.get("source") or row["file"],
                       "phone": "phone" in objects_of(row), "full": best,
                       "with": max([best, *(d.score for d in near)]), "ran": ran, "ms": spent})
    return result


def figures(rows: list[dict[str, object]], key: str) -> str:
    share = (TARGETS["false_objects"].at_most or 0.0) / len(OBJECT_CLASSES)
    product = objects.CONFIDENCE_85[PHONE]

    class Source:  # source_folds groups anything with a ``source``
        def __init__(self, source: str) -> None:
            self.source = source

    folds = source_folds([Source(str(r["source"])) for r in rows], FOLDS)
    cut_of = {}
    for fold in folds:
        negatives = [float(r[key]) for r in rows if r["source"] not in fold and not r["phone"]]  # type: ignore[arg-type]
        for source in fold:
            cut_of[source] = threshold_for(negatives, share)
    out = []
    for name, cut in (("product", lambda r: product), ("held out", lambda r: cut_of[r["source"]])):
        hits = sum(float(r[key]) >= cut(r) for r in rows if r["phone"])  # type: ignore[arg-type]
        false = sum(float(r[key]) >= cut(r) for r in rows if not r["phone"])  # type: ignore[arg-type]
        out.append(f"{name}: phones {hits}/{sum(bool(r['phone']) for r in rows)},"
                   f" false {false}/{sum(not r['phone'] for r in rows)}")
    return "; ".join(out)


def main(root: str) -> None:
    rows = scores(Path(root))
    ran = [float(r["ms"]) for r in rows if r["ran"]]  # type: ignore[arg-type]
    print(f"{len(rows)} images; the crop ran on {len(ran)}, median {statistics.median(ran or [0]):.0f} ms CPU")
    print(f"full frame:        {figures(rows, 'full')}")
    print(f"with the close-up: {figures(rows, 'with')}")
    for r in rows:
        if r["phone"] or float(r["with"]) > float(r["full"]):  # type: ignore[arg-type]
            print(f"  {r['file']}: phone={r['phone']} full {float(r['full']):.3f} with {float(r['with']):.3f}")  # type: ignore[arg-type]


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/images")
