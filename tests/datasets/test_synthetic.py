"""Tests for skrec.datasets.make_interactions."""

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder

from skrec.datasets import make_interactions
from skrec.datasets._synthetic import CATEGORY_NAMES

EXPECTED_DTYPES = {
    "user_id": "str",
    "item_id": "str",
    "timestamp": "datetime64[ns]",
    "user_behavior": "int64",
    "user_interest": "str",
    "item_category": "str",
    "item_brand": "str",
    "item_price": "float64",
    "label": "int64",
}


@pytest.fixture(scope="module")
def log():
    return make_interactions(random_state=0)


@pytest.fixture(scope="module")
def split(log):
    return train_test_split(log, test_size=0.25, random_state=0)


def test_columns_dtypes_and_shape(log):
    assert log.shape == (20_000, 9)
    assert list(log.columns) == list(EXPECTED_DTYPES)
    for column, dtype in EXPECTED_DTYPES.items():
        if dtype == "str":
            assert pd.api.types.is_string_dtype(log[column]), column
        else:
            assert log[column].dtype == np.dtype(dtype), column
    assert isinstance(log.index, pd.RangeIndex)
    assert log.notna().all().all()


def test_ids_and_categories(log):
    assert log["user_id"].str.fullmatch(r"u\d{4}").all()
    assert log["item_id"].str.fullmatch(r"i\d{4}").all()
    assert log["item_brand"].str.fullmatch(r"brand_\d{2}").all()
    # long-tailed activity still reaches (almost) every user at 40 rows per user
    assert log["user_id"].nunique() >= 490
    assert log["item_id"].nunique() <= 300
    assert set(log["item_category"]) == set(CATEGORY_NAMES[:8])
    assert "electronics" in set(log["item_category"])
    assert set(log["user_interest"]) <= set(CATEGORY_NAMES[:8])
    # item attributes are fixed per item
    per_item = log.groupby("item_id")[["item_category", "item_brand", "item_price"]]
    assert (per_item.nunique() == 1).all().all()
    assert (log.groupby("user_id")["user_interest"].nunique() == 1).all()


def test_item_popularity_is_long_tailed(log):
    counts = log["item_id"].value_counts()
    top_decile = counts.iloc[: len(counts) // 10].sum()
    assert top_decile / counts.sum() > 0.4


def test_prices_positive_and_lognormal_per_category(log):
    prices = log.drop_duplicates("item_id")
    assert (prices["item_price"] > 0).all()
    medians = prices.groupby("item_category")["item_price"].median()
    assert medians.max() / medians.min() > 3


def test_same_seed_same_log_other_seed_other_log(log):
    pd.testing.assert_frame_equal(make_interactions(random_state=0), log)
    pd.testing.assert_frame_equal(
        make_interactions(random_state=np.random.RandomState(0)), log
    )
    other = make_interactions(random_state=1)
    assert not other["label"].equals(log["label"])


def test_return_X_y(log):
    X, y = make_interactions(random_state=0, return_X_y=True)
    pd.testing.assert_frame_equal(X, log.drop(columns="label"))
    pd.testing.assert_series_equal(y, log["label"])
    assert "label" not in X.columns and y.name == "label"


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.35])
def test_positive_rate_is_met(rate):
    y = make_interactions(random_state=3, positive_rate=rate)["label"]
    assert set(y.unique()) == {0, 1}
    assert y.mean() == pytest.approx(rate, abs=0.02)


def test_default_positive_rate(log):
    assert 0.2 <= log["label"].mean() <= 0.35


def test_timestamps_sorted_and_strictly_increasing_per_user(log):
    assert log["timestamp"].is_monotonic_increasing
    per_user = log.groupby("user_id")["timestamp"].diff().dropna()
    assert (per_user > pd.Timedelta(0)).all()
    assert not log.duplicated(["user_id", "item_id", "timestamp"]).any()
    assert log["timestamp"].min() >= pd.Timestamp("2024-01-01")
    assert log["timestamp"].max() < pd.Timestamp("2024-04-01")
    # sessions: most consecutive impressions of a user are minutes apart
    assert per_user.median() < pd.Timedelta(minutes=5)
    # repeated (user, item) pairs are allowed and occur
    assert log.duplicated(["user_id", "item_id"]).any()


