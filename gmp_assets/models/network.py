"""The MultiProjectForecaster: one Keras network for all projects and trades.

Inputs (a dict, see :func:`model_inputs`): ``x`` [window, n_features] monthly feature rows
(left-padded), ``mask`` [window] bool (True on real months; the LSTMs skip padded steps, so
padding values never reach the output), ``project`` and ``trade`` embedding indices (0 = unknown,
the cold-start row; an unknown project's project-level features are hidden too,
``ColdStartMask``). Output [n, 2]: mean and standard deviation of a Gaussian over
``y = log(final / BAC)``.

Layers are named by role so parts can be frozen: ``encoder_*``, ``project_embedding``,
``trade_embedding``, ``fusion``, ``adapter_*`` and ``head_*``. Fine-tuning a project adapter
trains only ``adapter_*`` and ``head_*`` (:func:`freeze_for_adapter`). The last layer,
``evidence_fusion``, combines the head's Gaussian with the trade's earned-value measurement
(``models/evidence.py``); it has no trainable weights.
"""

from __future__ import annotations

import collections
import hashlib
import math
import threading
import weakref

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from gmp_assets.features.dataset import UNKNOWN, SequenceDataset, Vocabulary
from gmp_assets.models import evidence

LSTM_UNITS = 64
PROJECT_EMBEDDING_DIM = 32
TRADE_EMBEDDING_DIM = 16
FUSION_UNITS = 64
ADAPTER_UNITS = 32
ADAPTER_DROPOUT = 0.1
STD_EPSILON = 1e-3
TRAINABLE_IN_ADAPTER = ("adapter_", "head_")
LOG_2PI = math.log(2.0 * math.pi)
EVIDENCE_LAYER = "evidence_fusion"


@keras.saving.register_keras_serializable(package="gmp")
class GaussianParameters(layers.Layer):
    """Raw [n, 2] -> (mean, softplus(raw_std) + epsilon): the std is always positive."""

    def __init__(self, epsilon: float = STD_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, raw):
        return ops.concatenate([raw[:, :1], ops.softplus(raw[:, 1:]) + self.epsilon], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="gmp")
class ColdStartMask(layers.Layer):
    """[scaled x, project] -> scaled x with the ``columns`` (``schema.PROJECT_STATIC_FEATURES``)
    at 0, the training mean, where the project index is ``UNKNOWN``.

    Square feet, duration and type hold one value per project. With a handful of training
    projects they identify each one, so the "unknown project" row, trained on the training
    projects' own samples (``TrainConfig.unknown_index_rate``), would still know which project it
    is and learn the spread of a trade around a project it knows. A new project would then get
    that narrow spread and a level extrapolated from its size and type: over-confident wherever
    the extrapolation misses. Hidden, the cold-start row learns the spread across projects too
    (see docs/forecasting-method.md).
    """

    def __init__(self, columns, **kwargs):
        super().__init__(**kwargs)
        self.columns = tuple(int(c) for c in columns)

    def build(self, input_shape):
        static = np.zeros(input_shape[0][-1], dtype="float32")
        static[list(self.columns)] = 1.0
        self.static = static

    def call(self, inputs):
        x, project = inputs
        unknown = ops.cast(ops.equal(project, UNKNOWN), x.dtype)[:, None, None]
        return x * (1.0 - unknown * ops.convert_to_tensor(self.static, dtype=x.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "columns": list(self.columns)}


@keras.saving.register_keras_serializable(package="gmp")
def gaussian_nll(y_true, y_pred):
    """Mean Gaussian negative log-likelihood of ``y_true`` [n] under ``y_pred`` [n, 2] (mean, std)."""
    y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), (-1,))
    mean, std = y_pred[:, 0], y_pred[:, 1]
    return ops.mean(0.5 * LOG_2PI + ops.log(std) + 0.5 * ops.square((y_true - mean) / std))


