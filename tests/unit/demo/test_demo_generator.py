"""The demo generator writes folders that follow the input contract and carry the intended statistics.

Files are read back here with small readers of our own (not the ingestion package), and checked
against the contract's column aliases, value spellings and counts.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import median

import numpy as np
import pytest
from support.contract_files import (
    CHANGE_ORDERS,
    COMMITMENTS,
    COSTS,
    GMP,
    REQUIRED,
    SCHEDULE,
    as_date,
    money_cents,
    norm,
    project_file,
    read_table,
)
from xerparser import Xer

from gmp_assets.demo import ProjectSummary, draw_portfolio_plans, generate_portfolio
from gmp_assets.demo.generator import curve_time, format_money, level1_divisions
from gmp_assets.demo.names import AMBIGUOUS, DIVISION_NAMES, all_spellings
from gmp_assets.demo.xer_writer import XerHeader, XerTask, render_xer

AS_OF = date(2025, 6, 30)
KEY = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory) -> tuple[Path, list[ProjectSummary]]:
    root = tmp_path_factory.mktemp("demo")
    return root, generate_portfolio(root, 6, seed=11, as_of=AS_OF)


@pytest.fixture(scope="module")
def tables(portfolio) -> dict[str, dict]:
    root, summaries = portfolio
    result = {}
    for s in summaries:
        folder = root / s.project_key
        gmp, gmp_facts = read_table(project_file(folder, "gmp_breakdown"), GMP)
        costs, cost_facts = read_table(project_file(folder, "direct_costs"), COSTS)
        schedule, schedule_facts = (
            ([], {}) if s.formats["schedule"] == "xer" else read_table(folder / "schedule.csv", SCHEDULE)
        )
        optional = {
            kind: read_table(project_file(folder, kind), aliases)[0] if kind in s.formats else []
            for kind, aliases in (("commitments", COMMITMENTS), ("change_orders", CHANGE_ORDERS))
        }
        result[s.project_key] = {
            **optional,
            "gmp": gmp,
            "costs": costs,
            "schedule": schedule,
            "facts": {"gmp": gmp_facts, "costs": cost_facts, "schedule": schedule_facts},
        }
    return result


@pytest.fixture(scope="module")
def plans():
    return draw_portfolio_plans(100, seed=2024, as_of=AS_OF)


def test_project_folders_and_json_follow_the_contract(portfolio):
    root, summaries = portfolio
    assert sorted(p.name for p in root.iterdir()) == sorted(s.project_key for s in summaries)
    owners = set()
    for s in summaries:
        folder = root / s.project_key
        assert KEY.match(s.project_key)
        meta = json.loads((folder / "project.json").read_text(encoding="utf-8"))
        assert meta["project_key"] == folder.name
        assert isinstance(meta["name"], str) and meta["name"] and isinstance(meta["region"], str)
        assert isinstance(meta["total_square_feet"], int) and 40_000 <= meta["total_square_feet"] <= 600_000
        assert meta["project_type"] in {"commercial", "residential", "mixed"}
        assert meta["status"] == s.status and meta["status"] in {"active", "completed"}
        assert isinstance(meta["is_training_eligible"], bool)
        start = date.fromisoformat(meta["start_date"])
        finish = date.fromisoformat(meta["planned_finish_date"])
        months = (finish - start).days / 30.44
        assert 13.5 <= months <= 36.5
        if s.status == "completed":
            assert 2019 <= start.year <= 2024 and s.actual_finish_date < AS_OF
        else:
            assert 0.2 <= (AS_OF - start).days / (finish - start).days <= 0.8
        owners.add(meta["owner"])
        names = {p.name for p in folder.iterdir()}
        assert len([n for n in names if n.startswith("gmp_breakdown.")]) == 1
        assert len([n for n in names if n.startswith("direct_costs.")]) == 1
        assert ("schedule.csv" in names) != ("schedule" in names)
    assert 1 < len(owners) <= 4
    assert {s.status for s in summaries} == {"active", "completed"}


def test_tables_have_contract_columns_and_sizes(tables):
    for key, t in tables.items():
        for kind in ("gmp", "costs", "schedule"):
            if t["facts"][kind]:
                assert REQUIRED[kind] <= t["facts"][kind]["roles"], (key, kind)
        gmp, costs = t["gmp"], t["costs"]
        assert 100 <= len(gmp) <= 500
        assert 15 <= len({r["division"] for r in gmp}) <= 40
        assert len(costs) >= 1000
        for row in gmp + costs:
            assert (row["zone"] or "SHARED") in {"EAST", "WEST", "SHARED"}
        assert all(money_cents(r["original"]) > 0 for r in gmp)
        types = {r.get("type") for r in costs}
        assert types <= {"Invoice", "Expense", "Payroll", "Subcontractor Invoice", None}
        invoices = [r["invoice"] for r in costs if r.get("invoice")]
        assert len(invoices) == len(set(invoices))
        exact = [tuple(sorted((k, str(v)) for k, v in r.items())) for r in costs]
        assert len(exact) == len(set(exact))
        assert any(money_cents(r["amount"]) < 0 for r in costs), "no credits"
        dates = [as_date(r["date"]) for r in costs]
        assert dates == sorted(dates)


def test_files_vary_formats_and_spellings(portfolio, tables):
    _, summaries = portfolio
    formats = defaultdict(set)
    for s in summaries:
        for kind in ("gmp_breakdown", "direct_costs", "schedule"):
            formats[kind].add(s.formats[kind])
    assert formats == {"gmp_breakdown": {"csv", "xlsx"}, "direct_costs": {"csv", "xlsx"}, "schedule": {"csv", "xer"}}
    texts = [
        v
        for t in tables.values()
        for rows in (t["gmp"], t["costs"])
        for r in rows
        for k, v in r.items()
        if k in ("original", "changes", "amount") and isinstance(v, str)
    ]
    spelt = {
        "plain": r"^-?\d+(\.\d+)?$",
        "grouped": r"^\d{1,3}(,\d{3})*\.\d{2}$",
        "dollar": r"^\$",
        "parenthesised": r"^\(",
        "minus": r"^-",
    }
    assert {name for name, rx in spelt.items() if any(re.match(rx, v) for v in texts)} == set(spelt)
    raw_dates = [r["date"] for t in tables.values() for r in t["costs"]]
    assert any(isinstance(d, datetime) for d in raw_dates)
    assert any(isinstance(d, str) and "/" in d for d in raw_dates)
    assert any(isinstance(d, str) and "-" in d for d in raw_dates)
    facts = [f for t in tables.values() for f in t["facts"].values() if f]
    assert any(f["bom"] for f in facts) and not all(f["bom"] for f in facts)
    amount_headers = {
        h
        for t in tables.values()
        for h in t["facts"]["gmp"]["headers"]
        if norm(h) in {norm(a) for a in GMP["original"]}
    }
    assert len(amount_headers) > 1


def test_division_truth_covers_every_written_spelling(portfolio, tables):
    root, summaries = portfolio
    codes = set(level1_divisions())
    for s in summaries:
        t = tables[s.project_key]
        tables_read = t["gmp"] + t["costs"] + t["schedule"] + t["commitments"] + t["change_orders"]
        written = {r["division"] for r in tables_read if r["division"]}
        if s.formats["schedule"] == "xer":
            for path in sorted((root / s.project_key / "schedule").glob("*.xer")):
                xer = Xer.reader(path)
                written |= {task.wbs.name for task in xer.tasks.values()}
                written |= {v.name for task in xer.tasks.values() for v in task.activity_codes.values()}
        assert written == set(s.division_truth)
        assert set(s.division_truth.values()) <= codes
        gmp_codes = {s.division_truth[r["division"]] for r in t["gmp"]}
        assert {"01", "03", "09", "22", "23", "26"} <= gmp_codes and 15 <= len(gmp_codes) <= 23
        assert all(s.division_truth[name] == all_spellings()[name] for name in written)


def test_spelling_table_is_unambiguous_and_mostly_machine_mappable(portfolio):
    by_lower = defaultdict(set)
    for name, code in all_spellings().items():
        by_lower[name.lower()].add(code)
    assert all(len(codes) == 1 for codes in by_lower.values())
    assert set(DIVISION_NAMES) == set(level1_divisions())
    _, summaries = portfolio
    distinct = {name for s in summaries for name in s.division_truth}
    assert len(distinct & set(AMBIGUOUS)) <= 0.03 * len(distinct)
    # several styles appear: CSI-prefixed, trade words / titles, and misspellings
    assert any(re.match(r"^(\d{2}\b|Div)", n) for n in distinct)
    assert any(not re.match(r"^\d", n) for n in distinct)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    def snapshot(folder: Path, seed: int) -> dict[str, bytes]:
        generate_portfolio(folder, 2, seed=seed, as_of=AS_OF)
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    first = snapshot(tmp_path / "a", 5)
    time.sleep(1.1)  # a clock-dependent byte (xlsx document dates, zip entry times) would now differ
    again = snapshot(tmp_path / "b", 5)
    assert any(name.endswith(".xlsx") for name in first)
    assert first == again
    other = snapshot(tmp_path / "c", 6)
    assert other != first


def test_overrun_statistics_over_a_large_portfolio(plans):
    ratios = np.array([p.final_ratio for p in plans])
    assert 0.98 <= np.median(ratios) <= 1.08
    assert 0.5 <= (ratios > 1).mean() <= 0.75
    assert 1.12 <= np.quantile(ratios, 0.9) <= 1.35
    active = [p for p in plans if p.status == "active"]
    assert 0.3 <= len(active) / len(plans) <= 0.5
    assert len({p.owner for p in plans}) <= 4 and len({p.key for p in plans}) == len(plans)
    for p in plans:
        budget = sum(t.budget_cents for t in p.trades)
        assert sum(t.final_cents for t in p.trades) / budget == pytest.approx(p.final_ratio, abs=1e-6)
        assert np.std([t.final_ratio for t in p.trades]) > 0


def test_earthwork_spends_before_finishes(plans, portfolio, tables):
    def median_day(trade) -> date:
        span = (trade.actual_finish - trade.actual_start).days
        return trade.actual_start + timedelta(days=span * float(curve_time(trade.curve, 0.5)))

    by_code = [{t.code: t for t in p.trades} for p in plans]
    both = [trades for trades in by_code if {"31", "09"} <= set(trades)]
    assert len(both) > 20
    assert all(median_day(t["31"]) < median_day(t["09"]) for t in both)
    # and in the written files: median cost date of earthwork rows precedes that of finishes rows
    _, summaries = portfolio
    checked = 0
    for s in summaries:
        days = defaultdict(list)
        for r in tables[s.project_key]["costs"]:
            days[s.division_truth[r["division"]]].append(as_date(r["date"]).toordinal())
        if s.status == "completed" and days["31"] and days["09"]:
            assert median(days["31"]) < median(days["09"])
            checked += 1
    assert checked >= 1


def test_overrun_trades_finish_later(plans):
    # Within one project (same overall slip), trades over budget take longer than their plan.
    differences = []
    for p in plans:
        stretch = {True: [], False: []}
        for t in p.trades:
            if t.code != "01":
                planned = (t.planned_finish - t.planned_start).days
                stretch[t.final_ratio > 1].append((t.actual_finish - t.actual_start).days / planned)
        if stretch[True] and stretch[False]:
            differences.append(np.mean(stretch[True]) - np.mean(stretch[False]))
    assert len(differences) > 50
    assert np.mean(differences) > 0.03 and np.mean(np.array(differences) > 0) > 0.8


def test_costs_match_the_drawn_ratio_and_stop_at_as_of(portfolio, tables):
    _, summaries = portfolio
    for s in summaries:
        t = tables[s.project_key]
        budget = sum(money_cents(r["original"]) + money_cents(r.get("changes") or "0") for r in t["gmp"])
        spent = sum(money_cents(r["amount"]) for r in t["costs"])
        assert budget == s.budget_cents and spent == s.cost_to_date_cents
        last_cost = max(as_date(r["date"]) for r in t["costs"])
        if s.status == "completed":
            assert spent / budget == pytest.approx(s.true_final_cost_ratio, abs=1e-6)
            assert last_cost <= s.actual_finish_date
        else:
            assert last_cost <= AS_OF < s.actual_finish_date
            assert spent < s.final_cost_cents
        dates = [as_date(r["data_date"]) for r in t["schedule"]]
        assert not dates or max(dates) <= min(AS_OF, s.actual_finish_date)


def test_schedule_progress_follows_the_cost_curve(portfolio, tables):
    _, summaries = portfolio
    gaps = []
    for s in summaries:
        t = tables[s.project_key]
        if not t["schedule"]:
            continue
        by_activity = defaultdict(list)
        progress = defaultdict(list)
        for r in t["schedule"]:
            pct = float(r["percent"])
            assert 0 <= pct <= 100
            by_activity[r["activity_id"]].append((as_date(r["data_date"]), pct))
            progress[(as_date(r["data_date"]), s.division_truth[r["division"]])].append(pct)
        for history in by_activity.values():
            values = [pct for _, pct in sorted(history)]
            assert values == sorted(values), "reported progress went backwards"
        budget = defaultdict(int)
        for r in t["gmp"]:
            code = s.division_truth[r["division"]]
            budget[code] += money_cents(r["original"]) + money_cents(r.get("changes") or "0")
        costs = defaultdict(list)
        for r in t["costs"]:
            costs[s.division_truth[r["division"]]].append((as_date(r["date"]), money_cents(r["amount"])))
        for (day, code), pcts in progress.items():
            final = budget[code] * s.trade_final_ratios[code]
            if s.status == "completed":
                assert sum(c for _, c in costs[code]) == pytest.approx(final, abs=1)
            done = sum(c for d, c in costs[code] if d <= day)
            gaps.append(np.mean(pcts) - 100 * done / final)
    assert len(gaps) > 100
    # reported progress tracks the cost curve closely and, being reported late, sits a little below it
    assert -6 < np.mean(gaps) < 0 and np.mean(np.abs(gaps)) < 6


def test_xer_schedules_parse_with_xerparser(portfolio):
    root, summaries = portfolio
    (s, *_) = [s for s in summaries if s.formats["schedule"] == "xer"]
    files = sorted((root / s.project_key / "schedule").glob("*.xer"))
    assert len(files) == s.n_schedule_updates > 1
    previous = {}
    for path in (files[0], files[len(files) // 2], files[-1]):
        xer = Xer.reader(path)
        (project,) = xer.projects.values()
        assert project.data_date.date() == date.fromisoformat(path.stem)
        assert path.stem.endswith(("-28", "-29", "-30", "-31"))
        tasks = list(xer.tasks.values())
        assert tasks and all(0 <= task.percent_complete <= 1 for task in tasks)
        assert {task.wbs.name for task in tasks} <= set(s.division_truth)
        assert {task.complete_pct_type for task in tasks} <= {"CP_Phys", "CP_Drtn"}
        current = {task.task_code: task.percent_complete for task in tasks}
        assert all(current[code] >= pct - 1e-9 for code, pct in previous.items())
        previous = current
    assert any(pct > 0 for pct in previous.values())


def test_xer_percent_follows_complete_pct_type():
    header = XerHeader("P-1", "Demo", date(2024, 3, 31), date(2024, 1, 8), "19.12", "admin", "CSI Division")
    window = (date(2024, 2, 1), date(2024, 6, 28), date(2024, 2, 5), date(2024, 7, 12))
    tasks = [
        XerTask("A1000", "Slab on Grade", "03 - Concrete", *window, 40.0, "CP_Drtn", "Concrete"),
        XerTask("A1010", "Framing", "Drywall", *window, 62.5, "CP_Phys", "Finishes"),
        XerTask("A1020", "Paint", "Drywall", *window, 0.0, "CP_Phys", "Finishes"),
    ]
    xer = Xer(render_xer(header, tasks))
    (project,) = xer.projects.values()
    assert project.data_date == datetime(2024, 3, 31) and project.name == "Demo"
    parsed = {t.task_code: t for t in xer.tasks.values()}
    assert parsed["A1000"].phys_complete_pct == 0  # P6 keeps duration % in the durations
    assert parsed["A1000"].percent_complete == pytest.approx(0.40, abs=1e-3)
    assert parsed["A1010"].percent_complete == pytest.approx(0.625)
    assert parsed["A1020"].status.is_not_started and parsed["A1010"].status.is_in_progress
    assert {t.wbs.name for t in parsed.values()} == {"03 - Concrete", "Drywall"}
    assert [v.name for v in parsed["A1000"].activity_codes.values()] == ["Concrete"]
    assert [c.name for c in parsed["A1000"].activity_codes] == ["CSI Division"]


def test_money_spellings():
    assert format_money(123450, "plain") == "1234.5"
    assert format_money(-123450, "plain") == "-1234.5"
    assert format_money(123450, "comma") == "1,234.50"
    assert format_money(123450, "dollar") == "$1,234.50"
    assert format_money(-123450, "dollar") == "(1,234.50)"
    assert format_money(100000, "plain") == "1000"
