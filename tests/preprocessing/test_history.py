"""FeatureBuilder(history_length=N): the user's last N items, without leakage.

Covers the worked example, the leakage guarantee against a brute-force
reference, errors, speed, and the model side: the ``history`` Keras input,
``_Features.history``, NCF and the baselines with history columns present.
"""

import pickle
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from skrec._tf import keras
from skrec.models import NCFClassifier
from skrec.models._base import DeepRecommenderClassifier
from skrec.models._training import EpochSampler as _EpochSampler
from skrec.models._baselines import EASEClassifier, PopularityClassifier
from skrec.models._inputs import HISTORY_INPUT, InputSplitter
from skrec.preprocessing import FeatureBuilder
from skrec.preprocessing._features import SCHEMA_ATTR

HISTORY = ["history_1", "history_2", "history_3"]


def _day(days):
    return pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D")


@pytest.fixture
def tiny():
    """A hand-made log: ties, a negative, a repeat, rows out of time order."""
    log = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "a", "a", "a", "b", "b", "a"],
            "item_id": ["i1", "i2", "i3", "i4", "i5", "i6", "i1", "i2", "i1"],
            "timestamp": _day([1, 2, 2, 3, 4, 5, 3, 1, 6]),
        }
    )
    y = np.array([1, 1, 1, 0, 1, 1, 1, 1, 1])
    return log, y


def _history(out):
    return out[HISTORY].to_numpy().tolist()


# Item indices: i1..i6 -> 1..6 (first seen). Oldest first, 0 = padding.
EXPECTED = [
    [0, 0, 0],  # a @1: nothing before
    [0, 0, 1],  # a @2: i1; i3 (same time) excluded
    [0, 0, 1],  # a @2: i1; i2 (same time, earlier row) excluded
    [1, 2, 3],  # a @3
    [1, 2, 3],  # a @4: i4 was a negative (y == 0)
    [2, 3, 5],  # a @5: i1 i2 i3 i5 truncated to the last 3
    [0, 0, 2],  # b @3: i2 @1 (b's rows are out of time order)
    [0, 0, 0],  # b @1: its own positive is not its history
    [3, 5, 6],  # a @6: its earlier i1 is too old for N = 3
]


def test_worked_example(tiny):
    log, y = tiny
    fb = FeatureBuilder(history_length=3).fit(log, y)
    out = fb.transform(log)
    assert list(out.columns) == ["user_id", "item_id", *HISTORY]
    assert _history(out) == EXPECTED
    assert all(out[c].dtype == np.int64 for c in HISTORY)
    # fit_transform (and a Pipeline) passes y to fit.
    pd.testing.assert_frame_equal(fb.fit_transform(log, y), out)
    pd.testing.assert_frame_equal(
        make_pipeline(FeatureBuilder(history_length=3)).fit_transform(log, y), out
    )


def test_stored_history_is_csr_by_user_and_time(tiny):
    log, y = tiny
    fb = FeatureBuilder(history_length=3).fit(log, y)
    # user index 0 (unknown) has nothing, a (1) has 6 positives, b (2) has 2.
    assert fb.history_indptr_.tolist() == [0, 0, 6, 8]
    assert fb.history_items_.tolist() == [1, 2, 3, 5, 6, 1, 2, 1]
    assert fb.history_times_.dtype == np.dtype("datetime64[ns]")
    assert list(fb.history_times_[6:]) == list(_day([1, 3]).to_numpy())


def test_without_y_every_row_is_history(tiny):
    log, _ = tiny
    out = FeatureBuilder(history_length=3).fit_transform(log)
    assert _history(out)[4] == [2, 3, 4]  # i4 (row 3) now counts


def test_numeric_clock_gives_the_same_history(tiny):
    log, y = tiny
    numeric = log.assign(timestamp=[1, 2, 2, 3, 4, 5, 3, 1, 6])
    out = FeatureBuilder(history_length=3).fit(numeric, y).transform(numeric)
    assert _history(out) == EXPECTED
    as_text = log.assign(timestamp=log["timestamp"].astype(str))
    out = FeatureBuilder(history_length=3).fit(as_text, y).transform(as_text)
    assert _history(out) == EXPECTED


