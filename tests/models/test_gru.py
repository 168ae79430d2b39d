"""GRUClassifier (GRU4Rec): architecture, history use, empty histories, errors."""

import io
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline

from skrec._tf import keras
from skrec.models._baselines import PopularityClassifier
from skrec.models._gru import GRUClassifier
from skrec.preprocessing import FeatureBuilder
from skrec.preprocessing._features import SCHEMA_ATTR

N_USERS, N_ITEMS, STEPS, LENGTH = 120, 30, 11, 3


@pytest.fixture(scope="module")
def ring():
    """Users walk a ring of items (item i+1 follows item i); the last step is held out.

    Returns the training log, the FeatureBuilder fitted on it, its output,
    every (user, item) candidate at the held-out time, each user's true next
    item and which candidates the user already chose in training.
    """
    rng = np.random.default_rng(0)
    start = rng.integers(0, N_ITEMS, N_USERS)
    users = np.repeat(np.arange(N_USERS), STEPS)
    items = (start[:, None] + np.arange(STEPS)[None, :]).ravel() % N_ITEMS
    log = pd.DataFrame(
        {
            "user_id": users,
            "item_id": items,
            "timestamp": np.tile(np.arange(STEPS, dtype=float), N_USERS),
        }
    )
    train = log[log["timestamp"] < STEPS - 1]
    truth = log.loc[log["timestamp"] == STEPS - 1, "item_id"].to_numpy()
    y = np.ones(len(train), dtype=int)
    builder = FeatureBuilder(history_length=LENGTH).fit(train, y)
    candidates = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(N_USERS), N_ITEMS),
            "item_id": np.tile(np.arange(N_ITEMS), N_USERS),
            "timestamp": float(STEPS - 1),
        }
    )
    seen = np.zeros((N_USERS, N_ITEMS), dtype=bool)
    seen[train["user_id"], train["item_id"]] = True
    return train, y, builder, builder.transform(train), candidates, truth, seen


def _hit_rate(scores, truth, seen):
    """Share of users whose top unseen candidate is their true next item."""
    scores = np.where(seen, -np.inf, scores.reshape(N_USERS, N_ITEMS))
    return float((scores.argmax(axis=1) == truth).mean())


def _history_columns(frame):
    return [c for c in frame.columns if str(c).startswith("history_")]


@pytest.fixture(scope="module")
def ring_model(ring):
    _, y, _, Xt, _, _, _ = ring
    return GRUClassifier(
        negative_ratio=4, epochs=8, batch_size=128, learning_rate=0.02, random_state=0
    ).fit(Xt, y)


def test_architecture_follows_gru4rec(ring_model):
    model = ring_model.model_
    gru = model.get_layer("gru")
    assert gru.units == 32 and gru.output.shape == (None, 32)
    assert model.get_layer("state_and_user").output.shape == (None, 32 + 16)
    assert model.get_layer("sequence_vector").output.shape == (None, 16)
    # One item table: the history is embedded with the scored items' vectors.
    names = {layer.name for layer in model.layers}
    assert "item_embedding" in names and "history_embedding" not in names


def test_padding_is_masked_not_read(ring, ring_model):
    _, _, _, Xt, _, _, _ = ring
    padded = Xt[Xt["history_1"] == 0].head(200)  # includes empty histories
    assert (padded["item_id"] > 0).all()
    expected = ring_model.predict_proba(padded)
    # Whatever index 0 of the history table holds, padded rows score the same.
    copy = pickle.loads(pickle.dumps(ring_model))
    table = copy.model_.get_layer("item_embedding").embeddings
    table.assign(keras.ops.concatenate([keras.ops.ones((1, table.shape[1])) * 50.0, table[1:]]))
    np.testing.assert_allclose(copy.predict_proba(padded), expected, rtol=1e-6, atol=1e-7)


