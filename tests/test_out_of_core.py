"""Out-of-core fitting: partial_fit of the preprocessing steps and fit_out_of_core."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline

from skrec import (
    FeatureBuilder,
    InteractionNormalizer,
    fit_out_of_core,
    make_interactions,
    recommend,
)
from skrec.models import EASEClassifier, NCFClassifier, TwoTowerClassifier

pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def log():
    X, y = make_interactions(
        n_users=120, n_items=80, n_interactions=4000, random_state=0, return_X_y=True
    )
    return X, y


def _chunks(X, size, y=None):
    for start in range(0, len(X), size):
        yield X.iloc[start:start + size], (None if y is None else y[start:start + size])


@pytest.mark.parametrize("numeric_missing", ["mean", "median", "zero"])
def test_feature_builder_partial_fit_equals_fit(log, numeric_missing):
    X, y = log
    X = X.copy()
    X.loc[X.index[::9], "item_price"] = np.nan
    params = dict(numeric_missing=numeric_missing, min_frequency=0.01,
                  boolean_features={"cheap": ("item_price", "<", 50)})
    full = FeatureBuilder(**params).fit(X, y)
    part = FeatureBuilder(**params)
    for chunk, labels in _chunks(X, 700, y):
        part.partial_fit(chunk, labels)
    assert part.user_vocabulary_.equals(full.user_vocabulary_)
    assert part.item_vocabulary_.equals(full.item_vocabulary_)
    assert part.categories_.keys() == full.categories_.keys()
    for col in full.categories_:
        assert part.categories_[col].equals(full.categories_[col]), col
    assert part.schema_ == full.schema_
    for col, stats in full.numeric_stats_.items():
        for key, value in stats.items():
            # The reservoir holds every value here (< 100,000), so even the median is exact.
            assert part.numeric_stats_[col][key] == pytest.approx(value, rel=1e-12), (col, key)
    assert (part.seen_items_ != full.seen_items_).nnz == 0
    np.testing.assert_array_equal(part.item_popularity_, full.item_popularity_)
    pd.testing.assert_frame_equal(part.item_catalogue_, full.item_catalogue_)
    pd.testing.assert_frame_equal(part.user_profiles_, full.user_profiles_)
    assert part.n_samples_fit_ == full.n_samples_fit_ == len(X)
    pd.testing.assert_frame_equal(part.transform(X), full.transform(X), rtol=1e-12)


def test_feature_builder_partial_fit_is_usable_after_each_chunk(log):
    X, _ = log
    fb = FeatureBuilder()
    fb.partial_fit(X.iloc[:100])
    first = len(fb.user_vocabulary_)
    assert fb.transform(X.iloc[:100])["user_id"].min() >= 1
    assert fb.transform(X.iloc[3000:])["user_id"].eq(0).any()  # users not seen yet
    fb.partial_fit(X.iloc[100:])
    assert len(fb.user_vocabulary_) > first
    assert fb.transform(X)["user_id"].min() >= 1
    assert fb.schema_[0]["vocabulary_size"] == len(fb.user_vocabulary_) + 1


def test_fingerprint_depends_on_the_chunks(log):
    X, _ = log
    a, b, c = FeatureBuilder(), FeatureBuilder(), FeatureBuilder()
    for chunk, _ in _chunks(X, 1000):
        a.partial_fit(chunk)
        b.partial_fit(chunk)
    for chunk, _ in _chunks(X.assign(item_price=X["item_price"] + 1), 1000):
        c.partial_fit(chunk)
    assert a.data_fingerprint_ == b.data_fingerprint_ != c.data_fingerprint_


def test_feature_builder_partial_fit_refusals(log):
    X, y = log
    with pytest.raises(ValueError, match="fitted with fit\\(\\); start from an unfitted"):
        FeatureBuilder().fit(X).partial_fit(X)
    with pytest.raises(ValueError, match="history_length=3 cannot be fitted out of core"):
        FeatureBuilder(history_length=3).partial_fit(X, y)
    fb = FeatureBuilder().partial_fit(X)
    with pytest.raises(ValueError, match="X has 7 features, but FeatureBuilder is expecting 8"):
        fb.partial_fit(X.drop(columns="item_price"))
    with pytest.raises(ValueError, match="same columns, in the same order"):
        fb.partial_fit(X.rename(columns={"item_price": "price"}))
    # fit() starts over, and partial_fit refuses to continue it.
    fb.fit(X)
    with pytest.raises(ValueError, match="start from an unfitted"):
        fb.partial_fit(X)
    with pytest.raises(ValueError, match="numeric_missing"):
        FeatureBuilder(numeric_missing="error").partial_fit(
            X.assign(item_price=np.where(np.arange(len(X)) == 5, np.nan, X["item_price"]))
        )


@pytest.mark.parametrize("strategy", ["smoothed_max", "max", "zscore", "log1p", "binary"])
@pytest.mark.parametrize("group_by", ["user", "item", None])
def test_normalizer_partial_fit_equals_fit(log, strategy, group_by):
    X, _ = log
    full = InteractionNormalizer(strategy=strategy, group_by=group_by).fit(X)
    part = InteractionNormalizer(strategy=strategy, group_by=group_by)
    for chunk, _ in _chunks(X, 900):
        part.partial_fit(chunk)
    pd.testing.assert_frame_equal(part.global_stats_, full.global_stats_, rtol=1e-10)
    assert part.group_stats_.keys() == full.group_stats_.keys()
    for kind in full.group_stats_:
        pd.testing.assert_frame_equal(part.group_stats_[kind], full.group_stats_[kind],
                                      rtol=1e-10)
    pd.testing.assert_frame_equal(part.transform(X), full.transform(X), rtol=1e-10)


def test_normalizer_partial_fit_refusals(log):
    X, _ = log
    with pytest.raises(ValueError, match="bm25' cannot be fitted chunk by chunk"):
        InteractionNormalizer(strategy="bm25").partial_fit(X)
    with pytest.raises(ValueError, match="start from an unfitted one"):
        InteractionNormalizer().fit(X).partial_fit(X)


@pytest.fixture(scope="module")
def parquet_log(tmp_path_factory, log):
    X, y = log
    path = tmp_path_factory.mktemp("ooc") / "log.parquet"
    X.assign(label=y).to_parquet(path, row_group_size=1000)
    return path


def _pipe(**model):
    params = dict(epochs=2, random_state=0, batch_size=128)
    params.update(model)
    return make_pipeline(InteractionNormalizer(), FeatureBuilder(), NCFClassifier(**params))


@pytest.mark.slow
def test_fit_out_of_core_learns_like_fit(parquet_log, log):
    X, y = log
    streamed = fit_out_of_core(_pipe(), parquet_log, label="label", chunk_rows=600)
    in_memory = _pipe().fit(X, y)
    assert streamed[1].n_samples_fit_ == len(X)
    assert streamed[1].schema_ == in_memory[1].schema_
    auc_streamed = roc_auc_score(y, streamed.predict_proba(X)[:, 1])
    auc_memory = roc_auc_score(y, in_memory.predict_proba(X)[:, 1])
    assert auc_streamed > 0.6
    assert abs(auc_streamed - auc_memory) < 0.05
    top = recommend(streamed, X["user_id"].unique()[:3], k=5)
    assert len(top) == 15 and not top["fallback"].any()


@pytest.mark.slow
def test_fit_out_of_core_is_deterministic(parquet_log, log):
    X, _ = log
    a = fit_out_of_core(_pipe(epochs=1), parquet_log, label="label", chunk_rows=700)
    b = fit_out_of_core(_pipe(epochs=1), parquet_log, label="label", chunk_rows=700)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.slow
def test_fit_out_of_core_implicit_positives_from_a_directory(tmp_path, log):
    X, y = log
    positives = X[y == 1]
    for part in range(2):
        half = positives.iloc[part::2]
        half.to_parquet(tmp_path / f"part-{part}.parquet", row_group_size=300)
    pipe = make_pipeline(
        FeatureBuilder(),
        TwoTowerClassifier(epochs=1, negative_ratio=2, random_state=0),
    )
    fit_out_of_core(pipe, tmp_path, chunk_rows=400)
    assert pipe[0].n_samples_fit_ == len(positives)
    proba = pipe.predict_proba(X)[:, 1]
    assert np.isfinite(proba).all()


def test_fit_out_of_core_errors(parquet_log, tmp_path):
    with pytest.raises(ValueError, match="label column 'bought' is not in"):
        fit_out_of_core(_pipe(), parquet_log, label="bought")
    with pytest.raises(ValueError, match=r"\['EASEClassifier'\] have no partial_fit"):
        fit_out_of_core(make_pipeline(FeatureBuilder(), EASEClassifier()), parquet_log,
                        label="label")
    with pytest.raises(ValueError, match="chunk_rows=0 is invalid"):
        fit_out_of_core(_pipe(), parquet_log, label="label", chunk_rows=0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fit_out_of_core(_pipe(), tmp_path / "nope.parquet", label="label")
    with pytest.raises(ValueError, match="holds no .parquet files"):
        fit_out_of_core(_pipe(), tmp_path, label="label")
    with pytest.raises(TypeError, match="expected a sklearn Pipeline"):
        fit_out_of_core(NCFClassifier(), parquet_log, label="label")
    with pytest.raises(ValueError, match=r"column\(s\) \['price'\] are not in"):
        fit_out_of_core(_pipe(), parquet_log, label="label", columns=["user_id", "price"])


def test_fit_out_of_core_reads_bounded_chunks(parquet_log, monkeypatch):
    seen = []
    original = FeatureBuilder.partial_fit

    def spy(self, X, y=None):
        seen.append(len(X))
        return original(self, X, y)

    monkeypatch.setattr(FeatureBuilder, "partial_fit", spy)
    pipe = make_pipeline(FeatureBuilder(), clone(NCFClassifier(epochs=1, random_state=0)))
    monkeypatch.setattr(NCFClassifier, "partial_fit", lambda self, X, y, **kw: self)
    fit_out_of_core(pipe, parquet_log, label="label", chunk_rows=300)
    assert max(seen) <= 300 and sum(seen) == 4000


def test_errors_in_the_read_ahead_thread_reach_the_caller(tmp_path, log):
    X, y = log
    path = tmp_path / "bad.parquet"
    labels = y.astype(float)
    labels[3500] = np.nan  # in the last row group: raised while reading ahead
    X.assign(label=labels).to_parquet(path, row_group_size=1000)
    with pytest.raises(ValueError, match="label column 'label' has missing values"):
        fit_out_of_core(make_pipeline(FeatureBuilder(), NCFClassifier(epochs=1)), path,
                        label="label", chunk_rows=500)
