"""The demo generator's folders, both regimes, read by the ingestion's own readers: nothing rejected,
every line read, and the commitments' figures as the generator meant them."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest

from gmp_assets.demo import generate_portfolio
from gmp_assets.ingest.readers import read_project_folder
from gmp_assets.taxonomy.mapping import TradeMapper

AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module", params=["demo", "independent"])
def read_back(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    summaries = generate_portfolio(root, 5, seed=21, as_of=AS_OF, regime=request.param)
    mapper = TradeMapper()
    folders = {}
    for s in summaries:
        info, parsed = read_project_folder(root / s.project_key, mapper.is_trade_name)
        folders[s.project_key] = (s, info, {p.kind: p for p in parsed if p.kind != "schedule"})
    return folders


def test_every_file_reads_without_a_rejected_row(read_back):
    kinds = defaultdict(int)
    for s, info, parsed in read_back.values():
        assert info.project_key == s.project_key and info.status == s.status
        for kind, p in parsed.items():
            assert not p.rejects, (s.project_key, kind, p.rejects[:3])
            kinds[kind] += 1
    assert kinds["commitments"] == kinds["change_orders"] == len(read_back) - 1
    assert kinds["gmp_breakdown"] == kinds["direct_costs"] == len(read_back)


def test_commitment_figures_are_the_generators(read_back):
    for s, _, parsed in read_back.values():
        if s.commitments is None:
            assert "commitments" not in parsed and "change_orders" not in parsed
            continue
        lines, orders = parsed["commitments"].rows, parsed["change_orders"].rows
        truth = s.division_truth
        committed, approved, pending, prime = (defaultdict(int) for _ in range(4))
        number_code = {}
        for r in lines:
            number_code[r["commitment_number"]] = truth[r["division"]]
            if r["status"] != "Void":
                committed[truth[r["division"]]] += r["original_amount_cents"]
        for r in orders:
            assert (r["status"] == "Pending") == (r["decision_date"] is None)
            if r["contract_number"] == "PRIME":
                if r["status"] == "Approved":
                    prime[truth[r["division"]]] += r["amount_cents"]
                continue
            code = number_code[r["contract_number"]]
            if r["status"] == "Approved":
                approved[code] += r["amount_cents"]
            elif r["status"] == "Pending":
                pending[code] += r["amount_cents"]
        for code, t in s.commitments.items():
            expected = (t.committed_original_cents, t.approved_co_cents, t.pending_co_cents, t.prime_approved_cents)
            assert (committed[code], approved[code], pending[code], prime[code]) == expected, (s.project_key, code)


def test_commitment_divisions_map_through_the_cascade(read_back):
    mapper = TradeMapper()
    names = {
        r["division"]: s.division_truth[r["division"]]
        for s, _, parsed in read_back.values()
        for kind in ("commitments", "change_orders")
        if kind in parsed
        for r in parsed[kind].rows
        if r["division"]
    }
    mapped = {name: mapper.map_name(name).canonical_code for name in names}
    wrong = {name for name, code in names.items() if mapped[name] not in (code, None)}
    assert not wrong
    assert sum(mapped[name] == code for name, code in names.items()) >= 0.9 * len(names)
