"""A champion whose artifacts carry a pickle does not stop the forecasts: the forecast run keeps the
previous champion and says so in its metadata and log.

On the session's trained demo portfolio (tests/conftest.py): the real forecast job, the real
registry on PostgreSQL, a pickle planted in the champion's run artifacts.
"""

from __future__ import annotations

import logging
import pickle

from tests.conftest import query


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def test_a_forecast_run_keeps_the_previous_champion_when_the_champion_carries_a_pickle(
    trained, registry, instance, tmp_path
):
    from click.testing import CliRunner

    from gmp_assets.catalog import range_tags
    from gmp_assets.cli import main
    from gmp_assets.definitions import defs
    from gmp_assets.forecasting.store import forecast_date
    from gmp_assets.models import artifact_safety as safety
    from gmp_assets.models.registry import CHAMPION, GLOBAL_MODEL, PREVIOUS
    from gmp_assets.orchestration.runner import _materialization_metadata

    champion, previous = registry.version_for(GLOBAL_MODEL, CHAMPION), registry.version_for(GLOBAL_MODEL, PREVIOUS)
    loaded = registry.load_forecaster(GLOBAL_MODEL)
    with registry.start_run("refused_champion") as run:  # a new version of the same network, then tampered with
        new = registry.log_forecaster(
            loaded.model, {"projects": list(loaded.projects.keys), "trades": list(loaded.trades.keys)}, GLOBAL_MODEL
        )
    marker = tmp_path / "unpickled"
    payload = tmp_path / "custom_objects.cloudpickle"
    payload.write_bytes(pickle.dumps(_Payload(marker)))
    registry.client().log_artifact(run.info.run_id, str(payload), safety.MODEL_DIR)
    key, month = sorted(trained.forecasts.items())[0]
    current = (
        "SELECT DISTINCT model_version FROM ml.project_forecasts WHERE project_key = %s AND forecast_date = %s"
        " AND is_current AND model_name = %s"
    )
    before = query(current, (key, forecast_date(month), GLOBAL_MODEL))
    try:
        registry.promote(GLOBAL_MODEL, new, "test: a champion carrying a pickle")
        assert registry.version_for(GLOBAL_MODEL, CHAMPION) == new
        result = defs.resolve_job_def("forecast_job").execute_in_process(
            instance=instance, tags=range_tags(key, (month, month))
        )
        assert result.success
        assert not marker.exists()
        refused = _materialization_metadata(result, "models_refused")
        served = _materialization_metadata(result, "global_model_version")
        assert refused is not None, f"no refusal: the run served {GLOBAL_MODEL} version {served!r}"
        assert (
            f"{GLOBAL_MODEL} version {new} refused" in refused and "custom_objects.cloudpickle is a pickle" in refused
        )
        assert f"serving the previous champion, version {champion}" in refused
        assert _materialization_metadata(result, "global_model_version") == champion
        logged = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.level == logging.WARNING]
        assert any(f"{GLOBAL_MODEL} version {new} refused" in message for message in logged)
        assert query(current, (key, forecast_date(month), GLOBAL_MODEL)) == before  # still the previous champion's
        # nor can a person make it the champion again once it is out of service
        registry.set_alias(GLOBAL_MODEL, CHAMPION, champion)
        promoted = CliRunner().invoke(main, ["models", "promote", GLOBAL_MODEL, new, "--reason", "try"])
        assert promoted.exit_code != 0 and f"version {new} refused" in promoted.output
        assert registry.version_for(GLOBAL_MODEL, CHAMPION) == champion
    finally:
        registry.set_alias(GLOBAL_MODEL, CHAMPION, champion)
        if previous:
            registry.set_alias(GLOBAL_MODEL, PREVIOUS, previous)
        else:
            registry.client().delete_registered_model_alias(GLOBAL_MODEL, PREVIOUS)
        registry.client().delete_model_version(GLOBAL_MODEL, new)
