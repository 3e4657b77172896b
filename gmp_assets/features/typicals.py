"""The trades' typical budget shares and timing, as the portfolio's own completed projects show them.

As of a month M, from the completed projects whose data end before M (never the project being
forecast), per level-1 trade:

* ``typical_gmp_share``: mean over those projects that have the trade of its budget over the
  project's total budget (both at the project's last month);
* ``typical_start_share``: elapsed share of the planned duration at the start of the month in
  which the trade's cumulative cost first reaches ``START_QUANTILE`` of its final cost;
* ``typical_finish_share``: elapsed share at the end of the month in which it first reaches
  ``FINISH_QUANTILE`` of it.

Each is shrunk to the taxonomy's value (the prior): ``(k * prior + n * mean) / (k + n)`` with
``k = PRIOR_PROJECTS`` and ``n`` the number of projects that show the trade, so a trade seen in
few projects keeps nearly the taxonomy's value and a portfolio with no completed project gets the
taxonomy unchanged. Only rows of projects whose data end before M are read, and cutting every row
dated after M away leaves that set as it is (a project running through M then ends at M, not
before): nothing dated after M changes the result.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from gmp_assets.features import store
from gmp_assets.features.compute import compute_feature_rows, compute_feature_rows_by_month, month_of
from gmp_assets.taxonomy.trades import Taxonomy, Trade

PRIOR_PROJECTS = 3.0
START_QUANTILE = 0.01
FINISH_QUANTILE = 0.99
MAX_FINISH_SHARE = 2.0
TYPICAL_COLUMNS = ("typical_gmp_share", "typical_start_share", "typical_finish_share")


def completed_ends(canonical: pd.DataFrame, projects: pd.DataFrame) -> pd.Series:
    """Last month of data (as int64 months since 1970-01) of each completed, training-eligible project
    in ``canonical``, by project key."""
    done = projects["status"].astype(str) == "completed"
    if "is_training_eligible" in projects:
        done &= projects["is_training_eligible"].fillna(True).astype(bool)
    keys = canonical["project_key"].astype(str)
    chosen = keys.isin(set(projects.loc[done, "project_key"].astype(str)))
    months = pd.Series(_months(canonical.loc[chosen, "month_start"]), index=keys[chosen])
    return months.groupby(level=0).max().astype("int64")


def _months(values) -> np.ndarray:
    """Months since 1970-01 (int64) of dates."""
    return pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[M]").astype("int64")


def trade_observations(canonical: pd.DataFrame, projects: pd.DataFrame) -> pd.DataFrame:
    """Per project x trade of ``canonical``: gmp_share, start_share, finish_share (NaN without cost).

    Reads the whole history of each project given; callers pass completed projects only.
    """
    columns = ["project_key", "canonical_code", "gmp_share", "start_share", "finish_share"]
    if canonical.empty:
        return pd.DataFrame(columns=columns)
    frame = canonical.assign(
        project_key=canonical["project_key"].astype(str),
        canonical_code=canonical["canonical_code"].astype(str),
        month=pd.to_datetime(canonical["month_start"]).to_numpy().astype("datetime64[M]"),
    ).sort_values(["project_key", "canonical_code", "month"], kind="stable")
    duration = projects.assign(project_key=projects["project_key"].astype(str)).set_index("project_key")[
        "planned_duration_months"
    ]
    frame["duration"] = pd.to_numeric(frame["project_key"].map(duration)).astype("float64")
    frame["project_month"] = pd.to_numeric(frame["project_month"]).astype("float64")
    frame["cumulative"] = pd.to_numeric(frame["cumulative_cost_cents"]).astype("float64")
    frame["budget"] = pd.to_numeric(frame["budget_cents"]).astype("float64")
    last = (
        frame.groupby(["project_key", "canonical_code"], sort=True).tail(1).set_index(["project_key", "canonical_code"])
    )
    totals = last["budget"].groupby(level=0).sum()
    share = last["budget"] / last.index.get_level_values(0).map(totals).to_numpy()
    final = frame.set_index(["project_key", "canonical_code"]).index.map(last["cumulative"])
    frame["final"] = np.asarray(final, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        done = np.where(frame["final"] > 0, frame["cumulative"] / frame["final"], np.nan)
    frame["started"] = done >= START_QUANTILE
    frame["finished"] = done >= FINISH_QUANTILE
    keys = ["project_key", "canonical_code"]
    start_month = frame[frame["started"]].groupby(keys)["project_month"].min()
    finish_month = frame[frame["finished"]].groupby(keys)["project_month"].min()
    out = pd.DataFrame({"gmp_share": share.where(totals.reindex(last.index.get_level_values(0)).to_numpy() > 0)})
    out["start_share"] = (start_month.reindex(out.index) - 1) / last["duration"]
    out["finish_share"] = finish_month.reindex(out.index) / last["duration"]
    out["start_share"] = out["start_share"].clip(0.0, 1.0)
    out["finish_share"] = np.clip(out["finish_share"], out["start_share"], MAX_FINISH_SHARE)
    return out.reset_index()[columns]


def _shrunk(observations: pd.DataFrame, trades: pd.DataFrame, prior_projects: float) -> pd.DataFrame:
    """``trades`` with the typical columns shrunk from the taxonomy's values towards ``observations``."""
    out = trades.copy()
    if observations.empty:
        return out
    codes = out["code"].astype(str)
    pairs = (("gmp_share", "typical_gmp_share"), ("start_share", "typical_start_share"))
    for observed, column in (*pairs, ("finish_share", "typical_finish_share")):
        stats = observations.groupby("canonical_code")[observed].agg(["mean", "count"])
        n = codes.map(stats["count"]).fillna(0).to_numpy(dtype="float64")
        mean = codes.map(stats["mean"]).fillna(0).to_numpy(dtype="float64")
        prior = pd.to_numeric(out[column]).to_numpy(dtype="float64")
        weight = np.divide(n, prior_projects + n, out=np.zeros_like(n), where=prior_projects + n > 0)
        out[column] = prior + weight * (mean - prior)
    start, finish = out["typical_start_share"].to_numpy(), out["typical_finish_share"].to_numpy()
    out["typical_finish_share"] = np.maximum(finish, start)
    return out


