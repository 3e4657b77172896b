"""Plotly charts of the hub's pages, as HTML fragments: a div and the ``Plotly.newPlot`` call that draws
it (the page loads plotly.min.js, served by the app from the plotly wheel).

Figures are written as Plotly's JSON (traces and layout) directly: building them through
``plotly.graph_objects`` validates every property and costs tens of milliseconds per chart.
"""

from __future__ import annotations

import json
from datetime import date

OVERRUN, UNDER, BAND, PLAN, NEUTRAL = "#c0392b", "#1e8449", "rgba(31,111,139,0.18)", "#7f8c8d", "#1f6f8b"
_LAYOUT = {
    "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
    "height": 360,
    "autosize": True,
    "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom"},
    "font": {"size": 12},
    "paper_bgcolor": "#ffffff",
    "plot_bgcolor": "#ffffff",
    "xaxis": {"gridcolor": "#ebf0f8", "automargin": True},
    "yaxis": {"gridcolor": "#ebf0f8", "zerolinecolor": "#ebf0f8", "automargin": True},
}
_CONFIG = {"displaylogo": False, "responsive": True}
_MILLIONS = {"tickprefix": "$", "ticksuffix": "M"}


def _json(value):
    return value.isoformat() if isinstance(value, date) else str(value)


def _html(chart_id: str, traces: list[dict], title: str, **layout) -> str:
    """The div and script drawing ``traces`` with the common layout, ``title`` and ``layout`` over it."""
    merged = {**_LAYOUT, **layout, "title": {"text": title, "x": 0.0, "y": 0.97}}
    for axis in ("xaxis", "yaxis"):
        merged[axis] = {**_LAYOUT[axis], **layout.get(axis, {})}
    spec = json.dumps([traces, merged, _CONFIG], default=_json).replace("</", "<\\/")
    return (
        f'<div id="{chart_id}" class="chart" style="height:{merged["height"]}px;width:100%"></div>'
        f'<script>Plotly.newPlot("{chart_id}", ...{spec});</script>'
    )


def _short(name: str, width: int = 16) -> str:
    return name if len(name) <= width else name[: width - 1].rstrip() + "…"


def _m(cents) -> float | None:
    return None if cents is None else int(cents) / 1e8


def _band(x: list, lower: list, upper: list, name: str) -> list[dict]:
    """A shaded band between ``lower`` and ``upper`` (two traces, the second filled to the first)."""
    edge = {"type": "scatter", "mode": "lines", "line": {"width": 0}, "x": x}
    return [
        {**edge, "y": upper, "showlegend": False, "hoverinfo": "skip"},
        {**edge, "y": lower, "fill": "tonexty", "fillcolor": BAND, "name": name},
    ]


def trajectory(points: list[dict], gmp_cents: int | None) -> str:
    """Total EAC per forecast month with its 80% interval, the month's first forecast, and the GMP."""
    x = [p["forecast_date"].replace(day=1) for p in points]  # plotted at its month (a forecast is dated its last day)
    traces = _band(
        x,
        [_m(p["confidence_lower_cents"]) for p in points],
        [_m(p["confidence_upper_cents"]) for p in points],
        "80% interval",
    )
    traces.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": x,
            "y": [_m(p["predicted_eac_cents"]) for p in points],
            "line": {"color": NEUTRAL, "width": 3},
            "name": "EAC (current)",
        }
    )
    if any(p["superseded_rows"] for p in points):
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": x,
                "name": "EAC as first forecast",
                "y": [_m(p["first_predicted_eac_cents"]) for p in points],
                "marker": {"symbol": "circle-open", "size": 9, "color": PLAN},
            }
        )
    shapes, notes = [], []
    if gmp_cents:
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": _m(gmp_cents),
                "y1": _m(gmp_cents),
                "line": {"color": OVERRUN, "dash": "dash"},
            }
        )
        notes.append(
            {
                "xref": "paper",
                "x": 0,
                "yref": "y",
                "y": _m(gmp_cents),
                "text": "GMP",
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"color": OVERRUN},
            }
        )
    return _html(
        "chart-trajectory",
        traces,
        "EAC by forecast month ($M)",
        shapes=shapes,
        annotations=notes,
        xaxis={"tickformat": "%b %Y", "dtick": "M1"},
        yaxis=_MILLIONS,
    )


