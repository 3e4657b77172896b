"""Model stage: the MultiProjectForecaster network, global training, project adapters, the
fallback ladder, EVM baselines and accuracy metrics (pure Python/TensorFlow, no database)."""
