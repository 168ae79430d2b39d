"""make_ranking_scorer: held-out items ranked through the whole pipeline."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skrec import FeatureBuilder, make_interactions, recommend
from skrec.metrics import hit_rate_at_k, make_ranking_scorer, ndcg_at_k
from skrec.model_selection import LeaveLatestOut
from skrec.models import EASEClassifier, PopularityClassifier


@pytest.fixture(scope="module")
def fold():
    X, y = make_interactions(n_users=80, n_items=50, n_interactions=3000,
                             random_state=0, return_X_y=True)
    X = X[["user_id", "item_id", "timestamp"]]
    train, test = next(LeaveLatestOut().split(X))
    pipe = make_pipeline(FeatureBuilder(), PopularityClassifier())
    pipe.fit(X.iloc[train], y.iloc[train])
    return X, y, train, test, pipe


def _reference(pipe, X_test, y_test, metric, k):
    """Straightforward per-user computation from recommend()'s full ranking."""
    held = X_test[y_test.to_numpy() == 1]
    builder = pipe[0]
    held = held[held["user_id"].isin(builder.user_vocabulary_)]
    ranked = recommend(pipe, held["user_id"].unique(), k=10_000)
    rows = []
    for user, items in held.groupby("user_id")["item_id"]:
        mine = ranked[ranked["user_id"] == user]
        relevant = set(items)
        rows += [(user, item, s, float(item in relevant))
                 for item, s in zip(mine["item_id"], mine["score"])]
        for item in relevant - set(mine["item_id"]):  # seen in training: a miss
            rows.append((user, item, -1.0, 1.0))
    table = pd.DataFrame(rows, columns=["user", "item", "score", "rel"])
    return metric(table["rel"], table["score"], table["user"], k=k)


@pytest.mark.parametrize("name, metric", [("ndcg", ndcg_at_k), ("hit_rate", hit_rate_at_k)])
def test_full_ranking_matches_a_per_user_reference(fold, name, metric):
    X, y, _, test, pipe = fold
    scorer = make_ranking_scorer(name, k=5)
    expected = _reference(pipe, X.iloc[test], y.iloc[test], metric, 5)
    assert scorer(pipe, X.iloc[test], y.iloc[test]) == pytest.approx(expected, abs=1e-12)


def test_sampled_candidates_are_reproducible_and_bounded(fold):
    X, y, _, test, pipe = fold
    a = make_ranking_scorer("hit_rate", k=3, candidates=5, random_state=1)
    b = make_ranking_scorer("hit_rate", k=3, candidates=5, random_state=1)
    score = a(pipe, X.iloc[test], y.iloc[test])
    assert score == b(pipe, X.iloc[test], y.iloc[test])
    # With more sampled candidates than items, sampling ranks everything: same as "all".
    everything = make_ranking_scorer("hit_rate", k=3, candidates=10_000)
    full = make_ranking_scorer("hit_rate", k=3)
    assert everything(pipe, X.iloc[test], y.iloc[test]) == pytest.approx(
        full(pipe, X.iloc[test], y.iloc[test])
    )
    # Fewer candidates make hitting easier than ranking the whole catalogue.
    assert score >= full(pipe, X.iloc[test], y.iloc[test])


def test_grid_search_refits_on_the_ranking_metric(fold):
    X, y, *_ = fold
    search = GridSearchCV(
        make_pipeline(FeatureBuilder(), EASEClassifier()),
        {"easeclassifier__l2": [1.0, 50.0, 5000.0]},
        cv=LeaveLatestOut(),
        scoring={"ndcg@10": make_ranking_scorer("ndcg"), "roc_auc": "roc_auc"},
        refit="ndcg@10",
    ).fit(X, y)
    ndcg = search.cv_results_["mean_test_ndcg@10"]
    assert np.all(np.isfinite(ndcg))
    assert np.all(np.isfinite(search.cv_results_["mean_test_roc_auc"]))
    assert search.best_index_ == int(np.argmax(ndcg))


def test_several_metrics_from_one_ranking_pass(fold, monkeypatch):
    X, y, _, test, pipe = fold
    import skrec._recommend as rec

    calls = []
    original = rec.recommend
    monkeypatch.setattr(rec, "recommend", lambda *a, **kw: calls.append(1) or original(*a, **kw))
    names = ["ndcg", "hit_rate", "precision", "recall", "map", "mrr"]
    scores = make_ranking_scorer(names, k=5)(pipe, X.iloc[test], y.iloc[test])
    assert len(calls) == 1
    assert list(scores) == [f"{name}@5" for name in names]
    for name in names:
        single = make_ranking_scorer(name, k=5)(pipe, X.iloc[test], y.iloc[test])
        assert scores[f"{name}@5"] == single


def test_grid_search_with_a_multi_metric_scorer(fold):
    X, y, *_ = fold
    search = GridSearchCV(
        make_pipeline(FeatureBuilder(), EASEClassifier()),
        {"easeclassifier__l2": [1.0, 5000.0]},
        cv=LeaveLatestOut(),
        scoring=make_ranking_scorer(["ndcg", "map"]),
        refit="map@10",
    ).fit(X, y)
    assert search.best_index_ == int(np.argmax(search.cv_results_["mean_test_map@10"]))
    assert np.all(np.isfinite(search.cv_results_["mean_test_ndcg@10"]))


def test_bad_parameters_are_explained():
    with pytest.raises(ValueError, match="metric='auc' must be one of"):
        make_ranking_scorer("auc")
    with pytest.raises(ValueError, match="list of distinct ones"):
        make_ranking_scorer(["ndcg", "ndcg"])
    with pytest.raises(ValueError, match="must be one of"):
        make_ranking_scorer(["ndcg", "auc"])
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        make_ranking_scorer("ndcg", k=0)
    with pytest.raises(ValueError, match="candidates must be 'all' or an integer"):
        make_ranking_scorer("ndcg", candidates="some")
