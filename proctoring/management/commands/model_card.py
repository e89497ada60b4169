from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from proctoring.analysis.calibration import FOLDS, REPEATS
from proctoring.analysis.measurement import FOLDS as DETECTION_FOLDS
from proctoring.analysis.model_card import build


class Command(BaseCommand):
    help = ("Write the model card (docs/model-card.md): the engine's models, their weights and licences, and the"
            " figures evaluate_engine measures on labelled photos, by condition and group.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", type=Path, default=settings.BASE_DIR.parent / "shared" / "data" / "images")
        parser.add_argument("--output", type=Path, default=settings.BASE_DIR / "docs" / "model-card.md")
        parser.add_argument("--folds", type=int, default=FOLDS)
        parser.add_argument("--repeats", type=int, default=REPEATS)
        parser.add_argument("--detection-folds", type=int, default=DETECTION_FOLDS)

    def handle(self, *args: Any, **options: Any) -> None:
        images: Path = options["images"]
        if options["folds"] < 2 or options["repeats"] < 1 or options["detection_folds"] < 2:
            raise CommandError("--folds and --detection-folds must be at least 2 and --repeats at least 1.")
        if not (images / "manifest.csv").exists():
            raise CommandError(f"{images} has no manifest.csv.")
        command = ["python", "manage.py", "model_card", "--images", str(options["images"])]
        for name, default in (("folds", FOLDS), ("repeats", REPEATS), ("detection_folds", DETECTION_FOLDS)):
            if options[name] != default:
                command += [f"--{name.replace('_', '-')}", str(options[name])]
        card = build(images, command=shlex.join(command), roc_path=None, folds=options["folds"],
                     repeats=options["repeats"], detection_folds=options["detection_folds"])
        output: Path = options["output"]
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(card, encoding="utf-8")
        self.stdout.write(f"Wrote {output}")