def test_learns_the_next_item_from_the_history(ring, ring_model):
    train, y, builder, _, candidates, truth, seen = ring
    Xc = builder.transform(candidates)
    hit = _hit_rate(ring_model.predict_proba(Xc)[:, 1], truth, seen)
    # The same rows, each user given another user's history.
    swapped = Xc.copy()
    columns = _history_columns(Xc)
    other = (np.arange(N_USERS) + N_USERS // 2) % N_USERS
    swapped[columns] = Xc[columns].to_numpy().reshape(N_USERS, N_ITEMS, -1)[other].reshape(
        len(Xc), -1
    )
    hit_swapped = _hit_rate(ring_model.predict_proba(swapped)[:, 1], truth, seen)
    popularity = make_pipeline(FeatureBuilder(), PopularityClassifier()).fit(train, y)
    hit_popularity = _hit_rate(popularity.predict_proba(candidates)[:, 1], truth, seen)
    # Measured (seed 0): 0.97 with the history, 0.24 with another user's
    # history, popularity 0.175 (chance among the ~20 unseen items: 0.05).
    assert hit > 0.75, hit
    assert hit > hit_swapped + 0.4, (hit, hit_swapped)
    assert hit > hit_popularity + 0.4, (hit, hit_popularity)


def test_changing_a_rows_history_changes_its_score(ring, ring_model):
    _, _, builder, _, candidates, truth, _ = ring
    Xc = builder.transform(candidates)
    # Each of the first 20 users scored on their true next item.
    rows = Xc.iloc[np.arange(20) * N_ITEMS + truth[:20]].copy()
    before = ring_model.predict_proba(rows)[:, 1]
    columns = _history_columns(rows)
    rows[columns] = Xc[columns].to_numpy()[(np.arange(20) + 15) * N_ITEMS]
    after = ring_model.predict_proba(rows)[:, 1]
    assert np.all(np.abs(before - after) > 1e-3), (before, after)
    assert before.mean() > after.mean() + 0.2, (before.mean(), after.mean())


def test_empty_histories_give_finite_scores(ring, ring_model):
    _, y, _, Xt, _, _, _ = ring
    empty = Xt.copy()
    empty[_history_columns(Xt)] = 0
    proba = ring_model.predict_proba(empty)
    assert np.isfinite(proba).all()
    # The first row of each user has no history in the log itself.
    assert (Xt[_history_columns(Xt)].to_numpy().sum(axis=1) == 0).sum() == N_USERS
    # Training on histories that are all padding stays finite too.
    clf = GRUClassifier(epochs=1, negative_ratio=1, batch_size=128, random_state=0)
    clf.fit(empty.head(400), y[:400])
    assert np.isfinite(clf.history_["loss"]).all()
    assert np.isfinite(clf.predict_proba(empty.head(50))).all()


def test_joblib_round_trip_keeps_predictions(ring, ring_model):
    _, _, _, Xt, _, _, _ = ring
    buffer = io.BytesIO()
    joblib.dump(ring_model, buffer)
    buffer.seek(0)
    again = joblib.load(buffer)
    np.testing.assert_array_equal(again.predict_proba(Xt), ring_model.predict_proba(Xt))


def test_input_without_history_is_refused_with_the_fix(log_xy):
    X, y = log_xy
    Xt = FeatureBuilder().fit_transform(X.head(100))
    fix = r"no history columns.*FeatureBuilder\(history_length=N\)"
    with pytest.raises(ValueError, match=fix):
        GRUClassifier(epochs=1).fit(Xt, y[:100])
    with pytest.raises(ValueError, match=r"FeatureBuilder\(history_length=N\)"):
        GRUClassifier(epochs=1).fit(np.c_[np.arange(10) % 3, np.arange(10) % 4], np.arange(10) % 2)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"embedding_dim": 0}, "embedding_dim=0 must be an integer >= 1"),
        ({"units": 2.5}, "units=2.5 must be an integer >= 1"),
        ({"feature_embedding_dim": True}, "feature_embedding_dim=True must be an integer >= 1"),
        ({"dropout": 1.0}, r"dropout=1.0 must be a number in \[0, 1\)"),
        ({"history_dropout": 1}, r"history_dropout=1 must be a number in \[0, 1\)"),
        (
            {"history_dropout": 0.5, "use_user": False},
            r"history_dropout=0.5 .* use_user=False has no user embedding; set use_user=True",
        ),
        ({"l2": -0.1}, "l2=-0.1 must be a number >= 0"),
        ({"use_user": "yes"}, "use_user='yes' must be True or False"),
        ({"share_item_embedding": None}, "share_item_embedding=None must be True or False"),
        ({"negative_ratio": -1}, "negative_ratio=-1 is invalid"),
    ],
)
def test_bad_parameters_are_explained(ring, params, match):
    _, y, _, Xt, _, _, _ = ring
    with pytest.raises(ValueError, match=match):
        GRUClassifier(epochs=1, **params).fit(Xt.head(20), y[:20])


def test_options_change_the_network(ring):
    _, _, _, Xt, _, _, _ = ring
    clf = GRUClassifier(units=8, use_user=False, share_item_embedding=False, dropout=0.2)
    model = _network(clf, Xt)
    names = {layer.name for layer in model.layers}
    assert {"history_embedding", "history_dropout", "state_dropout"} <= names
    assert "user_embedding" not in names and "state_and_user" not in names
    assert model.get_layer("sequence_vector").input.shape == (None, 8)
    model = _network(GRUClassifier(history_dropout=0.9), Xt)
    hide = model.get_layer("history_row_dropout")
    assert hide.rate == 0.9
    assert hide.output is model.get_layer("state_and_user").input[0]


def _network(clf, Xt):
    """The compiled, untrained network ``clf`` builds for ``Xt`` (no fit)."""
    clf._check_params()
    clf.input_schema_ = Xt.attrs[SCHEMA_ATTR]
    return clf._make_model({"optimizer": "adam", "loss": "binary_crossentropy"})
