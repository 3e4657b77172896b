"""The alert rules and settings on hand-made totals (pure: no database)."""

from datetime import date

import pytest

from gmp_assets.alerts import rules
from gmp_assets.alerts.config import SinkSettings, Thresholds
from gmp_assets.alerts.rules import ProjectState, conditions, dollars
from gmp_assets.orchestration.alert_sensors import project_of_run

DEFAULT = Thresholds()


def totals(
    eac: int,
    gmp: int = 1_000_000_000,
    upper: int | None = None,
    lower: int | None = None,
    day: date = date(2026, 10, 31),
) -> dict:
    """Totals in cents as ml.project_forecast_totals gives them."""
    return {
        "project_key": "alpha",
        "forecast_date": day,
        "bac_cents": gmp,
        "predicted_eac_cents": eac,
        "confidence_upper_cents": eac if upper is None else upper,
        "confidence_lower_cents": eac if lower is None else lower,
        "actual_to_date_cents": 0,
    }


def kinds(state: ProjectState, thresholds: Thresholds = DEFAULT) -> list[str]:
    return sorted(c.kind for c in conditions(state, thresholds))


def test_eac_over_gmp_fires_above_the_threshold_only():
    gmp = 1_180_000_000  # $11.8M
    at_threshold = round(gmp * 1.02)
    # 2.0% over, not more: no eac_over_gmp, but its upper bound (here the EAC itself) lies above the GMP
    assert kinds(ProjectState("alpha", totals(at_threshold, gmp))) == [rules.UPPER_BOUND_OVER_GMP]
    assert kinds(ProjectState("alpha", totals(at_threshold + 1, gmp))) == [rules.EAC_OVER_GMP]
    over = ProjectState("alpha", totals(1_230_000_000, gmp, upper=1_280_000_000, lower=1_190_000_000))
    (found,) = conditions(over, DEFAULT)
    assert found.kind == rules.EAC_OVER_GMP
    assert found.message.startswith("EAC $12.3M is 4.2% over the GMP of $11.8M as of 2026-10")
    assert found.details["gmp_cents"] == gmp and found.details["eac_cents"] == 1_230_000_000
    # a higher threshold silences it; the upper bound rule takes over (EAC not over GMP by more than it)
    assert kinds(over, Thresholds(overrun_pct=5)) == [rules.UPPER_BOUND_OVER_GMP]


def test_upper_bound_over_gmp_fires_only_while_the_eac_is_not_over():
    within = ProjectState("alpha", totals(950_000_000, upper=1_050_000_000))
    (found,) = conditions(within, DEFAULT)
    assert found.kind == rules.UPPER_BOUND_OVER_GMP
    assert "$10.5M is 5.0% over the GMP of $10.0M" in found.message and "5.0% under it" in found.message
    assert kinds(ProjectState("alpha", totals(950_000_000, upper=1_000_000_000))) == []  # at the GMP: not above
    assert kinds(ProjectState("alpha", totals(1_100_000_000, upper=1_200_000_000))) == [rules.EAC_OVER_GMP]


def test_no_budget_no_gmp_rules():
    assert kinds(ProjectState("alpha", totals(500_000, gmp=0, upper=900_000))) == []


def test_eac_jump_compares_with_the_previous_month():
    before = totals(1_000_000_000, gmp=2_000_000_000, day=date(2026, 9, 30))
    assert kinds(ProjectState("alpha", totals(1_050_000_000, gmp=2_000_000_000), previous=before)) == []
    jumped = ProjectState("alpha", totals(1_062_000_000, gmp=2_000_000_000), previous=before)
    (found,) = conditions(jumped, DEFAULT)
    assert found.kind == rules.EAC_JUMP
    assert found.message == "EAC rose 6.2% in a month, from $10.0M as of 2026-09 to $10.6M as of 2026-10."
    assert kinds(ProjectState("alpha", totals(1_062_000_000, gmp=2_000_000_000))) == []  # no previous month
    assert kinds(jumped, Thresholds(jump_pct=7)) == []
    fell = ProjectState("alpha", totals(900_000_000, gmp=2_000_000_000), previous=before)
    assert kinds(fell) == []


def test_pending_mappings_over_the_threshold():
    names = ("Misc Specialties", "Div 13X", "Temp Works", "Other")
    under = ProjectState("alpha", totals(900_000_000), pending_cents=10_000_000, pending_names=names)  # $100,000
    assert kinds(under) == []
    over = ProjectState("alpha", totals(900_000_000), pending_cents=25_000_000, pending_names=names)
    (found,) = conditions(over, DEFAULT)
    assert found.kind == rules.PENDING_MAPPINGS
    assert found.message.startswith(
        "$250K sits under 4 unmapped division names ('Misc Specialties', 'Div 13X', 'Temp Works' and 1 more)"
    )
    assert found.details["names"] == list(names)
    assert kinds(over, Thresholds(pending_dollars=300_000)) == []


def test_pending_names_are_shown_escaped_in_the_message():
    names = ("Plumb\x1b[2Jing", "\u0421oncrete")  # an escape code; a Cyrillic look-alike letter
    over = ProjectState("alpha", totals(900_000_000), pending_cents=25_000_000, pending_names=names)
    (found,) = conditions(over, DEFAULT)
    assert "('Plumb\\u001b[2Jing', '\\u0421oncrete')" in found.message
    assert found.message.isprintable() and found.details["names"] == list(names)


