"""What the sequence models (CNN / Caser, GRU / GRU4Rec) share."""

import re
import weakref

import numpy as np

from .._tf import keras
from ._inputs import HISTORY_INPUT, input_name, schema_of
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
