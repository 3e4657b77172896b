"""Forecasting stage: a project's trades at a month -> EAC, ETC, the 80% interval, east/west.

- ``pipeline``: the one forecast function (``forecast_trades``) the forecast asset and the backtest
  both call, and the forecast rows it makes;
- ``inference``: model distributions -> consistent forecasts in integer cents (the rules);
- ``serving``: which model a forecast records, and when current forecasts need renewing;
- ``store``: ``ml.project_forecasts`` written with history, totals, the CSV export;
- ``expectations``: the GX check of the forecasts and the review hints it gives;
- ``assets``: the ``ml/project_forecasts`` asset.
"""