def test_new_rows_unknown_users_and_missing_times(tiny):
    log, y = tiny
    fb = FeatureBuilder(history_length=3).fit(log, y)
    new = pd.DataFrame(
        {
            "user_id": ["zed", "a", "a", "a", "b"],
            "item_id": ["i1", "i9", "i1", "i1", "i1"],
            "timestamp": [_day(10), None, _day(100), _day(0), pd.NaT],
        }
    )
    assert _history(fb.transform(new)) == [
        [0, 0, 0],  # unknown user: padding only
        [5, 6, 1],  # no time: the latest 3 stored items
        [5, 6, 1],  # after the training period
        [0, 0, 0],  # before it
        [0, 2, 1],
    ]
    # Serving rows may leave out the time column: latest history.
    served = fb.transform(new.drop(columns="timestamp"))
    assert _history(served) == [[0, 0, 0], [5, 6, 1], [5, 6, 1], [5, 6, 1], [0, 2, 1]]
    # All-missing object column (as built for candidates): latest history too.
    blank = new.assign(timestamp=pd.Series([None] * 5, dtype=object))
    assert _history(fb.transform(blank)) == _history(served)


def test_history_longer_than_any_user(tiny):
    log, y = tiny
    out = FeatureBuilder(history_length=8).fit(log, y).transform(log)
    assert out["history_8"].tolist() == [0, 1, 1, 3, 3, 5, 2, 0, 6]
    assert out.iloc[8, 2:].tolist() == [0, 0, 0, 1, 2, 3, 5, 6]


def test_no_leakage_against_brute_force():
    rng = np.random.default_rng(0)
    n = 3000
    log = pd.DataFrame(
        {
            "user_id": rng.integers(0, 40, n),
            "item_id": rng.integers(0, 60, n),
            # Coarse clock: many events of a user share a time.
            "timestamp": _day(rng.integers(0, 30, n)),
        }
    )
    y = (rng.random(n) < 0.6).astype(int)
    N = 5
    fb = FeatureBuilder(history_length=N).fit(log, y)
    history = fb.transform(log)[[f"history_{k}" for k in range(1, N + 1)]].to_numpy()
    items = fb.item_vocabulary_.get_indexer(log["item_id"]) + 1
    times = log["timestamp"].to_numpy()
    users = log["user_id"].to_numpy()
    for row in range(n):
        earlier = np.flatnonzero((users == users[row]) & (y == 1) & (times < times[row]))
        order = earlier[np.lexsort((earlier, times[earlier]))]
        expected = items[order][-N:].tolist()
        assert history[row].tolist() == [0] * (N - len(expected)) + expected, row
        # Every history item has a stored positive strictly earlier.
        for item in history[row][history[row] > 0]:
            stored = (users == users[row]) & (items == item) & (y == 1)
            assert (times[stored] < times[row]).any()


def test_schema_names_and_pickle(tiny):
    log, y = tiny
    fb = FeatureBuilder(history_length=3).fit(log, y)
    assert fb.schema_[-3:] == [
        {"name": name, "kind": "sequence", "side": "context", "vocabulary_size": 7}
        for name in HISTORY
    ]
    assert list(fb.get_feature_names_out()) == ["user_id", "item_id", *HISTORY]
    out = fb.transform(log)
    assert out.attrs[SCHEMA_ATTR] == fb.schema_
    again = pickle.loads(pickle.dumps(fb)).transform(log)
    pd.testing.assert_frame_equal(out, again)
    # Off again after a refit with history_length=0.
    fb.set_params(history_length=0).fit(log, y)
    assert not hasattr(fb, "history_indptr_")
    assert list(fb.transform(log).columns) == ["user_id", "item_id"]


