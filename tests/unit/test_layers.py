"""The package layout is the architecture: dependencies point one way, and the domain
library never imports Airflow. Read from the source (ast), so a lazy import counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "include" / "wpmigrate"

# Which of the library's subpackages each one may import (besides itself).
ALLOWED = {
    "core": set(),
    "web": {"core"},
    "rewrite": {"core"},
    "target": {"core"},
    "full_access": {"core", "web", "rewrite"},
    "scrape_rebuild": {"core", "web", "rewrite", "target"},
}


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module == "wpmigrate":
                names.extend(f"wpmigrate.{alias.name}" for alias in node.names)
    return names


def _library_modules() -> list[Path]:
    return sorted(p for p in LIBRARY.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_lives_in_a_known_subpackage() -> None:
    loose = [p.relative_to(LIBRARY) for p in _library_modules()
             if p.parent == LIBRARY and p.name != "__init__.py"]
    unknown = sorted({p.relative_to(LIBRARY).parts[0] for p in _library_modules() if p.parent != LIBRARY}
                     - set(ALLOWED))
    assert loose == [] and unknown == []


@pytest.mark.parametrize("path", _library_modules(), ids=lambda p: str(p.relative_to(LIBRARY)))
def test_library_imports_point_one_way(path: Path) -> None:
    rel = path.relative_to(LIBRARY)
    own = rel.parts[0] if len(rel.parts) > 1 else None
    wrong = []
    for name in _imports(path):
        top = name.split(".")[0]
        if top in ("airflow", "wpmigrate_airflow", "wpsandbox"):
            wrong.append(name)
        elif top == "wpmigrate" and own is not None:
            parts = name.split(".")
            target = parts[1] if len(parts) > 1 else None
            if target not in ALLOWED[own] | {own}:
                wrong.append(name)
    assert wrong == [], f"{rel} imports {wrong}"


def test_plugins_do_not_import_dags_or_the_sandbox() -> None:
    wrong = [(p.name, name) for p in (ROOT / "plugins").rglob("*.py")
             for name in _imports(p) if name.split(".")[0] in ("dags", "wpsandbox")]
    assert wrong == []
