"""What CNNClassifier and GRUClassifier share: recommend's one-product fast path."""

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline

from skrec import FeatureBuilder, make_interactions
from skrec._recommend import recommend
from skrec.models._cnn import CNNClassifier
from skrec.models._gru import GRUClassifier
from skrec.models._sequence import SequencePairwiseMixin


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
