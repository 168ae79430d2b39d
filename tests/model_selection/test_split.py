"""Tests of the per-user and temporal cross-validators."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline

from skrec.datasets import make_interactions
from skrec.model_selection import LeaveLatestOut, TemporalSplit, UserHoldout


@pytest.fixture(scope="module")
def log():
    return make_interactions(
        n_users=200, n_items=100, n_interactions=5000, random_state=0
    )


@pytest.fixture
def tiny():
    # user "a": 4 rows with a timestamp tie at 5 (rows 3 and 5); "b": 1 row; "c": 2 rows
    return pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "a", "c", "a", "c"],
            "item_id": [1, 2, 3, 4, 5, 6, 7],
            "timestamp": [1, 2, 9, 5, 3, 5, 1],
        }
    )


def _check_partition(train, test, n_rows):
    assert np.intersect1d(train, test).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(n_rows))
    assert train.dtype.kind == "i" and test.dtype.kind == "i"


# --- LeaveLatestOut ----------------------------------------------------------


def test_leave_latest_out_tiny_exact(tiny):
    cv = LeaveLatestOut(n=1)
    [(train, test)] = list(cv.split(tiny))
    # tie at t=5 for "a": row 5 is further down, so it counts as the latest
    assert test.tolist() == [4, 5]
    assert train.tolist() == [0, 1, 2, 3, 6]
    assert cv.split_summary_ == {
        "n_rows": 7,
        "n_train_rows": 5,
        "n_test_rows": 2,
        "n_users": 3,
        "n_users_in_test": 2,
        "n_users_train_only": 1,
        "n_rows_train_only": 1,
    }
    assert cv.get_n_splits() == 1


def test_leave_latest_out_tie_break_column(tiny):
    # "a" ties at t=5 between row 3 (item 4) and row 5 (item 6)
    flipped = tiny.assign(item_id=[1, 2, 3, 9, 5, 6, 7])
    [(_, test)] = LeaveLatestOut(tie_break="item_id").split(flipped)
    assert test.tolist() == [3, 4]  # item 9 > item 6: row 3 is the latest
    [(_, test)] = LeaveLatestOut(tie_break="item_id").split(tiny)
    assert test.tolist() == [4, 5]  # item 6 > item 4
    # the tie-break column only orders rows with equal timestamps
    [(_, test)] = LeaveLatestOut(tie_break="item_id").split(
        tiny.assign(item_id=[99, 2, 3, 4, 5, 6, 7])
    )
    assert test.tolist() == [4, 5]


def test_leave_latest_out_tie_break_errors(tiny):
    with pytest.raises(ValueError, match="rating"):
        next(LeaveLatestOut(tie_break="rating").split(tiny))
    bad = tiny.astype({"item_id": float})
    bad.loc[0, "item_id"] = np.nan
    with pytest.raises(ValueError, match="'item_id' \\(tie_break\\) has 1 missing"):
        next(LeaveLatestOut(tie_break="item_id").split(bad))


def test_leave_latest_out_n2_needs_n_plus_one_rows(tiny):
    cv = LeaveLatestOut(n=2)
    [(train, test)] = list(cv.split(tiny))
    # "c" has 2 rows: holding out 2 would leave no train row, so it stays in train
    assert test.tolist() == [3, 5]
    assert cv.split_summary_["n_users_train_only"] == 2
    assert cv.split_summary_["n_rows_train_only"] == 3


def test_leave_latest_out_min_history(tiny):
    summary = LeaveLatestOut(min_history=3).describe(tiny)
    assert summary["n_users_in_test"] == 1
    assert summary["n_test_rows"] == 1
    assert summary["n_rows_train_only"] == 3


@pytest.mark.parametrize("n", [1, 3])
def test_leave_latest_out_invariants(log, n):
    cv = LeaveLatestOut(n=n)
    [(train, test)] = list(cv.split(log))
    _check_partition(train, test, len(log))
    counts = log.groupby("user_id").size()
    eligible = counts[counts >= max(2, n + 1)].index
    test_counts = log["user_id"].iloc[test].value_counts()
    assert set(test_counts.index) == set(eligible)
    assert (test_counts == n).all()
    # the held-out rows are each user's latest: none is earlier than a train row
    last_train = log.iloc[train].groupby("user_id")["timestamp"].max()
    first_test = log.iloc[test].groupby("user_id")["timestamp"].min()
    assert (first_test >= last_train.loc[first_test.index]).all()
    summary = cv.split_summary_
    n_users = log["user_id"].nunique()
    assert summary["n_users_in_test"] + summary["n_users_train_only"] == n_users
    assert summary["n_users_train_only"] == int((counts < max(2, n + 1)).sum())
    assert summary["n_test_rows"] == len(test) == n * len(eligible)


def test_leave_latest_out_uses_positions_not_index(tiny):
    shuffled = tiny.set_axis([10, 30, 20, 0, 5, 6, 7])
    [(_, test)] = list(LeaveLatestOut().split(shuffled))
    assert test.tolist() == [4, 5]


# --- UserHoldout -------------------------------------------------------------


def test_user_holdout_tiny_counts():
    frame = pd.DataFrame({"user_id": ["a"] * 8 + ["b"] * 4 + ["c"] + ["d"] * 2})
    cv = UserHoldout(test_size=0.25, random_state=0)
    [(train, test)] = list(cv.split(frame))
    _check_partition(train, test, len(frame))
    held = frame["user_id"].iloc[test].value_counts().to_dict()
    # 8 -> 2, 4 -> 1, 2 -> clipped to 1 (one of each side), 1 -> train-only
    assert held == {"a": 2, "b": 1, "d": 1}
    assert cv.split_summary_["n_users_train_only"] == 1
    assert cv.split_summary_["n_rows_train_only"] == 1
    assert cv.split_summary_["n_test_rows"] == 4


def test_user_holdout_tiny_exact_indices():
    frame = pd.DataFrame({"user_id": ["a", "b", "a", "b", "a", "a", "b", "b"]})
    # each user has 4 rows: exactly one of each goes to test; the seed picks which
    folds = list(UserHoldout(test_size=0.25, n_splits=2, random_state=1).split(frame))
    assert [(tr.tolist(), te.tolist()) for tr, te in folds] == [
        ([0, 1, 3, 4, 5, 7], [2, 6]),
        ([0, 1, 2, 3, 5, 7], [4, 6]),
    ]
    for seed in range(5):
        [(train, test)] = list(UserHoldout(random_state=seed).split(frame))
        assert sorted(frame["user_id"].iloc[test]) == ["a", "b"]


def test_user_holdout_invariants(log):
    cv = UserHoldout(test_size=0.25, random_state=0)
    [(train, test)] = list(cv.split(log))
    _check_partition(train, test, len(log))
    counts = log.groupby("user_id").size()
    eligible = counts[counts >= 2]
    test_counts = log["user_id"].iloc[test].value_counts().reindex(eligible.index)
    assert (test_counts >= 1).all() and (test_counts <= eligible - 1).all()
    fraction = test_counts / eligible
    big = eligible >= 8
    assert np.abs(fraction[big] - 0.25).max() <= 1 / 16 + 1e-9
    assert abs(len(test) / len(log) - 0.25) < 0.01
    assert cv.split_summary_["n_users_train_only"] == int((counts < 2).sum())


def test_user_holdout_determinism_and_repetitions(log):
    first = list(UserHoldout(n_splits=3, random_state=42).split(log))
    second = list(UserHoldout(n_splits=3, random_state=42).split(log))
    assert len(first) == 3
    for (tr1, te1), (tr2, te2) in zip(first, second):
        assert np.array_equal(tr1, tr2) and np.array_equal(te1, te2)
    # repetitions are independent draws with the same per-user sizes
    assert not np.array_equal(first[0][1], first[1][1])
    assert len(first[0][1]) == len(first[1][1])
    other = next(UserHoldout(random_state=43).split(log))[1]
    assert not np.array_equal(first[0][1], other)


# --- TemporalSplit -----------------------------------------------------------


def test_temporal_cutoff_tiny_exact(tiny):
    cv = TemporalSplit(cutoff=5)
    [(train, test)] = list(cv.split(tiny))
    assert train.tolist() == [0, 1, 4, 6]
    assert test.tolist() == [2, 3, 5]
    assert cv.split_summary_["folds"][0]["n_test_rows"] == 3


def test_temporal_rolling_tiny_exact(tiny):
    # distinct timestamps 1, 2, 3, 5, 9; two windows of one timestamp each
    folds = list(TemporalSplit(n_splits=2).split(tiny))
    assert [(tr.tolist(), te.tolist()) for tr, te in folds] == [
        ([0, 1, 4, 6], [3, 5]),
        ([0, 1, 3, 4, 5, 6], [2]),
    ]
    assert TemporalSplit(n_splits=2).get_n_splits() == 2
    assert TemporalSplit().get_n_splits() == 5
    assert TemporalSplit(cutoff=3).get_n_splits() == 1


def test_temporal_cutoff_invariants(log):
    cutoff = pd.Timestamp("2024-02-15")
    [(train, test)] = list(TemporalSplit(cutoff="2024-02-15").split(log))
    _check_partition(train, test, len(log))
    assert log["timestamp"].iloc[test].min() >= log["timestamp"].iloc[train].max()
    assert (log["timestamp"].iloc[train] < cutoff).all()
    assert (log["timestamp"].iloc[test] >= cutoff).all()


def test_temporal_rolling_invariants(log):
    folds = list(TemporalSplit(n_splits=3, test_size=0.2).split(log))
    assert len(folds) == 3
    sizes = [len(train) for train, _ in folds]
    assert sizes == sorted(sizes)
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0
        assert log["timestamp"].iloc[test].min() > log["timestamp"].iloc[train].max()
    tests = np.concatenate([test for _, test in folds])
    assert len(np.unique(tests)) == len(tests)


# --- validation --------------------------------------------------------------


def test_missing_column_is_named(tiny):
    with pytest.raises(ValueError, match=r"\['time'\].*timestamp_col"):
        next(LeaveLatestOut(timestamp_col="time").split(tiny))
    with pytest.raises(ValueError, match=r"\['user'\].*user_col"):
        next(UserHoldout(user_col="user").split(tiny))


def test_nan_timestamps_are_reported(tiny):
    bad = tiny.astype({"timestamp": float})
    bad.loc[2, "timestamp"] = np.nan
    msg = "'timestamp' \\(timestamp_col\\) has 1 missing value.*dropna"
    with pytest.raises(ValueError, match=msg):
        next(LeaveLatestOut().split(bad))
    with pytest.raises(ValueError, match="'timestamp' \\(timestamp_col\\) has 1 missing"):
        next(TemporalSplit(cutoff=3).split(bad))


def test_missing_user_ids_are_reported(tiny):
    bad = tiny.astype({"user_id": object})
    bad.loc[0, "user_id"] = None
    with pytest.raises(ValueError, match="'user_id' has 1 missing id"):
        next(UserHoldout().split(bad))


@pytest.mark.parametrize(
    "cv, match",
    [
        (LeaveLatestOut(n=0), "'n' parameter of LeaveLatestOut"),
        (UserHoldout(test_size=1.5), "'test_size' parameter of UserHoldout"),
        (UserHoldout(n_splits=0), "'n_splits' parameter of UserHoldout"),
        (TemporalSplit(n_splits=0), "'n_splits' parameter of TemporalSplit"),
        (TemporalSplit(cutoff=3, n_splits=4), "pass either cutoff or n_splits"),
        (TemporalSplit(cutoff=100), "leaves the test set empty"),
        (TemporalSplit(cutoff=0), "leaves the train set empty"),
        (TemporalSplit(n_splits=5), "too few for n_splits=5"),
    ],
)
def test_bad_parameters(tiny, cv, match):
    with pytest.raises(ValueError, match=match):
        next(cv.split(tiny))


def test_rejects_plain_array(tiny):
    with pytest.raises(TypeError, match="DataFrame"):
        next(LeaveLatestOut().split(tiny.to_numpy()))


# --- scikit-learn integration ------------------------------------------------


@pytest.mark.parametrize(
    "cv",
    [
        LeaveLatestOut(),
        UserHoldout(n_splits=2, random_state=0),
        TemporalSplit(n_splits=2),
        TemporalSplit(cutoff="2024-03-01"),
    ],
    ids=["leave_latest", "user_holdout", "temporal_rolling", "temporal_cutoff"],
)
def test_cross_validate_with_dataframe(log, cv):
    X, y = log.drop(columns="label"), log["label"]
    model = make_pipeline(
        ColumnTransformer([("num", "passthrough", ["item_price", "user_behavior"])]),
        LogisticRegression(),
    )
    result = cross_validate(model, X, y, cv=cv, scoring="accuracy")
    assert len(result["test_score"]) == cv.get_n_splits()
    assert np.all((result["test_score"] > 0.5) & (result["test_score"] <= 1))


def test_grid_search_with_splitter(log):
    X, y = log.drop(columns="label"), log["label"]
    cv = UserHoldout(n_splits=2, random_state=0)
    search = GridSearchCV(
        DummyClassifier(), {"strategy": ["most_frequent", "uniform"]}, cv=cv
    )
    search.fit(X, y)
    assert search.best_params_ == {"strategy": "most_frequent"}
    assert search.n_splits_ == 2
    assert cv.split_summary_["n_rows"] == len(log)
