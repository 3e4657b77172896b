"""The independent data regime: other timing, cost curves, overruns, optimistic progress and names."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import numpy as np
import pytest
from support.contract_files import COSTS, GMP, REQUIRED, SCHEDULE, as_date, money_cents, project_file, read_table

from gmp_assets.demo import draw_portfolio_plans, generate_portfolio
from gmp_assets.demo.generator import curve_time, level1_divisions
from gmp_assets.demo.names import all_spellings
from gmp_assets.demo.regimes import independent_spellings
from gmp_assets.taxonomy.mapping import AUTOMATIC_METHODS, TradeMapper

AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("independent")
    return root, generate_portfolio(root, 6, seed=3, as_of=AS_OF, regime="independent")


def start_shares(plans) -> dict[str, list[float]]:
    shares = defaultdict(list)
    for p in plans:
        span = (p.planned_finish - p.start).days
        for t in p.trades:
            shares[t.code].append((t.planned_start - p.start).days / span)
    return shares


def test_independent_names_are_new_and_map_through_the_cascade():
    demo = {name.lower() for name in all_spellings()}
    mapper = TradeMapper()
    for name, code in independent_spellings().items():
        assert name.lower() not in demo
        mapping = mapper.map_name(name)
        assert (mapping.canonical_code, mapping.method in AUTOMATIC_METHODS) == (code, True), name
    assert set(independent_spellings().values()) == set(level1_divisions())


def test_timing_and_curves_are_not_the_taxonomys():
    taxonomy = level1_divisions()
    demo = draw_portfolio_plans(120, seed=9, as_of=AS_OF)
    other = draw_portfolio_plans(120, seed=9, as_of=AS_OF, regime="independent")

    def distance(plans) -> float:
        shares = start_shares(plans)
        return float(np.mean([abs(np.mean(v) - taxonomy[c].start_share) for c, v in shares.items() if c != "01"]))

    assert distance(demo) < 0.04 < 0.06 < distance(other)
    medians = np.array([float(curve_time(t.curve, 0.5)) for p in other for t in p.trades if t.code != "01"])
    assert {t.curve[0] for p in other for t in p.trades} == {"kumaraswamy"}
    assert np.mean(medians < 0.35) > 0.2 and np.mean(medians > 0.6) > 0.2  # front- and back-loaded
    ratios = np.array([p.final_ratio for p in other])
    assert 0.98 <= np.median(ratios) <= 1.1 and np.quantile(ratios, 0.9) > 1.05
    for p in other:
        budgets = np.array([t.budget_cents for t in p.trades], float)
        finals = np.array([t.final_ratio for t in p.trades])
        assert (finals * budgets).sum() / budgets.sum() == pytest.approx(p.final_ratio, abs=1e-6)


def test_files_follow_the_contract_with_the_new_names(written):
    root, summaries = written
    spellings = independent_spellings()
    assert {s.regime for s in summaries} == {"independent"}
    assert sum(s.commitments is not None for s in summaries) == len(summaries) - 1
    for s in summaries:
        folder = root / s.project_key
        gmp, facts = read_table(project_file(folder, "gmp_breakdown"), GMP)
        assert REQUIRED["gmp"] <= facts["roles"]
        assert all(spellings[name] == code for name, code in s.division_truth.items())
        budget = sum(money_cents(r["original"]) + money_cents(r.get("changes") or "0") for r in gmp)
        assert budget == s.budget_cents


def progress_gaps(root, summaries) -> list[float]:
    """Reported percent complete less the share of the final cost spent, per data date and trade."""
    gaps = []
    for s in summaries:
        if s.formats["schedule"] != "csv" or s.status != "completed":
            continue
        folder = root / s.project_key
        schedule, _ = read_table(folder / "schedule.csv", SCHEDULE)
        costs, _ = read_table(project_file(folder, "direct_costs"), COSTS)
        spent = defaultdict(list)
        for r in costs:
            spent[s.division_truth[r["division"]]].append((as_date(r["date"]), money_cents(r["amount"])))
        progress = defaultdict(list)
        for r in schedule:
            progress[(as_date(r["data_date"]), s.division_truth[r["division"]])].append(float(r["percent"]))
        for (day, code), pcts in progress.items():
            final = sum(c for _, c in spent[code])
            done = 100 * sum(c for d, c in spent[code] if d <= day) / final
            if 5 < done < 95:
                gaps.append(np.mean(pcts) - done)
    return gaps


def test_progress_reports_are_optimistic(written, tmp_path):
    optimistic = progress_gaps(*written)
    demo = progress_gaps(tmp_path, generate_portfolio(tmp_path, 6, seed=3, as_of=AS_OF))
    assert len(optimistic) > 30 and len(demo) > 30
    assert np.mean(optimistic) > 2 and np.mean(optimistic) > np.mean(demo) + 5


def test_regimes_are_deterministic_and_distinct(tmp_path):
    def snapshot(folder, regime):
        generate_portfolio(folder, 2, seed=5, as_of=AS_OF, regime=regime)
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    first = snapshot(tmp_path / "a", "independent")
    assert first == snapshot(tmp_path / "b", "independent")
    demo = snapshot(tmp_path / "c", "demo")
    assert all(first.get(name) != data for name, data in demo.items() if not name.endswith("project.json"))
    with pytest.raises(ValueError, match="unknown regime"):
        draw_portfolio_plans(2, seed=5, regime="other")