def test_user_behavior_counts_prior_views_without_encoding_the_label(log):
    behavior = log["user_behavior"]
    assert (behavior >= 0).all()
    # every earlier impression of the same pair is one more view
    by_pair = log.groupby(["user_id", "item_id"])["user_behavior"].diff().dropna()
    assert (by_pair >= 1).all()
    # the label is not readable from it: both labels occur at each common count
    assert not (behavior == log["label"]).all()
    for count in (0, 1, 2, 3):
        assert set(log.loc[behavior == count, "label"]) == {0, 1}
    auc = roc_auc_score(log["label"], behavior)
    assert 0.6 < auc < 0.85, auc


def _one_hot_auc(train, test, columns):
    def features(frame):
        return pd.DataFrame(
            {
                "user": frame["user_id"],
                "item": frame["item_id"],
                "user_x_category": frame["user_id"] + "|" + frame["item_category"],
                "interest_match": frame["user_interest"] == frame["item_category"],
            }
        )[columns]

    encoder = OneHotEncoder(handle_unknown="ignore")
    model = LogisticRegression(C=0.3, max_iter=1000)
    model.fit(encoder.fit_transform(features(train)), train["label"])
    scores = model.predict_proba(encoder.transform(features(test)))[:, 1]
    return roc_auc_score(test["label"], scores)


def _popularity_auc(train, test):
    prior = train["label"].mean()
    stats = train.groupby("item_id")["label"].agg(["sum", "count"])
    item_rate = (stats["sum"] + 10 * prior) / (stats["count"] + 10)
    scores = test["item_id"].map(item_rate).fillna(prior)
    return roc_auc_score(test["label"], scores)


def test_user_item_affinity_beats_item_popularity(split):
    train, test = split
    popularity = _popularity_auc(train, test)
    additive = _one_hot_auc(train, test, ["user", "item"])
    affinity = _one_hot_auc(train, test, ["user", "item", "user_x_category"])
    # measured with random_state=0: popularity 0.635, additive 0.656, affinity 0.737
    assert 0.55 < popularity < 0.72
    assert affinity > popularity + 0.06
    # the gain comes from user-item interaction, not from user and item biases
    assert affinity > additive + 0.04


def test_side_features_carry_signal(log, split):
    match = log["user_interest"] == log["item_category"]
    rate_match = log.loc[match, "label"].mean()
    rate_other = log.loc[~match, "label"].mean()
    assert rate_match > 2 * rate_other

    train, test = split
    items_only = _one_hot_auc(train, test, ["item"])
    with_match = _one_hot_auc(train, test, ["item", "interest_match"])
    # measured with random_state=0: 0.636 -> 0.713
    assert with_match > items_only + 0.04

    # expensive items sell less
    assert roc_auc_score(log["label"], -np.log(log["item_price"])) > 0.55


@pytest.mark.parametrize(
    "params, name",
    [
        ({"n_users": 0}, "n_users"),
        ({"n_items": -1}, "n_items"),
        ({"n_interactions": 0}, "n_interactions"),
        ({"n_factors": 0}, "n_factors"),
        ({"n_categories": len(CATEGORY_NAMES) + 1}, "n_categories"),
        ({"n_brands": 0}, "n_brands"),
        ({"positive_rate": 1.0}, "positive_rate"),
        ({"positive_rate": 0}, "positive_rate"),
        ({"n_users": 2.5}, "n_users"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_invalid_parameters_are_named(params, name):
    with pytest.raises(ValueError, match=f"'{name}' parameter of make_interactions"):
        make_interactions(**params)


def test_tiny_configurations():
    log = make_interactions(
        n_users=1, n_items=1, n_interactions=5, n_categories=20, n_brands=1,
        random_state=0,
    )
    assert log.shape == (5, 9)
    assert log["user_behavior"].is_monotonic_increasing
    assert log["timestamp"].is_monotonic_increasing
    assert (log["timestamp"].diff().dropna() > pd.Timedelta(0)).all()


def test_fast_enough():
    start = time.perf_counter()
    make_interactions(n_interactions=20_000, random_state=0)
    # measured ~0.07 s; the bound only catches an accidental Python loop
    assert time.perf_counter() - start < 2.0
