"""How the pages show money, percentages and dates (Jinja filters; pure functions)."""

from __future__ import annotations

from datetime import date, datetime


def money(cents) -> str:
    """Whole dollars with thousands separators: ``$1,234,567``, ``-$12,000``; ``-`` for None."""
    if cents is None:
        return "-"
    dollars = round(int(cents) / 100)
    return f"-${-dollars:,}" if dollars < 0 else f"${dollars:,}"


def signed_money(cents) -> str:
    """A change in dollars with its sign: ``+$120,000``, ``-$5,000``, ``$0``."""
    if cents is None:
        return "-"
    text = money(cents)
    return text if text.startswith("-") or round(int(cents) / 100) == 0 else "+" + text


def millions(cents) -> str:
    """Dollars in millions with one decimal: ``$41.2M``."""
    return "-" if cents is None else f"${int(cents) / 1e8:,.1f}M"


def per_sf(cents) -> str:
    """Dollars per square foot with cents: ``$123.45/SF``."""
    return "-" if cents is None else f"${float(cents) / 100:,.2f}/SF"


def percent(value, signed: bool = False, digits: int = 1) -> str:
    """A number already in percent: ``3.0%`` (``+3.0%`` when ``signed``)."""
    if value is None:
        return "-"
    return f"{float(value):{'+' if signed else ''}.{digits}f}%"


def share(value, digits: int = 0) -> str:
    """A share 0-1 as a percentage: ``0.42`` -> ``42%``."""
    return "-" if value is None else f"{float(value) * 100:.{digits}f}%"


def day(value) -> str:
    """A date as ``31 Oct 2026`` (a timestamp: ``31 Oct 2026 14:05 UTC``)."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%d %b %Y %H:%M UTC") if value.tzinfo else value.strftime("%d %b %Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d %b %Y")
    return str(value)


def month(value) -> str:
    """A date's month as ``Oct 2026``."""
    return "-" if value is None else value.strftime("%b %Y")


FILTERS = {
    "money": money,
    "signed_money": signed_money,
    "millions": millions,
    "per_sf": per_sf,
    "percent": percent,
    "share": share,
    "day": day,
    "month": month,
}
