"""The whole chain as ONE sklearn object: fit, tune, evaluate, deploy."""

import os
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline

from skrec import FeatureBuilder, InteractionNormalizer, NCFClassifier, make_interactions


def _pipeline(**ncf):
    ncf.setdefault("random_state", 0)
    return make_pipeline(InteractionNormalizer(), FeatureBuilder(), NCFClassifier(**ncf))


@pytest.fixture(scope="module")
def split():
    X, y = make_interactions(random_state=0, return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def fitted(split):
    X_train, _, y_train, _ = split
    return _pipeline().fit(X_train, y_train)


def test_default_pipeline_beats_popularity_by_a_clear_margin(split, fitted):
    X_train, X_test, y_train, y_test = split
    item_rate = y_train.groupby(X_train["item_id"]).mean()
    popularity = X_test["item_id"].map(item_rate).fillna(y_train.mean())
    auc_popularity = roc_auc_score(y_test, popularity)
    proba = fitted.predict_proba(X_test)[:, 1]
    auc = roc_auc_score(y_test, proba)
    # Measured with this seed: popularity 0.638, NCF 0.770.
    assert auc > auc_popularity + 0.08, (auc, auc_popularity)
    assert log_loss(y_test, proba) < log_loss(y_test, popularity)
    assert accuracy_score(y_test, fitted.predict(X_test)) > max(y_test.mean(), 1 - y_test.mean())


def test_grid_search_over_all_three_steps_picks_the_truly_best(log_xy):
    X, y = log_xy
    grid = {
        "interactionnormalizer__strategy": ["log1p", "smoothed_max"],
        "featurebuilder__min_frequency": [1],
        # A learning rate this small leaves the network at chance: listed first,
        # it is what a NaN-scoring search would silently pick.
        "ncfclassifier__learning_rate": [1e-6, 3e-3],
    }
    search = GridSearchCV(_pipeline(epochs=3, batch_size=256), grid, cv=2, scoring="roc_auc").fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert search.best_index_ == int(np.argmax(scores))
    assert search.best_params_["ncfclassifier__learning_rate"] == 3e-3
    assert search.best_score_ > 0.65
    low = [s for s, p in zip(scores, search.cv_results_["params"])
           if p["ncfclassifier__learning_rate"] == 1e-6]
    assert max(low) < search.best_score_ - 0.02


def test_cross_val_score_on_the_pipeline(log_xy):
    X, y = log_xy
    scores = cross_val_score(_pipeline(epochs=3, batch_size=256), X, y, cv=3, scoring="roc_auc")
    assert scores.shape == (3,) and np.all(scores > 0.6)


def test_joblib_artifact_predicts_identically_in_a_fresh_process(split, fitted, tmp_path):
    _, X_test, _, _ = split
    model_path, data_path, out_path = (tmp_path / n for n in ("m.joblib", "x.pkl", "p.npy"))
    joblib.dump(fitted, model_path)
    X_test.head(500).to_pickle(data_path)
    expected = fitted.predict_proba(X_test.head(500))
    script = textwrap.dedent(
        f"""
        import joblib, numpy as np, pandas as pd
        model = joblib.load({str(model_path)!r})
        np.save({str(out_path)!r}, model.predict_proba(pd.read_pickle({str(data_path)!r})))
        """
    )
    # Other thread pools than this process's (one thread in a pytest-xdist
    # worker): predictions must not depend on them (skrec.models._inference).
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "3", "TF_NUM_INTEROP_THREADS": "3"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(out_path), expected)
    # The TensorFlow start-up flood stays out of the user's console.
    assert "oneDNN" not in done.stderr and "cuda" not in done.stderr.lower()
