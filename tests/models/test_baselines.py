"""PopularityClassifier and EASEClassifier: exact values, ranking, unknown ids, sklearn fit."""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skrec.datasets import make_interactions
from skrec.models._baselines import EASEClassifier, PopularityClassifier
from skrec.preprocessing import FeatureBuilder

# A tiny log as a plain array: column 0 user ids, column 1 item ids.
TINY_X = np.array(
    [[1, 10], [1, 20], [1, 30], [2, 10], [2, 20], [3, 20], [3, 30], [4, 40], [4, 10]]
)
TINY_Y = np.array([1, 1, 0, 1, 1, 1, 1, 1, 0])


@pytest.fixture(scope="module")
def ids_only():
    X, y = make_interactions(
        n_users=120, n_items=80, n_interactions=3000, random_state=0, return_X_y=True
    )
    return X[["user_id", "item_id"]], y


# ------------------------------------------------------------------ popularity
def test_popularity_counts_are_exact():
    clf = PopularityClassifier().fit(TINY_X, TINY_Y)
    queries = np.array([[1, 10], [5, 20], [1, 30], [2, 40], [1, 99], [99, 99]])
    # item 10: 2 positives, 20: 3, 30: 1, 40: 1, 99: unseen -> 0.
    np.testing.assert_array_equal(clf.decision_function(queries), [2, 3, 1, 1, 0, 0])
    proba = clf.predict_proba(queries)
    np.testing.assert_allclose(proba[:, 1], np.array([2, 3, 1, 1, 0, 0]) / 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(queries), [1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(clf.classes_, [0, 1])


def test_popularity_no_positive_gives_zero_scores():
    clf = PopularityClassifier().fit(TINY_X, np.zeros(len(TINY_X), dtype=int))
    np.testing.assert_array_equal(clf.predict_proba(TINY_X)[:, 1], 0.0)


# ------------------------------------------------------------------------ EASE
def _direct_ease(X, l2):
    G = X.T @ X + l2 * np.eye(X.shape[1])
    P = np.linalg.inv(G)
    return np.eye(X.shape[1]) - P / np.diag(P)


def test_ease_matches_the_formula_on_a_tiny_case():
    l2 = 0.7
    clf = EASEClassifier(l2=l2).fit(TINY_X, TINY_Y)
    # Dense binary matrix of positives, indexed like the model (0 = unknown).
    users = {1: 1, 2: 2, 3: 3, 4: 4}
    items = {10: 1, 20: 2, 30: 3, 40: 4}
    Xm = np.zeros((5, 5))
    for (u, i), label in zip(TINY_X, TINY_Y):
        if label == 1:
            Xm[users[u], items[i]] = 1.0
    B = _direct_ease(Xm, l2)
    np.testing.assert_allclose(clf.B_, B, atol=1e-12)
    np.testing.assert_array_equal(np.diag(clf.B_), 0.0)
    np.testing.assert_array_equal(clf.user_items_.toarray(), Xm)

    pairs = np.array([[u, i] for u in users for i in items])
    expected = [Xm[users[u]] @ B[:, items[i]] for u, i in pairs]
    np.testing.assert_allclose(clf.decision_function(pairs), expected, atol=1e-12)
    proba = clf.predict_proba(pairs)
    assert proba.shape == (len(pairs), 2)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # Strictly monotone map: the probability orders rows exactly as the score.
    s = clf.decision_function(pairs)
    order = np.argsort(s, kind="stable")
    assert (np.diff(proba[order, 1]) >= 0).all()
    assert ((np.diff(s[order]) > 0) == (np.diff(proba[order, 1]) > 0)).all()


def test_ease_small_blocks_give_the_same_scores():
    X, y = make_interactions(n_users=60, n_items=40, n_interactions=1500,
                             random_state=1, return_X_y=True)
    Xa = X[["user_id", "item_id"]].to_numpy()
    clf = EASEClassifier(l2=10.0).fit(Xa, y)
    full = clf.decision_function(Xa)
    clf._block_size = 7
    np.testing.assert_allclose(clf.decision_function(Xa), full, atol=1e-12)


def test_ease_ranks_a_held_out_co_occurring_item_above_a_random_one():
    rng = np.random.default_rng(0)
    # Two tastes: items 0-9 are consumed together, items 10-19 together.
    rows = []
    for user in range(200):
        group = user % 2
        for item in rng.choice(10, size=6, replace=False) + 10 * group:
            rows.append((user, item))
    rows = np.array(rows)
    # Hold out one item of user 0 (group 0) and of user 1 (group 1).
    held = {0: rows[rows[:, 0] == 0][0, 1], 1: rows[rows[:, 0] == 1][0, 1]}
    train = np.array([r for r in rows if not (r[0] in held and r[1] == held[r[0]])])
    clf = EASEClassifier(l2=5.0).fit(train, np.ones(len(train)))
    for user, item in held.items():
        other = (item + 10) % 20  # same rank, the other taste
        s = clf.predict_proba(np.array([[user, item], [user, other]]))[:, 1]
        assert s[0] > s[1]


def test_unknown_users_and_items_score_zero():
    clf = EASEClassifier(l2=1.0).fit(TINY_X, TINY_Y)
    queries = np.array([[77, 10], [77, 20], [1, 99], [88, 99]])
    np.testing.assert_array_equal(clf.decision_function(queries), 0.0)
    np.testing.assert_allclose(clf.predict_proba(queries)[:, 1], 1 / 6)
    np.testing.assert_array_equal(clf.predict(queries), 0)


def test_feature_builder_unknown_ids_are_index_zero(ids_only):
    X, y = ids_only
    pipe = make_pipeline(FeatureBuilder(), EASEClassifier(l2=50.0)).fit(X, y)
    new = X.head(3).copy()
    new["user_id"] = -1  # never seen
    np.testing.assert_array_equal(pipe.decision_function(new), 0.0)
    pop = make_pipeline(FeatureBuilder(), PopularityClassifier()).fit(X, y)
    new["item_id"] = -1
    np.testing.assert_array_equal(pop.decision_function(new), 0.0)


# ------------------------------------------------------------- sklearn contract
@pytest.mark.parametrize("estimator", [PopularityClassifier(), EASEClassifier(l2=50.0)])
def test_pipeline_on_ids_only_log(ids_only, estimator):
    X, y = ids_only
    pipe = make_pipeline(FeatureBuilder(), clone(estimator)).fit(X, y)
    proba = pipe.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert np.isfinite(proba).all() and (proba >= 0).all() and (proba <= 1).all()
    assert set(np.unique(pipe.predict(X))) <= {0, 1}
    assert is_classifier(pipe)
    # The schema of FeatureBuilder sized the vocabularies.
    builder = pipe[0]
    model = pipe[-1]
    assert model.n_items_ == len(builder.item_vocabulary_) + 1
    assert model.n_users_ == len(builder.user_vocabulary_) + 1


@pytest.mark.parametrize("estimator", [PopularityClassifier(), EASEClassifier(l2=50.0)])
def test_joblib_and_pickle_round_trip(ids_only, estimator, tmp_path):
    X, y = ids_only
    pipe = make_pipeline(FeatureBuilder(), clone(estimator)).fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(pipe, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(pipe.predict_proba(X), loaded.predict_proba(X))
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(pipe.predict_proba(X), again.predict_proba(X))


def test_grid_search_over_l2(ids_only):
    X, y = ids_only
    pipe = make_pipeline(FeatureBuilder(), EASEClassifier())
    assert is_classifier(pipe) and is_classifier(EASEClassifier())
    assert is_classifier(PopularityClassifier())
    search = GridSearchCV(
        pipe, {"easeclassifier__l2": [1.0, 50.0, 500.0]}, scoring="roc_auc", cv=3
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    assert search.best_params_["easeclassifier__l2"] in (1.0, 50.0, 500.0)


def test_params_and_errors():
    assert EASEClassifier().get_params() == {"l2": 500.0}
    assert PopularityClassifier().get_params() == {}
    with pytest.raises(ValueError, match="l2"):
        EASEClassifier(l2=0).fit(TINY_X, TINY_Y)
    with pytest.raises(ValueError, match="binary"):
        PopularityClassifier().fit(TINY_X, np.arange(len(TINY_X)))
    with pytest.raises(ValueError, match="column 0 holds user ids"):
        EASEClassifier().fit(TINY_X[:, :1], TINY_Y)
    with pytest.raises(ValueError, match="feature"):
        PopularityClassifier().fit(TINY_X, TINY_Y).predict(np.ones((2, 3)))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        EASEClassifier().predict_proba(TINY_X)


def test_string_ids_in_a_plain_array():
    X = np.array([["a", "x"], ["a", "y"], ["b", "x"], ["b", "y"], ["c", "x"]], dtype=object)
    clf = EASEClassifier(l2=1.0).fit(X, np.ones(5))
    s = clf.decision_function(np.array([["c", "y"], ["c", "x"], ["zz", "y"]], dtype=object))
    assert s[0] > s[1] and s[2] == 0.0
