"""Metric-at-k curves: one ranking metric at several cut-offs, several models."""

import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..metrics._scorer import _METRICS, RankingScorer, make_ranking_scorer, metric_at_k
from ._matplotlib import line_style, resolve_ax

_WHO = "MetricAtKDisplay"
_LABELS = {
    "ndcg": "NDCG",
    "hit_rate": "hit rate",
    "precision": "precision",
    "recall": "recall",
    "map": "MAP",
    "mrr": "MRR",
}


class MetricAtKDisplay:
    """A ranking metric at several cut-offs ``k``, one line per model.

    Build it with :meth:`from_estimators` (fitted pipelines, ranked through
    :func:`skrec.recommend` exactly as :func:`~skrec.metrics.make_ranking_scorer`
    does) or :meth:`from_predictions` (long-format scores), or from a table of
    values and call :meth:`plot`.

    Parameters
    ----------
    scores : pandas.DataFrame
        Metric values: one row per cut-off (the index, ``k``), one column per
        model.
    metric : str
        Name of the metric, one of ``"ndcg"``, ``"hit_rate"``, ``"precision"``,
        ``"recall"``, ``"map"``, ``"mrr"`` (or any label).

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The line of each model, keyed by its name.
    ax_ : matplotlib Axes
        Axes with the curves.
    figure_ : matplotlib Figure
        Figure containing the curves.

    See Also
    --------
    skrec.metrics.make_ranking_scorer : The same values at one ``k``.
    TrainingCurveDisplay : Per-epoch training curves of a deep model.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skrec import FeatureBuilder, make_interactions
    >>> from skrec.model_selection import LeaveLatestOut
    >>> from skrec.models import EASEClassifier, PopularityClassifier
    >>> from skrec.plot import MetricAtKDisplay
    >>> X, y = make_interactions(n_users=60, n_items=40, n_interactions=1500,
    ...                          random_state=0, return_X_y=True)
    >>> train, test = next(LeaveLatestOut().split(X))
    >>> models = {
    ...     "popularity": make_pipeline(FeatureBuilder(), PopularityClassifier()),
    ...     "EASE": make_pipeline(FeatureBuilder(), EASEClassifier(l2=10.0)),
    ... }
    >>> models = {name: m.fit(X.iloc[train], y.iloc[train]) for name, m in models.items()}
    >>> display = MetricAtKDisplay.from_estimators(
    ...     models, X.iloc[test], y.iloc[test], metric="hit_rate", ks=(1, 5, 10))
    >>> display.scores.shape
    (3, 2)
    >>> display.ax_.get_ylabel()
    'hit rate@k'
    """

    def __init__(self, *, scores, metric):
        self.scores = scores
        self.metric = metric

    def plot(self, ax=None, **kwargs):
        """Plot one line per model, with a marker at each cut-off.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        **kwargs : dict
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot`, applied to
            every line.

        Returns
        -------
        display : MetricAtKDisplay
            ``self``, with :attr:`lines_`, :attr:`ax_` and :attr:`figure_`.
        """
        scores = pd.DataFrame(self.scores)
        ax, figure = resolve_ax(ax, _WHO)
        ks = np.asarray(scores.index)
        lines = {}
        for name, values in scores.items():
            defaults = {"marker": "o", "label": str(name)}
            (lines[name],) = ax.plot(
                ks, values.to_numpy(dtype=np.float64), **line_style(defaults, kwargs)
            )
        label = _LABELS.get(self.metric, str(self.metric))
        ax.set_xlabel("k (length of the ranked list)")
        ax.set_ylabel(f"{label}@k")
        if np.issubdtype(ks.dtype, np.number) and 0 < len(ks) <= 12:
            ax.set_xticks(ks)  # a tick at each cut-off, unless they would crowd
        ax.legend()
        self.lines_, self.ax_, self.figure_ = lines, ax, figure
        return self

    @classmethod
    def from_estimators(
        cls,
        estimators,
        X,
        y=None,
        *,
        metric="ndcg",
        ks=(1, 5, 10, 20),
        candidates="all",
        exclude_seen=True,
        random_state=0,
        ax=None,
        **kwargs,
    ):
        """Rank held-out items with each fitted pipeline and plot the metric at each k.

        Each model ranks its candidates once (one batched
        :func:`skrec.recommend` pass); the metric at every ``k`` comes from
        that one ranking. The value at ``k`` equals
        ``make_ranking_scorer(metric, k=k, candidates=candidates,
        exclude_seen=exclude_seen, random_state=random_state)(model, X, y)``:
        see :class:`~skrec.metrics.RankingScorer` for the protocol.

        Parameters
        ----------
        estimators : dict of str to Pipeline
            Fitted pipelines with a FeatureBuilder step, by the name shown in
            the legend.
        X : DataFrame
            Held-out interactions (e.g. the test rows of
            :class:`~skrec.model_selection.LeaveLatestOut`).
        y : array-like of shape (n_rows,), default=None
            Labels of ``X``; rows with ``y == 1`` are the relevant items. None:
            every row of ``X`` is relevant.
        metric : {"ndcg", "hit_rate", "precision", "recall", "map", "mrr"}, \
                default="ndcg"
            Ranking metric.
        ks : sequence of int, default=(1, 5, 10, 20)
            Cut-offs, each >= 1; plotted in increasing order.
        candidates : "all" or int, default="all"
            Every unseen catalogue item, or the relevant items among ``n``
            sampled unseen ones (as in :func:`~skrec.metrics.make_ranking_scorer`).
        exclude_seen : bool, default=True
            Leave each user's training items out of the candidates.
        random_state : int or None, default=0
            Seed of the candidate sampling (same seed for every model).
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        **kwargs : dict
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : MetricAtKDisplay
        """
        estimators = _check_named(estimators, "estimators", "fitted pipeline")
        metric = _check_metric(metric)
        ks = _check_ks(ks)
        try:
            make_ranking_scorer(metric, k=ks[-1], candidates=candidates)
        except ValueError as exc:
            raise ValueError(f"{_WHO}: {exc}") from exc
        scorer = _RankingAtKs(metric, ks, candidates, bool(exclude_seen), random_state)
        columns = {}
        for name, estimator in estimators.items():
            try:
                columns[name] = scorer(estimator, X, y)
            except ValueError as exc:
                raise ValueError(f"{_WHO}: estimators[{name!r}]: {exc}") from exc
        scores = pd.DataFrame(columns, index=pd.Index(ks, name="k"))
        return cls(scores=scores, metric=metric).plot(ax=ax, **kwargs)

    @classmethod
    def from_predictions(
        cls, y_true, y_scores, groups, *, metric="ndcg", ks=(1, 5, 10, 20), ax=None, **kwargs
    ):
        """Plot the metric at each k from long-format scores of several models.

        Parameters
        ----------
        y_true : array-like of shape (n_rows,)
            Relevance of each (user, candidate item) row, 0/1 or graded >= 0.
        y_scores : dict of str to array-like of shape (n_rows,)
            Each model's score of the rows, by the name shown in the legend.
        groups : array-like of shape (n_rows,)
            User id of each row.
        metric : {"ndcg", "hit_rate", "precision", "recall", "map", "mrr"}, \
                default="ndcg"
            Ranking metric, computed by the function of the same name in
            :mod:`skrec.metrics` (e.g. :func:`~skrec.metrics.ndcg_at_k`).
        ks : sequence of int, default=(1, 5, 10, 20)
            Cut-offs, each >= 1; plotted in increasing order.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        **kwargs : dict
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : MetricAtKDisplay

        Examples
        --------
        >>> from skrec.plot import MetricAtKDisplay
        >>> y_true = [1, 0, 0, 0, 1, 0]
        >>> scores = {"model": [0.9, 0.8, 0.1, 0.7, 0.6, 0.5],
        ...           "random": [0.1, 0.5, 0.9, 0.3, 0.2, 0.8]}
        >>> users = ["ann", "ann", "ann", "bob", "bob", "bob"]
        >>> display = MetricAtKDisplay.from_predictions(
        ...     y_true, scores, users, metric="hit_rate", ks=[1, 2, 3])
        >>> display.scores["model"].tolist()
        [0.5, 1.0, 1.0]
        """
        y_scores = _check_named(y_scores, "y_scores", "array of scores")
        metric = _check_metric(metric)
        ks = _check_ks(ks)
        compute = _METRICS[metric]
        columns = {}
        for name, y_score in y_scores.items():
            try:
                columns[name] = [float(compute(y_true, y_score, groups, k=k)) for k in ks]
            except ValueError as exc:
                raise ValueError(f"{_WHO}: y_scores[{name!r}]: {exc}") from exc
        scores = pd.DataFrame(columns, index=pd.Index(ks, name="k"))
        return cls(scores=scores, metric=metric).plot(ax=ax, **kwargs)