@keras.saving.register_keras_serializable(package="gmp")
class EvidenceFusion(layers.Layer):
    """[x, (mean, std)] -> (mean, std) combined with the last month's earned-value measurement.

    ``columns``: positions in ``x`` of ``evidence.MEASURED_FEATURES``. Its bias and precision per
    band of percent complete (``models/evidence.py``) are non-trainable weights: zero (no
    evidence, the identity) until :meth:`set_evidence` sets fitted values; they are saved with
    the model, and so is the trades' scatter that ``evidence.with_peer_evidence`` reads
    (:func:`evidence_noise`).
    """

    def __init__(self, columns, **kwargs):
        super().__init__(**kwargs)
        self.columns = tuple(int(c) for c in columns)

    def build(self, input_shape):
        bands = len(evidence.BAND_EDGES)
        self.bias = self.add_weight(shape=(bands,), initializer="zeros", trainable=False, name="bias")
        self.precision = self.add_weight(shape=(bands,), initializer="zeros", trainable=False, name="precision")
        # used outside the graph (evidence.with_peer_evidence); kept here so the model carries it
        self.scatter_variance = self.add_weight(shape=(), initializer="zeros", trainable=False, name="scatter_variance")

    def load_own_variables(self, store):
        """Loads the saved weights; a model saved with only bias and precision (no scatter
        weight) keeps its scatter at 0 (no peer evidence)."""
        for i, variable in enumerate((self.bias, self.precision, self.scatter_variance)):
            if str(i) in store:
                variable.assign(store[str(i)])

    def set_evidence(self, noise: evidence.EvidenceNoise) -> None:
        self.bias.assign(np.asarray(noise.bias, dtype=np.float32))
        self.precision.assign(np.asarray(noise.precision, dtype=np.float32))
        self.scatter_variance.assign(np.float32(noise.scatter_variance))

    def call(self, inputs):
        x, gaussian = inputs
        measured, precision = evidence.own_measurement(*(x[:, -1, c] for c in self.columns), self.bias, self.precision)
        return ops.stack(evidence.fuse(gaussian[:, 0], gaussian[:, 1], measured, precision), axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        return {**super().get_config(), "columns": list(self.columns)}


def evidence_noise(model: keras.Model) -> evidence.EvidenceNoise | None:
    """The earned-value evidence a model carries (None for a model without the fusion layer)."""
    try:
        layer = model.get_layer(EVIDENCE_LAYER)
    except ValueError:
        return None
    return evidence.EvidenceNoise(
        tuple(map(float, layer.bias.numpy())),
        tuple(map(float, layer.precision.numpy())),
        float(layer.scatter_variance.numpy()),
    )


def build_forecaster(
    n_features: int,
    window: int,
    n_projects: int,
    n_trades: int,
    seed: int,
    *,
    feature_mean: np.ndarray | None = None,
    feature_variance: np.ndarray | None = None,
    target_mean: float = 0.0,
    target_std: float = 0.1,
    evidence_columns: tuple[int, int, int] | None = None,
    static_columns: tuple[int, ...] = (),
) -> keras.Model:
    """Build the network; ``n_projects``/``n_trades`` are vocabulary sizes (with index 0).

    ``feature_mean``/``feature_variance`` (per feature, default 0/1) standardise ``x`` inside the
    model, so a saved model carries its own scaling. The head starts near the constant forecast
    N(``target_mean``, ``target_std``) (small kernel, biases set to the training target's moments).
    ``evidence_columns`` (positions of ``evidence.MEASURED_FEATURES`` in ``x``) adds the
    earned-value fusion after the head, without evidence until it is set (``EvidenceFusion``).
    ``static_columns`` (positions of ``schema.PROJECT_STATIC_FEATURES``) are hidden from an
    unknown project (``ColdStartMask``). Sets the global Keras seed to ``seed``.
    """
    keras.utils.set_random_seed(seed)
    x_in = keras.Input((window, n_features), name="x")
    mask_in = keras.Input((window,), dtype="bool", name="mask")
    project_in = keras.Input((), dtype="int32", name="project")
    trade_in = keras.Input((), dtype="int32", name="trade")

    mean = np.zeros(n_features) if feature_mean is None else np.asarray(feature_mean)
    variance = np.ones(n_features) if feature_variance is None else np.asarray(feature_variance)
    h = layers.Normalization(mean=mean, variance=variance, name="encoder_scaling")(x_in)
    if static_columns:
        h = ColdStartMask(static_columns, name="encoder_cold_start_mask")([h, project_in])
    h = layers.LSTM(LSTM_UNITS, return_sequences=True, name="encoder_lstm_1")(h, mask=mask_in)
    h = layers.LayerNormalization(name="encoder_norm_1")(h)
    h = layers.LSTM(LSTM_UNITS, name="encoder_lstm_2")(h, mask=mask_in)
    h = layers.LayerNormalization(name="encoder_norm_2")(h)

    project = layers.Embedding(n_projects, PROJECT_EMBEDDING_DIM, name="project_embedding")(project_in)
    trade = layers.Embedding(n_trades, TRADE_EMBEDDING_DIM, name="trade_embedding")(trade_in)
    h = layers.Concatenate(name="fusion_concat")([h, project, trade])
    h = layers.Dense(FUSION_UNITS, activation="relu", name="fusion")(h)

    for i in (1, 2):
        h = layers.Dense(ADAPTER_UNITS, activation="relu", name=f"adapter_dense_{i}")(h)
        h = layers.Dropout(ADAPTER_DROPOUT, name=f"adapter_dropout_{i}")(h)

    raw_std_bias = math.log(math.expm1(max(target_std - STD_EPSILON, 1e-3)))  # softplus^-1
    raw = layers.Dense(
        2,
        bias_initializer=keras.initializers.Constant([target_mean, raw_std_bias]),
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.01, seed=seed),
        name="head_dense",
    )(h)
    out = GaussianParameters(name="head_gaussian")(raw)
    if evidence_columns is not None:
        out = EvidenceFusion(evidence_columns, name=EVIDENCE_LAYER)([x_in, out])
    return keras.Model(
        {"x": x_in, "mask": mask_in, "project": project_in, "trade": trade_in},
        out,
        name="multi_project_forecaster",
    )


