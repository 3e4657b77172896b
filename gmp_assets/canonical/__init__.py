"""Canonical stage: the dbt project wired into Dagster."""
