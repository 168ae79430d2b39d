"""FeatureBuilder: vocabularies, numeric policy, booleans, schema, catalogue, errors."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline

from skrec.preprocessing import FeatureBuilder, InteractionNormalizer
from skrec.preprocessing._features import SCHEMA_ATTR


@pytest.fixture
def log():
    return pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "c", "c", "c"],
            "item_id": [10, 11, 10, 12, 11, 10],
            "user_interest": ["tech", "tech", "books", "tech", "tech", "tech"],
            "item_category": ["electronics", "books", "electronics", "toys", "books", "electronics"],
            "item_price": [100.0, 10.0, 100.0, np.nan, 10.0, 100.0],
            "user_behavior": [0, 2, 1, 0, 5, 3],
            "timestamp": pd.date_range("2024-01-01", periods=6, freq="h"),
        }
    )


def test_auto_columns_sides_and_schema(log):
    fb = FeatureBuilder().fit(log)
    schema = {(e["name"], e["kind"], e["side"], e["vocabulary_size"]) for e in fb.schema_}
    assert schema == {
        ("user_id", "id", "user", 4),
        ("item_id", "id", "item", 4),
        ("user_interest", "categorical", "user", 3),
        ("item_category", "categorical", "item", 4),
        ("item_price", "numeric", "item", None),
        ("user_behavior", "numeric", "context", None),
    }
    out = fb.transform(log)
    assert out.attrs[SCHEMA_ATTR] == fb.schema_
    assert list(out.columns) == list(fb.get_feature_names_out())
    assert "timestamp" not in out.columns
    # First-seen order: a -> 1, b -> 2, c -> 3.
    assert out["user_id"].tolist() == [1, 1, 2, 3, 3, 3]
    assert out["user_id"].dtype == np.int64


def test_unknown_ids_and_categories_map_to_reserved_zero(log):
    fb = FeatureBuilder().fit(log)
    new = log.head(2).copy()
    new["user_id"] = ["zed", "a"]
    new["item_id"] = [10, 999]
    new["item_category"] = ["garden", None]
    out = fb.transform(new)
    assert out["user_id"].tolist() == [0, 1]
    assert out["item_id"].tolist() == [1, 0]
    assert out["item_category"].tolist() == [0, 0]


def test_ids_of_another_type_are_unknown_not_wrong(log):
    fb = FeatureBuilder().fit(log)
    new = log.head(1).copy()
    new["item_id"] = ["10"]  # string, item ids were integers
    assert fb.transform(new)["item_id"].tolist() == [0]


def test_min_frequency_and_max_categories(log):
    fb = FeatureBuilder(min_frequency=2).fit(log)
    assert list(fb.categories_["item_category"]) == ["electronics", "books"]
    assert fb.transform(log)["item_category"].tolist() == [1, 2, 1, 0, 2, 1]
    fb = FeatureBuilder(max_categories=1).fit(log)
    assert list(fb.categories_["item_category"]) == ["electronics"]
    fb = FeatureBuilder(min_frequency=0.4).fit(log)  # >= 3 of 6 rows
    assert list(fb.categories_["item_category"]) == ["electronics"]


def test_numeric_scaling_and_missing_policies(log):
    fb = FeatureBuilder().fit(log)
    stats = fb.numeric_stats_["item_price"]
    assert stats["fill"] == 100.0  # median of 100, 10, 100, 10, 100
    filled = np.array([100, 10, 100, 100, 10, 100.0])
    assert stats["mean"] == pytest.approx(filled.mean())
    assert stats["scale"] == pytest.approx(filled.std())
    out = fb.transform(log)["item_price"].to_numpy()
    np.testing.assert_allclose(out, (filled - filled.mean()) / filled.std())
    assert FeatureBuilder(numeric_missing="zero").fit(log).numeric_stats_["item_price"]["fill"] == 0.0
    raw = FeatureBuilder(scale_numeric=False, numeric_missing="mean").fit(log).transform(log)
    assert raw["item_price"].iloc[3] == pytest.approx(64.0)
    with pytest.raises(ValueError, match=r"column 'item_price' has 1 missing value.*numeric_missing='median'"):
        FeatureBuilder(numeric_missing="error").fit(log)


def test_declarative_boolean_features(log):
    fb = FeatureBuilder(
        boolean_features={
            "is_electronics": ("item_category", "==", "electronics"),
            "cheap": ("item_price", "<", 50),
            "fan": ("user_interest", "in", ["tech"]),
        }
    ).fit(log)
    out = fb.transform(log)
    assert out["is_electronics"].tolist() == [1, 0, 1, 0, 0, 1]
    assert out["cheap"].tolist() == [0, 1, 0, 0, 1, 0]
    sides = {e["name"]: e["side"] for e in fb.schema_}
    assert (sides["is_electronics"], sides["cheap"], sides["fan"]) == ("item", "item", "user")
    with pytest.raises(ValueError, match="unknown operator '~'"):
        FeatureBuilder(boolean_features={"x": ("item_price", "~", 1)}).fit(log)


def test_catalogue_seen_items_and_popularity(log):
    fb = FeatureBuilder().fit(log)
    assert fb.item_catalogue_.loc[12, "item_category"] == "toys"
    assert set(fb.item_catalogue_.columns) == {"item_category", "item_price"}
    assert fb.user_profiles_.loc["b", "user_interest"] == "books"
    seen = fb.seen_items_.toarray()
    assert seen.shape == (4, 4)
    # user c (index 3) saw items 12, 11, 10 -> indices 3, 2, 1
    assert seen[3].tolist() == [0, 1, 1, 1]
    assert fb.item_popularity_.tolist() == [0, 3, 2, 1]


def test_explicit_column_lists(log):
    fb = FeatureBuilder(
        user_features=[], item_features=["item_price"], context_features=[],
        categorical_features=["item_price"],
    ).fit(log)
    assert [e["name"] for e in fb.schema_] == ["user_id", "item_id", "item_price"]
    assert fb.schema_[2]["kind"] == "categorical"


def test_pipeline_with_normalizer_and_pickle(log):
    pipe = make_pipeline(InteractionNormalizer(), FeatureBuilder()).set_output(transform="pandas")
    out = pipe.fit_transform(log)
    assert isinstance(out, pd.DataFrame)
    assert out.attrs[SCHEMA_ATTR][0]["name"] == "user_id"
    again = pickle.loads(pickle.dumps(pipe)).transform(log)
    pd.testing.assert_frame_equal(out, again)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d.drop(columns="item_id"), r"column\(s\) \['item_id'\] not found"),
        (lambda d: d.assign(user_id=[None, "a", "b", "c", "c", "c"]), "column 'user_id' has 1 missing id"),
        (lambda d: d.assign(user_id=["a", 1, "b", "c", "c", "c"]), "column 'user_id' mixes id types"),
        (lambda d: d.iloc[:0], "empty"),
    ],
)
def test_bad_input_is_explained(log, mutate, match):
    with pytest.raises(ValueError, match=match):
        FeatureBuilder().fit(mutate(log))


def test_non_numeric_value_in_numeric_column_is_named(log):
    bad = log.assign(item_price=["1.0", "cheap", 3, 4, 5, 6])
    declared = FeatureBuilder(categorical_features=["user_interest", "item_category"])
    with pytest.raises(ValueError, match=r"'item_price' must be numeric.*'cheap' at row 1"):
        declared.fit(bad)
    fitted = declared.fit(log)
    with pytest.raises(ValueError, match=r"'item_price' must be numeric.*'cheap'"):
        fitted.transform(bad)


def test_missing_feature_column_names_the_parameter(log):
    with pytest.raises(ValueError, match=r"\['item_brand'\] not found.*item_features"):
        FeatureBuilder(item_features=["item_brand"]).fit(log)


def test_transform_requires_fit_columns(log):
    fb = FeatureBuilder().fit(log)
    with pytest.raises(ValueError, match="is expecting 7 features"):
        fb.transform(log.drop(columns="timestamp"))


def test_plain_array_input():
    X = np.array([[1, 5, 0.5], [2, 5, 1.5], [1, 6, 2.5]])
    fb = FeatureBuilder(user_col=0, item_col=1).fit(X)
    assert [(e["name"], e["kind"]) for e in fb.schema_] == [(0, "id"), (1, "id"), (2, "numeric")]
    assert fb.transform(X)[0].tolist() == [1, 2, 1]


def test_history_columns_join_the_schema_and_names(log):
    # Details and leakage checks live in test_history.py.
    fb = FeatureBuilder(history_length=2).fit(log)
    names = list(fb.get_feature_names_out())
    assert names[-2:] == ["history_1", "history_2"]
    assert [e["kind"] for e in fb.schema_[-2:]] == ["sequence", "sequence"]
    out = fb.transform(log)
    assert list(out.columns) == names
    # user c: items 12, 11, 10 (indices 3, 2, 1) one hour apart
    assert out[["history_1", "history_2"]].to_numpy()[3:].tolist() == [[0, 0], [0, 3], [3, 2]]
    # Only the time column may be left out, and only with history on.
    assert fb.transform(log.drop(columns="timestamp"))["history_2"].tolist() == [2, 2, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="is expecting 7 features"):
        fb.transform(log.drop(columns="user_behavior"))
