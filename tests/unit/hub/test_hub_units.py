"""The hub's pure parts: money and date formatting, token parsing, the hub's database URL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from gmp_assets.hub import formatting
from gmp_assets.hub.auth import HubError, bearer_token, hub_url
from gmp_assets.hub.tokens import new_token, token_hash


@pytest.mark.parametrize("cents, text", [(123456789, "$1,234,568"), (-1200000, "-$12,000"), (0, "$0"), (None, "-")])
def test_money(cents, text):
    assert formatting.money(cents) == text


def test_signed_money_percent_and_dates():
    assert formatting.signed_money(500000) == "+$5,000"
    assert formatting.signed_money(-500000) == "-$5,000"
    assert formatting.millions(4_123_000_000) == "$41.2M"
    assert formatting.percent(3.04, signed=True) == "+3.0%"
    assert formatting.share(0.425) == "42%"
    assert formatting.per_sf(12345) == "$123.45/SF"
    assert formatting.day(date(2026, 10, 31)) == "31 Oct 2026"
    assert formatting.day(datetime(2026, 10, 31, 14, 5, tzinfo=UTC)) == "31 Oct 2026 14:05 UTC"
    assert formatting.month(date(2026, 10, 31)) == "Oct 2026"


def test_bearer_token_from_header_or_cookie():
    assert bearer_token("Bearer abc ", None) == "abc"
    assert bearer_token("bearer abc", "cookie") == "abc"
    assert bearer_token(None, "from-cookie") == "from-cookie"
    for header in ("Basic abc", "Bearer", "Bearer   "):
        with pytest.raises(HubError) as refused:
            bearer_token(header, None)
        assert refused.value.status == 401
    with pytest.raises(HubError, match="no token"):
        bearer_token(None, None)


def test_tokens_are_random_and_only_their_hash_is_kept():
    first, second = new_token(), new_token()
    assert first != second and first.startswith("gmp_") and len(first) > 40
    assert token_hash(first) == token_hash(first) != token_hash(second)
    assert len(token_hash(first)) == 64 and first not in token_hash(first)


def test_hub_url_swaps_the_user(monkeypatch):
    monkeypatch.delenv("GMP_HUB_DATABASE_URL", raising=False)
    monkeypatch.setenv("GMP_HUB_PASSWORD", "pw")
    assert hub_url("postgresql://postgres@/gmp?host=/tmp/s") == "postgresql://gmp_hub:pw@/gmp?host=/tmp/s"
    assert hub_url("postgresql://gmp:secret@db:5432/gmp") == "postgresql://gmp_hub:pw@db:5432/gmp"
    monkeypatch.setenv("GMP_HUB_DATABASE_URL", "postgresql://gmp_hub:pw@db/gmp")
    assert hub_url("postgresql://gmp:secret@db:5432/gmp") == "postgresql://gmp_hub:pw@db/gmp"
