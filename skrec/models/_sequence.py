"""What the sequence models (CNN / Caser, GRU / GRU4Rec) share."""

import re
import weakref

import numpy as np

from .._tf import keras
from ._inputs import HISTORY_INPUT, NUMERIC_INPUT, input_name, schema_of
from ._inference import WeightSnapshot


def check_has_history(who, X):
    """Refuse ``X`` without FeatureBuilder's history columns, naming the fix."""
    schema = schema_of(X)
    if schema is None or not any(entry["kind"] == "sequence" for entry in schema):
        raise ValueError(
            f"{who}: X has no history columns, but this model reads each row's "
            "recent items; put FeatureBuilder(history_length=N) before it, e.g. "
            f"make_pipeline(FeatureBuilder(history_length=10), {who}())."
        )


@keras.saving.register_keras_serializable(package="skrec")
class HistoryDropout(keras.layers.Layer):
    """Hide the history of a random fraction of the rows while training.

    During training each row's input (its sequence features) is zeroed with
    probability ``rate``, whole, and kept unscaled otherwise; at prediction
    the input passes unchanged. A row whose history is hidden is scored from
    its user embedding and item alone, so that path learns to rank on its
    own instead of leaning on the user's most recent items (see
    :class:`~skrec.models.CNNClassifier`'s ``history_dropout``).

    Unlike :class:`keras.layers.Dropout` it does not rescale the kept rows:
    the next layer sees either the real features or none, never an inflated
    copy, which at ``rate=0.9`` would be ten times larger while training than
    at prediction.

    Parameters
    ----------
    rate : float
        Probability, in [0, 1), that a row's input is zeroed while training.
    seed : int or None, default=None
        Seed of the layer's draws (None: drawn from Keras' global seed, as
        :class:`keras.layers.Dropout` does).
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        shape = (keras.ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        draws = keras.random.uniform(shape, seed=self.seed_generator)
        return inputs * keras.ops.cast(draws >= self.rate, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def score_item(estimator, features, query, item_vector, regularizer):
    """Sigmoid of ``query . item_vector + item bias + MLP(side features)``."""
    n_items, item = features.item
    dot = keras.layers.Dot(axes=1, name="sequence_item_dot")([query, item_vector])
    bias = keras.layers.Embedding(
        n_items, 1, embeddings_initializer="zeros", name="item_bias"
    )(item)
    terms = [dot, bias]
    side = []
    for name, size, tensor in features.categorical:
        side.append(
            keras.layers.Embedding(
                size,
                estimator.feature_embedding_dim,
                embeddings_regularizer=regularizer,
                name="feature_" + re.sub(r"\W", "_", name),
            )(tensor)
        )
    if features.numeric is not None:
        side.append(features.numeric)
    if side:
        hidden = side[0] if len(side) == 1 else keras.layers.Concatenate(name="side_input")(side)
        hidden = keras.layers.Dense(
            estimator.embedding_dim,
            activation="relu",
            kernel_regularizer=regularizer,
            name="side_hidden",
        )(hidden)
        terms.append(keras.layers.Dense(1, name="side_logit")(hidden))
    logit = keras.layers.Add(name="logit")(terms)
    return keras.layers.Activation("sigmoid", name="probability")(logit)


_QUERY_NETWORKS = weakref.WeakKeyDictionary()


class SequencePairwiseMixin:
    """``recommend``'s fast path for models built with :func:`score_item`.

    Without side features the logit is ``s . q_i + b_i``: the sequence
    vector ``s`` depends on the user and the history only, so a catalogue is
    ranked with one network pass per user and one matrix product.
    """

    def _training_network(self):
        """With sampled negatives, the grouped twin of ``model_`` (see :func:`grouped_network`).

        A positive and its ``negative_ratio`` negatives share the user, the
        context and the history: the twin encodes the history once for the
        group instead of once per row. It shares ``model_``'s layers and its
        optimizer, so it trains the same weights.
        """
        if self.negative_ratio == 0:
            return self.model_
        network = grouped_network(self.model_, self.input_schema_, 1 + self.negative_ratio)
        if getattr(network, "optimizer", None) is not self.model_.optimizer:
            compile_kwargs = self._compile_arguments()
            compile_kwargs["optimizer"] = self.model_.optimizer
            network.compile(
                **compile_kwargs,
                jit_compile=bool(self.jit_compile),
                steps_per_execution=self.model_.steps_per_execution,
            )
        return network

    def _pairwise_scorer(self, item_rows):
        """Score every (user, item) pair with one matrix product (hook of recommend).

        See :meth:`TwoTowerClassifier._pairwise_scorer` for the contract.
        Returns None (score rows one by one) when the model has categorical
        or numeric side features: their term mixes user, item and context
        columns in one hidden layer, so it does not factor over pairs.
        """
        schema = self.input_schema_
        if any(entry["kind"] in ("categorical", "numeric") for entry in schema):
            return None
        item_key = next(
            input_name(position)
            for position, entry in enumerate(schema)
            if entry["kind"] == "id" and entry["side"] == "item"
        )
        items = self._encoded_inputs(item_rows)[item_key]
        model = self.model_
        item_vectors = keras.ops.convert_to_numpy(
            model.get_layer("item_embedding").embeddings
        )[items]
        item_bias = keras.ops.convert_to_numpy(
            model.get_layer("item_bias").embeddings
        )[items, 0]
        network = WeightSnapshot(_query_network(model, schema))

        def score(user_rows):
            inputs = self._encoded_inputs(user_rows)
            needed = {name: inputs[name] for name in network.model.input}
            query = network.predict(needed, self.predict_batch_size)
            logits = np.asarray(query, dtype=np.float32) @ item_vectors.T + item_bias
            return keras.ops.convert_to_numpy(keras.ops.sigmoid(logits))

        return score


def _query_network(model, schema):
    """Sub-network of ``model`` from its user and history inputs to ``s``.

    Built once per trained model and cached while the model lives; it reuses
    the model's layers and weights.
    """
    if model not in _QUERY_NETWORKS:
        names = [
            input_name(position)
            for position, entry in enumerate(schema)
            if entry["kind"] == "id" and entry["side"] == "user"
        ]
        names.append(HISTORY_INPUT)
        _QUERY_NETWORKS[model] = keras.Model(
            inputs={name: model.input[name] for name in names},
            outputs=model.get_layer("sequence_vector").output,
            name="sequence_query",
        )
    return _QUERY_NETWORKS[model]


_GROUPED_NETWORKS = weakref.WeakKeyDictionary()


def grouped_network(model, schema, group_size):
    """The training network of a sequence model: one query per group of rows.

    Built from ``model``'s layers (so it trains the same weights). Its inputs
    are those of ``model`` with ``group_size`` items per row: the item id and
    the item-side categoricals ``(batch, G)``, the numeric input
    ``(batch, G, c)``; the user, the history and the other columns stay one
    per row. The sequence vector ``s`` is computed once per row and scored
    against its ``G`` items, with the same terms as :func:`score_item`; the
    output is the ``(batch * G, 1)`` probabilities, group after group, so
    that labels and weights of shape ``(batch * G, ...)`` line up.
    """
    cache = _GROUPED_NETWORKS.setdefault(model, {})
    if group_size in cache:
        return cache[group_size]
    inputs = {}
    item_side = set()
    for position, entry in enumerate(schema):
        name = input_name(position)
        if entry["kind"] in ("id", "categorical"):
            grouped = entry["side"] == "item"
            if grouped:
                item_side.add(name)
            inputs[name] = keras.Input(
                shape=(group_size,) if grouped else (), dtype="int32", name=name
            )
    n_numeric = sum(entry["kind"] == "numeric" for entry in schema)
    if n_numeric:
        inputs[NUMERIC_INPUT] = keras.Input(
            shape=(group_size, n_numeric), dtype="float32", name=NUMERIC_INPUT
        )
    n_history = sum(entry["kind"] == "sequence" for entry in schema)
    inputs[HISTORY_INPUT] = keras.Input(shape=(n_history,), dtype="int32", name=HISTORY_INPUT)
    query_network = _query_network(model, schema)
    query = query_network({name: inputs[name] for name in query_network.input})
    item_key = next(
        input_name(p) for p, e in enumerate(schema) if e["kind"] == "id" and e["side"] == "item"
    )
    items = inputs[item_key]
    item_vectors = model.get_layer("item_embedding")(items)
    logit = keras.ops.sum(keras.ops.expand_dims(query, 1) * item_vectors, axis=-1)
    logit = logit + keras.ops.squeeze(model.get_layer("item_bias")(items), -1)
    side = []
    for position, entry in enumerate(schema):
        if entry["kind"] != "categorical":
            continue
        name = input_name(position)
        layer = model.get_layer("feature_" + re.sub(r"\W", "_", str(entry["name"])))
        vectors = layer(inputs[name])
        if name not in item_side:  # one per row: the same for the row's G items
            vectors = keras.ops.repeat(keras.ops.expand_dims(vectors, 1), group_size, axis=1)
        side.append(vectors)
    if n_numeric:
        side.append(inputs[NUMERIC_INPUT])
    if side:
        hidden = side[0] if len(side) == 1 else keras.ops.concatenate(side, axis=-1)
        hidden = model.get_layer("side_hidden")(hidden)
        logit = logit + keras.ops.squeeze(model.get_layer("side_logit")(hidden), -1)
    probability = keras.ops.reshape(keras.ops.sigmoid(logit), (-1, 1))
    cache[group_size] = keras.Model(inputs=inputs, outputs=probability, name="grouped_training")
    return cache[group_size]