def test_errors_name_the_column_and_the_fix(tiny):
    log, y = tiny
    with pytest.raises(ValueError, match=r"'timestamp' \(timestamp_col\) is not in X.*timestamp_col="):
        FeatureBuilder(history_length=3).fit(log.drop(columns="timestamp"), y)
    with pytest.raises(ValueError, match=r"'when' \(timestamp_col\) is not in X"):
        FeatureBuilder(history_length=3, timestamp_col="when").fit(log, y)
    with pytest.raises(InvalidParameterError, match="history_length"):
        FeatureBuilder(history_length=-1).fit(log, y)
    gap = log.assign(timestamp=log["timestamp"].where(log.index != 4))
    with pytest.raises(ValueError, match=r"'timestamp' has 1 missing value.*first at row 4"):
        FeatureBuilder(history_length=3).fit(gap, y)
    with pytest.raises(ValueError, match=r"y has shape \(2,\) but X has 9 rows"):
        FeatureBuilder(history_length=3).fit(log, y[:2])
    with pytest.raises(ValueError, match=r"'timestamp'.*'soon'"):
        FeatureBuilder(history_length=3).fit(log.assign(timestamp=["soon"] * 9), y)
    with pytest.raises(ValueError, match=r"\['history_1'\] are produced twice"):
        FeatureBuilder(
            history_length=3, boolean_features={"history_1": ("item_id", "==", "i1")}
        ).fit(log, y)
    fb = FeatureBuilder(history_length=3).fit(log, y)
    with pytest.raises(ValueError, match=r"'timestamp' holds numeric values but held datetime"):
        fb.transform(log.assign(timestamp=0))
    # Off by default: no time column needed, nothing added.
    plain = FeatureBuilder().fit(log.drop(columns="timestamp"))
    assert list(plain.get_feature_names_out()) == ["user_id", "item_id"]


def test_transform_of_100k_rows_is_fast():
    rng = np.random.default_rng(0)
    n = 100_000
    log = pd.DataFrame(
        {
            "user_id": rng.integers(0, 5000, n),
            "item_id": rng.integers(0, 2000, n),
            "timestamp": _day(rng.random(n) * 90),
        }
    )
    fb = FeatureBuilder(history_length=50).fit(log, rng.random(n) < 0.5)
    start = time.perf_counter()
    out = fb.transform(log)
    elapsed = time.perf_counter() - start
    assert out.shape == (n, 52)
    # About 0.1 s on one core; the bound is loose for a shared 2-core machine.
    assert elapsed < 2.0, elapsed


# ------------------------------------------------------------- model side
def test_input_splitter_stacks_history_into_one_input(tiny):
    log, y = tiny
    Xt = FeatureBuilder(history_length=3).fit(log, y).transform(log)
    splitter = InputSplitter(schema=Xt.attrs[SCHEMA_ATTR]).fit(Xt.to_numpy())
    inputs = splitter.transform(Xt.to_numpy(dtype=float))
    assert sorted(inputs) == [HISTORY_INPUT, "index_0", "index_1"]
    assert inputs[HISTORY_INPUT].dtype == np.int32
    assert inputs[HISTORY_INPUT].tolist() == EXPECTED
    bad = [dict(e, kind="ragged") if e["name"] == "history_1" else e for e in Xt.attrs[SCHEMA_ATTR]]
    with pytest.raises(ValueError, match=r"kind\(s\) \['ragged'\]"):
        InputSplitter(schema=bad).fit(Xt.to_numpy())


class _MeanHistory(DeepRecommenderClassifier):
    """Throwaway model: item embedding . masked mean of the history embeddings."""

    def _build_network(self, features):
        assert features.history is not None
        n_items, item = features.item
        n_history_items, history = features.history
        assert n_history_items == n_items
        table = keras.layers.Embedding(n_items, 8, name="items")
        mask = keras.ops.expand_dims(keras.ops.cast(history > 0, "float32"), -1)
        total = keras.ops.sum(table(history) * mask, axis=1)
        # Not GlobalAveragePooling1D with a mask: an all-padding row gives 0 / 0.
        pooled = total / keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)
        score = keras.ops.sum(pooled * table(item), axis=-1, keepdims=True)
        return keras.layers.Dense(1, activation="sigmoid", name="probability")(score)


