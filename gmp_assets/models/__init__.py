"""Model stage: the forecasting models and their life cycle.

- ``network``, ``training``, ``adapters``: the MultiProjectForecaster, global training, project
  adapters (TensorFlow, no database);
- ``evidence``: earned-value evidence fused into the model's distribution; ``fallback``: the ladder
  (adapter, global, cold start, heuristic) and the heuristic's distribution; ``evm``: the EVM
  formulas; ``metrics``: accuracy measures; ``samples``: validation splits, vocabularies,
  implausible labels;
- ``registry``, ``lineage``, ``promotion``, ``recipe``: MLflow models, aliases and datasets, the
  champion/challenger decision, the recipe's code fingerprint;
- ``plots``: charts for asset metadata; ``assets``: the training dataset, global model and adapter assets.
"""
