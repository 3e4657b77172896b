"""The forecast pipeline: one project's trade samples at a month -> each trade's forecast.

One function, :func:`forecast_trades`, composes the fallback ladder (``models.fallback``), the
models' distributions with the project's earned-value evidence (``inference.ladder_distribution``)
and the forecast rules (``inference.forecast_from_distribution``). The forecast asset calls it
through :func:`forecast_rows`, and the backtest (``evaluation.backtest``) calls it for every held-out
project and stage, so what the backtest scores is what production serves.

With a calibration (``models.blending``: fitted by the backtest, recorded with the champion) the
pipeline's forecast is then weighed with the formulas of ``models.formulas`` per stage band and
its interval is the band's conformal one (:func:`calibrated_values`); without one, the forecast is
the ladder's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gmp_assets.features.dataset import SequenceDataset
from gmp_assets.forecasting.inference import (
    Forecaster,
    forecast_from_distribution,
    ladder_distribution,
    split_east_west,
)
from gmp_assets.forecasting.serving import NOT_MODELLED, recorded_model, row_method
from gmp_assets.models import fallback
from gmp_assets.models.blending import MODEL, Calibration, blend, dataset_bands
from gmp_assets.models.formulas import formula_estimates
from gmp_assets.models.registry import LoadedModel
from gmp_assets.taxonomy.trades import Taxonomy, load_taxonomy

CONFIDENCE = 0.8


@dataclass(frozen=True)
class TradeForecasts:
    """Each sample's forecast: the ladder's rung, the ``log(EAC / BAC)`` distribution and, in integer
    cents, EAC, ETC and the ``confidence`` interval."""

    ladder_methods: np.ndarray  # adapter / global / global_cold_start / heuristic per sample
    mean: np.ndarray
    std: np.ndarray
    predicted_eac_cents: np.ndarray
    predicted_etc_cents: np.ndarray
    confidence_lower_cents: np.ndarray
    confidence_upper_cents: np.ndarray
    confidence: float
    blend_methods: np.ndarray | None = None  # with a calibration: each sample's blend or formula label

    def values(self) -> dict[str, np.ndarray]:
        """The cents columns of a forecast row, by their table names."""
        return {
            "predicted_eac_cents": self.predicted_eac_cents,
            "predicted_etc_cents": self.predicted_etc_cents,
            "confidence_lower_cents": self.confidence_lower_cents,
            "confidence_upper_cents": self.confidence_upper_cents,
        }


def forecast_trades(
    ds: SequenceDataset,
    base: Forecaster | None,
    adapter: Forecaster | None = None,
    taxonomy: Taxonomy | None = None,
    confidence: float = CONFIDENCE,
    calibration: Calibration | None = None,
) -> TradeForecasts:
    """Forecasts of one project's trades at one month (``ds``: all its trades' samples at that month).

    ``base`` is the global model with its vocabularies (None: every trade gets the heuristic), and
    ``adapter`` the project's kept adapter, used from ``fallback.ADAPTER_MIN_MONTHS`` of data on.
    ``taxonomy`` gives the heuristic and the formulas their typical curves (default: the seed's).
    ``calibration``: the forecast weighed with the formulas (:func:`calibrated_values`; its
    confidence replaces ``confidence``); ``mean`` and ``std`` stay the ladder's distribution.
    """
    if base is None:
        methods = np.full(len(ds), fallback.HEURISTIC, dtype=object)
    else:
        with_adapter = set(map(str, ds.project_keys)) if adapter is not None else set()
        methods = fallback.methods_for(ds, base[1], with_adapter)
    mean, std = ladder_distribution(ds, methods, base, adapter, taxonomy)
    values = forecast_from_distribution(mean, std, ds.bac_cents, ds.actual_to_date_cents, ds.trade_finished, confidence)
    if calibration is None:
        return TradeForecasts(ladder_methods=methods, mean=mean, std=std, confidence=confidence, **values)
    values, labels = calibrated_values(ds, values["predicted_eac_cents"], calibration, taxonomy)
    return TradeForecasts(methods, mean, std, **values, confidence=calibration.confidence, blend_methods=labels)


def calibrated_values(
    ds: SequenceDataset, model_eac_cents, calibration: Calibration, taxonomy: Taxonomy | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(the cents columns, each sample's method label) of ``blending.blend``: the model's EAC and every
    formula of ``formula_estimates`` weighed by the calibration's band of each sample
    (``blending.dataset_bands``)."""
    taxonomy = taxonomy or load_taxonomy()
    eacs = {MODEL: np.asarray(model_eac_cents, dtype=np.float64)} | formula_estimates(ds, taxonomy)
    out = blend(
        calibration, eacs, ds.bac_cents, ds.actual_to_date_cents, ds.trade_finished, dataset_bands(ds, taxonomy)
    )
    labels = out.pop("labels")
    return out, labels


def _forecaster(loaded: LoadedModel | None) -> Forecaster | None:
    return (loaded.model, loaded.projects, loaded.trades) if loaded else None


def _identity(loaded: LoadedModel | None) -> tuple[str, str] | None:
    return (loaded.name, loaded.version) if loaded else None


def forecast_rows(
    ds: SequenceDataset,
    champion: LoadedModel | None,
    adapter: LoadedModel | None,
    planned_finish: pd.Timestamp,
    east_west: pd.DataFrame,
    calibration: Calibration | None = None,
    taxonomy: Taxonomy | None = None,
) -> list[dict]:
    """Forecast rows (``ml.project_forecasts`` columns) for one project's trades at one month: the
    forecasts of :func:`forecast_trades`, each with the method and model it records, its horizon to
    the planned finish and its east/west split (``east_west``: the month's shares per trade).
    ``taxonomy``: the trades' typical curves (``features.typicals``; default: the seed's).

    With a ``calibration`` (the champion's) an open budgeted trade's method is its blend label
    (``blend:<band>`` or ``formula:<name>``) and its model the ladder's, whose calibration it is."""
    forecasts = forecast_trades(
        ds, _forecaster(champion), _forecaster(adapter), taxonomy, CONFIDENCE, calibration=calibration
    )
    values = forecasts.values()
    shares = east_west.set_index("canonical_code").reindex(ds.canonical_codes).fillna(0.5)
    east, west = split_east_west(forecasts.predicted_eac_cents, shares["east_share"], shares["west_share"])
    rows = []
    for i in range(len(ds)):
        method = row_method(forecasts.ladder_methods[i], bool(ds.trade_finished[i]), int(ds.bac_cents[i]))
        name, version = recorded_model(method, _identity(champion), _identity(adapter))
        if forecasts.blend_methods is not None and method not in NOT_MODELLED:
            method = str(forecasts.blend_methods[i])
        month = pd.Timestamp(ds.as_of_month[i])
        rows.append(
            {
                "canonical_code": str(ds.canonical_codes[i]),
                "horizon_months": max(0, (planned_finish.year - month.year) * 12 + planned_finish.month - month.month),
                "model_name": name,
                "model_version": version,
                "method": method,
                "bac_cents": int(ds.bac_cents[i]),
                "actual_to_date_cents": int(ds.actual_to_date_cents[i]),
                **{k: int(v[i]) for k, v in values.items()},
                "confidence_level": forecasts.confidence,
                "eac_east_cents": int(east[i]),
                "eac_west_cents": int(west[i]),
                "committed_cents": int(ds.committed_cents[i]),
                "pending_cents": int(ds.pending_cents[i]),
                "uncommitted_cents": int(ds.uncommitted_cents[i]),
            }
        )
    return rows
