"""Names as a reader sees them: NFKC, invisible characters dropped, look-alike letters folded to Latin.

Names (divisions, vendors) are stored as written; they are compared by :func:`name_key` and shown
to people by :func:`shown_name`, which escapes every character the key changed and says why, so two
names that look the same are never listed as different entries without a reason. The look-alike
table is Unicode's confusables data as shipped by ``confusable_homoglyphs``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from confusable_homoglyphs import categories, confusables

_KEPT_SCRIPTS = frozenset({"LATIN", "COMMON"})
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})")


@dataclass(frozen=True)
class Fold:
    """One character of a written name that its key reads otherwise ('' when dropped)."""

    char: str
    read_as: str
    why: str  # 'invisible', 'compatibility form' or 'look-alike'

    def describe(self) -> str:
        name = unicodedata.name(self.char, "unnamed")
        what = f"U+{ord(self.char):04X} {name}"
        return f"{what} dropped ({self.why})" if not self.read_as else f"{what} read as {self.read_as!r} ({self.why})"


def _invisible(char: str) -> bool:
    """Format characters (zero-width space and joiners, BOM, soft hyphen, direction marks)."""
    return unicodedata.category(char) == "Cf"


@lru_cache(maxsize=4096)
def _latin_look_alike(char: str) -> str | None:
    """The Latin letters a letter of another script imitates, per Unicode's confusables; None if none."""
    if not char.isalpha() or categories.alias(char) in _KEPT_SCRIPTS:
        return None
    for glyph in confusables.confusables_data.get(char, ()):
        text = glyph["c"]
        if text != char and all(categories.alias(c) in _KEPT_SCRIPTS for c in text) and text.isascii():
            return text
    return None


@lru_cache(maxsize=65536)
def _fold(text: str) -> tuple[str, tuple[Fold, ...]]:
    key: list[str] = []
    folds: list[Fold] = []
    for char in text:
        if _invisible(char):
            folds.append(Fold(char, "", "invisible"))
            continue
        compatible = unicodedata.normalize("NFKC", char)
        if compatible != char:
            folds.append(Fold(char, compatible, "compatibility form"))
        for part in compatible:
            latin = _latin_look_alike(part)
            if latin is not None:
                if compatible == char:
                    folds.append(Fold(char, latin, "look-alike"))
                part = latin
            key.append(part)
    return unicodedata.normalize("NFKC", "".join(key)), tuple(folds)


def name_key(text: str) -> str:
    """The name as a reader sees it: NFKC, invisible characters dropped, look-alike letters in Latin."""
    return _fold(text)[0] if not text.isascii() else text


def folds(text: str) -> tuple[Fold, ...]:
    """What :func:`name_key` changed in ``text``, character by character."""
    return _fold(text)[1] if not text.isascii() else ()


def _code(char: str) -> str:
    return f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"


def escaped(text: str) -> str:
    """``text`` with every character its key changes, and every unprintable one, as ``\\uXXXX``."""
    if text.isascii() and text.isprintable():
        return text
    changed = {f.char for f in folds(text)}
    return "".join(_code(c) if c in changed or not c.isprintable() else c for c in text)


def printable(text: str) -> str:
    """``text`` with every unprintable character (control codes, direction overrides, invisible
    characters) as ``\\uXXXX``: what may be printed of a file's text on a terminal or in a log."""
    return text if text.isprintable() else "".join(c if c.isprintable() else _code(c) for c in text)


def fold_note(text: str) -> str:
    """What was folded, for a person: '' when the name reads as written."""
    found = folds(text)
    if not found:
        return ""
    return f"read as {name_key(text)!r}: " + "; ".join(dict.fromkeys(f.describe() for f in found))


def shown_name(text: str) -> str:
    """The name for a listing: escaped, with a note of what was folded when anything was."""
    note = fold_note(text)
    return f"{escaped(text)} ({note})" if note else escaped(text)


def unescaped(text: str) -> str:
    """The written name of an :func:`escaped` one (``\\uXXXX`` and ``\\UXXXXXXXX`` read back)."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)
