"""Sequence models train on groups: one history encoding per positive and its negatives."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from skrec import make_interactions
from skrec.models import CNNClassifier, GRUClassifier
from skrec.models import _training
from skrec.models._sequence import grouped_network
from skrec.preprocessing import FeatureBuilder


@pytest.fixture(scope="module")
def log():
    # Side features of every kind: user, item and context categoricals, numerics.
    return make_interactions(n_users=80, n_items=60, n_interactions=2500, random_state=0,
                             return_X_y=True)


@pytest.mark.parametrize("cls", [CNNClassifier, GRUClassifier])
def test_a_group_scores_as_its_rows_do(log, cls, monkeypatch):
    X, y = log
    groups = []
    epoch_groups = _training.EpochSampler.epoch_groups

    def spy(self, sample_weight):
        arrays = epoch_groups(self, sample_weight)
        groups.append(arrays)
        return arrays

    monkeypatch.setattr(_training.EpochSampler, "epoch_groups", spy)
    pipe = make_pipeline(FeatureBuilder(history_length=5),
                         cls(epochs=1, negative_ratio=3, random_state=0))
    pipe.fit(X, y)
    model = pipe[-1]
    [(grouped_X, labels, weights)] = groups  # one draw for the one epoch
    assert labels.shape == weights.shape == (len(y), 4)
    network = grouped_network(model.model_, model.input_schema_, 4)
    rows = slice(0, 50)
    grouped = network({key: value[rows] for key, value in grouped_X.items()}, training=False)
    grouped = np.asarray(grouped).reshape(-1, 4)
    # The same groups, unrolled into rows, through the prediction network.
    item_side = {f"index_{p}" for p, e in enumerate(model.input_schema_)
                 if e["kind"] in ("id", "categorical") and e["side"] == "item"}
    flat = {}
    for key, value in grouped_X.items():
        value = value[rows]
        if key in item_side or key == "numeric":  # one per grouped row
            flat[key] = value.reshape(-1, *value.shape[2:])
        else:  # the group's: repeated for each of its rows
            flat[key] = np.repeat(value, 4, axis=0)
    per_row = np.asarray(model.model_(flat, training=False)).reshape(-1, 4)
    np.testing.assert_allclose(grouped, per_row, rtol=1e-5, atol=1e-6)
    # Each positive's group: its own item first, labelled 1, then negatives.
    positive = labels[:, 0] == 1
    assert (labels[:, 1:] == 0).all() and (weights[positive, 1:] == 1).all()
    assert (weights[~positive, 1:] == 0).all()  # explicit negatives get no sampled ones


def test_grouped_training_learns_and_is_reproducible(log):
    X, y = log

    def fit():
        pipe = make_pipeline(FeatureBuilder(history_length=4),
                             GRUClassifier(epochs=3, negative_ratio=4, random_state=0))
        return pipe.fit(X, y)

    first, second = fit(), fit()
    losses = first[-1].history_["loss"]
    assert losses[-1] < losses[0]
    np.testing.assert_array_equal(first.predict_proba(X.head(100)),
                                  second.predict_proba(X.head(100)))
