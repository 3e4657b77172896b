"""The JSON API under ``/api``: what the pages show, for scripts and BI tools (bearer token)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2.extensions
from fastapi import APIRouter, Query, Request

from gmp_assets.catalog import validate_project_key
from gmp_assets.hub import models, queries
from gmp_assets.hub.auth import COOKIE, Caller, HubError, bearer_token

AS_OF = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
ERRORS = {
    401: {"model": models.Error, "description": "No token, or an unknown or revoked one."},
    422: {"model": models.Error, "description": "Malformed input."},
}
router = APIRouter(prefix="/api", responses=ERRORS)


@contextmanager
def session(request: Request) -> Iterator[tuple[psycopg2.extensions.connection, Caller]]:
    """The request's transaction under its token's role."""
    token = bearer_token(request.headers.get("authorization"), request.cookies.get(COOKIE))
    with request.app.state.db.session(token) as (conn, caller):
        yield conn, caller


def project_key(key: str) -> str:
    """The key itself, or 422 for one that cannot be a project key."""
    try:
        return validate_project_key(key)
    except ValueError as exc:
        raise HubError(422, f"malformed project key: {exc}") from exc


def as_of_month(value: str | None) -> str | None:
    """``YYYY-MM`` or None; 422 otherwise."""
    if value is not None and not AS_OF.fullmatch(value):
        raise HubError(422, f"as_of must be a month YYYY-MM, got {value!r}")
    return value


def visible_project(conn, key: str) -> dict:
    """The project's portfolio row; 404 if it does not exist or the caller's role may not read it."""
    rows = queries.portfolio(conn, project_key(key))
    if not rows:
        raise HubError(404, f"no project {key!r}")
    return rows[0]


def project_forecasts(conn, key: str, as_of: str | None) -> list[dict]:
    """The trade rows as of ``as_of`` (default: the current ones); 404 for a month without forecasts."""
    visible_project(conn, key)
    rows = queries.trade_forecasts(conn, key, as_of_month(as_of))
    if as_of is not None and not rows:
        months = queries.forecast_months(conn, key)
        raise HubError(
            404, f"project {key} has no forecasts as of {as_of}; months with forecasts: {', '.join(months) or 'none'}"
        )
    return rows


def project_detail(conn, key: str, as_of: str | None = None) -> dict:
    """Everything of the project page."""
    project = visible_project(conn, key)
    forecasts = project_forecasts(conn, key, as_of)
    return {
        "project": project,
        "forecast_months": queries.forecast_months(conn, key),
        "forecasts": forecasts,
        "trajectory": queries.trajectory(conn, key),
        "cost_curve": queries.cost_curve(conn, key),
        "east_west": queries.east_west(forecasts),
        "alerts": queries.project_alerts(conn, key),
    }


def benchmarks(conn, key: str | None) -> dict:
    """The benchmark marts, with the project's own EAC per SF when one is named (404 if not visible)."""
    result = queries.benchmarks(conn)
    if key:
        visible_project(conn, key)
        result |= {"project_key": key, "project_cost_per_sf": queries.project_cost_per_sf(conn, key)}
    return result


@router.get("/projects", response_model=list[models.ProjectSummary], summary="Portfolio")
def api_projects(request: Request):
    """Every project the caller may read, largest overrun first."""
    with session(request) as (conn, _):
        return queries.portfolio(conn)


@router.get(
    "/projects/{key}",
    response_model=models.ProjectDetail,
    summary="One project",
    responses={404: {"model": models.Error}},
)
def api_project(key: str, request: Request):
    """The project's totals, current trade forecasts, EAC trajectory, cost curve, east/west split and alerts."""
    with session(request) as (conn, _):
        return project_detail(conn, key)


@router.get(
    "/projects/{key}/forecasts",
    response_model=list[models.TradeForecast],
    summary="Trade forecasts",
    responses={404: {"model": models.Error}},
)
def api_forecasts(
    request: Request,
    key: str,
    as_of: str | None = Query(None, description="Forecast month YYYY-MM; default the latest."),
):
    """The project's trade forecasts with the columns and numbers of `gmp forecasts export`."""
    with session(request) as (conn, _):
        return project_forecasts(conn, key, as_of)


@router.get(
    "/benchmarks", response_model=models.Benchmarks, summary="Benchmarks", responses={404: {"model": models.Error}}
)
def api_benchmarks(
    request: Request, project_key: str | None = Query(None, description="Mark this project's EAC per SF.")
):
    """Cost per SF by trade and type, completion curves and forecast accuracy (aggregates over completed projects)."""
    with session(request) as (conn, _):
        return benchmarks(conn, project_key)


@router.get("/mappings/pending", response_model=list[models.PendingMapping], summary="Review queue")
def api_pending(request: Request):
    """Raw division names waiting for review, with their amounts, candidates and the by-the-amounts hint."""
    with session(request) as (conn, _):
        return queries.pending_mappings(conn)


def confirm(request: Request, body: models.ConfirmRequest) -> dict:
    """Record the confirmation under the caller's role (403 without reviewer rights), then queue the re-run."""
    from gmp_assets.hub.reruns import launch_project_rerun
    from gmp_assets.taxonomy.store import confirm_mapping

    key = project_key(body.project_key)
    with session(request) as (conn, caller):
        if not caller.reviewer:
            raise HubError(
                403,
                f"role {caller.role!r} may not confirm mappings: grant it with gmp access grant ROLE OWNER --reviewer",
            )
        try:
            confirm_mapping(conn, key, body.raw_division_name, body.canonical_code)
        except ValueError as exc:
            raise HubError(404 if "has no division named" in str(exc) else 422, str(exc)) from exc
        with conn.cursor() as cur:
            cur.execute(
                "SELECT canonical_code, confirmed_by FROM taxonomy.confirmed_mappings"
                " WHERE project_key = %s AND raw_division_name = %s",
                (key, body.raw_division_name),
            )
            code, by = cur.fetchone()
    rerun = launch_project_rerun(key, f"{body.raw_division_name!r} -> {code} (hub, {by})")
    return {
        "project_key": key,
        "raw_division_name": body.raw_division_name,
        "canonical_code": code,
        "method": "manual",
        "confirmed_by": by,
        "rerun": rerun.to_dict(),
    }


@router.post(
    "/mappings/confirm",
    response_model=models.ConfirmResponse,
    summary="Confirm a mapping",
    responses={403: {"model": models.Error}, 404: {"model": models.Error}},
)
def api_confirm(body: models.ConfirmRequest, request: Request):
    """Confirm that a raw division name means a CSI division, as `gmp mappings confirm` does, and queue
    the project's re-run (project_ingest_job) in Dagster. Needs reviewer rights."""
    return confirm(request, body)


@router.get("/alerts", response_model=list[models.Alert], summary="Alerts")
def api_alerts(request: Request, open: bool = Query(False, description="Only open alerts.")):  # noqa: A002
    """Open alerts first (latest seen first), then those resolved in the last 30 days."""
    with session(request) as (conn, _):
        return queries.alerts(conn, open_only=open)
