"""Plotly charts of the hub's pages, as HTML fragments (the page loads plotly.min.js from the app)."""

from __future__ import annotations

import plotly.graph_objects as go

OVERRUN, UNDER, BAND, PLAN, NEUTRAL = "#c0392b", "#1e8449", "rgba(31,111,139,0.18)", "#7f8c8d", "#1f6f8b"
_LAYOUT = dict(margin=dict(l=60, r=20, t=60, b=50), height=360, template="plotly_white", autosize=True,
               legend=dict(orientation="h", x=1, xanchor="right", y=1.0, yanchor="bottom"), font=dict(size=12),
               title_x=0.0, title_y=0.97)
_MONTHS = dict(tickformat="%b %Y", dtick="M1")


def _html(fig: go.Figure, chart_id: str) -> str:
    return fig.to_html(include_plotlyjs=False, full_html=False, div_id=chart_id, config={"displaylogo": False, "responsive": True})


def _short(name: str, width: int = 16) -> str:
    return name if len(name) <= width else name[: width - 1].rstrip() + "…"


def _m(cents) -> float | None:
    return None if cents is None else int(cents) / 1e8


def trajectory(points: list[dict], gmp_cents: int | None) -> str:
    """Total EAC per forecast month with its 80% interval, the month's first forecast, and the GMP."""
    x = [p["forecast_date"].replace(day=1) for p in points]  # plotted at its month (a forecast is dated its last day)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=[_m(p["confidence_upper_cents"]) for p in points], mode="lines", line=dict(width=0),
                             showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=[_m(p["confidence_lower_cents"]) for p in points], fill="tonexty", mode="lines",
                             fillcolor=BAND, line=dict(width=0), name="80% interval"))
    fig.add_trace(go.Scatter(x=x, y=[_m(p["predicted_eac_cents"]) for p in points], mode="lines+markers",
                             line=dict(color=NEUTRAL, width=3), name="EAC (current)"))
    if any(p["superseded_rows"] for p in points):
        fig.add_trace(go.Scatter(x=x, y=[_m(p["first_predicted_eac_cents"]) for p in points], mode="markers",
                                 marker=dict(symbol="circle-open", size=9, color=PLAN), name="EAC as first forecast"))
    if gmp_cents:
        fig.add_hline(y=_m(gmp_cents), line=dict(color=OVERRUN, dash="dash"), annotation_text="GMP",
                      annotation_position="top left")
    fig.update_layout(title="EAC by forecast month ($M)", yaxis_tickprefix="$", yaxis_ticksuffix="M", xaxis=_MONTHS,
                      **_LAYOUT)
    return _html(fig, "chart-trajectory")


def cost_curve(points: list[dict]) -> str:
    """Cumulative actual cost against planned value and earned value, per month."""
    x = [p["month_start"] for p in points]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=[_m(p["planned_value_cents"]) for p in points], name="Planned (typical curves)",
                             line=dict(color=PLAN, dash="dot")))
    if any(p["earned_value_cents"] is not None for p in points):
        fig.add_trace(go.Scatter(x=x, y=[_m(p["earned_value_cents"]) for p in points], name="Earned (reported % complete)",
                                 line=dict(color=UNDER)))
    fig.add_trace(go.Scatter(x=x, y=[_m(p["actual_cost_cents"]) for p in points], name="Actual cost",
                             line=dict(color=NEUTRAL, width=3)))
    fig.update_layout(title="Cumulative cost: actual vs planned ($M)", yaxis_tickprefix="$", yaxis_ticksuffix="M",
                      xaxis=dict(tickformat="%b %Y"), **_LAYOUT)
    return _html(fig, "chart-curve")


