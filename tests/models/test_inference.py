"""Predictions depend on the rows and the weights, not on the process's threads."""

import concurrent.futures
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from skrec.models import NCFClassifier
from skrec.models._inference import batched_predict

ROOT = Path(__file__).resolve().parents[2]


def _python(script, *args, environ=None, **env):
    """Run ``script`` with ``args`` in a fresh interpreter; return its stdout."""
    environ = dict(os.environ if environ is None else environ, **env)
    environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), environ.get("PYTHONPATH")])
    )
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
        capture_output=True,
        text=True,
        env=environ,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _ids_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 30, n)
    items = rng.integers(0, 20, n)
    return np.c_[users, items].astype(float), ((users % 3) == (items % 3)).astype(int)


@pytest.mark.slow
def test_a_reload_predicts_the_same_bits_under_other_thread_settings(tmp_path):
    # With oneDNN off, TensorFlow's Eigen kernels split a product whose inner
    # dimension is >= 1024 differently on 1 and on 2+ intra-op threads
    # (measured: 2,954 of 4,000 probabilities differed before the fix). The
    # autoencoder's first layer reads all 3,000 items, so it is such a product.
    fit = f"""
        import joblib, numpy as np
        from skrec._tf import tf
        tf.config.threading.set_intra_op_parallelism_threads(1)
        from sklearn.pipeline import make_pipeline
        from skrec import FeatureBuilder, make_interactions
        from skrec.models import AutoencoderClassifier
        X, y = make_interactions(n_users=300, n_items=3000, n_interactions=20000,
                                 random_state=0, return_X_y=True)
        X = X[["user_id", "item_id"]]
        pipe = make_pipeline(FeatureBuilder(),
                             AutoencoderClassifier(epochs=1, random_state=0)).fit(X, y)
        joblib.dump(pipe, {str(tmp_path / "m.joblib")!r})
        X.head(2000).to_pickle({str(tmp_path / "rows.pkl")!r})
        np.save({str(tmp_path / "expected.npy")!r}, pipe.predict_proba(X.head(2000)))
    """
    predict = f"""
        import sys, joblib, numpy as np, pandas as pd
        from skrec._tf import tf
        tf.config.threading.set_intra_op_parallelism_threads(int(sys.argv[1]))
        pipe = joblib.load({str(tmp_path / "m.joblib")!r})
        got = pipe.predict_proba(pd.read_pickle({str(tmp_path / "rows.pkl")!r}))
        expected = np.load({str(tmp_path / "expected.npy")!r})
        print(int((got != expected).sum()), got.size)
    """
    _python(fit, TF_ENABLE_ONEDNN_OPTS="0")
    for threads in (2, 4):
        counts = _python(predict, threads, TF_ENABLE_ONEDNN_OPTS="0").split()
        assert counts == ["0", "4000"], threads


def test_tensorflow_started_before_skrec_is_named_in_a_warning():
    script = """
        import warnings
        import numpy as np
        import tensorflow as tf
        tf.constant(1.0) + 1.0  # the runtime starts before skrec is imported
        from skrec.models import NCFClassifier
        X = np.c_[np.arange(40) % 8, np.arange(40) % 5].astype(float)
        y = (np.arange(40) % 2).astype(int)
        clf = NCFClassifier(epochs=1, random_state=0).fit(X, y)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            clf.predict_proba(X)
            clf.predict_proba(X)
        print(sum("TF_OVERRIDE_GLOBAL_THREADPOOL=1" in str(w.message) for w in caught))
    """
    env = {key: value for key, value in os.environ.items()
           if key != "TF_OVERRIDE_GLOBAL_THREADPOOL"}
    out = _python(script, environ=env)
    assert out.split() == ["1"]  # once per process
    # Set in the environment, the variable works whenever TensorFlow starts.
    assert _python(script, TF_OVERRIDE_GLOBAL_THREADPOOL="1").split() == ["0"]


def test_predictions_read_the_weights_of_each_call():
    X, y = _ids_data()
    clf = NCFClassifier(epochs=1, random_state=0, learning_rate=1e-2).fit(X, y)
    before = clf.predict_proba(X)
    clf.partial_fit(X, y)  # the same network object, trained further
    after = clf.predict_proba(X)
    assert np.abs(after - before).max() > 1e-3
    keras_path = clf.model_.predict(clf.feature_encoder_.transform(X), verbose=0)
    np.testing.assert_allclose(after[:, 1], keras_path[:, 0], rtol=1e-5, atol=1e-6)


def test_threads_predicting_at_once_get_the_serial_results():
    X, y = _ids_data(2000)
    clf = NCFClassifier(epochs=1, random_state=0, predict_batch_size=128).fit(X, y)
    expected = clf.predict_proba(X)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: clf.predict_proba(X), range(8)))
    for proba in results:
        np.testing.assert_array_equal(proba, expected)


def test_a_batch_scores_the_same_whatever_the_other_batches_of_the_call():
    X, y = _ids_data(1000)
    clf = NCFClassifier(epochs=1, random_state=0, predict_batch_size=64).fit(X, y)
    whole = clf.predict_proba(X)  # 16 batches, run side by side
    alone = np.concatenate([clf.predict_proba(X[i:i + 64]) for i in range(0, 1000, 64)])
    np.testing.assert_array_equal(whole, alone)
    encoded = clf.feature_encoder_.transform(X[:0])
    assert batched_predict(clf.model_, encoded, 64).shape == (0, 1)
