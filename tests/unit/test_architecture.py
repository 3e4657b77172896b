"""The package's import order: every stage imports only the ground floor and the stages before it."""

from __future__ import annotations

import ast
from pathlib import Path

import gmp_assets

PACKAGE = Path(gmp_assets.__file__).parent
# The ground floor: shared vocabulary and infrastructure every stage may use.
GROUND = {"catalog", "checks", "exports", "settings", "database", "db_roles", "access", "resources", "storage"}
# Stages in import order: each may import the ground floor, itself and the stages before it.
ORDER = [
    "demo",
    "taxonomy",
    "ingest",
    "canonical",
    "features",
    "models",
    "forecasting",
    "evaluation",
    "monitoring",
    "alerts",
    "orchestration",
    "definitions",
    "hub",
    "deploy_env",
    "cli",
]


def stage_of(module: str) -> str:
    """``gmp_assets.models.training`` -> ``models``; the ground floor's modules -> ``ground``."""
    part = module.split(".")[1] if "." in module else ""
    return "ground" if part in GROUND or not part else part


def rank(stage: str) -> int:
    return -1 if stage == "ground" else ORDER.index(stage)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every gmp_assets import in the file, function-level ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("gmp_assets"):
            if node.module == "gmp_assets":
                found += [(node.lineno, f"gmp_assets.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("gmp_assets")]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append((node.lineno, "<relative import>"))
    return found


def wrong_way_imports(root: Path = PACKAGE) -> list[str]:
    wrong = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(("gmp_assets", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        here = stage_of(module)
        for line, target in imports_of(path):
            if target == "<relative import>":
                wrong.append(f"{path.relative_to(root)}:{line} relative import")
                continue
            there = stage_of(target)
            if there != here and rank(there) > rank(here):
                wrong.append(f"{path.relative_to(root)}:{line} {here} imports {target} ({there} comes after it)")
    return wrong


def test_every_package_has_a_place_in_the_order():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert packages <= set(ORDER), packages - set(ORDER)
    assert modules <= GROUND | set(ORDER), modules - GROUND - set(ORDER)


def test_no_module_imports_a_stage_after_it():
    assert wrong_way_imports() == []


def test_the_check_finds_a_wrong_way_import(tmp_path):
    (tmp_path / "ingest").mkdir()
    (tmp_path / "ingest" / "readers.py").write_text("def f():\n    from gmp_assets.models.network import predict\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "network.py").write_text(
        "from gmp_assets.ingest import readers\nfrom gmp_assets.catalog import X\n"
    )
    assert wrong_way_imports(tmp_path) == [
        "ingest/readers.py:2 ingest imports gmp_assets.models.network (models comes after it)"
    ]
