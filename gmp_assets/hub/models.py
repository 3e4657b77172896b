"""Response and request bodies of the hub's JSON API (the OpenAPI page at /docs documents them).

Field names are the tables' and the export's column names; money is in integer cents.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


class Error(BaseModel):
    error: str = Field(description="What went wrong, for a person.")
    status: int


class ProjectSummary(BaseModel):
    project_key: str
    project_name: str
    owner: str
    status: str
    project_type: str
    region: str
    total_square_feet: int
    start_date: date
    planned_finish_date: date
    gmp_cents: int = Field(description="GMP: the current budget at completion (sum of the forecast trades' BAC).")
    cost_to_date_cents: int = Field(description="Every direct cost booked, mapped or pending.")
    actual_to_date_cents: int | None = Field(description="Cost to date of the forecast trades.")
    pct_complete: float | None = Field(description="Budget-weighted reported percent complete at the last month.")
    forecast_date: date | None
    predicted_eac_cents: int | None
    confidence_lower_cents: int | None
    confidence_upper_cents: int | None
    confidence_level: float | None
    variance_cents: int | None = Field(description="EAC minus GMP: positive is an overrun.")
    variance_pct: float | None
    over_gmp_since: date | None = Field(
        description="First forecast month of the current run of months with EAC above GMP."
    )
    top_driver_code: str | None = Field(description="The trade whose EAC exceeds its budget the most.")
    top_driver_name: str | None
    top_driver_variance_cents: int | None
    previous_forecast_date: date | None
    eac_change_cents: int | None = Field(description="EAC change since the previous forecast month.")
    eac_change_pct: float | None
    last_data_month: date | None
    loaded_at: datetime | None = Field(description="When the project's files were last ingested.")
    pending_names: int
    pending_budget_cents: int
    pending_cost_cents: int
    open_alerts: int


class TradeForecast(BaseModel):
    """A row of `gmp forecasts export`, with the trade's name and why its method was used."""

    project_key: str
    canonical_code: str
    forecast_date: date
    bac_cents: int
    actual_to_date_cents: int
    predicted_eac_cents: int
    predicted_etc_cents: int
    confidence_lower_cents: int
    confidence_upper_cents: int
    confidence_level: float
    eac_east_cents: int
    eac_west_cents: int
    model_name: str
    model_version: str
    method: str
    committed_cents: int = Field(0, description="Commitment lines and their approved change orders at the date.")
    pending_cents: int = Field(0, description="Commitment change orders pending at the date.")
    uncommitted_cents: int = Field(
        0, description="Budget not yet bought out at the date (budget less original committed)."
    )
    canonical_name: str
    method_reason: str


class TrajectoryPoint(BaseModel):
    forecast_date: date
    trades: int
    bac_cents: int
    actual_to_date_cents: int
    predicted_eac_cents: int
    confidence_lower_cents: int
    confidence_upper_cents: int
    confidence_level: float
    superseded_rows: int = Field(description="Trade forecasts of this month replaced by a later re-run.")
    first_predicted_eac_cents: int | None = Field(description="The month's total as first forecast.")


class CurvePoint(BaseModel):
    month_start: date
    actual_cost_cents: int
    planned_value_cents: int
    earned_value_cents: int | None


class EastWest(BaseModel):
    eac_east_cents: int
    eac_west_cents: int
    predicted_eac_cents: int


class Alert(BaseModel):
    alert_id: int
    project_key: str
    kind: str
    message: str
    details: dict[str, Any]
    forecast_date: date | None
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    delivered_at: datetime | None


class ProjectDetail(BaseModel):
    project: ProjectSummary
    forecast_months: list[str] = Field(description="Months with forecasts (YYYY-MM), latest first: the as_of values.")
    forecasts: list[TradeForecast]
    trajectory: list[TrajectoryPoint]
    cost_curve: list[CurvePoint]
    east_west: EastWest
    alerts: list[Alert]


class CostPerSf(BaseModel):
    canonical_code: str
    canonical_name: str
    project_type: str
    n_projects: int
    p10_cost_per_sf_cents: float
    p50_cost_per_sf_cents: float
    p90_cost_per_sf_cents: float


class CompletionPoint(BaseModel):
    canonical_code: str
    canonical_name: str
    elapsed_share: float
    n_projects: int
    p10_spent_share: float
    p50_spent_share: float
    p90_spent_share: float


class AccuracyRow(BaseModel):
    run_id: str
    stage: str
    method: str
    n: int
    mape: float | None
    median_ape: float | None
    coverage80: float | None
    mean_width: float | None
    created_at: datetime


class ProjectMark(BaseModel):
    canonical_code: str
    project_type: str
    cost_per_sf_cents: float


class Benchmarks(BaseModel):
    cost_per_sf: list[CostPerSf]
    completion_curves: list[CompletionPoint]
    forecast_accuracy: list[AccuracyRow]
    project_key: str | None = Field(None, description="The project marked on the cost per SF, if one was asked for.")
    project_cost_per_sf: list[ProjectMark] = Field(default_factory=list)


class PendingMapping(BaseModel):
    project_key: str
    raw_division_name: str
    method: str
    confidence: float
    budget_cents: int
    cost_cents: int
    candidates: list[dict[str, Any]]
    by_the_amounts: str


class ConfirmRequest(BaseModel):
    project_key: str
    raw_division_name: str
    canonical_code: str = Field(description="Level-1 CSI division code, e.g. '09'.")


class Rerun(BaseModel):
    launched: bool
    run_id: str | None
    message: str


class ConfirmResponse(BaseModel):
    project_key: str
    raw_division_name: str
    canonical_code: str
    method: str
    confirmed_by: str
    rerun: Rerun
