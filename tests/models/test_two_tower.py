"""TwoTowerClassifier: towers, learning, determinism, the recommend fast path, errors."""

import io

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skrec import FeatureBuilder, InteractionNormalizer, make_interactions
from skrec._recommend import recommend
from skrec.models._two_tower import TwoTowerClassifier, _tower_network


def _pipeline(**params):
    params.setdefault("epochs", 2)
    params.setdefault("random_state", 0)
    return make_pipeline(
        InteractionNormalizer(), FeatureBuilder(), TwoTowerClassifier(**params)
    )


@pytest.fixture(scope="module")
def data():
    return make_interactions(
        n_users=80, n_items=60, n_interactions=2500, random_state=0, return_X_y=True
    )


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return _pipeline().fit(X, y)


def _row_path(monkeypatch):
    """Force recommend through predict_proba (the hook declines with None)."""
    monkeypatch.setattr(
        TwoTowerClassifier, "_pairwise_scorer", lambda self, item_rows: None
    )


def _assert_same_recommendations(fast, rows):
    """Equal frames; items may swap only where their scores tie to float tolerance."""
    assert list(fast.columns) == list(rows.columns)
    pd.testing.assert_frame_equal(
        fast[["user_id", "rank", "fallback"]], rows[["user_id", "rank", "fallback"]]
    )
    np.testing.assert_allclose(fast["score"], rows["score"], rtol=1e-5, atol=1e-7)
    differ = fast["item_id"].to_numpy() != rows["item_id"].to_numpy()
    if differ.any():
        merged = fast.merge(rows, on=["user_id", "item_id"], suffixes=("_fast", "_rows"))
        assert len(merged) == len(fast)  # same items per user, only the order differs
        np.testing.assert_allclose(
            merged["score_fast"], merged["score_rows"], rtol=1e-5, atol=1e-7
        )


# ------------------------------------------------------------------ model
def test_pipeline_predicts_and_towers_read_their_own_side(fitted, data):
    X, _ = data
    clf = fitted[-1]
    proba = fitted.predict_proba(X.head(40))
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)

    def columns(tower):
        network = _tower_network(clf.model_, clf.input_schema_, tower)
        return {clf.input_schema_[int(key.split("_")[1])]["name"] if key != "numeric"
                else key for key in network.input}

    assert columns("user") == {"user_id", "user_interest", "numeric"}
    assert columns("item") == {"item_id", "item_category", "item_brand", "numeric"}
    # item_price feeds the item tower, the context user_behavior the user tower.
    numeric = [e["name"] for e in clf.input_schema_ if e["kind"] == "numeric"]
    assert [numeric[j] for j in clf.model_.get_layer("item_numeric").columns] == ["item_price"]
    assert [numeric[j] for j in clf.model_.get_layer("user_numeric").columns] == [
        "user_behavior"
    ]
    assert clf.model_.get_layer("user_vector").units == clf.tower_dim == 32
    assert len(clf.model_.get_layer("score").weights) == 2  # learned scale and bias


def test_ids_only_and_plain_array(data):
    X, y = data
    ids = X[["user_id", "item_id"]]
    pipe = make_pipeline(
        FeatureBuilder(), TwoTowerClassifier(epochs=1, hidden_units=(), random_state=0)
    ).fit(ids, y)
    clf = pipe[-1]
    assert "numeric" not in clf.model_.input
    assert pipe.predict_proba(ids.head(5)).shape == (5, 2)
    recs = recommend(pipe, list(ids["user_id"].unique()[:3]), k=4)
    assert len(recs) == 12 and not recs["fallback"].any()
    array = np.c_[np.arange(60) % 6, np.arange(60) % 5].astype(float)
    labels = (np.arange(60) % 6 + np.arange(60) % 5) % 2
    plain = TwoTowerClassifier(
        epochs=1, learn_temperature=False, random_state=0
    ).fit(array, labels)
    assert plain.predict_proba(array).shape == (60, 2)
    assert plain.model_.get_layer("score").weights == []


def test_implicit_feedback_with_sampled_negatives(data):
    X, y = data
    positives = X[y.to_numpy() == 1]
    pipe = _pipeline(epochs=1, negative_ratio=2).fit(positives, np.ones(len(positives)))
    proba = pipe.predict_proba(positives.head(20))[:, 1]
    assert np.all((proba > 0) & (proba < 1))


def test_joblib_round_trip_keeps_predictions_and_recommendations(fitted, data):
    X, _ = data
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    buffer.seek(0)
    clone = joblib.load(buffer)
    np.testing.assert_array_equal(fitted.predict_proba(X), clone.predict_proba(X))
    users = list(X["user_id"].unique()[:10])
    pd.testing.assert_frame_equal(recommend(fitted, users, k=5), recommend(clone, users, k=5))


