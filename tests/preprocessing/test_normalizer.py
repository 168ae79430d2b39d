"""Tests for skrec.preprocessing.InteractionNormalizer."""

import math
import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from pandas.testing import assert_frame_equal
from scipy.sparse import coo_matrix
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skrec.preprocessing._normalizer import InteractionNormalizer

TOL = dict(rtol=0, atol=1e-12)


@pytest.fixture
def log():
    """Three users; u3 has a single event; i1 is seen by every user."""
    return pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u2", "u3"],
            "item_id": ["i1", "i2", "i1", "i3", "i1"],
            "user_behavior": [4.0, 1.0, 0.0, 2.0, 3.0],
            "item_price": [9.5, 3.0, 9.5, 1.0, 9.5],
        },
        index=[10, 11, 12, 13, 14],
    )


def normalized(log, **params):
    out = InteractionNormalizer(**params).fit_transform(log)
    return out["user_behavior"].to_numpy()


# -- each strategy against hand-computed numbers ------------------------------


def test_smoothed_max_per_user(log):
    # u1 max 4, u2 max 2, u3 max 3: (a + 1) / max_g
    expected = [5 / 4, 2 / 4, 1 / 2, 3 / 2, 4 / 3]
    assert_allclose(normalized(log), expected, **TOL)


def test_smoothed_max_floors_the_group_maximum_at_one():
    small = pd.DataFrame({"user_id": [1, 1, 2], "user_behavior": [0.5, 0.0, 3.0]})
    # user 1's max is 0.5 -> divide by 1, not 0.5
    assert_allclose(normalized(small), [1.5, 1.0, 4 / 3], **TOL)


def test_smoothed_max_global_and_per_item(log):
    assert_allclose(
        normalized(log, group_by=None), [5 / 4, 2 / 4, 1 / 4, 3 / 4, 4 / 4], **TOL
    )
    # i1 max 4, i2 max 1, i3 max 2
    assert_allclose(
        normalized(log, group_by="item"), [5 / 4, 2 / 1, 1 / 4, 3 / 2, 4 / 4], **TOL
    )


def test_max_scaling_per_user(log):
    assert_allclose(normalized(log, strategy="max"), [1, 1 / 4, 0, 1, 1], **TOL)


def test_max_scaling_zero_group_maps_to_zero_and_negatives_use_max_abs():
    frame = pd.DataFrame(
        {"user_id": ["a", "a", "b", "b"], "user_behavior": [0.0, 0.0, -2.0, 1.0]}
    )
    assert_allclose(normalized(frame, strategy="max"), [0, 0, -1, 0.5], **TOL)


def test_zscore_per_user_and_global(log):
    # u1: mean 2.5, std 1.5; u2: mean 1, std 1; u3: single event, std 0 -> 1
    assert_allclose(normalized(log, strategy="zscore"), [1, -1, -1, 1, 0], **TOL)
    # global: mean 2, population variance (4 + 1 + 4 + 0 + 1) / 5 = 2
    root2 = math.sqrt(2)
    expected = [2 / root2, -1 / root2, -2 / root2, 0, 1 / root2]
    assert_allclose(normalized(log, strategy="zscore", group_by=None), expected, **TOL)


def test_zscore_constant_group_divides_by_one_despite_rounding():
    frame = pd.DataFrame({"user_id": [1, 1, 1], "user_behavior": [0.1, 0.1, 0.1]})
    norm = InteractionNormalizer(strategy="zscore").fit(frame)
    assert norm.group_stats_["user"].loc[1, ("user_behavior", "std")] == 0.0
    assert np.all(np.abs(norm.transform(frame)["user_behavior"]) < 1e-15)


def test_log1p_and_binary(log):
    assert_allclose(
        normalized(log, strategy="log1p"),
        [math.log(5), math.log(2), 0, math.log(3), math.log(4)],
        **TOL,
    )
    assert_allclose(normalized(log, strategy="binary"), [1, 1, 0, 1, 1], **TOL)


def test_bm25_hand_computed(log):
    # n_users 3; lengths u1 5, u2 2, u3 3; avg_len 10/3.
    # Users with a positive strength: i1 {u1, u3} -> log(3/3) = 0, clipped to 1e-3;
    # i2 {u1} and i3 {u2} -> log(3/2).
    k1, b = 1.2, 0.75
    avg = 10 / 3

    def weight(a, length, idf):
        return a * (k1 + 1) / (a + k1 * (1 - b + b * length / avg)) * idf

    idf_rare = math.log(3 / 2)
    expected = [
        weight(4, 5, 1e-3),
        weight(1, 5, idf_rare),  # = 2.2 / 2.65 * log(1.5)
        0.0,
        weight(2, 2, idf_rare),  # = 4.4 / 2.84 * log(1.5)
        weight(3, 3, 1e-3),
    ]
    assert_allclose(expected[1], 2.2 / 2.65 * math.log(1.5), **TOL)
    assert_allclose(normalized(log, strategy="bm25"), expected, **TOL)
    # group_by does not change bm25
    assert_allclose(normalized(log, strategy="bm25", group_by=None), expected, **TOL)


