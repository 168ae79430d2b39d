"""WideDeepClassifier: crosses, learning, determinism, ids only, persistence, errors."""

import io

import joblib
import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skrec.datasets import make_interactions
from skrec.models._wide_deep import HashedCross, WideDeepClassifier
from skrec.preprocessing import FeatureBuilder, InteractionNormalizer


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
    return WideDeepClassifier(epochs=2, dropout=0.2, random_state=1).fit(Xt, y)


@pytest.fixture(scope="module")
def held_out():
    """The default log, split 75/25 stratified, and a 3-epoch batch-256 pipeline fitted on it."""
    X, y = make_interactions(random_state=0, return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    pipe = make_pipeline(
        InteractionNormalizer(),
        FeatureBuilder(),
        WideDeepClassifier(epochs=3, batch_size=256, random_state=0),
    ).fit(X_train, y_train)
    return X_train, X_test, y_train, y_test, pipe


def test_network_has_default_crosses_and_predicts_probabilities(small, fitted):
    builder, Xt, _ = small
    clf = fitted
    names = {layer.name for layer in clf.model_.layers}
    assert {"wide_user_id", "wide_item_id", "wide_user_interest", "wide_item_category",
            "wide_item_brand", "wide_numeric", "deep_user", "deep_item"} <= names
    # Default crosses: user x item, and each user categorical x each item categorical.
    n_users, n_items = len(builder.user_vocabulary_) + 1, len(builder.item_vocabulary_) + 1
    n_interest = len(builder.categories_["user_interest"]) + 1
    expected = {
        "wide_cross_user_id_x_item_id": n_users * n_items,  # fits in 10000: exact
        "wide_cross_user_interest_x_item_category":
            n_interest * (len(builder.categories_["item_category"]) + 1),
        "wide_cross_user_interest_x_item_brand":
            n_interest * (len(builder.categories_["item_brand"]) + 1),
    }
    crosses = {n for n in names if n.startswith("wide_cross_")}
    assert crosses == set(expected)
    for name, size in expected.items():
        assert clf.model_.get_layer(name).input_dim == size
    # item_price and user_behavior: one linear weight each, and deep inputs.
    assert clf.model_.get_layer("wide_numeric").kernel.shape == (2, 1)
    assert clf.model_.get_layer("deep_input").input[-1].shape[-1] == 2
    proba = clf.predict_proba(Xt.head(50))
    assert proba.shape == (50, 2)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_ids_only_input_crosses_user_with_item():
    X, y = make_interactions(
        n_users=60, n_items=40, n_interactions=2000, random_state=1, return_X_y=True
    )
    pipe = make_pipeline(
        FeatureBuilder(), WideDeepClassifier(epochs=1, cross_bins=500, random_state=0)
    ).fit(X[["user_id", "item_id"]], y)
    model = pipe[-1].model_
    names = {layer.name for layer in model.layers}
    assert {n for n in names if n.startswith("wide_cross_")} == {"wide_cross_user_id_x_item_id"}
    assert "wide_numeric" not in names
    # 61 x 41 pairs do not fit in 500 buckets: the cross is hashed into 500.
    assert model.get_layer("wide_cross_user_id_x_item_id").input_dim == 500
    proba = pipe.predict_proba(X[["user_id", "item_id"]].head(20))
    assert proba.shape == (20, 2) and np.all(np.isfinite(proba))


def test_hashed_cross_is_exact_when_pairs_fit_and_in_range_otherwise():
    left = np.repeat(np.arange(30), 40).astype("int32")
    right = np.tile(np.arange(40), 30).astype("int32")
    exact = np.asarray(HashedCross(5000, 30, 40)([left, right]))
    np.testing.assert_array_equal(exact, left * 40 + right)
    hashed = np.asarray(HashedCross(97, 30, 40)([left, right]))
    assert hashed.min() >= 0 and hashed.max() < 97
    # 1200 pairs spread over (nearly) every one of the 97 buckets.
    counts = np.bincount(hashed, minlength=97)
    assert (counts > 0).sum() >= 95 and counts.max() < 3 * 1200 / 97
    again = np.asarray(HashedCross(97, 30, 40)([left, right]))
    np.testing.assert_array_equal(hashed, again)


def test_crosses_add_weights_and_move_predictions(small, fitted):
    _, Xt, y = small
    with_crosses = fitted
    without = WideDeepClassifier(epochs=1, crosses=[], random_state=0).fit(Xt, y)
    names = {layer.name for layer in without.model_.layers}
    assert not {n for n in names if n.startswith(("cross_", "wide_cross_"))}
    cross_tables = sum(
        layer.input_dim
        for layer in with_crosses.model_.layers
        if layer.name.startswith("wide_cross_")
    )
    assert cross_tables > 5000
    assert (
        with_crosses.model_.count_params() - without.model_.count_params() == cross_tables
    )
    # The cross weights reach the output: zeroing one table changes the scores.
    before = with_crosses.predict_proba(Xt.head(200))[:, 1]
    layer = with_crosses.model_.get_layer("wide_cross_user_interest_x_item_category")
    trained = layer.get_weights()
    try:
        layer.set_weights([np.zeros_like(trained[0])])
        after = with_crosses.predict_proba(Xt.head(200))[:, 1]
    finally:
        layer.set_weights(trained)
    assert np.abs(before - after).max() > 1e-3


def test_interest_category_cross_learns_the_matching_bonus(held_out):
    # make_interactions adds a logit bonus when user_interest == item_category.
    pipe = held_out[-1]
    builder, model = pipe[1], pipe[-1].model_
    weights = model.get_layer("wide_cross_user_interest_x_item_category").get_weights()[0]
    interest, category = builder.categories_["user_interest"], builder.categories_["item_category"]
    width = len(category) + 1
    match, other = [], []
    for a, name_a in enumerate(interest, start=1):
        for b, name_b in enumerate(category, start=1):
            (match if name_a == name_b else other).append(weights[a * width + b, 0])
    # Measured (seed 0): matching pairs 0.13 on average, the others -0.05.
    assert len(match) >= 5
    assert np.mean(match) > np.mean(other) + 0.1, (np.mean(match), np.mean(other))


def test_joblib_round_trip_keeps_predictions(small, fitted):
    _, Xt, _ = small
    clf = fitted
    buffer = io.BytesIO()
    joblib.dump(clf, buffer)
    buffer.seek(0)
    clone = joblib.load(buffer)
    np.testing.assert_array_equal(clf.predict_proba(Xt), clone.predict_proba(Xt))
    assert isinstance(clone.model_.get_layer("cross_user_id_x_item_id"), HashedCross)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"embedding_dim": 0}, "embedding_dim=0 must be an integer >= 1"),
        ({"feature_embedding_dim": 2.5}, "feature_embedding_dim=2.5 must be an integer"),
        ({"cross_bins": 0}, "cross_bins=0 must be an integer >= 1"),
        ({"hidden_units": 8}, "hidden_units=8 must be a sequence"),
        ({"hidden_units": (8, 0)}, r"hidden_units=\(8, 0\) must be a sequence"),
        ({"dropout": 1.5}, r"dropout=1.5 must be a number in \[0, 1\)"),
        ({"l2": -1.0}, "l2=-1.0 must be a number >= 0"),
        ({"crosses": "all"}, "crosses='all' is invalid; use 'default'"),
        ({"crosses": [("user_interest",)]}, "must be 'default' or a list of column-name pairs"),
        ({"crosses": [("user_interest", "item_colour")]},
         "'item_colour', which is not a column of X.*one of"),
        ({"crosses": [("user_interest", "item_price")]},
         "'item_price', which is a numeric column"),
        ({"crosses": [("item_brand", "item_brand")]}, "pairs 'item_brand' with itself"),
        ({"crosses": [("user_id", "item_id")] * 2}, "lists .*'user_id', 'item_id'.* more than once"),
        ({"negative_ratio": -1}, "negative_ratio=-1 is invalid"),
    ],
)
def test_bad_parameters_are_explained(small, params, match):
    _, Xt, y = small
    with pytest.raises(ValueError, match=match):
        WideDeepClassifier(epochs=1, **params).fit(Xt.head(100), y.head(100))
