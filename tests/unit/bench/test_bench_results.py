"""bench/results.py renders docs/results.md from the JSON the bench scripts write (bench/record.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

import record  # noqa: E402
import results  # noqa: E402


def stage(mape: float, best: float, kept_n: int) -> dict:
    """One stage of a backtest report's ``stages`` as ``BacktestReport.to_dict`` writes it (fractions, NaN -> None)."""

    def method(value, interval=False):
        return {
            "mape": value,
            "median_ape": value,
            "coverage80": 0.85 if interval else None,
            "coverage80_open": 0.8 if interval else None,
            "mean_width": 0.2 if interval else None,
            "n": 53,
        }

    adapter = method(mape, True) | {
        "kept_n": kept_n,
        "kept_mape": 0.05 if kept_n else None,
        "kept_global_mape": 0.051 if kept_n else None,
        "best_evm": "evm_ac_plus_remaining",
    }
    return {
        "adapter": adapter,
        "global": method(mape + 0.001, True),
        "evm_bac": method(0.08),
        "evm_ac_plus_remaining": method(best),
        "evm_cpi": method(0.5),
        "evm_cpi_spi": method(None),
        "reference_project_ratio": method(0.062),
        "reference_ratio_and_evidence": method(0.063),
    }


def totals(model: float) -> dict:
    return {
        "adapter": {"mape": model, "median_ape": model, "coverage80": 1.0, "mean_width": 0.24, "n": 3},
        "global": {"mape": model, "median_ape": model, "coverage80": 1.0, "mean_width": 0.24, "n": 3},
        "evm_bac": {"mape": 0.048, "median_ape": 0.04, "coverage80": None, "mean_width": None, "n": 3},
        "evm_ac_plus_remaining": {"mape": 0.05, "median_ape": 0.04, "coverage80": None, "mean_width": None, "n": 3},
        "evm_cpi": {"mape": 0.3, "median_ape": 0.2, "coverage80": None, "mean_width": None, "n": 3},
        "evm_cpi_spi": {"mape": 0.4, "median_ape": 0.3, "coverage80": None, "mean_width": None, "n": 3},
    }


def write(folder: Path, name: str, figures: dict, data: str) -> None:
    record.write(folder / name, figures, data=data)


@pytest.fixture
def results_dir(tmp_path) -> Path:
    folder = tmp_path / "results"
    write(
        folder,
        "backtest.json",
        {
            "stages": {
                "25": stage(0.0647, 0.0797, 0),
                "50": stage(0.0532, 0.0692, 31),
                "75": stage(0.0385, 0.0539, 53),
            },
            "project_totals": {"25": totals(0.029), "50": totals(0.012), "75": totals(0.007)},
            "promotion": {"challenger_version": "2", "promoted": False, "reason": "does not beat the champion"},
        },
        data="6 projects, 3 completed",
    )
    write(
        folder,
        "forecasting.json",
        {
            "machine": {
                "gpus": 0,
                "tensorflow": "2.20.0",
                "load_average_1m_at_start": 2.6,
                "load_average_1m_at_end": 1.4,
            },
            "training": [
                {"samples": 1000, "s_per_epoch": 0.08, "ms_per_batch": 21.0},
                {"samples": 2000, "s_per_epoch": 0.17, "ms_per_batch": 21.2},
            ],
            "adapters": [
                {"project": "a", "train_samples": 28, "seconds": 1.9},
                {"project": "b", "train_samples": 264, "seconds": 2.8},
            ],
            "inference_warm": [{"project": "a", "trades": 15, "p50_ms": 6.0, "p95_ms": 6.6, "n": 50}],
            "inference_cold_keras": [
                {
                    "project": "a",
                    "trades": 15,
                    "p50_ms": 349.0,
                    "p95_ms": 360.0,
                    "n": 10,
                    "load_p50_ms": 78.0,
                    "load_p95_ms": 80.0,
                }
            ],
        },
        data="database (6 projects)",
    )
    write(
        folder,
        "reliability.json",
        {
            "bad_inputs": {"cases_tried": 53, "handled_as_expected": 52, "not_handled": {"x": ["y"]}},
            "rows": {
                "rows_in": 16920,
                "loaded": 16910,
                "rejected": 10,
                "unaccounted": 0,
                "loaded_missing_from_tables": 0,
                "rejected_missing_from_rejected_rows": 0,
            },
            "faults": {"injected": 2, "recovered": 2, "details": [{"fault": "SIGKILL"}, {"fault": "restart"}]},
            "isolation": {
                "probes_tried": 66,
                "denied": 66,
                "own_direct_cost_rows_visible": {"a": 5721, "b": 5478},
                "tables_unchanged": True,
            },
        },
        data="3 demo projects",
    )
    return folder


def test_each_measure_with_json_gets_its_run_facts_and_table(results_dir):
    page = results.render(results_dir)
    backtest = page.split("## Backtest: trades")[1].split("\n## ")[0]
    assert "6 projects, 3 completed" in backtest and "`.venv/bin/python" in backtest
    assert "| 25% | 6.47% | 6.57% | 7.97% (AC + BAC - EV) | 18.8% |" in backtest
    assert "none kept" in backtest and "5.00% vs 5.10% (n = 31)" in backtest
    assert "version 2: does not beat the champion" in backtest
    totals_section = page.split("## Backtest: project totals")[1].split("\n## ")[0]
    assert "| 25% | 2.9% | 4.8% (EAC = BAC) | 100% | 24% | 3 |" in totals_section
    speed = page.split("## Training and forecasting speed")[1].split("\n## ")[0]
    assert "0.08 s at 1,000 samples" in speed and "1.9-2.8 s per project" in speed and "p50 349 ms" in speed
    assert "| 53 / 52 (not: x) |" in page and "16,920 / 16,910 / 10 / 0" in page and "5,721 / 5,478" in page


def test_measures_without_json_are_listed_with_their_command(results_dir):
    page = results.render(results_dir)
    missing = page.split("## Not measured yet")[1]
    assert "`.venv/bin/python bench/known_project.py`" in missing
    assert "`.venv/bin/python bench/mapping_throughput.py`" in missing
    assert "Backtest: trades" not in missing
    assert "## Trade mapping throughput" not in page


def test_json_without_a_run_block_says_so(tmp_path):
    (tmp_path / "mapping_throughput.json").write_text(
        json.dumps({"distinct_names": 435, "seconds": 0.1, "names_per_second": 4350})
    )
    page = results.render(tmp_path)
    assert "no date or data recorded" in page and "| 435 | 0.1 | 4,350 |" in page


def test_record_writes_the_run_block(tmp_path):
    path = record.write(tmp_path / "deep" / "x.json", {"value": 1}, data="some data")
    doc = json.loads(path.read_text())
    assert doc["value"] == 1
    assert doc["run"]["data"] == "some data" and doc["run"]["date"].endswith("UTC")
    assert doc["run"]["command"].startswith(".venv/bin/python ") and doc["run"]["code"]