class _RankingAtKs(RankingScorer):
    """A RankingScorer that returns its metric at several cut-offs from one ranking."""

    def __init__(self, metric, ks, candidates, exclude_seen, random_state):
        super().__init__(metric, ks[-1], candidates, exclude_seen, random_state)
        self.ks = ks

    def __call__(self, estimator, X, y=None):
        table = self._ranked_table(estimator, X, y)
        if table is None:
            return [np.nan] * len(self.ks)
        return [metric_at_k(table, self.metric, k) for k in self.ks]


def _check_named(mapping, param, what):
    if not isinstance(mapping, Mapping) or not mapping:
        raise ValueError(
            f"{_WHO}: {param} must be a non-empty dict {{name: {what}}}, e.g. "
            f"{{'popularity': ..., 'NCF': ...}}; got {type(mapping).__name__}."
        )
    return dict(mapping)


def _check_metric(metric):
    if not isinstance(metric, str) or metric not in _METRICS:
        raise ValueError(
            f"{_WHO}: metric={metric!r} is not a ranking metric; use one of "
            f"{sorted(_METRICS)}."
        )
    return metric


def _check_ks(ks):
    if isinstance(ks, (numbers.Integral, np.integer)) and not isinstance(ks, bool):
        ks = [ks]
    try:
        values = list(ks)
    except TypeError:
        values = None
    bad = (
        values is None
        or not values
        or any(
            isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or k < 1
            for k in values
        )
    )
    if bad:
        raise ValueError(
            f"{_WHO}: ks must be a non-empty sequence of integers >= 1, e.g. "
            f"(1, 5, 10, 20); got {ks!r}."
        )
    return sorted({int(k) for k in values})
