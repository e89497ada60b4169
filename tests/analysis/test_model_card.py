"""The model card is generated from the engine and the evaluation, and the committed one is not stale."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from django.conf import settings

from proctoring.analysis import model_card
from proctoring.analysis.evaluation import read_manifest
from proctoring.analysis.models import CATALOGUE, Lazy

COMMITTED = Path(settings.BASE_DIR) / "docs" / "model-card.md"


def section(card: str, title: str) -> str:
    """The text of ``## title`` up to the next section."""
    start = card.index(f"## {title}\n")
    end = card.find("\n## ", start + 1)
    return card[start:] if end < 0 else card[start:end]


def lazy_of(key: str) -> Lazy[Any]:
    module, attribute = key.split(":")
    return getattr(importlib.import_module(f"proctoring.analysis.{module}"), attribute)  # type: ignore[no-any-return]


def test_it_renders_the_card_from_the_fixture_photos(labelled_images: Path, fixture_report: dict[str, Any]) -> None:
    command = "python manage.py model_card --images tests/fixtures"
    card = model_card.render(fixture_report, read_manifest(labelled_images), labelled_images, command=command)
    # Each section says which command produced it.
    assert f"Produced by `{model_card.MODELS_COMMAND}`" in section(card, "Models")
    for title in ("What it was measured on", "Detection at the product's default policy",
                  "Detection by condition and group", "Face verification (1:1)", "What these figures cannot tell"):
        assert f"`{command}`" in section(card, title), title
    for model in CATALOGUE:
        assert model.name in section(card, "Models")
    assert "| face count exact (images with a clear face) | 100.0% (4/4)* | 100.0% (4/4)* | 100.0% (4/4)* |" \
        in card  # product, fitted, held out
    conditions = section(card, "Detection by condition and group")
    assert "| capture=photo | 6 |" in conditions and "| face_height=no clear face found | 2 |" in conditions
    assert "| lighting=good | 1 |" in conditions
    assert "- lighting: only `good` is labelled, so there is no figure for any other lighting." in card
    assert "| source | images |" in card and "| signer1 | 2 |" in card
    assert "all pairs: FNMR 0.00% (0/1)*, FMR 0.000% (0/5)" in card


def test_the_committed_card_lists_the_models_the_engine_loads(fixture_report: dict[str, Any]) -> None:
    # Every model object in the engine's modules is in the catalogue, and the evaluation loaded each one.
    import proctoring.analysis.landmarks  # noqa: F401  (the talking incidents' mouth reading)
    import proctoring.analysis.local  # noqa: F401  (the engine imports every model module it uses)

    in_engine: dict[int, str] = {}
    for name, module in sorted(sys.modules.items()):
        if name.startswith("proctoring.analysis."):
            for attribute, value in vars(module).items():
                if isinstance(value, Lazy):
                    in_engine.setdefault(id(value), f"{name}.{attribute}")
    listed = {id(lazy_of(model.lazy)): lazy_of(model.lazy) for model in CATALOGUE}
    instances = {id(lazy_of(key)) for model in CATALOGUE for key in model.also}
    assert set(in_engine) == set(listed) | instances, f"the engine's models: {sorted(in_engine.values())}"
    assert all(lazy_of(model.lazy).loaded for model in CATALOGUE if model.per_frame)
    # ... and the committed card's model table is the one the catalogue, the installed wheels and the weight
    # files give now (regenerate with `make model-card` when it is not).
    assert section(COMMITTED.read_text(encoding="utf-8"), "Models") == "\n".join(model_card.models_section()) + "\n"


def test_the_committed_card_describes_the_speech_model_the_server_runs() -> None:
    import hashlib

    from proctoring import audio

    card = COMMITTED.read_text(encoding="utf-8")
    speech = section(card, "Speech (outside the image engine)")
    assert speech == "\n".join(model_card.speech_section()) + "\n"  # regenerate with `make model-card`
    assert card.endswith(speech)  # the last section, as render() writes it
    digest = hashlib.sha256(audio.model_path().read_bytes()).hexdigest()
    assert f"`{digest}`" in speech and "| MIT |" in speech and "`silero-vad==" in speech
    assert "scripts/measure_speech.py" in speech
