"""Forecasting stage: model distributions -> EAC, ETC, intervals and the east/west split."""
