"""Hyper-parameter search on a Dask cluster.

scikit-learn's :class:`~sklearn.model_selection.GridSearchCV` and
:class:`~sklearn.model_selection.RandomizedSearchCV` already run their fits
through joblib; inside ``joblib.parallel_config(backend="dask")`` those fits
go to the workers of a :class:`dask.distributed.Client`. This module adds what
a TensorFlow model needs on those workers: :class:`TensorFlowThreads`, a
worker plugin that sizes each worker's TensorFlow thread pools to its cores,
and :func:`worker_tensorflow_threads`, which reads the sizes back.

Dask is an optional dependency (``pip install "skrec-deep[distributed]"``):
it is imported when one of these names is first used, not when this module
is imported.
"""

import importlib

_LAZY = {
    "TensorFlowThreads": "skrec.parallel._dask",
    "worker_tensorflow_threads": "skrec.parallel._dask",
}

__all__ = ["TensorFlowThreads", "worker_tensorflow_threads"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'skrec.parallel' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