@pytest.fixture(scope="module")
def sequential_log():
    """Users walk a ring of items: the next item follows from the last one."""
    rng = np.random.default_rng(0)
    n_users, n_items, steps = 120, 30, 12
    start = rng.integers(0, n_items, n_users)
    users = np.repeat(np.arange(n_users), steps)
    items = (start[:, None] + np.arange(steps)[None, :]).ravel() % n_items
    log = pd.DataFrame(
        {
            "user_id": users,
            "item_id": items,
            "timestamp": np.tile(np.arange(steps, dtype=float), n_users),
        }
    )
    return log, np.ones(len(log), dtype=int)


def test_a_model_reading_history_trains(sequential_log):
    log, y = sequential_log
    Xt = FeatureBuilder(history_length=4).fit(log, y).transform(log)
    clf = _MeanHistory(
        negative_ratio=2, epochs=15, batch_size=64, learning_rate=0.02, random_state=0
    ).fit(Xt, y)
    assert clf.model_.get_layer(HISTORY_INPUT).output.shape == (None, 4)
    losses = clf.history_["loss"]
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.8 * losses[0]
    proba = clf.predict_proba(Xt)[:, 1]
    assert np.isfinite(proba).all()


def test_negatives_copy_the_history_of_their_positive(sequential_log):
    log, y = sequential_log
    Xt = FeatureBuilder(history_length=4).fit(log, y).transform(log)
    clf = NCFClassifier(
        epochs=1, negative_ratio=3, unknown_id_rate=0.0, random_state=0
    ).fit(Xt, y)
    inputs = clf.feature_encoder_.transform(Xt.to_numpy(dtype=float))
    sampler = _EpochSampler(clf, inputs, y.astype(float), shuffle=False)
    X_epoch, y_epoch, _ = sampler.epoch(None)
    n = len(y)
    negatives = X_epoch[HISTORY_INPUT][n:]
    rows = np.repeat(np.arange(n), 3)
    assert y_epoch[n:].sum() == 0 and len(negatives) == len(rows)
    np.testing.assert_array_equal(negatives, inputs[HISTORY_INPUT][rows])
    np.testing.assert_array_equal(X_epoch["index_0"][n:], inputs["index_0"][rows])


def test_ncf_and_baselines_accept_history_columns(log_xy):
    X, y = log_xy
    X, y = X.head(3000), y[:3000]
    pipe = make_pipeline(
        FeatureBuilder(history_length=5), NCFClassifier(epochs=1, random_state=0)
    )
    proba = pipe.fit(X, y).predict_proba(X.head(50))
    assert proba.shape == (50, 2) and np.isfinite(proba).all()
    ncf, schema = pipe[-1], pipe[0].schema_
    assert ncf.model_.get_layer(HISTORY_INPUT).output.shape == (None, 5)
    # NCF ignores the history: its MLP input is the ids, categoricals, numbers.
    n_categorical = sum(e["kind"] == "categorical" for e in schema)
    n_numeric = sum(e["kind"] == "numeric" for e in schema)
    width = 2 * ncf.embedding_dim + n_categorical * ncf.feature_embedding_dim + n_numeric
    assert ncf.model_.get_layer("mlp_input").output.shape == (None, width)
    for baseline in (PopularityClassifier(), EASEClassifier(l2=50.0)):
        with_history = make_pipeline(FeatureBuilder(history_length=5), baseline).fit(X, y)
        without = make_pipeline(FeatureBuilder(), clone(baseline)).fit(X, y)
        np.testing.assert_allclose(
            with_history.predict_proba(X.head(200)), without.predict_proba(X.head(200))
        )
