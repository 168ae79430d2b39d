"""What CNNClassifier and GRUClassifier share: recommend's fast path, history dropout."""

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline

from skrec import FeatureBuilder, make_interactions
from skrec._recommend import recommend
from skrec.models._cnn import CNNClassifier
from skrec.models._gru import GRUClassifier
from skrec._tf import keras
from skrec.models._sequence import HistoryDropout, SequencePairwiseMixin


@pytest.fixture(scope="module")
def data():
    return make_interactions(
        n_users=60, n_items=50, n_interactions=2000, random_state=1, return_X_y=True
    )


def _fit(data, model, **builder):
    X, y = data
    builder.setdefault("user_features", [])
    builder.setdefault("item_features", [])
    builder.setdefault("context_features", [])
    return make_pipeline(FeatureBuilder(history_length=4, **builder), model).fit(X, y)


@pytest.mark.parametrize(
    "model",
    [
        CNNClassifier(negative_ratio=2, epochs=1, random_state=0),
        GRUClassifier(negative_ratio=2, epochs=1, random_state=0),
        GRUClassifier(use_user=False, negative_ratio=2, epochs=1, random_state=0),
    ],
    ids=["cnn", "gru", "gru-no-user"],
)
def test_fast_path_ranks_like_predict_proba(data, model, monkeypatch):
    pipe = _fit(data, model)
    X, _ = data
    users = list(X["user_id"].unique()[:12]) + ["never-seen"]
    calls = []
    hook = SequencePairwiseMixin._pairwise_scorer

    def spy(self, item_rows):
        score = hook(self, item_rows)
        calls.append(score is not None)
        return score

    monkeypatch.setattr(SequencePairwiseMixin, "_pairwise_scorer", spy)
    fast = recommend(pipe, users, k=8)
    assert calls == [True]
    monkeypatch.setattr(SequencePairwiseMixin, "_pairwise_scorer", lambda self, rows: None)
    rows = recommend(pipe, users, k=8)
    pd.testing.assert_frame_equal(
        fast[["user_id", "rank", "fallback"]], rows[["user_id", "rank", "fallback"]]
    )
    np.testing.assert_allclose(fast["score"], rows["score"], rtol=1e-5, atol=1e-6)
    merged = fast.merge(rows, on=["user_id", "item_id"])
    assert len(merged) >= 0.95 * len(fast)  # only near-ties may swap in or out


def test_side_features_decline_the_fast_path(data):
    pipe = _fit(
        data,
        GRUClassifier(negative_ratio=2, epochs=1, random_state=0),
        item_features=["item_category"],
    )
    X, _ = data
    assert pipe[-1]._pairwise_scorer(pipe[:-1].transform(X.head(5))) is None
    assert len(recommend(pipe, X["user_id"].unique()[:3], k=5)) == 15


def test_history_dropout_hides_whole_rows_unscaled_and_only_in_training():
    x = np.arange(1, 4001, dtype="float32").reshape(1000, 4) / 4000
    layer = HistoryDropout(0.7, seed=3)
    out = keras.ops.convert_to_numpy(layer(x, training=True))
    hidden = (out == 0).all(axis=1)
    assert 0.65 < hidden.mean() < 0.75
    np.testing.assert_array_equal(out[~hidden], x[~hidden])  # kept rows: not rescaled
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    clone = HistoryDropout.from_config(layer.get_config())
    assert (clone.rate, clone.seed) == (0.7, 3)


@pytest.mark.parametrize("cls", [CNNClassifier, GRUClassifier], ids=["cnn", "gru"])
def test_history_dropout_is_seeded_and_off_at_prediction(data, cls):
    X, _ = data
    make = lambda: cls(history_dropout=0.5, negative_ratio=2, epochs=2, random_state=0)  # noqa: E731
    first, second = _fit(data, make()), _fit(data, make())
    proba = first.predict_proba(X.head(200))
    np.testing.assert_array_equal(proba, second.predict_proba(X.head(200)))
    np.testing.assert_array_equal(proba, first.predict_proba(X.head(200)))
    other = _fit(data, cls(negative_ratio=2, epochs=2, random_state=0))
    assert not np.allclose(proba, other.predict_proba(X.head(200)))
