"""The demo generator's commitments and change orders follow the input contract and tell the truth.

Files are read back with the test readers of ``support.contract_files`` (not the ingestion package)
and checked against the contract's columns, values and as-of rules, the GMP breakdown and the costs.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from support.contract_files import (
    CHANGE_ORDERS,
    COMMITMENTS,
    COSTS,
    GMP,
    as_date,
    money_cents,
    norm,
    project_file,
    read_table,
)

from gmp_assets.demo import draw_portfolio_plans, generate_portfolio
from gmp_assets.demo.generator import build_project, without_commitments

AS_OF = date(2025, 6, 30)
SEED, N = 11, 8
STATUSES = {
    "commitments": {"Approved", "Complete", "Terminated", "Void"},
    "change_orders": {"Pending", "Approved", "Rejected", "Void"},
}


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory):
    root = tmp_path_factory.mktemp("commitments")
    summaries = generate_portfolio(root, N, seed=SEED, as_of=AS_OF)
    plans = {p.key: p for p in draw_portfolio_plans(N, seed=SEED, as_of=AS_OF)}
    projects = {}
    for s in summaries:
        folder = root / s.project_key
        tables = {"gmp": read_table(project_file(folder, "gmp_breakdown"), GMP)[0]}
        tables["costs"] = read_table(project_file(folder, "direct_costs"), COSTS)[0]
        for kind, aliases in (("commitments", COMMITMENTS), ("change_orders", CHANGE_ORDERS)):
            present = [p for p in folder.iterdir() if p.stem == kind]
            tables[kind], tables[f"{kind}_facts"] = read_table(present[0], aliases) if present else ([], {})
        projects[s.project_key] = (s, plans[s.project_key], tables)
    return root, projects


def with_files(portfolio):
    return [(s, plan, t) for s, plan, t in portfolio[1].values() if s.commitments is not None]


def by_code(s, rows, value) -> dict[str, int]:
    totals = defaultdict(int)
    for r in rows:
        totals[s.division_truth[r["division"]]] += value(r)
    return totals


def test_one_project_goes_without_both_files(portfolio):
    root, projects = portfolio
    missing = [k for k, (s, _, _) in projects.items() if s.commitments is None]
    assert len(missing) == 1
    assert missing[0] == next(
        p.key for p in draw_portfolio_plans(N, SEED, AS_OF) if p.index == without_commitments(N, SEED)
    )
    for key in projects:
        names = {p.stem for p in (root / key).iterdir()}
        assert ({"commitments", "change_orders"} <= names) == (key not in missing)
        assert not ({"commitments", "change_orders"} & names) or key not in missing


def test_columns_values_and_statuses_follow_the_contract(portfolio):
    formats = set()
    for s, plan, t in with_files(portfolio):
        formats |= {s.formats["commitments"], s.formats["change_orders"]}
        facts = t["commitments_facts"]
        assert {"number", "division", "executed", "original", "status", "zone"} <= facts["roles"]
        assert set(CHANGE_ORDERS) <= t["change_orders_facts"]["roles"]
        assert 10 <= len(t["commitments"]) <= 300
        shared = defaultdict(set)
        for r in t["commitments"]:
            assert money_cents(r["original"]) > 0 and r["status"] in STATUSES["commitments"]
            assert (r["zone"] or "SHARED") in {"EAST", "WEST", "SHARED"}
            assert as_date(r["executed"]) <= plan.cutoff
            shared[r["number"]].add((r.get("vendor"), r.get("type"), as_date(r["executed"]), r["status"]))
        assert all(len(v) == 1 for v in shared.values()), "lines of one commitment disagree"
        numbers = defaultdict(list)
        for r in t["change_orders"]:
            created = as_date(r["created"])
            assert created <= plan.cutoff and r["status"] in STATUSES["change_orders"]
            assert (r["status"] == "Pending") == (r["decision"] is None)
            if r["decision"] is not None:
                assert created <= as_date(r["decision"]) <= plan.cutoff
            assert r["contract"] == "PRIME" or r["contract"] in shared
            assert r["contract"] != "PRIME" or r["division"]
            if r["contract"] != "PRIME":
                assert created >= min(e for _, _, e, _ in shared[r["contract"]])
            money_cents(r["amount"])
            numbers[r["contract"]].append(r["co_number"])
        assert all(len(v) == len(set(v)) for v in numbers.values()), "a CO number repeats within its contract"
        if s.status == "completed":
            assert all(r["status"] != "Pending" for r in t["change_orders"])
    assert formats == {"csv", "xlsx"}


def test_the_portfolio_shows_every_kind_of_change_order(portfolio):
    rows = [(s, r) for s, _, t in with_files(portfolio) for r in t["change_orders"]]
    statuses = {r["status"] for _, r in rows}
    assert statuses == STATUSES["change_orders"]
    assert any(s.status == "active" and r["status"] == "Pending" for s, r in rows)
    assert any(money_cents(r["amount"]) < 0 and r["status"] == "Approved" and r["contract"] != "PRIME" for _, r in rows)
    lines = [r for _, _, t in with_files(portfolio) for r in t["commitments"]]
    assert {r["status"] for r in lines} >= {"Approved", "Complete", "Void"}
    assert {r.get("type") for r in lines} >= {"Subcontract", "Purchase Order"}
    headers = {h for _, _, t in with_files(portfolio) for h in t["commitments_facts"]["headers"]}
    assert len({h for h in headers if norm(h) in {norm(a) for a in COMMITMENTS["original"]}}) > 1


def test_prime_change_orders_date_the_breakdowns_approved_changes(portfolio):
    checked = 0
    for s, _, t in with_files(portfolio):
        breakdown = by_code(s, t["gmp"], lambda r: money_cents(r.get("changes") or "0"))
        prime = [r for r in t["change_orders"] if r["contract"] == "PRIME" and r["status"] == "Approved"]
        approved = by_code(s, prime, lambda r: money_cents(r["amount"]))
        assert {c: v for c, v in breakdown.items() if v} == {c: v for c, v in approved.items() if v}
        checked += bool(prime)
    assert checked >= 3


def test_buyout_comes_zero_to_three_months_before_the_trade_starts(portfolio):
    gaps = []
    for s, plan, t in with_files(portfolio):
        first_cost = {}
        for r in t["costs"]:
            code = s.division_truth[r["division"]]
            first_cost[code] = min(first_cost.get(code, date.max), as_date(r["date"]))
        executed = {}
        for r in t["commitments"]:
            if r["status"] == "Void":  # a superseded award
                continue
            code = s.division_truth[r["division"]]
            executed[code] = min(executed.get(code, date.max), as_date(r["executed"]))
        for trade in plan.trades:
            if trade.code in executed and trade.code != "01":
                start = min(trade.planned_start, trade.actual_start)
                assert start - timedelta(days=93) <= executed[trade.code] <= start
                if trade.code in first_cost:
                    gaps.append((first_cost[trade.code] - executed[trade.code]).days)
        started = {c for c in first_cost if c != "01"}
        assert started <= set(executed), "a trade with costs was never bought out"
    assert len(gaps) > 50 and min(gaps) >= 0 and 15 <= np.median(gaps) <= 120


def test_change_orders_come_late_in_the_trade(portfolio):
    positions = []
    for s, plan, t in with_files(portfolio):
        windows = {tr.code: (tr.actual_start, tr.actual_finish) for tr in plan.trades}
        for r in t["change_orders"]:
            if r["contract"] == "PRIME" or s.status != "completed":
                continue
            code = s.division_truth[r["division"]] if r["division"] else None
            if code is None:
                line = next(x for x in t["commitments"] if x["number"] == r["contract"])
                code = s.division_truth[line["division"]]
            start, finish = windows[code]
            positions.append((as_date(r["created"]) - start).days / max(1, (finish - start).days))
    assert len(positions) > 100
    assert np.median(positions) > 0.55 and np.mean(np.array(positions) > 0.8) > 0.2


def test_final_cost_is_largely_committed_plus_changes_plus_the_uncommitted_rest(portfolio):
    commitment_errors, budget_errors = [], []
    for s, _, t in with_files(portfolio):
        if s.status != "completed":
            continue
        budget = by_code(s, t["gmp"], lambda r: money_cents(r["original"]) + money_cents(r.get("changes") or "0"))
        spent = by_code(s, t["costs"], lambda r: money_cents(r["amount"]))
        counted = [r for r in t["commitments"] if r["status"] != "Void"]
        committed = by_code(s, counted, lambda r: money_cents(r["original"]))
        number_code = {r["number"]: s.division_truth[r["division"]] for r in t["commitments"]}
        changes = defaultdict(int)
        for r in t["change_orders"]:
            if r["contract"] != "PRIME" and r["status"] == "Approved":
                changes[number_code[r["contract"]]] += money_cents(r["amount"])
        for code, final in spent.items():
            if final > 0 and committed.get(code):
                eac = committed[code] + changes[code] + max(budget[code] - committed[code], 0)
                commitment_errors.append(abs(eac / final - 1))
                budget_errors.append(abs(budget[code] / final - 1))
                truth = s.commitments[code]
                assert truth.committed_original_cents == committed[code] and truth.approved_co_cents == changes[code]
                assert committed[code] + changes[code] + truth.uncommitted_true_cents == final
    assert len(commitment_errors) > 40
    assert np.mean(commitment_errors) < 0.06 and np.mean(commitment_errors) < 0.6 * np.mean(budget_errors)
    assert np.mean(np.array(commitment_errors) > 0.005) > 0.5, "the commitments explain the final cost too exactly"


def test_the_new_files_draw_from_their_own_stream():
    for plan in draw_portfolio_plans(3, seed=4, as_of=AS_OF):
        with_files, summary = build_project(plan, 4)
        without, bare = build_project(plan, 4, with_commitments=False)
        assert {k: v for k, v in with_files.items() if Path(k).stem not in {"commitments", "change_orders"}} == without
        assert bare.commitments is None and summary.commitments is not None
        again, _ = build_project(plan, 4)
        assert again == with_files
