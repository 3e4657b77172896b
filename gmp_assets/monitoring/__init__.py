"""Monitoring: data drift (PSI per feature), prediction drift and the retraining plan, and the
``ml/drift_report`` asset. The sensors and schedules that act on them are in ``orchestration``."""
