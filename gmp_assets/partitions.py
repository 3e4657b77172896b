"""Partitions: projects (dynamic, one per inbox folder) x calendar month."""

from dagster import DynamicPartitionsDefinition, MonthlyPartitionsDefinition, MultiPartitionsDefinition

PROJECTS = "projects"

project_partitions = DynamicPartitionsDefinition(name=PROJECTS)

# Months of cost history; the earliest demo and customer projects start in 2018.
month_partitions = MonthlyPartitionsDefinition(start_date="2018-01-01", end_offset=1)

# Keys print as "2024-03-01|alpha" (dimensions sorted by name: month, project).
project_month_partitions = MultiPartitionsDefinition({"project": project_partitions, "month": month_partitions})


def project_month_key(project_key: str, month_start: str) -> str:
    """The multi-partition key of one project-month, e.g. ``2024-03-01|alpha``."""
    return f"{month_start}|{project_key}"