def _reference_bm25_weight(user_items, K1, B):
    """bm25_weight of the implicit library (rows = users, columns = items)."""
    X = coo_matrix(user_items)
    N = float(X.shape[0])
    idf = np.log(N) - np.log1p(np.bincount(X.col))
    row_sums = np.ravel(X.sum(axis=1))
    length_norm = (1.0 - B) + B * row_sums / row_sums.mean()
    X.data = X.data * (K1 + 1.0) / (K1 * length_norm[X.row] + X.data) * idf[X.col]
    return X


def test_bm25_matches_implicit_formula_on_a_random_log():
    rng = np.random.default_rng(0)
    pairs = rng.choice(30 * 12, size=120, replace=False)
    users, items = pairs // 12, pairs % 12
    strength = rng.integers(1, 6, size=120).astype(float)
    frame = pd.DataFrame(
        {"user_id": users, "item_id": items, "user_behavior": strength}
    )
    out = normalized(frame, strategy="bm25", k1=3.0, b=0.5)

    reference = _reference_bm25_weight(
        coo_matrix((strength, (users, items)), shape=(30, 12)), K1=3.0, B=0.5
    ).tocsr()
    # Every user appears in the log, so both count the same users; compare
    # where implicit's idf is above our floor.
    assert frame["user_id"].nunique() == 30
    expected = np.asarray(reference[users, items]).ravel()
    informative = expected > 1e-3
    assert informative.sum() > 100
    assert_allclose(out[informative], expected[informative], rtol=1e-12)


# -- unseen groups, grouping and several columns ------------------------------


def test_unseen_groups_fall_back_to_global_statistics(log):
    new = pd.DataFrame(
        {"user_id": ["u9", "u1"], "item_id": ["i9", "i9"], "user_behavior": [3.0, 1.0]}
    )
    fit_on = log.drop(columns="item_price")

    def transform(**params):
        out = InteractionNormalizer(**params).fit(fit_on).transform(new)
        return out["user_behavior"]

    # global max 4; u1 max 4
    assert_allclose(transform(), [4 / 4, 2 / 4], **TOL)
    assert_allclose(transform(strategy="max"), [3 / 4, 1 / 4], **TOL)
    # global mean 2, std sqrt(2); u1 mean 2.5, std 1.5
    expected = [1 / math.sqrt(2), -1.5 / 1.5]
    assert_allclose(transform(strategy="zscore"), expected, **TOL)
    # unseen item i9 on both rows: by item, both use the global max 4
    assert_allclose(transform(group_by="item"), [4 / 4, 2 / 4], **TOL)
    # bm25: unseen user -> len_u = avg_len; unseen item -> mean training idf
    mean_idf = (1e-3 + 2 * math.log(1.5)) / 3
    k1, b = 1.2, 0.75
    expected = [
        3 * (k1 + 1) / (3 + k1) * mean_idf,
        1 * (k1 + 1) / (1 + k1 * (1 - b + b * 5 / (10 / 3))) * mean_idf,
    ]
    assert_allclose(transform(strategy="bm25"), expected, **TOL)


def test_transform_is_row_wise(log):
    norm = InteractionNormalizer(strategy="zscore").fit(log)
    full = norm.transform(log)["user_behavior"].to_numpy()
    one_by_one = [
        norm.transform(log.iloc[[i]])["user_behavior"].iloc[0] for i in range(5)
    ]
    assert_allclose(one_by_one, full, **TOL)


def test_fitted_statistics_layout(log):
    norm = InteractionNormalizer(strategy="zscore").fit(log)
    stats = norm.group_stats_["user"]
    assert list(stats.columns) == [("user_behavior", "mean"), ("user_behavior", "std")]
    assert stats.index.name == "user"
    assert stats.loc["u1", ("user_behavior", "mean")] == 2.5
    assert list(norm.global_stats_.index) == ["mean", "std"]
    assert norm.columns_ == ["user_behavior"]

    assert InteractionNormalizer(group_by=None).fit(log).group_stats_ == {}
    stateless = InteractionNormalizer(strategy="log1p").fit(log)
    assert stateless.global_stats_.shape == (0, 1)
    bm25 = InteractionNormalizer(strategy="bm25").fit(log)
    assert set(bm25.group_stats_) == {"user", "item"}
    assert bm25.global_stats_.loc["n_users", "user_behavior"] == 3


