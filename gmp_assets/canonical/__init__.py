"""Canonical stage: the dbt project wired into Dagster.

- ``assets``: the dbt models as assets in three scopes (shared, per project, per project x month)
  and the canonical rows' GX check;
- ``project``: the dbt project and its manifest, re-parsed when what dbt reads changes;
- ``expectations``: the GX suite on ``analytics.canonical_cost_features``;
- ``schema_refresh``: whether an incremental mart's table must be rebuilt whole (other columns);
- ``reconciliation``: PRIME change orders that disagree with the breakdown's Approved Changes.
"""
