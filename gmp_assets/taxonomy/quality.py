"""Data quality score of a project (0-1) from what ingestion and mapping found."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Weights of the components; they sum to 1.
WEIGHTS = {
    "load_rate": 0.30,  # share of source rows that loaded (not rejected)
    "mapped_names": 0.20,  # share of distinct division names mapped to a trade
    "mapped_cost": 0.30,  # share of cost (absolute amount) on mapped divisions
    "budget_coverage": 0.10,  # share of cost on trades that have a budget
    "schedule": 0.10,  # 1 with schedule progress, 0 without
}


@dataclass(frozen=True)
class QualityInputs:
    rows_in: int
    rows_loaded: int
    distinct_names: int
    mapped_names: int
    cost_abs_cents: int
    mapped_cost_abs_cents: int
    budgeted_cost_abs_cents: int
    schedule_rows: int


def _share(part: int, whole: int) -> float:
    return 1.0 if whole == 0 else max(0.0, min(1.0, part / whole))


def quality_components(q: QualityInputs) -> dict[str, float]:
    return {
        "load_rate": _share(q.rows_loaded, q.rows_in),
        "mapped_names": _share(q.mapped_names, q.distinct_names),
        "mapped_cost": _share(q.mapped_cost_abs_cents, q.cost_abs_cents),
        "budget_coverage": _share(q.budgeted_cost_abs_cents, q.cost_abs_cents),
        "schedule": 1.0 if q.schedule_rows > 0 else 0.0,
    }


def quality_score(q: QualityInputs) -> tuple[float, dict]:
    """The weighted score and its parts (with the inputs, for the record)."""
    components = quality_components(q)
    score = round(sum(WEIGHTS[name] * value for name, value in components.items()), 4)
    return score, {"components": components, "weights": WEIGHTS, "inputs": asdict(q)}