def cost_curve(points: list[dict]) -> str:
    """Cumulative actual cost against planned value and earned value, per month."""
    x = [p["month_start"] for p in points]
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": x,
            "name": "Planned (typical curves)",
            "y": [_m(p["planned_value_cents"]) for p in points],
            "line": {"color": PLAN, "dash": "dot"},
        }
    ]
    if any(p["earned_value_cents"] is not None for p in points):
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": x,
                "name": "Earned (reported % complete)",
                "y": [_m(p["earned_value_cents"]) for p in points],
                "line": {"color": UNDER},
            }
        )
    traces.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": x,
            "name": "Actual cost",
            "y": [_m(p["actual_cost_cents"]) for p in points],
            "line": {"color": NEUTRAL, "width": 3},
        }
    )
    return _html(
        "chart-curve", traces, "Cumulative cost: actual vs planned ($M)", xaxis={"tickformat": "%b %Y"}, yaxis=_MILLIONS
    )


def east_west(trades: list[dict]) -> str:
    """Each trade's EAC split between the east and west zones."""
    labels = [f"{t['canonical_code']} {t['canonical_name']}" for t in trades]
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "y": labels,
            "name": zone,
            "marker": {"color": color},
            "x": [_m(t[column]) for t in trades],
        }
        for zone, column, color in (("East", "eac_east_cents", NEUTRAL), ("West", "eac_west_cents", "#c17c2f"))
    ]
    return _html(
        "chart-eastwest",
        traces,
        "EAC by zone ($M)",
        barmode="stack",
        height=max(260, 26 * len(trades) + 100),
        xaxis=_MILLIONS,
        yaxis={"autorange": "reversed"},
    )


def cost_per_sf(rows: list[dict], marks: list[dict], project_type: str) -> str:
    """Box per trade spanning p10 to p90 with the median, for one project type; the project's own
    EAC per SF marked on it."""
    rows = [r for r in rows if r["project_type"] == project_type]
    labels = {r["canonical_code"]: f"{r['canonical_code']} {_short(r['canonical_name'])}" for r in rows}
    p10, p50, p90 = ([r[f"p{q}_cost_per_sf_cents"] / 100 for r in rows] for q in (10, 50, 90))
    traces = [
        {
            "type": "box",
            "x": list(labels.values()),
            "q1": p10,
            "median": p50,
            "q3": p90,
            "lowerfence": p10,
            "upperfence": p90,
            "name": "Completed projects (p10-p90, median)",
            "marker": {"color": NEUTRAL},
        }
    ]
    marked = [m for m in marks if m["canonical_code"] in labels]
    if marked:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "This project (EAC)",
                "x": [labels[m["canonical_code"]] for m in marked],
                "y": [m["cost_per_sf_cents"] / 100 for m in marked],
                "marker": {"symbol": "diamond", "size": 12, "color": OVERRUN},
            }
        )
    return _html(
        "chart-cost-per-sf",
        traces,
        f"Cost per SF at completion by trade ({project_type} projects)",
        height=440,
        xaxis={"tickangle": -35},
        yaxis={"tickprefix": "$"},
    )


def completion_curves(rows: list[dict], code: str) -> str:
    """One trade's completion curve: median share of final cost spent vs elapsed share, p10-p90 band."""
    rows = sorted((r for r in rows if r["canonical_code"] == code), key=lambda r: r["elapsed_share"])
    x = [0.0] + [float(r["elapsed_share"]) for r in rows]
    traces = _band(
        x, [0.0] + [r["p10_spent_share"] for r in rows], [0.0] + [r["p90_spent_share"] for r in rows], "p10-p90"
    )
    traces += [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": x,
            "y": [0.0] + [r["p50_spent_share"] for r in rows],
            "name": "Median",
            "line": {"color": NEUTRAL, "width": 3},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": [0, 1],
            "y": [0, 1],
            "name": "Linear",
            "line": {"color": PLAN, "dash": "dot"},
        },
    ]
    name = rows[0]["canonical_name"] if rows else code
    return _html(
        "chart-completion",
        traces,
        f"Completion curve: {code} {name}",
        xaxis={"title": {"text": "Share of the trade's duration elapsed"}, "tickformat": ".0%"},
        yaxis={"title": {"text": "Share of final cost spent"}, "tickformat": ".0%"},
    )


def accuracy(rows: list[dict]) -> str:
    """MAPE by stage, one bar per method, from the latest backtest."""
    traces = [
        {
            "type": "bar",
            "name": method,
            "x": [f"{r['stage']}% elapsed" for r in rows if r["method"] == method],
            "y": [r["mape"] for r in rows if r["method"] == method],
        }
        for method in sorted({r["method"] for r in rows})
    ]
    return _html(
        "chart-accuracy",
        traces,
        "Forecast error (MAPE) by stage, latest backtest",
        barmode="group",
        yaxis={"tickformat": ".0%"},
    )