class PortfolioTypicals:
    """The typicals of one portfolio as of any month: its completed projects' last months and trade
    observations computed once, each set of projects' shrunk typicals once (many projects and months
    read the same set)."""

    def __init__(
        self,
        portfolio: pd.DataFrame,
        projects: pd.DataFrame,
        trades: pd.DataFrame,
        prior_projects: float = PRIOR_PROJECTS,
    ) -> None:
        self.ends = completed_ends(portfolio, projects)
        done = portfolio["project_key"].astype(str).isin(set(self.ends.index))
        self.observations = trade_observations(portfolio[done], projects)
        self.trades = trades
        self.prior_projects = prior_projects
        self._shrunk: dict[tuple[str, ...], pd.DataFrame] = {}

    def before(self, month: int, exclude: Collection[str] = ()) -> pd.DataFrame:
        """``trades`` with ``TYPICAL_COLUMNS`` from the completed projects whose data end before
        ``month`` (int64 months since 1970-01), ``exclude`` left out."""
        others = self.ends.drop(index=list(map(str, exclude)), errors="ignore")
        known = tuple(others.index[others.to_numpy() < month])
        if known not in self._shrunk:
            chosen = self.observations[self.observations["project_key"].isin(known)]
            self._shrunk[known] = _shrunk(chosen, self.trades, self.prior_projects)
        return self._shrunk[known].copy()

    def as_of(self, as_of, exclude: Collection[str] = ()) -> pd.DataFrame:
        """:meth:`before` the month of the date ``as_of``: the typicals a forecast as of it reads."""
        return self.before(int(month_of(as_of).astype("int64")), exclude)


def portfolio_typicals(
    canonical: pd.DataFrame,
    projects: pd.DataFrame,
    trades: pd.DataFrame,
    as_of,
    exclude: Collection[str] = (),
    prior_projects: float = PRIOR_PROJECTS,
) -> pd.DataFrame:
    """``trades`` (the taxonomy's level-1 rows) with ``TYPICAL_COLUMNS`` from the completed projects
    whose data end before ``as_of``'s month, ``exclude`` left out; other columns unchanged."""
    return PortfolioTypicals(canonical, projects, trades, prior_projects).as_of(as_of, exclude)


def typicals_taxonomy(trades: pd.DataFrame) -> Taxonomy:
    """A level-1 taxonomy from a ``trades`` frame (for ``models.fallback.typical_progress``)."""
    return Taxonomy.from_trades(
        tuple(
            Trade(
                str(r.code),
                1,
                None,
                str(getattr(r, "name", r.code)),
                float(r.typical_gmp_share),
                float(r.typical_start_share),
                float(r.typical_finish_share),
                float(getattr(r, "typical_duration_share", 0)),
            )
            for r in trades.itertuples(index=False)
        )
    )


def feature_rows_with_typicals(
    canonical: pd.DataFrame,
    projects: pd.DataFrame,
    trades: pd.DataFrame,
    portfolio: pd.DataFrame | None = None,
    prior_projects: float = PRIOR_PROJECTS,
    typicals: PortfolioTypicals | None = None,
) -> pd.DataFrame:
    """``compute_feature_rows`` where each row of month M reads the typicals as of M, from the
    completed projects of ``portfolio`` (default: ``canonical``) other than its own project.
    ``typicals``, when given, is that portfolio's :class:`PortfolioTypicals` (``portfolio`` and
    ``prior_projects`` then unused): a caller that computes many projects' rows builds it once."""
    if typicals is None:
        typicals = PortfolioTypicals(canonical if portfolio is None else portfolio, projects, trades, prior_projects)
    months = _months(canonical["month_start"])
    parts = []
    for key in sorted(set(canonical["project_key"].astype(str))):
        mine = (canonical["project_key"].astype(str) == key).to_numpy()
        own_months = months[mine]
        others = typicals.ends.drop(index=key, errors="ignore")
        breaks = sorted({e + 1 for e in others.to_numpy() if own_months.min() < e + 1 <= own_months.max()})
        starts = [own_months.min(), *breaks]  # the typicals change in the month after another project ends
        trades_from = [(int(first), typicals.before(first, exclude=(key,))) for first in starts]
        parts.append(compute_feature_rows_by_month(canonical[mine], projects, trades_from))
    if not parts:
        return compute_feature_rows(canonical, projects, trades)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["project_key", "canonical_code", "month_start"], kind="stable").reset_index(drop=True)


def completed_portfolio(conn) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(every project, the canonical rows of the completed ones, the level-1 trades): what
    :func:`feature_rows_with_typicals` and :func:`portfolio_typicals` read, from the database."""
    projects = store.load_projects(conn)
    keys = projects.loc[projects["status"].astype(str) == "completed", "project_key"].astype(str).tolist()
    return projects, store.load_canonical(conn, keys), store.load_trades(conn)