# ------------------------------------------------------- recommend fast path
@pytest.mark.parametrize(
    "kwargs",
    [
        {"k": 10},
        {"k": 60, "exclude_seen": False},
        {"k": 5, "batch_size": 130},  # two users per block
        {"k": 3, "items": "some"},
        {"k": 8, "context": {"user_behavior": 2}},
    ],
)
def test_fast_path_equals_row_path(fitted, data, monkeypatch, kwargs):
    X, _ = data
    users = ["ghost"] + list(X["user_id"].unique()) + ["new-user"]
    if kwargs.get("items") == "some":
        kwargs = {**kwargs, "items": list(X["item_id"].unique()[::3])}
    fast = recommend(fitted, users, **kwargs)
    _row_path(monkeypatch)
    rows = recommend(fitted, users, **kwargs)
    _assert_same_recommendations(fast, rows)
    assert fast["fallback"].sum() == 2 * kwargs["k"]  # "ghost" and "new-user"


def test_fast_path_scores_equal_predict_proba_of_each_pair(fitted, data):
    X, _ = data
    user = X["user_id"].iloc[0]
    recs = recommend(fitted, [user], k=100, exclude_seen=False)
    builder = fitted.named_steps["featurebuilder"]
    rows = builder.item_catalogue_.loc[recs["item_id"]].reset_index()
    rows["user_id"] = user
    rows["user_interest"] = builder.user_profiles_.loc[user, "user_interest"]
    rows["user_behavior"] = 0
    rows["timestamp"] = 0
    expected = fitted.predict_proba(rows[list(builder.feature_names_in_)])[:, 1]
    np.testing.assert_allclose(recs["score"], expected, rtol=1e-5)


def test_fast_path_is_used_instead_of_predict_proba(fitted, data, monkeypatch):
    X, _ = data

    def fail(self, X, **kwargs):
        raise AssertionError("predict_proba called: the fast path was not used")

    monkeypatch.setattr(TwoTowerClassifier, "predict_proba", fail)
    recs = recommend(fitted, list(X["user_id"].unique()[:20]), k=5, batch_size=100)
    assert len(recs) == 100


def test_fast_path_needs_feature_builder_right_before_the_model(data, monkeypatch):
    X, y = data
    pipe = make_pipeline(
        FeatureBuilder(),
        FunctionTransformer(None),  # returns FeatureBuilder's frame unchanged
        TwoTowerClassifier(epochs=1, random_state=0),
    ).fit(X, y)

    def fail(self, item_rows):
        raise AssertionError("the hook must not be used here")

    monkeypatch.setattr(TwoTowerClassifier, "_pairwise_scorer", fail)
    recs = recommend(pipe, list(X["user_id"].unique()[:3]), k=2)
    assert len(recs) == 6


def test_hook_returning_a_wrong_shape_is_named(fitted, data, monkeypatch):
    X, _ = data
    monkeypatch.setattr(
        TwoTowerClassifier,
        "_pairwise_scorer",
        lambda self, item_rows: lambda user_rows: np.zeros((1, 1)),
    )
    with pytest.raises(ValueError, match=r"_pairwise_scorer returned scores of shape \(1, 1\)"):
        recommend(fitted, list(X["user_id"].unique()[:3]), k=2)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "params, match",
    [
        ({"embedding_dim": 0}, "embedding_dim=0 must be an integer >= 1"),
        ({"tower_dim": 2.5}, "tower_dim=2.5 must be an integer >= 1"),
        ({"feature_embedding_dim": True}, "feature_embedding_dim=True must be"),
        ({"hidden_units": 64}, "hidden_units=64 must be a sequence"),
        ({"hidden_units": (64, 0)}, r"hidden_units=\(64, 0\) must be a sequence"),
        ({"learn_temperature": "yes"}, "learn_temperature='yes' must be True or False"),
        ({"dropout": 1.0}, r"dropout=1.0 must be in \[0, 1\)"),
        ({"l2": -1}, "l2=-1 must be a number >= 0"),
        ({"negative_ratio": -1}, "negative_ratio=-1 is invalid"),
    ],
)
def test_bad_parameters_are_explained(params, match):
    X = np.c_[np.arange(10) % 4, np.arange(10) % 5].astype(float)
    with pytest.raises(ValueError, match=match):
        TwoTowerClassifier(epochs=1, **params).fit(X, np.arange(10) % 2)
