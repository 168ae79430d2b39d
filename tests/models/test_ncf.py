"""NCFClassifier: learning, determinism, negative sampling, unknown ids, errors."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline

from skrec.models import NCFClassifier
from skrec.models._training import EpochSampler as _EpochSampler
from skrec.preprocessing import FeatureBuilder


@pytest.fixture(scope="module")
def features(log_xy):
    X, y = log_xy
    builder = FeatureBuilder().fit(X)
    return builder, builder.transform(X), y


def test_network_uses_schema_of_feature_builder(features):
    builder, Xt, y = features
    clf = NCFClassifier(epochs=1, random_state=0).fit(Xt, y)
    names = {layer.name for layer in clf.model_.layers}
    assert {"gmf_user", "gmf_item", "mlp_user", "mlp_item"} <= names
    assert {"feature_user_interest", "feature_item_category", "feature_item_brand"} <= names
    assert clf.model_.get_layer("gmf_item").input_dim == len(builder.item_vocabulary_) + 1
    # item_price and user_behavior arrive as one numeric input.
    assert clf.model_.get_layer("mlp_input").input[-1].shape[-1] == 2
    proba = clf.predict_proba(Xt.head(50))
    assert proba.shape == (50, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_same_seed_same_predictions_other_seed_differs(features):
    _, Xt, y = features
    a = NCFClassifier(epochs=2, dropout=0.2, random_state=1).fit(Xt, y).predict_proba(Xt)
    b = NCFClassifier(epochs=2, dropout=0.2, random_state=1).fit(Xt, y).predict_proba(Xt)
    c = NCFClassifier(epochs=2, dropout=0.2, random_state=2).fit(Xt, y).predict_proba(Xt)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_pickle_round_trip_keeps_predictions(features):
    _, Xt, y = features
    clf = NCFClassifier(epochs=1, random_state=0).fit(Xt, y)
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf.predict_proba(Xt), clone.predict_proba(Xt))


def test_negative_sampler_never_draws_a_positive_and_uses_item_features(features):
    builder, Xt, _ = features
    y = np.ones(len(Xt), dtype=int)  # implicit feedback: every row a positive
    clf = NCFClassifier(
        epochs=1, negative_ratio=3, unknown_id_rate=0.0, random_state=0
    ).fit(Xt, y)
    inputs = clf.feature_encoder_.transform(Xt.to_numpy(dtype=float))
    sampler = _EpochSampler(clf, inputs, y.astype(float), shuffle=False)
    X_epoch, y_epoch, _ = sampler.epoch(None)
    n_pos = len(Xt)
    assert y_epoch.shape == (4 * n_pos, 1)
    assert y_epoch[:n_pos].sum() == n_pos and y_epoch[n_pos:].sum() == 0
    users, items = X_epoch[sampler.user_key][n_pos:], X_epoch[sampler.item_key][n_pos:]
    positives = set(zip(inputs[sampler.user_key].tolist(), inputs[sampler.item_key].tolist()))
    assert not positives & set(zip(users.tolist(), items.tolist()))
    assert items.min() >= 1  # never the reserved unknown index
    # Each negative carries its own item's category, and its positive's user.
    category_key = next(
        k for k in sampler.item_side_keys
        if clf.input_schema_[int(k.split("_")[1])]["name"] == "item_category"
    )
    item_category = dict(zip(inputs[sampler.item_key].tolist(), inputs[category_key].tolist()))
    assert all(item_category[i] == c for i, c in zip(items.tolist(), X_epoch[category_key][n_pos:].tolist()))
    np.testing.assert_array_equal(
        X_epoch[sampler.user_key][n_pos:], np.repeat(inputs[sampler.user_key], 3)
    )
    # Fresh negatives each epoch, and for each partial_fit call (its first epoch).
    assert not np.array_equal(sampler.epoch(None)[0][sampler.item_key][n_pos:], items)
    later = _EpochSampler(clf, inputs, y.astype(float), initial_epoch=1, shuffle=False)
    assert not np.array_equal(later.epoch(None)[0][sampler.item_key][n_pos:], items)
    again = _EpochSampler(clf, inputs, y.astype(float), shuffle=False)
    np.testing.assert_array_equal(again.epoch(None)[0][sampler.item_key][n_pos:], items)


def test_implicit_feedback_learns_preferences(log_xy):
    X, y = log_xy
    positives = X[y.to_numpy() == 1]
    pipe = make_pipeline(
        FeatureBuilder(),
        NCFClassifier(epochs=5, negative_ratio=4, random_state=0),
    ).fit(positives, np.ones(len(positives), dtype=int))
    builder = pipe[0]
    # Score each user's own positive items against random other items.
    rng = np.random.default_rng(0)
    sample = positives.sample(500, random_state=0)
    others = sample.copy()
    others["item_id"] = rng.choice(builder.item_vocabulary_.to_numpy(), size=len(sample))
    catalogue = builder.item_catalogue_.loc[others["item_id"]]
    for column in catalogue.columns:
        others[column] = catalogue[column].to_numpy()
    pos_score = pipe.predict_proba(sample)[:, 1]
    neg_score = pipe.predict_proba(others)[:, 1]
    assert (pos_score > neg_score).mean() > 0.7


def test_unknown_users_and_items_share_a_defined_score(log_xy):
    X, y = log_xy
    pipe = make_pipeline(FeatureBuilder(), NCFClassifier(epochs=2, random_state=0)).fit(X, y)
    rows = X.head(2).copy()
    rows["user_id"] = ["never-seen-1", "never-seen-2"]
    rows["item_id"] = ["new-item-1", "new-item-2"]
    rows[["user_interest", "item_category", "item_brand", "item_price", "user_behavior"]] = (
        X.iloc[[0, 0]][["user_interest", "item_category", "item_brand", "item_price", "user_behavior"]].to_numpy()
    )
    proba = pipe.predict_proba(rows)[:, 1]
    assert np.all(np.isfinite(proba))
    # Both unknown users (and items) map to the shared out-of-vocabulary rows.
    assert proba[0] == pytest.approx(proba[1], abs=1e-6)


@pytest.mark.parametrize(
    "params, y, match",
    [
        ({}, np.ones(10), "one class only.*negative_ratio=4"),
        ({}, np.arange(10) % 3, "Only binary classification is supported"),
        ({"negative_ratio": 2}, np.where(np.arange(10) % 2, 1, -1), "must be 0/1"),
        ({"negative_ratio": -1}, np.arange(10) % 2, "negative_ratio=-1 is invalid"),
        ({"hidden_units": 8}, np.arange(10) % 2, "hidden_units=8 must be a sequence"),
        ({"dropout": 1.5}, np.arange(10) % 2, r"dropout=1.5 must be a number in \[0, 1\)"),
    ],
)
def test_bad_target_and_parameters_are_explained(params, y, match):
    X = np.c_[np.arange(10) % 4, np.arange(10) % 5].astype(float)
    with pytest.raises(ValueError, match=match):
        NCFClassifier(epochs=1, **params).fit(X, y)


def test_plain_array_learns_its_own_vocabulary():
    X = np.array([[10, 7], [10, 8], [20, 7], [20, 8]] * 20, dtype=float)
    y = np.array([1, 0, 0, 1] * 20)
    clf = NCFClassifier(epochs=30, batch_size=8, learning_rate=0.02, random_state=0).fit(X, y)
    proba = clf.predict_proba(np.array([[10, 7], [10, 8], [99, 7]], dtype=float))[:, 1]
    assert proba[0] > 0.8 and proba[1] < 0.2
    assert np.isfinite(proba[2])  # unknown user 99 -> index 0
    assert pd.Series(clf.predict(X[:4])).tolist() == [1, 0, 0, 1]


def test_output_of_another_feature_builder_is_refused(log_xy, features):
    _, Xt, y = features
    clf = NCFClassifier(epochs=1, random_state=0).fit(Xt, y)
    X, _ = log_xy
    other = FeatureBuilder(min_frequency=50).fit(X.tail(1000)).transform(X.head(10))
    with pytest.raises(ValueError, match="FeatureBuilder other than the one"):
        clf.predict_proba(other)


def test_sample_weight_and_validation_split_reach_keras(features):
    _, Xt, y = features
    weights = np.where(np.arange(len(y)) % 2, 1.0, 0.0)
    clf = NCFClassifier(epochs=1, random_state=0).fit(Xt, y, sample_weight=weights)
    unweighted = NCFClassifier(epochs=1, random_state=0).fit(Xt, y)
    assert not np.allclose(clf.predict_proba(Xt), unweighted.predict_proba(Xt))
    clf = NCFClassifier(epochs=2, validation_split=0.2, random_state=0).fit(Xt, y)
    assert len(clf.history_["val_loss"]) == 2


def test_batch_size_covers_partial_and_full_batches():
    X = np.c_[np.arange(70) % 7, np.arange(70) % 5].astype(float)
    y = np.arange(70) % 2
    for batch_size in (32, 70, -1, 100):
        clf = NCFClassifier(epochs=1, batch_size=batch_size, random_state=0).fit(X, y)
        assert clf.predict_proba(X).shape == (70, 2)


def test_numpy_integers_from_a_grid_are_accepted():
    from skrec.models._params import check_hidden_units, check_positive_int

    check_positive_int("NCFClassifier", "embedding_dim", np.int64(8))
    check_hidden_units("NCFClassifier", (np.int64(8), 4))
    with pytest.raises(ValueError, match="embedding_dim=True must be an integer"):
        check_positive_int("NCFClassifier", "embedding_dim", True)
    with pytest.raises(ValueError, match="l2='x' must be a number >= 0"):
        NCFClassifier(l2="x")._check_params()


@pytest.mark.parametrize("negative_ratio", [0, 3])
def test_validation_rows_are_held_out_once_and_never_trained_on(log_xy, negative_ratio):
    X, y = log_xy
    X = X.iloc[:2000].copy()
    y = y.iloc[:2000]
    # The last 20% of rows (Keras' validation_split rule) belong to users seen
    # nowhere else: if those rows were ever trained on, their embeddings move.
    X.iloc[1600:, X.columns.get_loc("user_id")] = [f"val-{i % 40}" for i in range(400)]
    Xt = FeatureBuilder().fit(X).transform(X)
    held_users = np.unique(Xt["user_id"].to_numpy()[1600:])

    def user_table(epochs):
        # l2=0: a penalty on the embedding tables would move unused rows too.
        clf = NCFClassifier(epochs=epochs, validation_split=0.2, negative_ratio=negative_ratio,
                            unknown_id_rate=0.0, l2=0.0, random_state=0).fit(Xt, y)
        tables = [clf.model_.get_layer(name).embeddings for name in ("gmf_user", "mlp_user")]
        return clf, [np.asarray(table) for table in tables]

    one, before = user_table(1)
    three, after = user_table(3)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a[held_users], b[held_users])
        trained = np.setdiff1d(np.unique(Xt["user_id"].to_numpy()[:1600]), held_users)
        assert not np.allclose(a[trained], b[trained])
    # Same held-out rows every epoch: the first epoch's validation loss repeats.
    assert three.history_["val_loss"][0] == pytest.approx(one.history_["val_loss"][0], rel=1e-6)
