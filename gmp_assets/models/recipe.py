"""The code half of a training recipe: a fingerprint of the definitions that turn canonical rows into
a trained global model (features, sequences, datasets, network, training loop).

The backtest can replay a champion's recipe only with the code that trained it (``promotion``).
The fingerprint hashes each top-level definition (function, class, constant) of the recipe's
modules by name, as a syntax tree without docstrings: comments, docstrings, formatting, import
lines and the module a definition lives in do not count as a new recipe (a refactor that moves
code does not orphan the champion), while any change to what the code does (including a default in
``TrainConfig``) does. Quoting an annotation does not count either. No version number to bump.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
from collections.abc import Iterable
from functools import cache

ALL = None  # every top-level definition of the module
RECIPE: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("gmp_assets.features.schema", ALL),
    ("gmp_assets.features.compute", ALL),
    ("gmp_assets.features.dataset", ALL),
    ("gmp_assets.features.sequences", ALL),
    ("gmp_assets.features.splits", ALL),
    # the store's reads show in the dataset hash; how it assembles the training samples is recipe
    ("gmp_assets.features.store", ("WINDOW", "MIN_QUALITY", "trains_the_model", "training_sequences")),
    ("gmp_assets.models.samples", ALL),
    ("gmp_assets.models.evidence", ALL),
    ("gmp_assets.models.metrics", ALL),
    ("gmp_assets.models.network", ALL),
    ("gmp_assets.models.training", ALL),
)
RECIPE_MODULES = tuple(module for module, _ in RECIPE)
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_NOT_CODE = (ast.Import, ast.ImportFrom)


def _unquoted(annotation: ast.expr | None) -> ast.expr | None:
    """A quoted annotation (``"SequenceDataset"``) as the expression it quotes."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return ast.parse(annotation.value, mode="eval").body
    return annotation


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """The tree without docstrings, its quoted annotations unquoted (neither changes what code does)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.arg, ast.AnnAssign)):
            node.annotation = _unquoted(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = _unquoted(node.returns)
        body = getattr(node, "body", None)
        if (
            isinstance(node, _DOCUMENTED)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


def _names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return [n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)]


def definitions(source: str, names: Iterable[str] | None = ALL) -> list[tuple[str, str]]:
    """(name, syntax tree dump) of each top-level definition of ``source`` (those in ``names``, or all);
    a statement that defines no name is keyed by its own dump."""
    wanted = None if names is ALL else set(names)
    out = []
    for node in _without_docstrings(ast.parse(source)).body:
        if isinstance(node, _NOT_CODE):
            continue
        dump = ast.dump(node)
        defined = _names(node) or [dump]
        if wanted is None or wanted & set(defined):
            out.append(("|".join(defined), dump))
    return out


def source_fingerprint(sources: Iterable[str | tuple[str, Iterable[str] | None]]) -> str:
    """12 hex digits of SHA-256 over the sources' top-level definitions, in name order (each source is
    a module's text, or (text, the names of its definitions to take))."""
    entries = []
    for source in sources:
        text, names = source if isinstance(source, tuple) else (source, ALL)
        entries += definitions(text, names)
    digest = hashlib.sha256()
    for name, dump in sorted(entries):
        digest.update(name.encode() + b"\0" + dump.encode() + b"\0")
    return digest.hexdigest()[:12]


@cache
def code_fingerprint() -> str:
    """The fingerprint of ``RECIPE`` as installed in this process."""
    return source_fingerprint((inspect.getsource(importlib.import_module(module)), names) for module, names in RECIPE)
