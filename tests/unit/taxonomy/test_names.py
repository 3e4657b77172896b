"""Names as a reader sees them: the key they are compared by, and how they are shown to people."""

from __future__ import annotations

import pytest

from gmp_assets.taxonomy.mapping import MANUAL, PENDING, TradeMapper
from gmp_assets.taxonomy.names import escaped, fold_note, folds, name_key, printable, shown_name, unescaped

LOOK_ALIKES = [
    ("\u0421oncrete", "Concrete", "U+0421 CYRILLIC CAPITAL LETTER ES read as 'C' (look-alike)"),
    ("Con\u200bcrete", "Concrete", "U+200B ZERO WIDTH SPACE dropped (invisible)"),
    ("Concrete\u00a0Work", "Concrete Work", "U+00A0 NO-BREAK SPACE read as ' ' (compatibility form)"),
    ("\uff23oncrete", "Concrete", "U+FF23 FULLWIDTH LATIN CAPITAL LETTER C read as 'C' (compatibility form)"),
    ("\u039casonry", "Masonry", "U+039C GREEK CAPITAL LETTER MU read as 'M' (look-alike)"),
    ("\ufeffPlumbing", "Plumbing", "U+FEFF ZERO WIDTH NO-BREAK SPACE dropped (invisible)"),
]


@pytest.mark.parametrize(("written", "key", "note"), LOOK_ALIKES)
def test_a_name_is_compared_as_it_reads_and_the_fold_is_said(written, key, note):
    assert name_key(written) == key
    assert note in fold_note(written)
    assert unescaped(escaped(written)) == written
    assert escaped(written).isascii() and escaped(written) != written
    assert shown_name(written).startswith(escaped(written) + " (read as ")


@pytest.mark.parametrize("name", ["03 - Concrete", "Maçonnerie", "Électricité", "Div 26 Electrical"])
def test_names_that_read_as_written_are_shown_as_written(name):
    assert name_key(name) == name and not folds(name) and fold_note(name) == ""
    assert shown_name(name) == escaped(name) == name


def test_unescaped_leaves_plain_backslashes():
    assert unescaped(r"Concrete \ Masonry") == r"Concrete \ Masonry"


@pytest.fixture(scope="module")
def mapper() -> TradeMapper:
    return TradeMapper()


@pytest.mark.parametrize(("written", "key", "note"), LOOK_ALIKES)
def test_a_look_alike_maps_like_the_name_it_imitates_and_keeps_its_spelling(mapper, written, key, note):
    plain, folded = mapper.map_name(key), mapper.map_name(written)
    assert folded.raw_division_name == written
    assert (folded.canonical_code, folded.method, folded.confidence) == (
        plain.canonical_code,
        plain.method,
        plain.confidence,
    )
    assert mapper.is_trade_name(written) == mapper.is_trade_name(key)


def test_a_confirmation_applies_to_every_spelling_that_reads_the_same(mapper):
    confirmed = {"Site Concrete Misc": "32"}
    for spelling in ("Site Concrete Misc", "Site \u0421oncrete\u200b Misc", "SITE  CONCRETE MISC"):
        mapping = mapper.map_name(spelling, confirmed)
        assert (mapping.canonical_code, mapping.method, mapping.raw_division_name) == ("32", MANUAL, spelling)
    assert mapper.map_name("Site Concrete Miscellany", confirmed).method != MANUAL


def test_a_pending_look_alike_stays_pending_under_its_own_spelling(mapper):
    names = ["Allowances", "\u0410llowances"]  # the second starts with a Cyrillic A
    mappings = mapper.map_names(names)
    assert [m.raw_division_name for m in mappings] == names
    assert {m.method for m in mappings} == {PENDING}


def test_printable_escapes_only_what_a_terminal_would_act_on():
    assert printable("Caf\u00e9 \u2013 \u0421oncrete") == "Caf\u00e9 \u2013 \u0421oncrete"  # printable: as written
    assert printable("a\x1b[2Jb\x07\x9b31m\u202eZ") == "a\\u001b[2Jb\\u0007\\u009b31m\\u202eZ"
    assert printable("\U000e0041") == "\\U000e0041"
