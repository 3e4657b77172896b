"""The code half of a training recipe: a fingerprint of the modules that turn canonical rows into a
trained global model (features, sequences, network, training loop).

The backtest can replay a champion's recipe only with the code that trained it (``promotion``).
The fingerprint hashes each module's syntax tree with its docstrings removed, so comments,
docstrings and formatting do not count as a new recipe, while any change to what the code does
(including a default in ``TrainConfig``) does. No version number to remember to bump.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
from collections.abc import Iterable
from functools import cache

RECIPE_MODULES = (
    "gmp_assets.features.schema",
    "gmp_assets.features.compute",
    "gmp_assets.features.dataset",
    "gmp_assets.features.sequences",
    "gmp_assets.features.splits",
    "gmp_assets.models.datasets",
    "gmp_assets.models.evidence",
    "gmp_assets.models.metrics",
    "gmp_assets.models.network",
    "gmp_assets.models.training",
)
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, _DOCUMENTED) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return tree


def source_fingerprint(sources: Iterable[str]) -> str:
    """12 hex digits of SHA-256 over the sources' syntax trees without docstrings (order matters)."""
    digest = hashlib.sha256()
    for source in sources:
        digest.update(ast.dump(_without_docstrings(ast.parse(source))).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


@cache
def code_fingerprint() -> str:
    """The fingerprint of ``RECIPE_MODULES`` as installed in this process."""
    return source_fingerprint(inspect.getsource(importlib.import_module(name)) for name in RECIPE_MODULES)
