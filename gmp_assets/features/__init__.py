"""Feature stage (pure: no database, no Dagster).

- ``schema``: the canonical feature schema (``FEATURE_COLUMNS``, ``FEATURE_SCHEMA_VERSION``), the
  offline-store columns and the ``ml.feature_rows`` DDL.
- ``compute``: ``analytics.canonical_cost_features`` rows -> leakage-free feature rows; known final
  costs of trades (completed projects, finished trades of active projects).
- ``sequences``: feature rows + final costs -> ``dataset.SequenceDataset`` (the model contract).
- ``splits``: temporal split, leave-projects-out folds, backtest stage samples.
"""
