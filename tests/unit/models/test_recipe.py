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
    reformatted = "def scale(x,factor = 2.0):\n    return (x*factor)\n"
    documented = SOURCE.replace('"""Scale x."""', '"""Scale x by a factor,\n    longer now."""')
    base = recipe.source_fingerprint([SOURCE])
    assert recipe.source_fingerprint([reformatted]) == base
    assert recipe.source_fingerprint([documented]) == base


def test_behaviour_changes_change_the_fingerprint():
    base = recipe.source_fingerprint([SOURCE])
    assert recipe.source_fingerprint([SOURCE.replace("2.0", "3.0")]) != base
    assert recipe.source_fingerprint([SOURCE.replace("x * factor", "x + factor")]) != base
    # a function whose body is only a docstring stays valid once the docstring is gone
    assert recipe.source_fingerprint(['def f():\n    """Only a docstring."""\n']) != recipe.source_fingerprint(
        ["x = 1\n"]
    )
    assert recipe.source_fingerprint([SOURCE, "y = 1\n"]) != recipe.source_fingerprint([SOURCE, "y = 2\n"])


def test_quoted_annotations_and_import_lines_do_not_change_the_fingerprint():
    quoted = "from typing import Callable\n\ndef f(x: 'Dataset') -> 'Dataset':\n    return x\n"
    plain = "from collections.abc import Callable\n\ndef f(x: Dataset) -> Dataset:\n    return x\n"
    assert recipe.source_fingerprint([quoted]) == recipe.source_fingerprint([plain])


def test_moving_a_definition_between_modules_keeps_the_fingerprint():
    """A refactor that moves code (and its imports) does not orphan the champion; renaming does count."""
    helper = "def helper(y):\n    return y + 1\n"
    before = [SOURCE + helper, "import numpy as np\n\nLIMIT = 3\n"]
    after = [SOURCE, "import numpy as np\nfrom elsewhere import scale\n\nLIMIT = 3\n\n\n" + helper]
    assert recipe.source_fingerprint(after) == recipe.source_fingerprint(before)
    assert recipe.source_fingerprint([SOURCE, helper.replace("helper", "helper2")]) != recipe.source_fingerprint(before)


def test_a_module_taken_in_part_counts_only_the_named_definitions():
    other = "def unrelated():\n    return 1\n"
    part = (SOURCE + other, ("scale",))
    assert recipe.source_fingerprint([part]) == recipe.source_fingerprint([SOURCE])
    assert recipe.source_fingerprint([(SOURCE + other.replace("1", "2"), ("scale",))]) == recipe.source_fingerprint(
        [part]
    )
    assert recipe.source_fingerprint([(SOURCE.replace("2.0", "3.0") + other, ("scale",))]) != recipe.source_fingerprint(
        [part]
    )


def test_code_fingerprint_covers_the_training_module():
    fingerprint = recipe.code_fingerprint()
    assert len(fingerprint) == 12 and int(fingerprint, 16) >= 0
    assert "gmp_assets.models.training" in recipe.RECIPE_MODULES
    sources = [(inspect.getsource(__import__(name, fromlist=["_"])), names) for name, names in recipe.RECIPE]
    assert recipe.source_fingerprint(sources) == fingerprint
    changed = [
        (s.replace("batch_size: int = 256", "batch_size: int = 512"), n) if s == inspect.getsource(training) else (s, n)
        for s, n in sources
    ]
    assert recipe.source_fingerprint(changed) != fingerprint


def test_recipe_modules_cover_every_project_module_they_import():
    """A module the recipe imports changes the model too, so it must be fingerprinted (the store only
    in part: what it reads shows in the dataset hash)."""
    imported = set()
    for name in recipe.RECIPE_MODULES:
        tree = ast.parse(inspect.getsource(importlib.import_module(name)))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gmp_assets"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    imported.add(full if _is_module(full) else node.module)
    assert imported <= set(recipe.RECIPE_MODULES)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
