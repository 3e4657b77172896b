"""The canonical CSI trade taxonomy, read from the dbt seed ``csi_taxonomy.csv``."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

SEED_PATH = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "csi_taxonomy.csv"


@dataclass(frozen=True)
class Trade:
    """One taxonomy node: a level-1 CSI division or a level-2/3 section below it."""

    code: str
    level: int
    parent_code: str | None
    name: str
    typical_gmp_share: float
    typical_start_share: float
    typical_finish_share: float
    typical_duration_share: float


@dataclass(frozen=True)
class Taxonomy:
    """All nodes, the level-1 divisions, and a code index."""

    all: tuple[Trade, ...]
    divisions: tuple[Trade, ...]
    by_code: Mapping[str, Trade]

    @classmethod
    def from_trades(cls, trades: tuple[Trade, ...]) -> Taxonomy:
        """Index and validate nodes: unique codes, known parents, two-digit level-1 codes."""
        by_code: dict[str, Trade] = {}
        for trade in trades:
            if trade.code in by_code:
                raise ValueError(f"duplicate taxonomy code {trade.code!r}")
            by_code[trade.code] = trade
        for trade in trades:
            if trade.level == 1:
                if trade.parent_code is not None or len(trade.code) != 2 or not trade.code.isdigit():
                    raise ValueError(f"level-1 code {trade.code!r} must be two digits without a parent")
            else:
                parent = by_code.get(trade.parent_code or "")
                if parent is None or parent.level != trade.level - 1:
                    raise ValueError(f"code {trade.code!r} has no level-{trade.level - 1} parent")
        divisions = tuple(t for t in trades if t.level == 1)
        return cls(all=trades, divisions=divisions, by_code=MappingProxyType(by_code))

    def division_of(self, code: str) -> str:
        """The level-1 ancestor code of ``code`` (itself for a division); KeyError if unknown."""
        trade = self.by_code[code]
        while trade.parent_code is not None:
            trade = self.by_code[trade.parent_code]
        return trade.code


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read the taxonomy seed (default: the dbt seed); cached per resolved path."""
    return _load(Path(path or SEED_PATH).resolve())


@lru_cache(maxsize=8)
def _load(path: Path) -> Taxonomy:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        trades = tuple(
            Trade(
                code=row["code"].strip(),
                level=int(row["level"]),
                parent_code=row["parent_code"].strip() or None,
                name=row["name"].strip(),
                typical_gmp_share=float(row["typical_gmp_share"]),
                typical_start_share=float(row["typical_start_share"]),
                typical_finish_share=float(row["typical_finish_share"]),
                typical_duration_share=float(row["typical_duration_share"]),
            )
            for row in csv.DictReader(handle)
        )
    return Taxonomy.from_trades(trades)