def freeze_for_adapter(model: keras.Model) -> keras.Model:
    """Freeze encoder, embeddings and fusion in place: only ``adapter_*`` and ``head_*`` train."""
    for layer in model.layers:
        layer.trainable = layer.name.startswith(TRAINABLE_IN_ADAPTER)
    return model


def model_inputs(
    ds: SequenceDataset,
    projects: Vocabulary,
    trades: Vocabulary,
    project_index: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The model's input dict for ``ds``; ``project_index`` overrides the vocabulary lookup."""
    if project_index is None:
        project_index = projects.indices(ds.project_keys)
    return {
        "x": np.asarray(ds.x, dtype=np.float32),
        "mask": np.asarray(ds.mask, dtype=bool),
        "project": np.asarray(project_index, dtype=np.int32),
        "trade": trades.indices(ds.canonical_codes),
    }


def to_eac(bac_cents, log_ratio) -> np.ndarray:
    """``BAC * exp(log_ratio)`` in float cents: the EAC a predicted ``y`` stands for."""
    return np.asarray(bac_cents, dtype=np.float64) * np.exp(np.asarray(log_ratio, dtype=np.float64))


def input_signature(model: keras.Model) -> dict[str, tf.TensorSpec]:
    """TensorSpecs of the model's inputs with a free batch dimension."""
    window, n_features = model.input["x"].shape[1:]
    return {
        "x": tf.TensorSpec((None, window, n_features), tf.float32),
        "mask": tf.TensorSpec((None, window), tf.bool),
        "project": tf.TensorSpec((None,), tf.int32),
        "trade": tf.TensorSpec((None,), tf.int32),
    }


_ARCHITECTURES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its architecture's key
# architecture key -> its graph (which holds its template model), the most recently used last; a process
# that trains many models (the backtest: one per stage and recipe) keeps the graphs of the last few only
_INFERENCE_FUNCTIONS: collections.OrderedDict[str, object] = collections.OrderedDict()
_INFERENCE_GRAPHS_KEPT = 8
_INFERENCE_LOCK = threading.Lock()


def _architecture(model: keras.Model) -> str:
    """A key for the model's layers and their settings (its config), the same for every model built,
    cloned or loaded with this architecture whatever its weights."""
    key = _ARCHITECTURES.get(model)
    if key is None:
        key = _ARCHITECTURES[model] = hashlib.sha256(model.to_json().encode()).hexdigest()
    return key


def _inference_function(model: keras.Model):
    """The inference call of the model's architecture as a graph that takes the weights as arguments:
    traced once per architecture, so a run that loads an adapter per project traces one graph, not
    one per project (tracing costs far more than a call)."""
    key = _architecture(model)
    function = _INFERENCE_FUNCTIONS.get(key)
    if function is None:
        template = keras.models.clone_model(model)  # its own variables: only their shapes and order are used
        position = {id(v): i for i, v in enumerate(template.variables)}
        trainable = [position[id(v)] for v in template.trainable_variables]
        non_trainable = [position[id(v)] for v in template.non_trainable_variables]
        weights = [tf.TensorSpec(v.shape, v.dtype) for v in template.variables]

        @tf.function(input_signature=[weights, input_signature(model)], autograph=False)
        def function(values, inputs):
            outputs, _ = template.stateless_call(
                [values[i] for i in trainable], [values[i] for i in non_trainable], inputs, training=False
            )
            return outputs

        _INFERENCE_FUNCTIONS[key] = function
        while len(_INFERENCE_FUNCTIONS) > _INFERENCE_GRAPHS_KEPT:
            _INFERENCE_FUNCTIONS.popitem(last=False)
    _INFERENCE_FUNCTIONS.move_to_end(key)
    return function


def predict(model: keras.Model, inputs: dict[str, np.ndarray], batch_size: int = 4096) -> np.ndarray:
    """[n, 2] (mean, std): the model in inference mode as a cached ``tf.function``, in chunks.

    The first call per architecture traces the graph; later calls, of any model with that architecture,
    reuse it.
    """
    with _INFERENCE_LOCK:
        function = _inference_function(model)
    values = [v.value for v in model.variables]  # the model's own weights, in its architecture's order
    chunks = [
        function(values, {k: v[i : i + batch_size] for k, v in inputs.items()}).numpy()
        for i in range(0, len(inputs["x"]), batch_size)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, 2), dtype=np.float32)
