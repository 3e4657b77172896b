"""The code fingerprint of a training recipe (no TensorFlow run, no database)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect

from gmp_assets.models import recipe, training

SOURCE = '''
"""Module docstring."""

def scale(x, factor=2.0):
    """Scale x."""
    return x * factor  # double it
'''


def test_comments_docstrings_and_formatting_do_not_change_the_fingerprint():
    reformatted = 'def scale(x,factor = 2.0):\n    return (x*factor)\n'
    documented = SOURCE.replace('"""Scale x."""', '"""Scale x by a factor,\n    longer now."""')
    base = recipe.source_fingerprint([SOURCE])
    assert recipe.source_fingerprint([reformatted]) == base
    assert recipe.source_fingerprint([documented]) == base


def test_behaviour_changes_change_the_fingerprint():
    base = recipe.source_fingerprint([SOURCE])
    assert recipe.source_fingerprint([SOURCE.replace("2.0", "3.0")]) != base
    assert recipe.source_fingerprint([SOURCE.replace("x * factor", "x + factor")]) != base
    # a function whose body is only a docstring stays valid once the docstring is gone
    assert recipe.source_fingerprint(['def f():\n    """Only a docstring."""\n']) != recipe.source_fingerprint(["x = 1\n"])
    assert recipe.source_fingerprint([SOURCE, "x = 1\n"]) != recipe.source_fingerprint(["x = 1\n", SOURCE])


def test_code_fingerprint_covers_the_training_module():
    fingerprint = recipe.code_fingerprint()
    assert len(fingerprint) == 12 and int(fingerprint, 16) >= 0
    assert "gmp_assets.models.training" in recipe.RECIPE_MODULES
    sources = [inspect.getsource(__import__(name, fromlist=["_"])) for name in recipe.RECIPE_MODULES]
    assert recipe.source_fingerprint(sources) == fingerprint
    changed = [s.replace("batch_size: int = 256", "batch_size: int = 512") if s == inspect.getsource(training) else s
               for s in sources]
    assert recipe.source_fingerprint(changed) != fingerprint


def test_recipe_modules_cover_every_project_module_they_import():
    """A module the recipe imports changes the model too, so it must be fingerprinted (the store
    only reads rows: what it reads shows in the dataset hash)."""
    imported = set()
    for name in recipe.RECIPE_MODULES:
        tree = ast.parse(inspect.getsource(importlib.import_module(name)))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gmp_assets"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    imported.add(full if _is_module(full) else node.module)
    assert imported - set(recipe.RECIPE_MODULES) == {"gmp_assets.features.store"}


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
