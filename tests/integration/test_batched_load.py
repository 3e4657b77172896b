"""`gmp`'s batched load: the raw loads run per project, the canonical builds of all the loaded projects
in one run and one dbt build, a bad project fails alone and is rolled back whole, the batch computes
what per-project builds compute, and a project whose files are loaded as they are costs nothing.

Real stack: the embedded PostgreSQL, the real Dagster instance and real dbt builds, in-process.
"""

from __future__ import annotations

import dagster as dg
import pytest

from gmp_assets import database
from tests.integration.test_whole_load import FAILING_GMP, GOOD_GMP, _project, state

pytestmark = pytest.mark.usefixtures("forget_new_projects")  # the projects it makes go afterwards

GOOD = ["batch_a", "batch_b", "batch_d"]
BAD = "batch_c"


def _dbt_steps(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    return {
        e.step_key
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
        if e.step_key and e.step_key.startswith("canonical_")
    }


def test_a_batch_builds_once_fails_alone_and_skips_what_did_not_change(instance, tmp_path):
    from gmp_assets.canonical.assets import canonical_project_models
    from gmp_assets.catalog import project_month_span, range_tags
    from gmp_assets.definitions import defs
    from gmp_assets.orchestration import jobs
    from gmp_assets.orchestration.batches import BUILD_TAG
    from gmp_assets.orchestration.runner import canonical_build, ingest_inbox

    inbox = tmp_path / "inbox"
    for index, key in enumerate(GOOD):
        _project(inbox, key, GOOD_GMP.replace("610,000.00", f"61{index},000.00"))
    _project(inbox, BAD, FAILING_GMP)
    lines: list[str] = []
    outcomes = {o.project_key: o for o in ingest_inbox(defs, inbox, progress=lines.append)}

    assert all(outcomes[key].ok for key in GOOD), [outcomes[key].error for key in GOOD]
    bad = outcomes[BAD]
    assert not bad.ok and "east_share" in bad.error
    assert bad.in_database.startswith("the load was rolled back: nothing of this project is in the database")
    assert all(count == 0 for count, _ in state(BAD).values())
    # the project models of all four in one run; their months in one run that failed, then split in
    # halves until the bad project failed on its own
    assert len({outcomes[key].run_ids[0] for key in (*GOOD, BAD)}) == 1  # the raw loads: one run
    assert "raw loads and trade mappings of batch_a .. batch_d (4 projects)" in lines
    shared_runs = set.intersection(*(set(outcomes[key].run_ids[1:]) for key in (*GOOD, BAD)))
    assert len(shared_runs) == 2
    assert any(line.startswith("project models of 4 project(s)") for line in lines)
    assert any(line.startswith("canonical months") and "FAILED (split)" in line for line in lines)
    assert any(line.startswith(f"{BAD}: FAILED") and "east_share" in line for line in lines)
    assert len(outcomes[BAD].run_ids) <= 1 + 1 + 3  # its raw load, the models batch, a months run per halving
    for key in GOOD:
        assert state(key)["analytics.canonical_cost_features"][0] > 0
        assert state(key)["ml.feature_rows"][0] > 0
        assert state(key)["raw.previous_loads"][0] == 0  # each load is whole
    batched = {key: state(key) for key in GOOD}

    # what the batch computed is what a project's own build computes (one project rebuilt on its own)
    ingest_job = defs.resolve_job_def(jobs.project_ingest_job.name)
    months_job = defs.resolve_job_def(jobs.project_months_job.name)
    build = {BUILD_TAG: canonical_build()}  # built by this code: the next load may skip it
    own = GOOD[0]
    keys = list(canonical_project_models.keys)
    assert ingest_job.execute_in_process(instance=instance, partition_key=own, asset_selection=keys, tags=build).success
    with database.connect() as conn:
        span = project_month_span(conn, own)
    assert months_job.execute_in_process(instance=instance, tags=range_tags(own, span)).success
    assert {key: state(key) for key in GOOD} == batched

    # again: the good projects' files are loaded as they are: nothing runs for them
    again = {o.project_key: o for o in ingest_inbox(defs, inbox, progress=lambda _: None)}
    assert all(again[key].ok and again[key].unchanged and not again[key].run_ids for key in GOOD)
    assert all(again[key].rows_loaded == outcomes[key].rows_loaded for key in GOOD)
    assert not again[BAD].ok and not again[BAD].unchanged
    assert {key: state(key) for key in GOOD} == batched

    # one corrected file in one project: only that project runs
    (inbox / "batch_b" / "gmp_breakdown.csv").write_text(GOOD_GMP.replace("610,000.00", "620,000.00"))
    (inbox / BAD).rename(tmp_path / BAD)
    corrected = {o.project_key: o for o in ingest_inbox(defs, inbox, progress=lambda _: None)}
    assert corrected["batch_b"].ok and not corrected["batch_b"].unchanged and corrected["batch_b"].run_ids
    assert all(corrected[key].unchanged for key in ("batch_a", "batch_d"))
    assert state("batch_b") != batched["batch_b"]
    assert all(_dbt_steps(instance, run_id) for run_id in corrected["batch_b"].run_ids[1:])