def test_model_changed_when_the_models_differ():
    old, new, adapter = ("gmp_forecaster_global", "2"), ("gmp_forecaster_global", "3"), ("gmp_adapter_alpha", "1")
    same = ProjectState("alpha", totals(900_000_000), models_before=frozenset({old}), models_after=frozenset({old}))
    assert kinds(same) == []
    first = ProjectState("alpha", totals(900_000_000), models_after=frozenset({old}))  # nothing to compare with
    assert kinds(first) == []
    changed = ProjectState(
        "alpha", totals(900_000_000), models_before=frozenset({old}), models_after=frozenset({new, adapter})
    )
    (found,) = conditions(changed, DEFAULT)
    assert found.kind == rules.MODEL_CHANGED
    assert found.message == (
        "Forecasts as of 2026-10 now come from gmp_adapter_alpha version 1, gmp_forecaster_global"
        " version 3 (before: gmp_forecaster_global version 2)."
    )


def test_several_rules_hold_at_once():
    state = ProjectState(
        "alpha",
        totals(1_200_000_000, upper=1_300_000_000),
        previous=totals(1_000_000_000, day=date(2026, 9, 30)),
        pending_cents=50_000_000,
        pending_names=("X",),
    )
    assert kinds(state) == sorted([rules.EAC_OVER_GMP, rules.EAC_JUMP, rules.PENDING_MAPPINGS])
    assert set(kinds(state)) <= set(rules.FORECAST_KINDS)


@pytest.mark.parametrize(
    "cents, text",
    [
        (1_234_567_890, "$12.3M"),
        (85_000_000, "$850K"),
        (950_000, "$9,500"),
        (99_995_000, "$1.0M"),
        (-25_000_000, "-$250K"),
    ],
)
def test_dollars(cents, text):
    assert dollars(cents) == text


def test_run_failure_details_track_failing_jobs():
    details = rules.with_failure({}, "forecast_job", "run-1")
    details = rules.with_failure(details, "project_ingest_job", "run-2")
    assert details == {"failing_jobs": {"forecast_job": "run-1", "project_ingest_job": "run-2"}, "failures": 2}
    details = rules.with_success(details, "forecast_job")
    assert details["failing_jobs"] == {"project_ingest_job": "run-2"}
    assert rules.run_failed_message(rules.PLATFORM_KEY, "training_job", "0123456789ab", "boom") == (
        "Run 01234567 of training_job for the platform failed: boom"
    )


def test_thresholds_from_env():
    env = {"GMP_ALERT_OVERRUN_PCT": "3.5%", "GMP_ALERT_JUMP_PCT": "", "GMP_ALERT_PENDING_DOLLARS": "250000"}
    assert Thresholds.from_env(env) == Thresholds(overrun_pct=3.5, jump_pct=5.0, pending_dollars=250_000)
    assert Thresholds.from_env({}) == Thresholds(2.0, 5.0, 100_000)
    with pytest.raises(ValueError, match="GMP_ALERT_OVERRUN_PCT must be a number; got 'two'"):
        Thresholds.from_env({"GMP_ALERT_OVERRUN_PCT": "two"})
    with pytest.raises(ValueError, match="GMP_ALERT_JUMP_PCT must be zero or more"):
        Thresholds.from_env({"GMP_ALERT_JUMP_PCT": "-1"})


def test_sink_settings_from_env():
    assert not SinkSettings.from_env({}).configured
    settings = SinkSettings.from_env(
        {
            "GMP_ALERT_EMAIL": "a@x.org, b@x.org",
            "GMP_SMTP_HOST": "mail",
            "GMP_SMTP_STARTTLS": "yes",
            "GMP_SMTP_FROM": "gmp@x.org",
        }
    )
    assert settings.email_to == ("a@x.org", "b@x.org")
    smtp = settings.smtp
    assert (smtp.host, smtp.port, smtp.starttls, smtp.sender) == ("mail", 587, True, "gmp@x.org")
    with pytest.raises(ValueError, match="GMP_SMTP_HOST is not"):
        SinkSettings.from_env({"GMP_ALERT_EMAIL": "a@x.org"})
    with pytest.raises(ValueError, match="not an e-mail address: nobody"):
        SinkSettings.from_env({"GMP_ALERT_EMAIL": "nobody", "GMP_SMTP_HOST": "mail"})
    with pytest.raises(ValueError, match="GMP_SMTP_PORT must be a port number"):
        SinkSettings.from_env({"GMP_ALERT_EMAIL": "a@x.org", "GMP_SMTP_HOST": "mail", "GMP_SMTP_PORT": "99999"})
    with pytest.raises(ValueError, match="GMP_ALERT_WEBHOOK must be an http"):
        SinkSettings.from_env({"GMP_ALERT_WEBHOOK": "ftp://x"})


@pytest.mark.parametrize(
    "tags, project",
    [
        ({"dagster/partition": "alpha"}, "alpha"),
        ({"dagster/partition": "2026-10-01|beta", "dagster/partition/project": "beta"}, "beta"),
        (
            {
                "dagster/asset_partition_range_start": "2026-01-01|gamma",
                "dagster/asset_partition_range_end": "2026-10-01|gamma",
            },
            "gamma",
        ),
        (
            {
                "dagster/asset_partition_range_start": "2026-01-01|gamma",
                "dagster/asset_partition_range_end": "2026-01-01|delta",
            },
            rules.PLATFORM_KEY,
        ),  # a single-run backfill across projects
        ({}, rules.PLATFORM_KEY),
        ({"dagster/partition": "bad key!"}, rules.PLATFORM_KEY),
    ],
)
def test_project_of_run(tags, project):
    assert project_of_run(tags) == project
