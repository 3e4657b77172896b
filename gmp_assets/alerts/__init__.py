"""Alerts on a project's forecasts and on failed runs: rules, their record and their delivery."""
