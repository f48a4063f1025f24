"""Imports flow one way: core -> io -> features -> {data, models, postprocess, eval} -> engine -> cli."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "avforge"
RANK = {"core": 0, "io": 1, "features": 2, "data": 3, "models": 3, "postprocess": 3, "eval": 3,
        "engine": 4, "cli": 5}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "avforge" and parts[1] in RANK else None


def imported_modules(path: Path, root: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(root.parent).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                yield node.lineno, ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.lineno, node.module or ""


def violations(root: Path = PKG) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        own = layer_of(".".join(path.relative_to(root.parent).with_suffix("").parts))
        if own is None:
            continue
        for lineno, module in imported_modules(path, root):
            other = layer_of(module)
            if other is None or other == own:
                continue
            if RANK[other] >= RANK[own]:
                found.append(f"{path.relative_to(root.parent)}:{lineno} ({own}) imports {module} ({other})")
    return found


def test_no_layer_imports_against_the_flow():
    assert violations() == []


def test_checker_catches_a_violation(tmp_path):
    pkg = tmp_path / "avforge"
    (pkg / "eval").mkdir(parents=True)
    (pkg / "eval" / "bad.py").write_text("from avforge.models import heads\nfrom avforge.core import types\n")
    (pkg / "core").mkdir()
    (pkg / "core" / "bad.py").write_text("import avforge.io.video\n")
    found = violations(pkg)
    assert len(found) == 2
    assert any("eval/bad.py:1" in f and "models" in f for f in found)
    assert any("core/bad.py:1" in f and "(io)" in f for f in found)


@pytest.mark.parametrize("layer", sorted(RANK))
def test_every_layer_is_a_package(layer):
    assert (PKG / layer / "__init__.py").is_file()