def test_several_strength_columns_are_normalised_independently(log):
    out = InteractionNormalizer(
        columns=["user_behavior", "item_price"], strategy="max", group_by=None
    ).fit_transform(log)
    assert_allclose(out["user_behavior"], log["user_behavior"] / 4, **TOL)
    assert_allclose(out["item_price"], log["item_price"] / 9.5, **TOL)


def test_stateless_strategies_need_no_id_columns():
    frame = pd.DataFrame({"user_behavior": [0, 3]})
    assert_allclose(normalized(frame, strategy="log1p"), [0, math.log(4)], **TOL)
    assert_allclose(normalized(frame, strategy="max", group_by=None), [0, 1], **TOL)


def test_integer_columns_are_positions_on_a_dataframe(log):
    by_name = InteractionNormalizer().fit_transform(log)
    by_position = InteractionNormalizer(user_col=0, columns=[2]).fit_transform(log)
    assert_frame_equal(by_name, by_position)


# -- output types and names ---------------------------------------------------


def test_dataframe_in_dataframe_out_other_columns_untouched(log):
    original = log.copy()
    out = InteractionNormalizer().fit_transform(log)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(log.columns)
    assert out.index.equals(log.index)
    assert out["user_behavior"].dtype == np.float64
    others = ["user_id", "item_id", "item_price"]
    assert_frame_equal(out[others], log[others])
    assert_frame_equal(log, original)  # input not mutated


def test_feature_names_and_set_output(log):
    norm = InteractionNormalizer().set_output(transform="pandas").fit(log)
    assert list(norm.get_feature_names_out()) == list(log.columns)
    assert list(norm.feature_names_in_) == list(log.columns)
    assert norm.n_features_in_ == 4
    out = norm.transform(log)
    assert list(out.columns) == list(log.columns)
    assert out.index.equals(log.index)


def test_array_in_array_out():
    X = np.array([[1, 4.0], [1, 1.0], [2, 3.0]])
    norm = InteractionNormalizer(user_col=0, columns=1)
    out = norm.fit_transform(X)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    assert_allclose(out, [[1, 5 / 4], [1, 2 / 4], [2, 4 / 3]], **TOL)
    assert list(norm.get_feature_names_out()) == ["x0", "x1"]
    assert not hasattr(norm, "feature_names_in_")
    framed = norm.set_output(transform="pandas").transform(X)
    assert list(framed.columns) == ["x0", "x1"]
    assert_allclose(framed.to_numpy(), out, **TOL)


def test_pipeline_with_pandas_output_and_grid_search(log):
    y = np.array([1, 0, 0, 1, 1])
    pipe = make_pipeline(
        InteractionNormalizer(),
        ColumnTransformer(
            [("strength", "passthrough", ["user_behavior", "item_price"])],
            verbose_feature_names_out=False,
        ),
        LogisticRegression(),
    ).set_output(transform="pandas")
    pipe.fit(log, y)
    features = pipe[:-1].transform(log)
    assert list(features.columns) == ["user_behavior", "item_price"]
    expected = [5 / 4, 2 / 4, 1 / 2, 3 / 2, 4 / 3]
    assert_allclose(features["user_behavior"], expected, **TOL)
    assert pipe.predict(log).shape == (5,)

    search = GridSearchCV(
        pipe, {"interactionnormalizer__strategy": ["log1p", "binary"]}, cv=2
    ).fit(pd.concat([log, log]), np.r_[y, y])
    assert search.best_params_["interactionnormalizer__strategy"] in {"log1p", "binary"}


def test_pickle_round_trip(log):
    norm = InteractionNormalizer(strategy="bm25").fit(log)
    restored = pickle.loads(pickle.dumps(norm))
    assert_frame_equal(restored.transform(log), norm.transform(log))


# -- errors -------------------------------------------------------------------


def test_missing_column_names_column_and_parameter(log):
    with pytest.raises(ValueError, match=r"\['rating'\] not found.*columns="):
        InteractionNormalizer(columns="rating").fit(log)
    with pytest.raises(ValueError, match=r"\['uid'\] not found.*user_col="):
        InteractionNormalizer(user_col="uid").fit(log)


def test_non_numeric_strength_names_value(log):
    bad = log.assign(user_behavior=["4", "1", "lots", "2", "3"])
    with pytest.raises(ValueError, match=r"'user_behavior' must be numeric.*'lots'"):
        InteractionNormalizer().fit(bad)


