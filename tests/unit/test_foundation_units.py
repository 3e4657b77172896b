"""Unit tests of the foundation's pure pieces: URLs, quality score, partition ranges, inbox changes."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from gmp_assets.canonical.assets import monthly_vars
from gmp_assets.canonical.project import FINGERPRINT, manifest_is_stale, sources_fingerprint
from gmp_assets.orchestration.data_sensors import folder_fingerprint, inbox_changes, inbox_run_key
from gmp_assets.orchestration.runner import execute
from gmp_assets.orchestration.tags import CLI_TRIGGER, TRIGGER_TAG
from gmp_assets.settings import PgUrl, console_log_level, socket_url
from gmp_assets.taxonomy.quality import WEIGHTS, QualityInputs, quality_score


def test_socket_url_round_trips_for_dbt(tmp_path):
    url = socket_url(tmp_path, "gmp", port=5433)
    env = url.dbt_env()
    assert env["GMP_PG_HOST"] == str(tmp_path)
    assert env["GMP_PG_PORT"] == "5433"
    assert env["GMP_PG_DATABASE"] == "gmp"
    assert url.with_database("gmp_dagster").database == "gmp_dagster"
    assert url.with_database("gmp_dagster").host == str(tmp_path)


def test_tcp_url_parts():
    url = PgUrl("postgresql://alice:s3cret@db.internal:6543/platform")
    assert (url.host, url.port, url.user, url.password, url.database) == (
        "db.internal",
        6543,
        "alice",
        "s3cret",
        "platform",
    )


def _inputs(**overrides) -> QualityInputs:
    base = dict(
        rows_in=1000,
        rows_loaded=1000,
        distinct_names=20,
        mapped_names=20,
        cost_abs_cents=10**8,
        mapped_cost_abs_cents=10**8,
        budgeted_cost_abs_cents=10**8,
        schedule_rows=50,
    )
    return QualityInputs(**{**base, **overrides})


def test_quality_score_perfect_and_penalised():
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    perfect, _ = quality_score(_inputs())
    assert perfect == 1.0
    rejected, details = quality_score(_inputs(rows_loaded=800))
    assert rejected == pytest.approx(1 - 0.3 * 0.2)
    assert details["components"]["load_rate"] == pytest.approx(0.8)
    unmapped, _ = quality_score(_inputs(mapped_names=10, mapped_cost_abs_cents=5 * 10**7))
    assert unmapped == pytest.approx(1 - 0.2 * 0.5 - 0.3 * 0.5)
    no_schedule, _ = quality_score(_inputs(schedule_rows=0))
    assert no_schedule == pytest.approx(0.9)


def test_monthly_vars_one_project_and_many():
    assert monthly_vars(["2024-03-01|alpha", "2024-01-01|alpha", "2024-02-01|alpha"]) == {
        "month_start": "2024-01-01",
        "month_end": "2024-03-01",
        "project_key": "alpha",
    }
    both = monthly_vars(["2024-03-01|alpha", "2023-12-01|beta"])
    assert both == {"month_start": "2023-12-01", "month_end": "2024-03-01", "project_key": ["alpha", "beta"]}
    with pytest.raises(ValueError):
        monthly_vars(["2024-03-01|bad'key"])


def test_the_manifest_is_stale_when_what_dbt_parses_changes(tmp_path):
    (tmp_path / "models" / "staging").mkdir(parents=True)
    (tmp_path / "macros").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: x\n")
    model = tmp_path / "models" / "staging" / "stg_a.sql"
    model.write_text("select 1\n")
    (tmp_path / "target").mkdir()
    manifest = tmp_path / "target" / "manifest.json"
    assert manifest_is_stale(manifest, tmp_path)  # never parsed

    def parsed() -> None:
        manifest.write_text("{}")
        manifest.with_name(FINGERPRINT).write_text(sources_fingerprint(tmp_path) + "\n")

    parsed()
    assert not manifest_is_stale(manifest, tmp_path)
    (tmp_path / "target" / "run_results.json").write_text("{}")  # dbt's own output does not count
    (tmp_path / "models" / "staging" / ".stg_a.sql.swp").write_text("x")  # nor an editor's swap file
    assert not manifest_is_stale(manifest, tmp_path)

    old = tmp_path / "macros" / "m.sql"
    old.write_text("{% macro m() %}{% endmacro %}")
    os.utime(old, (1_000, 1_000))  # copied in with an old date (cp -p, tar)
    assert manifest_is_stale(manifest, tmp_path)
    parsed()
    model.rename(model.with_name("stg_b.sql"))
    assert manifest_is_stale(manifest, tmp_path)
    parsed()
    old.unlink()
    assert manifest_is_stale(manifest, tmp_path)
    parsed()
    (tmp_path / "dbt_project.yml").write_text("name: y\n")
    assert manifest_is_stale(manifest, tmp_path)
    parsed()
    manifest.unlink()
    assert manifest_is_stale(manifest, tmp_path)


def test_inbox_changes_detects_new_changed_and_invalid(tmp_path):
    (tmp_path / "alpha").mkdir()
    (tmp_path / "alpha" / "project.json").write_text("{}")
    (tmp_path / "bad name").mkdir()
    changed, invalid = inbox_changes(sorted(tmp_path.iterdir()), {})
    assert set(changed) == {"alpha"} and invalid == ["bad name"]
    seen = dict(changed)
    assert inbox_changes([tmp_path / "alpha"], seen)[0] == {}
    (tmp_path / "alpha" / "direct_costs.csv").write_text("Date,Division,Amount\n")
    again, _ = inbox_changes([tmp_path / "alpha"], seen)
    assert set(again) == {"alpha"} and again["alpha"] != seen["alpha"]
    assert again["alpha"] == folder_fingerprint(tmp_path / "alpha")


def test_an_ingestion_run_key_follows_what_the_database_holds():
    """Files A, then B, then A restored with its old size and time: the folder's fingerprint is A's
    again, but the database holds B, so the run key is new and A is loaded again."""
    a, b = {"direct_costs.csv": "a" * 64}, {"direct_costs.csv": "b" * 64}
    first = inbox_run_key("alpha", "f-a", {})
    assert inbox_run_key("alpha", "f-a", {}) == first  # ticks before the run lands: asked once
    assert inbox_run_key("alpha", "f-b", a) != inbox_run_key("alpha", "f-a", b) != first
    assert inbox_run_key("alpha", "f-a", b) != inbox_run_key("alpha", "f-a", a)
    assert inbox_run_key("beta", "f-a", {}) != first


def test_a_run_failure_is_told_whole_on_one_line():
    """dbt's parsed errors and a failed blocking check's name come after the first line of the error."""
    import dagster as dg

    from gmp_assets.orchestration.runner import MAX_FAILURE_CHARS, _failure_message

    def failing(message: str):
        @dg.asset
        def broken():
            raise dg.Failure(description=message)

        return dg.materialize([broken], raise_on_error=False)

    told = _failure_message(
        failing("The dbt CLI process failed.\n\nErrors parsed from dbt logs:\n  Database Error in model x")
    )
    assert told == "The dbt CLI process failed. Errors parsed from dbt logs: Database Error in model x"
    long = _failure_message(failing("x" * (2 * MAX_FAILURE_CHARS)))
    assert len(long) == MAX_FAILURE_CHARS and long.endswith("...")


def test_a_failed_forecast_check_becomes_summary_lines_with_the_pending_mappings():
    import dagster as dg

    from gmp_assets.orchestration.runner import _check_findings

    def build(passed: bool):
        @dg.asset(check_specs=[dg.AssetCheckSpec("gx", asset="forecasts")])
        def forecasts():
            failed = (
                []
                if passed
                else [
                    {"column": "progress_without_cost", "examples": ["P/07 2026-10: 74% complete, 0% of budget spent"]}
                ]
            )
            return dg.MaterializeResult(
                check_results=[
                    dg.AssetCheckResult(
                        passed=passed,
                        severity=dg.AssetCheckSeverity.WARN,
                        metadata={
                            "failed": failed,
                            "pending_mappings": ["P: 'Building Envelope' (best guess 13 Special Construction)"],
                        },
                    )
                ]
            )

        return dg.materialize([forecasts])

    assert _check_findings(build(passed=True)) == []
    assert _check_findings(build(passed=False)) == [
        "progress_without_cost: P/07 2026-10: 74% complete, 0% of budget spent",
        "pending mapping P: 'Building Envelope' (best guess 13 Special Construction)",
    ]


def test_the_summary_tells_kept_adapters_the_forecasts_do_not_use_yet(capsys):
    from gmp_assets.cli import _print_models
    from gmp_assets.models.fallback import ADAPTER_MIN_MONTHS
    from gmp_assets.orchestration.runner import ModelOutcome

    _print_models(
        ModelOutcome(
            global_version="1",
            promoted=True,
            trained=True,
            decision="first model",
            adapters_kept={"P-2025-003": 16, "delta": ADAPTER_MIN_MONTHS - 5, "bravo": ADAPTER_MIN_MONTHS},
        )
    )
    lines = capsys.readouterr().out.splitlines()
    assert "global model: version 1 (champion: first model)" in lines
    assert "adapters kept: P-2025-003, bravo" in lines
    assert (
        f"adapters kept, not used before {ADAPTER_MIN_MONTHS} months of data (the global model forecasts until"
        f" then): delta ({ADAPTER_MIN_MONTHS - 5} months)"
    ) in lines
    _print_models(ModelOutcome(global_version="2", decision="same data, same recipe"))
    lines = capsys.readouterr().out.splitlines()
    assert "global model: nothing trained (same data, same recipe)" in lines and "adapters kept: none" in lines


def test_a_projects_total_reads_against_its_gmp():
    from decimal import Decimal

    from gmp_assets.cli import _total_line

    total = {
        "bac_cents": 4_000_000_000,
        "predicted_eac_cents": 4_120_000_000,
        "confidence_level": Decimal("0.80"),
        "confidence_lower_cents": 4_010_000_000,
        "confidence_upper_cents": 4_260_000_000,
    }
    assert _total_line(total) == "EAC $41.2M vs GMP $40.0M (+3.0%), 80% interval $40.1M to $42.6M"
    assert _total_line(total | {"bac_cents": 0}).startswith("EAC $41.2M vs GMP $0.0M, 80% interval")


@dg.op
def _says_info_and_debug(context) -> None:
    context.log.info("the info line")
    context.log.debug("the debug line")


@dg.job
def _talkative_job():
    _says_info_and_debug()


@dg.op
def _fails() -> None:
    raise RuntimeError("the step's error")


@dg.job
def _failing_job():
    _fails()


@pytest.mark.parametrize("level, printed", [(None, False), ("debug", True)])
def test_gmp_runs_print_info_and_keep_every_event(monkeypatch, capsys, level, printed):
    """The console gets INFO unless GMP_LOG_LEVEL says otherwise; the event log keeps DEBUG for the UI."""
    if level is None:
        monkeypatch.delenv("GMP_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("GMP_LOG_LEVEL", level)
    with dg.DagsterInstance.ephemeral() as instance:
        result = execute(_talkative_job, instance, tags={"team": "controls", TRIGGER_TAG: "sensor"})
        logged = [e.user_message for e in instance.all_logs(result.run_id)]
        run_tags = instance.get_run_by_id(result.run_id).tags
        failed = execute(_failing_job, instance)  # returned, not raised
    console = capsys.readouterr().err
    assert result.success and "the info line" in console
    assert ("the debug line" in console) is printed and ("STEP_SUCCESS" in console) is printed
    assert "the debug line" in logged
    assert run_tags["team"] == "controls" and run_tags[TRIGGER_TAG] == CLI_TRIGGER  # a gmp run, whatever it says
    assert not failed.success and "the step's error" in str(failed.failure_data_for_node("_fails").error)


def test_a_bad_log_level_is_refused_before_any_run(monkeypatch):
    monkeypatch.setenv("GMP_LOG_LEVEL", "verbose")
    with dg.DagsterInstance.ephemeral() as instance:
        with pytest.raises(ValueError, match="GMP_LOG_LEVEL must be one of DEBUG, INFO"):
            execute(_talkative_job, instance)
        assert not instance.get_runs()
    monkeypatch.setenv("GMP_LOG_LEVEL", " warning ")
    assert console_log_level() == "WARNING"
