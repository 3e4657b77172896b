"""Feature stage: canonical monthly rows -> leakage-free feature rows and model-ready sequences.

- ``schema``: the canonical feature schema (``FEATURE_COLUMNS``, ``FEATURE_SCHEMA_VERSION``), the
  offline-store columns and the ``ml.feature_rows`` DDL (sql/090_feature_rows.sql is generated from it);
- ``compute``: ``analytics.canonical_cost_features`` rows -> feature rows; known final costs of
  trades (completed projects, finished trades of active projects);
- ``dataset``: ``SequenceDataset`` and ``Vocabulary``, the contract between features and models;
- ``sequences``: feature rows + final costs -> ``SequenceDataset``;
- ``splits``: temporal split, leave-projects-out folds, backtest stage samples;
- ``store``: the feature store (reads canonical rows, reads and writes ``ml.feature_rows``) and the
  training and inference datasets built from it;
- ``assets``: the ``ml/feature_rows`` asset.
Everything but ``store`` and ``assets`` is pure (no database, no Dagster).
"""
