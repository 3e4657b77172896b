"""Realistic demo portfolio generator (see ``generator`` for the statistical model)."""

from gmp_assets.demo.generator import ProjectSummary, draw_portfolio_plans, generate_portfolio

__all__ = ["ProjectSummary", "draw_portfolio_plans", "generate_portfolio"]