def east_west(trades: list[dict]) -> str:
    """Each trade's EAC split between the east and west zones."""
    labels = [f"{t['canonical_code']} {t['canonical_name']}" for t in trades]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=labels, x=[_m(t["eac_east_cents"]) for t in trades], name="East", orientation="h",
                         marker_color=NEUTRAL))
    fig.add_trace(go.Bar(y=labels, x=[_m(t["eac_west_cents"]) for t in trades], name="West", orientation="h",
                         marker_color="#c17c2f"))
    layout = {**_LAYOUT, "height": max(260, 26 * len(trades) + 100)}
    fig.update_layout(title="EAC by zone ($M)", barmode="stack", xaxis_tickprefix="$", xaxis_ticksuffix="M",
                      yaxis=dict(autorange="reversed"), **layout)
    return _html(fig, "chart-eastwest")


def cost_per_sf(rows: list[dict], marks: list[dict], project_type: str) -> str:
    """Box per trade spanning p10 to p90 with the median, for one project type; the project's own
    EAC per SF marked on it."""
    rows = [r for r in rows if r["project_type"] == project_type]
    labels = {r["canonical_code"]: f"{r['canonical_code']} {_short(r['canonical_name'])}" for r in rows}
    fig = go.Figure()
    fig.add_trace(go.Box(
        x=list(labels.values()), q1=[r["p10_cost_per_sf_cents"] / 100 for r in rows],
        median=[r["p50_cost_per_sf_cents"] / 100 for r in rows], q3=[r["p90_cost_per_sf_cents"] / 100 for r in rows],
        lowerfence=[r["p10_cost_per_sf_cents"] / 100 for r in rows],
        upperfence=[r["p90_cost_per_sf_cents"] / 100 for r in rows], name="Completed projects (p10-p90, median)",
        marker_color=NEUTRAL,
    ))
    marked = [m for m in marks if m["canonical_code"] in labels]
    if marked:
        fig.add_trace(go.Scatter(x=[labels[m["canonical_code"]] for m in marked],
                                 y=[m["cost_per_sf_cents"] / 100 for m in marked], mode="markers", name="This project (EAC)",
                                 marker=dict(symbol="diamond", size=12, color=OVERRUN)))
    fig.update_layout(title=f"Cost per SF at completion by trade ({project_type} projects)", yaxis_tickprefix="$",
                      xaxis_tickangle=-35, **{**_LAYOUT, "height": 440})
    return _html(fig, "chart-cost-per-sf")


def completion_curves(rows: list[dict], code: str) -> str:
    """One trade's completion curve: median share of final cost spent vs elapsed share, p10-p90 band."""
    rows = sorted((r for r in rows if r["canonical_code"] == code), key=lambda r: r["elapsed_share"])
    x = [0.0] + [float(r["elapsed_share"]) for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=[0.0] + [r["p90_spent_share"] for r in rows], mode="lines", line=dict(width=0),
                             showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=[0.0] + [r["p10_spent_share"] for r in rows], fill="tonexty", fillcolor=BAND,
                             mode="lines", line=dict(width=0), name="p10-p90"))
    fig.add_trace(go.Scatter(x=x, y=[0.0] + [r["p50_spent_share"] for r in rows], mode="lines+markers", name="Median",
                             line=dict(color=NEUTRAL, width=3)))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="Linear", line=dict(color=PLAN, dash="dot")))
    name = rows[0]["canonical_name"] if rows else code
    fig.update_layout(title=f"Completion curve: {code} {name}", xaxis=dict(title="Share of the trade's duration elapsed",
                      tickformat=".0%"), yaxis=dict(title="Share of final cost spent", tickformat=".0%"), **_LAYOUT)
    return _html(fig, "chart-completion")


def accuracy(rows: list[dict]) -> str:
    """MAPE by stage, one bar per method, from the latest backtest."""
    fig = go.Figure()
    for method in sorted({r["method"] for r in rows}):
        picked = [r for r in rows if r["method"] == method]
        fig.add_trace(go.Bar(x=[f"{r['stage']}% elapsed" for r in picked], y=[r["mape"] for r in picked], name=method))
    fig.update_layout(title="Forecast error (MAPE) by stage, latest backtest", barmode="group",
                      yaxis=dict(tickformat=".0%"), **_LAYOUT)
    return _html(fig, "chart-accuracy")
