"""Each trade forecast records the trade's commitments (sql/008): written with history, exported by
`gmp forecasts export` and served to the hub with the same values; a row written without them reads 0."""

import csv
import io

import pytest

pytestmark = pytest.mark.usefixtures("forget_new_projects")  # the projects it makes go afterwards

ROW = {
    "horizon_months": 3,
    "model_name": "probe",
    "model_version": "1",
    "method": "global",
    "bac_cents": 1_000_000,
    "actual_to_date_cents": 150_000,
    "predicted_eac_cents": 1_070_000,
    "predicted_etc_cents": 920_000,
    "confidence_lower_cents": 1_000_000,
    "confidence_upper_cents": 1_150_000,
    "confidence_level": 0.8,
    "eac_east_cents": 535_000,
    "eac_west_cents": 535_000,
}


def test_forecast_rows_carry_commitments_to_the_export_and_the_hub(pg):
    from gmp_assets import database
    from gmp_assets.forecasting.store import EXPORT_COLUMNS, current_forecasts, export_csv, write_forecasts
    from gmp_assets.hub.models import TradeForecast

    bought_out = ROW | {"canonical_code": "03", "committed_cents": 900_000, "pending_cents": 60_000}
    bought_out["uncommitted_cents"] = 120_000
    without = ROW | {"canonical_code": "09"}  # a row from before the columns: none recorded
    with database.connect() as conn:
        try:
            assert write_forecasts(conn, "commit-probe", "2026-09-30", [bought_out, without]) == (2, 0)
            assert write_forecasts(conn, "commit-probe", "2026-09-30", [bought_out, without]) == (0, 2)  # idempotent
            changed = bought_out | {"pending_cents": 0}  # the pending change order decided: a new forecast
            assert write_forecasts(conn, "commit-probe", "2026-09-30", [changed]) == (1, 0)
            out = io.StringIO()
            export_csv(conn, out)
            exported = [r for r in csv.DictReader(io.StringIO(out.getvalue())) if r["project_key"] == "commit-probe"]
            served = [dict(zip(EXPORT_COLUMNS, r)) for r in current_forecasts(conn, "commit-probe")]
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM ml.project_forecasts WHERE project_key = 'commit-probe'"
                    " AND canonical_code = '03' AND NOT is_current AND pending_cents = 60000"
                )
                (superseded,) = cur.fetchone()
        finally:
            conn.rollback()
    assert superseded == 1
    assert {"committed_cents", "pending_cents", "uncommitted_cents"} <= set(EXPORT_COLUMNS)
    by_code = {r["canonical_code"]: r for r in exported}
    assert (by_code["03"]["committed_cents"], by_code["03"]["pending_cents"], by_code["03"]["uncommitted_cents"]) == (
        "900000",
        "0",
        "120000",
    )
    assert (by_code["09"]["committed_cents"], by_code["09"]["uncommitted_cents"]) == ("0", "0")
    # what the hub's API serves (hub.queries.trade_forecasts reads the export's columns)
    hub = {r["canonical_code"]: TradeForecast(**r, canonical_name="", method_reason="") for r in served}
    assert (hub["03"].committed_cents, hub["03"].pending_cents, hub["03"].uncommitted_cents) == (900_000, 0, 120_000)
    assert hub["09"].committed_cents == 0
