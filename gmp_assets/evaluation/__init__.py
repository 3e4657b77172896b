"""Evaluation: the leave-projects-out backtest (engine and report) that replays completed projects
through the forecast pipeline, and the asset that runs it and decides promotions."""
