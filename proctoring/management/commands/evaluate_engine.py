from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from proctoring.analysis.calibration import FOLDS, REPEATS
from proctoring.analysis.evaluation import evaluate, format_report
from proctoring.analysis.measurement import FOLDS as DETECTION_FOLDS


def add_measurement_arguments(parser: CommandParser) -> None:
    """The labelled photos and the folds: evaluate_engine's and model_card's (which measures the same way)."""
    parser.add_argument("--images", type=Path, default=settings.BASE_DIR.parent / "shared" / "data" / "images")
    parser.add_argument("--folds", type=int, default=FOLDS,
                        help="identity-grouped folds for choosing the verification threshold")
    parser.add_argument("--repeats", type=int, default=REPEATS,
                        help="how many different splits into folds the held-out figures pool")
    parser.add_argument("--detection-folds", type=int, default=DETECTION_FOLDS,
                        help="source-grouped folds for the detection figures (>= the number of sources: "
                             "leave one source out)")


def checked_measurement_options(options: dict[str, Any]) -> Path:
    """The images folder, once the measurement options make sense."""
    images: Path = options["images"]
    if options["folds"] < 2 or options["repeats"] < 1 or options["detection_folds"] < 2:
        raise CommandError("--folds and --detection-folds must be at least 2 and --repeats at least 1.")
    if not (images / "manifest.csv").exists():
        raise CommandError(f"{images} has no manifest.csv.")
    return images


class Command(BaseCommand):
    help = "Measure the local analysis engine on labelled photos (a folder with manifest.csv)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--roc", type=Path, default=settings.VAR_DIR / "roc.png",
                            help="where to write the verification ROC (PNG)")
        add_measurement_arguments(parser)
        only = parser.add_mutually_exclusive_group()
        only.add_argument("--no-verification", action="store_true", help="detection figures only")
        only.add_argument("--only-verification", action="store_true",
                          help="verification figures only (the engine's detection pass is skipped)")
        parser.add_argument("--brief", action="store_true", help="leave out the per-image misses")

    def handle(self, *args: Any, **options: Any) -> None:
        images = checked_measurement_options(options)
        report = evaluate(images, roc_path=options["roc"], folds=options["folds"], repeats=options["repeats"],
                          detection_folds=options["detection_folds"], verification=not options["no_verification"],
                          detection=not options["only_verification"])
        self.stdout.write(format_report(report, details=not options["brief"]))
