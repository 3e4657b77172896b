"""The forecast table takes a calibrated champion's methods (``blend:<band>``, ``formula:<name>``) and no
other new ones, on a real PostgreSQL, after the DDL ran again (idempotent)."""

from __future__ import annotations

from datetime import date

import psycopg2
import pytest

from gmp_assets import database
from gmp_assets.forecasting.store import write_forecasts

PROJECT = "methods_check"


def _row(code: str, method: str) -> dict:
    return {
        "canonical_code": code,
        "horizon_months": 3,
        "model_name": "gmp_forecaster_global",
        "model_version": "1",
        "method": method,
        "bac_cents": 1000,
        "actual_to_date_cents": 100,
        "predicted_eac_cents": 1100,
        "predicted_etc_cents": 1000,
        "confidence_lower_cents": 900,
        "confidence_upper_cents": 1300,
        "confidence_level": 0.8,
        "eac_east_cents": 600,
        "eac_west_cents": 500,
    }


def _constraint() -> str:
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'project_forecasts_method_check'"
            " AND conrelid = 'ml.project_forecasts'::regclass"
        )
        return cur.fetchone()[0]


def test_calibrated_methods_are_taken_and_others_refused(pg):
    before = _constraint()
    database.apply_schema(database.main_url(start=False))  # every start runs the DDL again
    assert _constraint() == before and "blend:" in before
    try:
        with database.connect() as conn:
            written, _ = write_forecasts(
                conn,
                PROJECT,
                date(2026, 9, 30),
                [_row("03", "blend:25-50"), _row("09", "formula:cpi_spi"), _row("26", "blend:not_started")],
            )
        assert written == 3
        for bad in ("blend:", "formula:cpi; drop", "mystery", "Blend:25-50"):
            with pytest.raises(psycopg2.errors.CheckViolation), database.connect() as conn:
                write_forecasts(conn, PROJECT, date(2026, 10, 31), [_row("03", bad)])
    finally:
        with database.connect() as conn, conn.cursor() as cur:
            cur.execute("UPDATE ml.project_forecasts SET superseded_by = NULL WHERE project_key = %s", (PROJECT,))
            cur.execute("DELETE FROM ml.project_forecasts WHERE project_key = %s", (PROJECT,))
