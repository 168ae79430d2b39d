"""Plots for recommender evaluation, in scikit-learn's Display style.

Each display holds the computed values, draws them with ``plot(ax=None, ...)``
and is usually built with a class method: training curves of a fitted deep
model (:class:`TrainingCurveDisplay`), a ranking metric at several cut-offs
for several models (:class:`MetricAtKDisplay`) and a hyper-parameter search's
scores over two parameters (:class:`SearchHeatmapDisplay`).

matplotlib is an optional dependency (``pip install "skrec-deep[plot]"``); it
is imported when a plot is drawn, not when this module is imported.
"""

from ._metric_at_k import MetricAtKDisplay
from ._search import SearchHeatmapDisplay
from ._training import TrainingCurveDisplay

__all__ = ["MetricAtKDisplay", "SearchHeatmapDisplay", "TrainingCurveDisplay"]
