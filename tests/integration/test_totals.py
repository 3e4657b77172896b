"""ml.project_forecast_totals on the real database: each project's current trade forecasts summed."""

INSERT = (
    "INSERT INTO ml.project_forecasts (project_key, canonical_code, forecast_date, horizon_months, model_name,"
    " model_version, method, bac_cents, actual_to_date_cents, predicted_eac_cents, predicted_etc_cents,"
    " confidence_lower_cents, confidence_upper_cents, confidence_level, eac_east_cents, eac_west_cents, is_current)"
    " VALUES (%s, %s, %s, 3, 'probe', '1', 'global', %s, %s, %s, %s, %s, %s, 0.8, %s, 0, %s)"
)


def _forecast(
    cur, project: str, code: str, day: str, bac: int, actual: int, eac: int, low: int, high: int, current: bool = True
) -> None:
    cur.execute(INSERT, (project, code, day, bac, actual, eac, eac - actual, low, high, eac, current))


def test_totals_sum_the_current_forecasts_per_project_and_date(pg):
    from gmp_assets import database

    with database.connect() as conn, conn.cursor() as cur:
        try:
            _forecast(cur, "totals-a", "03", "2026-09-30", 1_000, 400, 1_100, 1_000, 1_250)
            _forecast(cur, "totals-a", "26", "2026-09-30", 2_000, 0, 1_900, 1_700, 2_300)
            _forecast(cur, "totals-a", "26", "2026-09-30", 2_000, 0, 9_999, 9_000, 9_999, current=False)  # superseded
            _forecast(cur, "totals-a", "03", "2026-10-31", 1_000, 1_050, 1_050, 1_050, 1_050)
            _forecast(cur, "totals-b", "03", "2026-09-30", 500, 100, 600, 550, 700)
            cur.execute(
                "SELECT * FROM ml.project_forecast_totals WHERE project_key LIKE 'totals-%%'"
                " ORDER BY project_key, forecast_date"
            )
            columns = [d.name for d in cur.description]
            rows = [dict(zip(columns, r)) for r in cur.fetchall()]
        finally:
            conn.rollback()
    assert [(r["project_key"], str(r["forecast_date"]), r["trades"]) for r in rows] == [
        ("totals-a", "2026-09-30", 2),
        ("totals-a", "2026-10-31", 1),
        ("totals-b", "2026-09-30", 1),
    ]
    first = rows[0]
    assert (
        first["bac_cents"],
        first["actual_to_date_cents"],
        first["predicted_eac_cents"],
        first["predicted_etc_cents"],
        first["confidence_lower_cents"],
        first["confidence_upper_cents"],
    ) == (3_000, 400, 3_000, 2_600, 2_700, 3_550)
    assert float(first["confidence_level"]) == 0.8


def test_totals_read_with_the_readers_rights(pg):
    from gmp_assets import database

    with database.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT reloptions FROM pg_class WHERE oid = 'ml.project_forecast_totals'::regclass")
        assert "security_invoker=true" in cur.fetchone()[0]
        cur.execute("SELECT has_table_privilege('gmp_reader', 'ml.project_forecast_totals', 'SELECT')")
        assert cur.fetchone()[0]
