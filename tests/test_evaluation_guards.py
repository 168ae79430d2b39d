"""Guards on the evaluation machinery: no leakage, and refit on the metric asked for.

Everything goes through the real sklearn machinery (``cross_validate`` and
``GridSearchCV`` with ``cv=`` a skrec splitter, ``make_ranking_scorer`` as a
scorer), so a splitter or scorer that let held-out rows reach training, or a
search that refit on the wrong metric, would fail here.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline

from skrec import FeatureBuilder, make_interactions
from skrec.metrics import make_ranking_scorer
from skrec.model_selection import LeaveLatestOut, UserHoldout
from skrec.models import EASEClassifier, NCFClassifier, PopularityClassifier

SCORING = {"roc_auc": "roc_auc", "ndcg@10": make_ranking_scorer("ndcg", k=10)}


# ----------------------------------------------------------- 1. leakage guard
#
# Labels drawn at random, independently of every feature. Then:
#
# * ROC AUC. The held-out labels are independent of anything a model fitted on
#   the training fold can know, so its AUC on the fold follows the null
#   (Mann-Whitney) distribution: mean 0.5, standard deviation
#   sqrt((n1 + n0 + 1) / (12 n1 n0)) for n1 positive and n0 negative rows
#   (ties, e.g. popularity counts, only shrink it). The bound is 4 of those
#   deviations, computed from each test fold (about 0.065 on a 1,500-row fold
#   with 30% positives): an honest pipeline crosses it with probability
#   ~6e-5, whatever the seed.
# * NDCG@10 over the unseen catalogue. The relevant items of a user are a
#   random 30% of their held-out impressions, and make_interactions shows items
#   with a user-independent (Zipf) exposure. The best ranking any honest model
#   can make is therefore "most exposed first", which PopularityClassifier
#   estimates from the training fold. The bound: no model may beat popularity
#   by more than NDCG_MARGIN = 0.05 (measured: EASE 0.10 and NCF 0.02 against
#   popularity 0.11-0.15; a model that saw the held-out rows scores 0.24 and
#   more, see the controls below).
# * Popularity itself must stay at popularity level, above NDCG_FLOOR = 0.05
#   (measured 0.11-0.15). This is what catches a splitter that leaks held-out
#   rows into the training fold: the FeatureBuilder then records the held-out
#   items as seen, the scorer (exclude_seen=True) cannot recommend them, and
#   every model's NDCG collapses to exactly 0 instead of jumping up.

NDCG_MARGIN = 0.05
NDCG_FLOOR = 0.05
AUC_SIGMAS = 4.0


@pytest.fixture(scope="module")
def random_labels():
    """A 6,000-row log whose labels are coin flips independent of X."""
    X, _ = make_interactions(
        n_users=200, n_items=150, n_interactions=6000, random_state=0, return_X_y=True
    )
    y = pd.Series((np.random.default_rng(0).random(len(X)) < 0.3).astype(np.int64))
    return X, y


def _pipeline(model):
    return Pipeline([("features", FeatureBuilder()), ("model", model)])


def _models(ncf=True):
    models = {"popularity": PopularityClassifier(), "ease": EASEClassifier(l2=100.0)}
    if ncf:
        models["ncf"] = NCFClassifier(epochs=2, random_state=0)
    return models


def _auc_bounds(cv, X, y):
    """AUC_SIGMAS null standard deviations of the AUC, one per test fold."""
    bounds = []
    for _, test in cv.split(X, y):
        n1 = int(y.iloc[test].sum())
        n0 = len(test) - n1
        bounds.append(AUC_SIGMAS * np.sqrt((n1 + n0 + 1) / (12.0 * n1 * n0)))
    return np.array(bounds)


def _evaluate(pipelines, X, y, cv):
    return {
        name: cross_validate(pipe, X, y, cv=cv, scoring=SCORING, error_score="raise")
        for name, pipe in pipelines.items()
    }


def _leakage_alarms(results, auc_bounds):
    """Everything that says the evaluation saw held-out rows; [] when honest."""
    alarms = []
    for name, result in results.items():
        for key in ("test_roc_auc", "test_ndcg@10"):
            if not np.all(np.isfinite(result[key])):
                alarms.append(f"{name}: {key} not finite: {result[key]}")
    popularity = results["popularity"]["test_ndcg@10"].mean()
    if not popularity >= NDCG_FLOOR:
        alarms.append(f"popularity NDCG@10 {popularity:.3f} < floor {NDCG_FLOOR}")
    for name, result in results.items():
        deviation = np.abs(result["test_roc_auc"] - 0.5)
        if not np.all(deviation < auc_bounds):
            alarms.append(
                f"{name}: AUC {result['test_roc_auc']} off 0.5 by more than {auc_bounds}"
            )
        ndcg = result["test_ndcg@10"].mean()
        if name != "popularity" and not ndcg <= popularity + NDCG_MARGIN:
            alarms.append(
                f"{name}: NDCG@10 {ndcg:.3f} > popularity {popularity:.3f} + {NDCG_MARGIN}"
            )
    return alarms


class _LeakySplit:
    """A broken splitter: every test row is also in the training fold."""

    def __init__(self, cv):
        self.cv = cv

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.cv.get_n_splits(X, y, groups)

    def split(self, X, y=None, groups=None):
        for train, test in self.cv.split(X, y, groups):
            yield np.concatenate([train, test]), test


class _ModelSeesEveryRow(Pipeline):
    """A leak past the FeatureBuilder: its catalogue and seen items come from the
    training fold, but the final model is fitted on every row of ``log`` (the
    classic "fit the model on the whole log, then cross-validate" mistake)."""

    def __init__(self, steps, *, log=None, labels=None, memory=None, verbose=False):
        super().__init__(steps, memory=memory, verbose=verbose)
        self.log = log
        self.labels = labels

    def fit(self, X, y=None, **params):
        (b_name, builder), (m_name, model) = self.steps[0], self.steps[-1]
        builder = clone(builder).fit(X, y)
        model = clone(model).fit(builder.transform(self.log), self.labels)
        self.steps = [(b_name, builder), (m_name, model)]
        return self


@pytest.mark.parametrize(
    "cv",
    [UserHoldout(test_size=0.25, n_splits=2, random_state=0), LeaveLatestOut(n=8)],
    ids=["UserHoldout", "LeaveLatestOut"],
)
def test_random_labels_score_chance_auc_and_popularity_level_ndcg(random_labels, cv):
    X, y = random_labels
    bounds = _auc_bounds(cv, X, y)
    assert np.all(bounds < 0.1), bounds  # the folds are big enough to be a guard
    results = _evaluate({n: _pipeline(m) for n, m in _models().items()}, X, y, cv)
    assert _leakage_alarms(results, bounds) == []


def test_guard_catches_a_splitter_that_trains_on_the_test_rows(random_labels):
    X, y = random_labels
    honest = UserHoldout(test_size=0.25, n_splits=2, random_state=0)
    bounds = _auc_bounds(honest, X, y)
    pipelines = {n: _pipeline(m) for n, m in _models(ncf=False).items()}
    assert _leakage_alarms(_evaluate(pipelines, X, y, honest), bounds) == []
    results = _evaluate(pipelines, X, y, _LeakySplit(honest))
    alarms = _leakage_alarms(results, bounds)
    # The held-out items are now "seen": excluded from the candidates, all misses.
    for result in results.values():
        np.testing.assert_array_equal(result["test_ndcg@10"], 0.0)
    assert any("floor" in alarm for alarm in alarms), alarms
    # EASE fitted on the held-out positives also lifts the row-level AUC (0.62).
    assert any(alarm.startswith("ease: AUC") for alarm in alarms), alarms


def test_guard_catches_a_model_fitted_on_the_held_out_rows(random_labels):
    X, y = random_labels
    cv = UserHoldout(test_size=0.25, n_splits=2, random_state=0)
    bounds = _auc_bounds(cv, X, y)
    pipelines = {
        name: _ModelSeesEveryRow(
            [("features", FeatureBuilder()), ("model", model)], log=X, labels=y
        )
        for name, model in _models(ncf=False).items()
    }
    results = _evaluate(pipelines, X, y, cv)
    alarms = _leakage_alarms(results, bounds)
    # Measured: EASE NDCG@10 0.24 (0.10 honest) against popularity 0.12; AUC 0.62.
    assert any(alarm.startswith("ease: NDCG@10") for alarm in alarms), alarms
    assert any(alarm.startswith("ease: AUC") for alarm in alarms), alarms
    ease, popularity = (results[n]["test_ndcg@10"].mean() for n in ("ease", "popularity"))
    assert ease > popularity + 2 * NDCG_MARGIN, (ease, popularity)


def test_guard_catches_a_feature_that_copies_the_label(random_labels):
    X, y = random_labels
    cv = UserHoldout(test_size=0.25, random_state=0)
    leaky = X.assign(user_behavior=y.to_numpy())  # target leakage through a context column
    pipelines = {
        "popularity": _pipeline(PopularityClassifier()),
        "ncf": _pipeline(NCFClassifier(epochs=2, random_state=0)),
    }
    results = _evaluate(pipelines, leaky, y, cv)
    alarms = _leakage_alarms(results, _auc_bounds(cv, leaky, y))
    assert any(alarm.startswith("ncf: AUC") for alarm in alarms), alarms
    assert results["ncf"]["test_roc_auc"].min() > 0.9


# ----------------------------------------- 2. best by ranking != best by AUC
#
# Two kinds of items, every (user, item) pair shown once:
#
# * 20 "hit" items: each user is shown 10 of them, and buys each with
#   probability 0.4. Hits collect most of the purchases (~4 per user).
# * 80 "niche" items: each user is shown 3 of them and always buys them
#   (label 1 on every niche row), but each niche item has few buyers.
#
# Row-level ROC AUC asks "was this impression bought?". NCF learns from the
# item_tier feature (and the item ids) that niche rows are always bought and
# hits only 40% of the time: a held-out niche row outscores every held-out hit
# row, AUC ~0.7. PopularityClassifier scores an item by its number of
# purchases, which is high for hits and low for niche items, so it ranks the
# always-bought niche rows below hit rows that were declined: AUC ~0.3.
#
# NDCG@10 over the unseen catalogue asks "which items will this user buy
# next?". Most held-out purchases are hits, and a user's ~10 unseen hits are
# exactly popularity's top 10: NDCG ~0.24. NCF puts the ~77 unseen niche items
# first, and the user buys at most one of them, so the held-out hits land
# below rank 77: NDCG ~0.04. EASE sits in between on both metrics.
#
# NCF is trained gently (learning rate 1e-3, 2 epochs): a harder-trained NCF
# saturates its float32 sigmoid at exactly 1.0 for all niche items, and the
# metrics' pessimistic tie rule then ranks any relevant niche item last among
# them (NDCG exactly 0), which would make the contrast an artefact of ties.


def _hits_and_niche_log(n_users=150, n_hits=20, n_niche=80, seed=0):
    rng = np.random.default_rng(seed)
    users, items, labels = [], [], []
    for user in range(n_users):
        hits = rng.choice(n_hits, 10, replace=False)
        niche = n_hits + rng.choice(n_niche, 3, replace=False)
        users += [user] * 13
        items += [*hits, *niche]
        labels += [*(rng.random(10) < 0.4).astype(int), 1, 1, 1]
    items = np.array(items)
    X = pd.DataFrame(
        {
            "user_id": [f"u{u:03d}" for u in users],
            "item_id": [f"i{i:03d}" for i in items],
            "item_tier": np.where(items < n_hits, "hit", "niche"),
            "timestamp": rng.permutation(len(items)),
        }
    )
    return X, pd.Series(labels, name="label")


def test_refit_on_ndcg_picks_a_different_model_than_auc_would():
    X, y = _hits_and_niche_log()
    ncf = NCFClassifier(epochs=2, learning_rate=1e-3, batch_size=32, random_state=0)
    grid = {"model": [PopularityClassifier(), EASEClassifier(l2=10.0), ncf]}
    search = GridSearchCV(
        _pipeline(PopularityClassifier()),
        grid,
        cv=UserHoldout(test_size=0.25, n_splits=2, random_state=0),
        scoring={"roc_auc": "roc_auc", "ndcg@10": make_ranking_scorer("ndcg", k=10)},
        refit="ndcg@10",
        error_score="raise",
    ).fit(X, y)
    results = search.cv_results_
    auc, ndcg = results["mean_test_roc_auc"], results["mean_test_ndcg@10"]
    for key in results:
        if key.startswith(("split", "mean_test", "std_test")):
            assert np.all(np.isfinite(results[key])), (key, results[key])

    assert search.best_index_ == int(np.argmax(ndcg))
    assert int(np.argmax(auc)) != search.best_index_
    assert search.best_score_ == ndcg[search.best_index_]

    # Which candidates, and by how much (measured: NDCG 0.24 / 0.18 / 0.04,
    # AUC 0.30 / 0.40 / 0.70 for popularity / EASE / NCF): not a coin flip.
    assert isinstance(search.best_estimator_[-1], PopularityClassifier)
    best_auc = int(np.argmax(auc))
    assert isinstance(results["param_model"][best_auc], NCFClassifier)
    assert ndcg[search.best_index_] - ndcg[best_auc] > 0.1, ndcg
    assert auc[best_auc] - auc[search.best_index_] > 0.2, auc