@pytest.mark.parametrize("strategy", ["smoothed_max", "log1p", "bm25"])
def test_negative_strength_names_column_value_and_fix(log, strategy):
    bad = log.assign(user_behavior=[4.0, -1.5, 0.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"'user_behavior'.*-1\.5 at row 11.*clip"):
        InteractionNormalizer(strategy=strategy).fit(bad)
    fitted = InteractionNormalizer(strategy=strategy).fit(log)
    with pytest.raises(ValueError, match="Negative values in data"):
        fitted.transform(bad)


def test_negative_strength_is_fine_for_zscore_and_max(log):
    signed = log.assign(user_behavior=[4.0, -1.5, 0.0, 2.0, 3.0])
    for strategy in ("zscore", "max", "binary"):
        InteractionNormalizer(strategy=strategy).fit_transform(signed)


def test_nan_strength_points_to_clean_interactions(log):
    bad = log.assign(user_behavior=[4.0, np.nan, 0.0, 2.0, 3.0])
    message = r"'user_behavior' has 1 .*NaN at row 11.*clean_interactions"
    with pytest.raises(ValueError, match=message):
        InteractionNormalizer(strategy="zscore").fit(bad)


def test_missing_user_id_points_to_clean_interactions(log):
    bad = log.assign(user_id=["u1", None, "u2", "u2", "u3"])
    message = r"'user_id' has 1 missing id.*clean_interactions"
    with pytest.raises(ValueError, match=message):
        InteractionNormalizer().fit(bad)


def test_array_needs_integer_positions():
    X = np.array([[1, 4.0], [2, 1.0]])
    message = r"columns='user_behavior' is a column name.*array"
    with pytest.raises(ValueError, match=message):
        InteractionNormalizer(user_col=0).fit(X)
    message = r"columns=5 is a column position.*2 feature\(s\)"
    with pytest.raises(ValueError, match=message):
        InteractionNormalizer(user_col=0, columns=5).fit(X)


def test_bad_parameters(log):
    with pytest.raises(InvalidParameterError, match="strategy"):
        InteractionNormalizer(strategy="minmax").fit(log)
    with pytest.raises(InvalidParameterError, match="'b'"):
        InteractionNormalizer(b=1.5).fit(log)
    with pytest.raises(ValueError, match="twice"):
        InteractionNormalizer(columns=["user_behavior", 2]).fit(log)
    with pytest.raises(ValueError, match="no strength column"):
        InteractionNormalizer(columns=[]).fit(log)


def test_not_fitted_and_wrong_width(log):
    with pytest.raises(NotFittedError):
        InteractionNormalizer().transform(log)
    norm = InteractionNormalizer(user_col=0, columns=1).fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="X has 3 features"):
        norm.transform(np.ones((3, 3)))


# -- scikit-learn's estimator checks ------------------------------------------

_NON_NEGATIVE_NEEDS_STRENGTH_IN_COLUMN_0 = (
    "the check puts its negative values only in column 0, which this "
    "configuration reads as user ids; negative strengths are rejected, see "
    "test_negative_strength_names_column_value_and_fix"
)


_PARTIAL_FIT_AFTER_FIT = (
    "the check calls partial_fit on a normalizer fitted with fit(); partial_fit "
    "continues a streamed fit only (fit keeps no mergeable moments) and refuses with "
    "an error that says to start from a clone; bm25 cannot be streamed at all"
)


def _expected_failed_checks(estimator):
    failures = {}
    if estimator.strategy in ("smoothed_max", "bm25"):
        failures["check_fit_non_negative"] = _NON_NEGATIVE_NEEDS_STRENGTH_IN_COLUMN_0
    if estimator.strategy not in ("log1p", "binary"):
        failures["check_fit_score_takes_y"] = _PARTIAL_FIT_AFTER_FIT
    if estimator.strategy == "bm25":
        failures["check_n_features_in_after_fitting"] = (
            "the check streams chunks with partial_fit, which bm25 refuses (see above)"
        )
    return failures


@parametrize_with_checks(
    [
        InteractionNormalizer(strategy="zscore", user_col=0, columns=[1]),
        InteractionNormalizer(strategy="max", group_by="item", item_col=1, columns=[0]),
        InteractionNormalizer(strategy="smoothed_max", user_col=0, columns=[1]),
        InteractionNormalizer(strategy="bm25", user_col=0, item_col=0, columns=[1]),
        InteractionNormalizer(strategy="log1p", columns=[0, 1]),
        InteractionNormalizer(strategy="binary", columns=[0, 1]),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
