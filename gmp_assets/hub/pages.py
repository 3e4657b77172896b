"""Server-rendered pages: the same reads as the API, as HTML with Plotly charts."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, quote

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gmp_assets.hub import api, charts, queries
from gmp_assets.hub.auth import COOKIE, HubError
from gmp_assets.hub.formatting import FILTERS

TEMPLATES = Path(__file__).parent / "templates"
env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)
env.filters.update(FILTERS)
router = APIRouter(include_in_schema=False)


def render(name: str, request: Request, status: int = 200, **context) -> HTMLResponse:
    """A template rendered with the page's context (and ``role``, ``path`` for the header)."""
    context.setdefault("role", None)
    return HTMLResponse(env.get_template(name).render(path=request.url.path, **context), status_code=status)


@router.get("/")
def portfolio_page(request: Request):
    with api.session(request) as (conn, caller):
        projects = queries.portfolio(conn)
    return render("portfolio.html", request, projects=projects, role=caller.role)


@router.get("/projects/{key}")
def project_page(request: Request, key: str, as_of: str | None = None):
    with api.session(request) as (conn, caller):
        detail = api.project_detail(conn, key, as_of)
    project = detail["project"]
    chart = {
        "trajectory": charts.trajectory(detail["trajectory"], project["gmp_cents"]) if detail["trajectory"] else "",
        "curve": charts.cost_curve(detail["cost_curve"]) if detail["cost_curve"] else "",
        "east_west": charts.east_west(detail["forecasts"]) if detail["forecasts"] else "",
    }
    trades = sorted(detail["forecasts"], key=lambda t: (t["bac_cents"] - t["predicted_eac_cents"], t["canonical_code"]))
    return render("project.html", request, role=caller.role, as_of=as_of, chart=chart, trades=trades, **detail)


@router.get("/benchmarks")
def benchmarks_page(
    request: Request, project_key: str | None = None, project_type: str | None = None, trade: str | None = None
):
    with api.session(request) as (conn, caller):
        data = api.benchmarks(conn, project_key or None)
        projects = [(p["project_key"], p["project_name"], p["project_type"]) for p in queries.portfolio(conn)]
    kinds = sorted({r["project_type"] for r in data["cost_per_sf"]})
    marks = data.get("project_cost_per_sf", [])
    if project_type not in kinds:
        chosen_type = marks[0]["project_type"] if marks and marks[0]["project_type"] in kinds else "all"
        project_type = chosen_type if chosen_type in kinds else (kinds[0] if kinds else "all")
    trades = sorted({(r["canonical_code"], r["canonical_name"]) for r in data["completion_curves"]})
    if trade not in {c for c, _ in trades}:
        trade = trades[0][0] if trades else None
    chart = {
        "cost_per_sf": charts.cost_per_sf(data["cost_per_sf"], marks, project_type) if data["cost_per_sf"] else "",
        "completion": charts.completion_curves(data["completion_curves"], trade) if trade else "",
        "accuracy": charts.accuracy(data["forecast_accuracy"]) if data["forecast_accuracy"] else "",
    }
    return render(
        "benchmarks.html",
        request,
        role=caller.role,
        data=data,
        chart=chart,
        kinds=kinds,
        project_type=project_type,
        trades=trades,
        trade=trade,
        projects=projects,
        project_key=project_key or "",
    )


@router.get("/mappings")
def mappings_page(request: Request):
    with api.session(request) as (conn, caller):
        pending = queries.pending_mappings(conn)
    return render("mappings.html", request, role=caller.role, pending=pending, reviewer=caller.reviewer)


@router.get("/alerts")
def alerts_page(request: Request):
    with api.session(request) as (conn, caller):
        alerts = queries.alerts(conn)
    return render("alerts.html", request, role=caller.role, alerts=alerts)


def _safe_next(value: str | None) -> str:
    """A local path to go to after logging in (never another site)."""
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


@router.get("/login")
def login_form(request: Request, next: str = "/", error: str = ""):  # noqa: A002
    return render("login.html", request, next=_safe_next(next), error=error)


@router.post("/login")
async def login(request: Request):
    """Check the token and keep it in an HttpOnly cookie."""
    form = parse_qs((await request.body()).decode(errors="replace"))
    token = (form.get("token") or [""])[0].strip()
    target = _safe_next((form.get("next") or ["/"])[0])
    try:
        with request.app.state.db.session(token or "-"):
            pass
    except HubError as exc:
        return render("login.html", request, status=exc.status, next=target, error=exc.message)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
    return response


@router.get("/logout")
def logout():
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def error_page(request: Request, exc: HubError):
    """A refused page: to the login form without a valid token, else a page saying why."""
    if exc.status == 401:
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        tried = request.cookies.get(COOKIE) or request.headers.get("authorization")
        return RedirectResponse(
            f"/login?next={target}" + (f"&error={quote(exc.message)}" if tried else ""), status_code=303
        )
    return render("error.html", request, status=exc.status, status_code=exc.status, message=exc.message)
