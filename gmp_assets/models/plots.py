"""PNG charts for asset metadata (matplotlib's Agg canvas, no pyplot state, safe in any thread).

- :func:`fan_chart_png`: backtest fan samples, the forecast EAC and its 80 % band at each stage
  against the trade's actual final cost and budget.
- :func:`forecast_fan_png`: one project's current forecasts, EAC and interval per trade vs BAC.
- :func:`markdown_image`: a PNG inlined for Dagster's Markdown metadata.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Mapping

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

DPI = 100


def _dollars(cents: float, _position=None) -> str:
    dollars = cents / 100
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(dollars) >= scale:
            return f"${dollars / scale:.1f}{suffix}"
    return f"${dollars:.0f}"


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """``png`` inlined as a Markdown image (how the Dagster UI shows charts in asset metadata)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def fan_chart_png(fan_samples: list[dict], title: str = "Backtest: forecast EAC and 80% interval by stage") -> bytes:
    """One panel per trade (``BacktestReport.fan_samples``): EAC with its band at each stage (x: %
    of schedule elapsed), the actual final cost and the budget as horizontal lines."""
    count = max(len(fan_samples), 1)
    columns = min(count, 3)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(4.2 * columns, 3.2 * rows))
    for i, sample in enumerate(fan_samples):
        axes = figure.add_subplot(rows, columns, i + 1)
        stages = sorted(sample["stages"], key=int)
        x = [int(s) for s in stages]
        at = [sample["stages"][s] for s in stages]
        axes.fill_between(
            x,
            [a["lower_cents"] for a in at],
            [a["upper_cents"] for a in at],
            alpha=0.25,
            color="tab:blue",
            label="80% interval",
        )
        axes.plot(x, [a["eac_cents"] for a in at], "o-", color="tab:blue", label="forecast EAC")
        axes.axhline(sample["actual_final_cents"], color="black", linewidth=1.5, label="actual final")
        axes.axhline(sample["bac_cents"], color="tab:gray", linestyle="--", linewidth=1, label="budget")
        axes.set_title(f"{sample['project_key']} / {sample['canonical_code']}", fontsize=9)
        axes.set_xticks(x, [f"{s}%" for s in x])
        axes.yaxis.set_major_formatter(FuncFormatter(_dollars))
        axes.tick_params(labelsize=8)
        if i == 0:
            axes.legend(fontsize=7, loc="best")
    if not fan_samples:
        figure.add_subplot(1, 1, 1).text(0.5, 0.5, "no completed trades to show", ha="center", va="center")
    figure.suptitle(title, fontsize=11)
    return _png(figure)


def forecast_fan_png(rows: Iterable[Mapping] | pd.DataFrame, title: str = "Current forecasts vs budget") -> bytes:
    """Per trade, as a percentage of its budget (BAC = 100 %): the EAC with its interval and the
    cost to date. Trades without a positive budget are left out.

    ``rows`` carry canonical_code, bac_cents, actual_to_date_cents, predicted_eac_cents,
    confidence_lower_cents and confidence_upper_cents (the forecast store's columns).
    """
    frame = pd.DataFrame(rows if isinstance(rows, pd.DataFrame) else list(rows))
    if not frame.empty:
        frame = frame[frame["bac_cents"].astype(float) > 0].sort_values("canonical_code", kind="stable")
    figure = Figure(figsize=(max(6.0, 0.45 * len(frame) + 2), 4.0))
    axes = figure.add_subplot(1, 1, 1)
    axes.set_title(title, fontsize=11)
    if frame.empty:
        axes.text(0.5, 0.5, "no forecasts with a budget", ha="center", va="center")
        return _png(figure)
    share = {
        c: 100 * frame[c].astype(float).to_numpy() / frame["bac_cents"].astype(float).to_numpy()
        for c in ("predicted_eac_cents", "confidence_lower_cents", "confidence_upper_cents", "actual_to_date_cents")
    }
    x = range(len(frame))
    eac = share["predicted_eac_cents"]
    errors = [eac - share["confidence_lower_cents"], share["confidence_upper_cents"] - eac]
    axes.errorbar(x, eac, yerr=errors, fmt="o", color="tab:blue", capsize=3, label="EAC and interval")
    axes.scatter(x, share["actual_to_date_cents"], marker="x", color="tab:orange", label="cost to date")
    axes.axhline(100, color="tab:gray", linestyle="--", linewidth=1, label="budget")
    axes.set_xticks(list(x), frame["canonical_code"].astype(str).tolist())
    axes.set_xlabel("CSI division")
    axes.set_ylabel("% of budget")
    axes.legend(fontsize=8, loc="best")
    return _png(figure)
