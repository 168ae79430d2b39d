"""What the sequence models (CNN / Caser, GRU / GRU4Rec) share."""

import re

from .._tf import keras
from ._inputs import schema_of


def check_has_history(who, X):
    """Refuse ``X`` without FeatureBuilder's history columns, naming the fix."""
    schema = schema_of(X)
    if schema is None or not any(entry["kind"] == "sequence" for entry in schema):
        raise ValueError(
            f"{who}: X has no history columns, but this model reads each row's "
            "recent items; put FeatureBuilder(history_length=N) before it, e.g. "
            f"make_pipeline(FeatureBuilder(history_length=10), {who}())."
        )



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
