from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from proctoring.analysis.calibration import FOLDS, REPEATS
from proctoring.analysis.measurement import FOLDS as DETECTION_FOLDS
from proctoring.analysis.model_card import build
from proctoring.management.commands.evaluate_engine import add_measurement_arguments, checked_measurement_options


class Command(BaseCommand):
    help = ("Write the model card (docs/model-card.md): the engine's models, their weights and licences, and the"
            " figures evaluate_engine measures on labelled photos, by condition and group.")

    def add_arguments(self, parser: CommandParser) -> None:
        add_measurement_arguments(parser)
        parser.add_argument("--output", type=Path, default=settings.BASE_DIR / "docs" / "model-card.md")

    def handle(self, *args: Any, **options: Any) -> None:
        images = checked_measurement_options(options)
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
