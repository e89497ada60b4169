"""Apps depend one way: accounts <- exams <- proctoring (config, the project package, may use all)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["accounts", "exams", "proctoring"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):  # function-local imports count too
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_it_keeps_apps_depending_one_way() -> None:
    wrong = []
    for index, app in enumerate(LAYERS):
        later = set(LAYERS[index + 1:])
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # migrations name other apps' models by string and dependency, never by import
            for name in sorted(_imports(path) & later):
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []
