"""Ranking scorers: ranking metrics as ``GridSearchCV(scoring=...)`` objects."""

import numbers

import numpy as np
import pandas as pd

from ._ranking import (
    hit_rate_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

_METRICS = {
    "ndcg": ndcg_at_k,
    "hit_rate": hit_rate_at_k,
    "precision": precision_at_k,
    "recall": recall_at_k,
    "map": map_at_k,
    "mrr": mrr_at_k,
}


def metric_at_k(table, metric, k):
    """Mean ``metric@k`` over the users of a ranked table (see RankingScorer)."""
    return float(
        _METRICS[metric](table["relevance"], table["score"], table["user_id"], k=k)
    )


class RankingScorer:
    """Score a fitted pipeline by how it ranks each user's held-out items.

    Build it with :func:`make_ranking_scorer`. Called as
    ``scorer(estimator, X, y)`` on a validation fold, it takes the fold's
    positive rows (``y == 1``; every row when ``y`` is None) as each user's
    relevant items, ranks candidates for every user known to the fitted
    pipeline's FeatureBuilder with :func:`skrec.recommend` (one batched pass,
    not one call per user), and returns the mean metric over users; with a
    list of metrics, a dict ``{"<metric>@<k>": score}`` from that one pass.

    Candidates are all catalogue items the user did not interact with in the
    training fold (``exclude_seen=True``), or, with ``candidates=n``, the
    user's relevant items plus ``n`` items drawn at random among the other
    candidates. A relevant item the user already had in training cannot be
    recommended again; it stays in the relevant set, ranked last (a miss).
    Users unknown to the training fold are left out: the model has no
    history for them.
    """

    def __init__(self, metric, k, candidates, exclude_seen, random_state):
        self.metric = metric
        self.k = k
        self.candidates = candidates
        self.exclude_seen = exclude_seen
        self.random_state = random_state

    def __call__(self, estimator, X, y=None):
        table = self._ranked_table(estimator, X, y)
        if table is None:
            return self._result(lambda metric: np.nan)
        return self._result(lambda metric: metric_at_k(table, metric, self.k))

    def _ranked_table(self, estimator, X, y=None):
        """One ranking pass: ``user_id, item_id, score, relevance`` rows, or None.

        Every metric at every cut-off is read from this table (see
        :func:`metric_at_k`); None when no held-out user is known to the model.
        """
        from .._recommend import _find_builder, recommend

        builder = _find_builder(estimator)
        user_col, item_col = builder.user_col, builder.item_col
        held = X if y is None else X[np.asarray(y) == 1]
        held = held[[user_col, item_col]].drop_duplicates()
        held = held[builder.user_vocabulary_.get_indexer(held[user_col]) >= 0]
        if held.empty:
            return None
        users = pd.unique(held[user_col])
        n_items = len(builder.item_catalogue_)
        ranked = recommend(estimator, users, k=n_items, exclude_seen=self.exclude_seen)
        ranked = ranked.loc[~ranked["fallback"], ["user_id", "item_id", "score"]]
        relevant = held.rename(columns={user_col: "user_id", item_col: "item_id"})
        relevant = relevant.assign(relevance=1.0)
        table = ranked.merge(relevant, on=["user_id", "item_id"], how="outer")
        table["relevance"] = table["relevance"].fillna(0.0)
        # Relevant but not a candidate (seen in training, or not in the catalogue).
        lowest = table["score"].min() if table["score"].notna().any() else 0.0
        table["score"] = table["score"].fillna(lowest - 1.0)
        if self.candidates != "all":
            table = self._sample(table)
        return table

    def _result(self, compute):
        if isinstance(self.metric, str):
            return compute(self.metric)
        return {f"{metric}@{self.k}": compute(metric) for metric in self.metric}

    def _sample(self, table):
        rng = np.random.default_rng(self.random_state)
        table = table.assign(_key=rng.random(len(table)))
        negatives = table["relevance"] == 0
        order = table[negatives].sort_values(["user_id", "_key"], kind="stable")
        keep = order.groupby("user_id", sort=False).cumcount() < self.candidates
        sampled = order[keep.to_numpy()]
        return pd.concat([table[~negatives], sampled]).drop(columns="_key")

    def __repr__(self):
        return (
            f"make_ranking_scorer({self.metric!r}, k={self.k}, "
            f"candidates={self.candidates!r}, exclude_seen={self.exclude_seen})"
        )


def make_ranking_scorer(
    metric="ndcg", k=10, *, candidates="all", exclude_seen=True, random_state=0
):
    """Make a scorer that ranks held-out items through the whole pipeline.

    Use it in ``cross_validate``, ``cross_val_score`` or
    ``GridSearchCV(scoring={"ndcg@10": make_ranking_scorer("ndcg")},
    refit="ndcg@10")`` with a user-aware splitter from
    :mod:`skrec.model_selection`.

    Parameters
    ----------
    metric : {"ndcg", "hit_rate", "precision", "recall", "map", "mrr"} or list \
            of them, default="ndcg"
        Ranking metric at ``k`` (see :mod:`skrec.metrics`). A list gives a
        scorer returning a dict ``{"ndcg@10": ..., "map@10": ...}`` computed
        from one ranking pass; pass it as ``scoring=`` on its own (sklearn
        accepts a callable returning a dict) and name one key in ``refit=``.
    k : int, default=10
        Cut-off of the ranked list.
    candidates : "all" or int, default="all"
        ``"all"``: rank every unseen catalogue item (protocol P1); an int
        ``n``: rank the relevant items among ``n`` sampled unseen items per
        user (protocol P2, ``n=99``).
    exclude_seen : bool, default=True
        Leave the user's training items out of the candidates.
    random_state : int or None, default=0
        Seed of the candidate sampling (same seed, same candidates).

    Returns
    -------
    scorer : RankingScorer
        Callable ``scorer(estimator, X, y)`` returning the mean metric (higher
        is better), or a dict of them for a list of metrics; see
        :class:`RankingScorer` for the protocol.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skrec import FeatureBuilder, make_interactions
    >>> from skrec.metrics import make_ranking_scorer
    >>> from skrec.model_selection import LeaveLatestOut
    >>> from skrec.models import PopularityClassifier
    >>> X, y = make_interactions(n_users=60, n_items=40, n_interactions=1500,
    ...                          random_state=0, return_X_y=True)
    >>> train, test = next(LeaveLatestOut().split(X))
    >>> pipe = make_pipeline(FeatureBuilder(), PopularityClassifier())
    >>> pipe = pipe.fit(X.iloc[train], y.iloc[train])
    >>> score = make_ranking_scorer("hit_rate", k=10)(pipe, X.iloc[test], y.iloc[test])
    >>> 0.0 <= score <= 1.0
    True
    >>> several = make_ranking_scorer(["ndcg", "map"], k=5)
    >>> sorted(several(pipe, X.iloc[test], y.iloc[test]))
    ['map@5', 'ndcg@5']
    """
    names = [metric] if isinstance(metric, str) else metric
    try:
        names = list(names)
    except TypeError:
        names = [metric]
    unknown = [name for name in names if not isinstance(name, str) or name not in _METRICS]
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(
            f"make_ranking_scorer: metric={metric!r} must be one of {sorted(_METRICS)} "
            "or a list of distinct ones, e.g. ['ndcg', 'map']."
        )
    if not isinstance(metric, str):
        metric = tuple(names)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"make_ranking_scorer: k must be an integer >= 1, got {k!r}.")
    if candidates != "all" and (
        isinstance(candidates, bool)
        or not isinstance(candidates, numbers.Integral)
        or candidates < 1
    ):
        raise ValueError(
            "make_ranking_scorer: candidates must be 'all' or an integer >= 1 "
            f"(e.g. 99 sampled items), got {candidates!r}."
        )
    return RankingScorer(metric, int(k), candidates, bool(exclude_seen), random_state)
