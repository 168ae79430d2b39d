"""DeepFMClassifier: FM term, learning, determinism, ids only, persistence, errors."""

import io
from itertools import combinations

import joblib
import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from skrec._tf import keras
from skrec.datasets import make_interactions
from skrec.models._deepfm import DeepFMClassifier, FactorizationMachine
from skrec.preprocessing import FeatureBuilder


@pytest.fixture(scope="module")
def small():
    """80 users x 60 items: FeatureBuilder, its output and the labels."""
    X, y = make_interactions(
        n_users=80, n_items=60, n_interactions=3000, random_state=0, return_X_y=True
    )
    builder = FeatureBuilder().fit(X)
    return builder, builder.transform(X), y


@pytest.fixture(scope="module")
def fitted(small):
    """The model most tests inspect (fitted once: building a network takes seconds)."""
    _, Xt, y = small
    return DeepFMClassifier(epochs=2, dropout=0.2, random_state=1).fit(Xt, y)


def _outputs(clf, X, *layer_names):
    """Outputs of the named layers of ``clf``'s network for ``X``."""
    model = clf.model_
    probe = keras.Model(model.input, [model.get_layer(n).output for n in layer_names])
    outputs = probe(clf.feature_encoder_.transform(np.asarray(X, dtype=float)))
    if not isinstance(outputs, (list, tuple)):  # Keras unwraps a single output
        outputs = [outputs]
    return [np.asarray(out) for out in outputs]


def test_network_has_one_field_per_feature_and_predicts_probabilities(small, fitted):
    builder, Xt, _ = small
    model = fitted.model_
    # user, item, user_interest, item_category, item_brand + 2 numeric fields.
    assert tuple(model.get_layer("fields").output.shape) == (None, 7, 8)
    names = {layer.name for layer in model.layers}
    assert {"embedding_user", "embedding_item", "embedding_user_interest",
            "embedding_item_category", "embedding_item_brand", "embedding_numeric",
            "first_order_user", "first_order_item_brand", "first_order_numeric"} <= names
    assert model.get_layer("embedding_item").input_dim == len(builder.item_vocabulary_) + 1
    assert isinstance(model.get_layer("fm"), FactorizationMachine)
    proba = fitted.predict_proba(Xt.head(50))
    assert proba.shape == (50, 2)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_fm_term_is_the_sum_of_pairwise_field_interactions(small, fitted):
    _, Xt, _ = small
    X = Xt.head(64)
    fields, fm = _outputs(fitted, X, "fields", "fm")
    pairwise = sum(
        np.sum(fields[:, f] * fields[:, g], axis=1)
        for f, g in combinations(range(fields.shape[1]), 2)
    )
    np.testing.assert_allclose(fm[:, 0], pairwise, rtol=1e-4, atol=1e-5)
    # A numeric field is one learned vector per feature, scaled by the value.
    vectors = fitted.model_.get_layer("embedding_numeric").kernel.numpy()
    numeric = X[["item_price", "user_behavior"]].to_numpy(dtype=np.float32)
    np.testing.assert_allclose(
        fields[:, 5:], numeric[:, :, None] * vectors[None], rtol=1e-5, atol=1e-6
    )


def test_logit_is_first_order_plus_fm_plus_deep(small, fitted):
    _, Xt, _ = small
    first, fm, deep, proba = _outputs(
        fitted, Xt.head(500), "first_order", "fm", "deep_logit", "probability"
    )
    np.testing.assert_allclose(proba, 1 / (1 + np.exp(-(first + fm + deep))), rtol=1e-5)
    # The FM term is no rounding error: it moves scores from row to row.
    assert fm.std() > 0.05, fm.std()


def test_ids_only_fm_term_is_the_user_item_dot_product():
    X, y = make_interactions(
        n_users=60, n_items=40, n_interactions=2000, random_state=1, return_X_y=True
    )
    X = X[["user_id", "item_id"]]
    pipe = make_pipeline(FeatureBuilder(), DeepFMClassifier(epochs=1, random_state=0))
    pipe.fit(X, y)
    clf = pipe[-1]
    assert tuple(clf.model_.get_layer("fields").output.shape) == (None, 2, 8)
    assert "first_order_numeric" not in {layer.name for layer in clf.model_.layers}
    Xt = pipe[0].transform(X.head(40))
    (fm,) = _outputs(clf, Xt, "fm")
    users = clf.model_.get_layer("embedding_user").embeddings.numpy()
    items = clf.model_.get_layer("embedding_item").embeddings.numpy()
    users, items = users[Xt["user_id"]], items[Xt["item_id"]]
    np.testing.assert_allclose(fm[:, 0], np.sum(users * items, axis=1), rtol=1e-4, atol=1e-6)
    proba = pipe.predict_proba(X.head(20))
    assert proba.shape == (20, 2) and np.all(np.isfinite(proba))


def test_joblib_round_trip_keeps_predictions(small, fitted):
    _, Xt, _ = small
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    buffer.seek(0)
    clone = joblib.load(buffer)
    np.testing.assert_array_equal(fitted.predict_proba(Xt), clone.predict_proba(Xt))
    assert isinstance(clone.model_.get_layer("fm"), FactorizationMachine)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"embedding_dim": 0}, "embedding_dim=0 must be an integer >= 1"),
        ({"embedding_dim": True}, "embedding_dim=True must be an integer >= 1"),
        ({"hidden_units": 8}, "hidden_units=8 must be a sequence"),
        ({"hidden_units": "64"}, "hidden_units='64' must be a sequence"),
        ({"dropout": 1.0}, r"dropout=1.0 must be a number in \[0, 1\)"),
        ({"l2": "none"}, "l2='none' must be a number >= 0"),
        ({"epochs": 0}, "epochs=0 is invalid"),
    ],
)
def test_bad_parameters_are_explained(small, params, match):
    _, Xt, y = small
    with pytest.raises(ValueError, match=match):
        DeepFMClassifier(**params).fit(Xt.head(100), y.head(100))
