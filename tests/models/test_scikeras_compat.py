"""The scikeras workarounds, checked against the installed (newest) scikit-learn."""

import random
import warnings

import numpy as np
import pytest
from sklearn.base import is_classifier
from sklearn.model_selection import StratifiedKFold, check_cv, cross_val_score
from sklearn.utils import get_tags

from skrec.models import NCFClassifier
from skrec.models._scikeras_compat import seeded


def _ids_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 10, n)
    items = rng.integers(0, 6, n)
    # Label depends on the (user, item) pair, so an id model can learn it.
    y = ((users % 3) == (items % 3)).astype(int)
    return np.c_[users, items].astype(float), y


def test_is_classifier_and_tags():
    clf = NCFClassifier()
    assert is_classifier(clf)
    tags = get_tags(clf)
    assert tags.estimator_type == "classifier"
    assert tags.target_tags.required
    assert not tags.classifier_tags.multi_class
    # Classifier CV defaults apply: stratified folds.
    assert isinstance(check_cv(3, np.array([0, 1] * 10), classifier=True), StratifiedKFold)


def test_roc_auc_scoring_gives_finite_scores():
    X, y = _ids_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # sklearn warns before NaN scores
        scores = cross_val_score(
            NCFClassifier(epochs=5, batch_size=32, learning_rate=1e-2, random_state=0),
            X,
            y,
            cv=3,
            scoring="roc_auc",
        )
    assert np.all(np.isfinite(scores))
    assert scores.mean() > 0.6


def test_learning_rate_is_routed_and_explicit_routing_wins():
    X, y = _ids_data(200)
    clf = NCFClassifier(epochs=1, learning_rate=0.0123, random_state=0).fit(X, y)
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(0.0123)
    assert "optimizer__learning_rate" not in clf.get_params()
    clf = NCFClassifier(
        epochs=1, learning_rate=0.0123, optimizer__learning_rate=0.05, random_state=0
    ).fit(X, y)
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(0.05)


def test_seeding_does_not_disable_xla_and_restores_global_rngs():
    from tensorflow.python.framework.config import is_op_determinism_enabled

    X, y = _ids_data(200)
    np.random.seed(7)
    random.seed(7)
    expected = (np.random.random(), random.random())
    np.random.seed(7)
    random.seed(7)
    clf = NCFClassifier(epochs=1, jit_compile=True, random_state=0).fit(X, y)
    assert (np.random.random(), random.random()) == expected
    assert clf.model_.jit_compile is True
    assert not is_op_determinism_enabled()
    with seeded(3):
        a = np.random.random()
    with seeded(3):
        assert np.random.random() == a


def test_feature_encoder_metadata_reaches_the_model():
    X, y = _ids_data(200)
    clf = NCFClassifier(epochs=1, random_state=0).fit(X, y)
    sizes = [entry["vocabulary_size"] for entry in clf.input_schema_[:2]]
    assert sizes == [len(np.unique(X[:, 0])) + 1, len(np.unique(X[:, 1])) + 1]
    assert clf.model_.get_layer("gmf_user").input_dim == sizes[0]


def test_feature_count_mismatch_is_named():
    X, y = _ids_data(200)
    clf = NCFClassifier(epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but NCFClassifier is expecting 2"):
        clf.predict_proba(np.c_[X, X[:, 0]])


def test_single_row_predict_proba_keeps_two_dimensions():
    X, y = _ids_data(200)
    clf = NCFClassifier(epochs=1, random_state=0).fit(X, y)
    assert clf.predict_proba(X[:1]).shape == (1, 2)
    assert clf.predict(X[:1]).shape == (1,)


def test_sparse_input_is_refused_with_sklearn_message():
    import scipy.sparse as sp

    X, y = _ids_data(50)
    with pytest.raises(TypeError, match="dense data is required"):
        NCFClassifier(epochs=1).fit(sp.csr_matrix(X), y)


def test_fast_predict_matches_keras_predict_and_traces_once():
    from skrec.models._inference import _GRAPHS

    X, y = _ids_data(300)
    clf = NCFClassifier(epochs=1, random_state=0, predict_batch_size=64).fit(X, y)
    reference = clf.model_.predict(clf.feature_encoder_.transform(X), verbose=0)
    for n in (300, 131, 1):  # the short last batch must not trace again
        proba = clf.predict_proba(X[:n])
        np.testing.assert_allclose(proba[:, 1], reference[:n, 0], rtol=1e-5, atol=1e-6)
    assert len(_GRAPHS[clf.model_]) == 1  # one graph for every batch size
    # predict__* arguments other than batch_size fall back to keras.Model.predict
    fallback = NCFClassifier(epochs=1, random_state=0, predict__steps=1).fit(X, y)
    assert fallback.predict_proba(X[:10]).shape == (10, 2)
    assert fallback.model_ not in _GRAPHS


def test_callbacks_given_to_fit_run_for_that_call_only():
    from skrec._tf import keras

    X, y = _ids_data()
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, sorted(logs)))

    model = NCFClassifier(epochs=2, random_state=0)
    model.fit(X, y, callbacks=[Record()])  # scikeras alone drops these silently
    assert [epoch for epoch, _ in seen] == [0, 1]
    assert "loss" in seen[0][1]
    assert model._fit_callbacks == []  # not kept, so not pickled with the model
    model.fit(X, y)
    assert len(seen) == 2


def test_another_thread_drawing_from_random_does_not_change_a_fit():
    # Keras seeds initial weights from the module-level random; a Dask worker's
    # event loop (or any thread) drawing from it mid-fit used to change them.
    import threading

    from sklearn.pipeline import make_pipeline

    from skrec import FeatureBuilder, make_interactions

    X, y = make_interactions(n_users=60, n_items=40, n_interactions=1500,
                             random_state=0, return_X_y=True)

    def fitted():
        pipe = make_pipeline(FeatureBuilder(), NCFClassifier(epochs=1, random_state=0))
        return pipe.fit(X, y).predict_proba(X)

    alone = fitted()
    stop = threading.Event()

    def draw():
        while not stop.is_set():
            random.random()

    thread = threading.Thread(target=draw)
    thread.start()
    try:
        disturbed = fitted()
    finally:
        stop.set()
        thread.join()
    np.testing.assert_array_equal(alone, disturbed)
