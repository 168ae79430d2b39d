"""skrec: deep-learning recommender systems as scikit-learn estimators.

One :class:`~sklearn.pipeline.Pipeline` goes from a raw interaction log to
recommendations: :class:`InteractionNormalizer` -> :class:`FeatureBuilder` ->
a Keras deep recommender such as :class:`NCFClassifier`.

TensorFlow is imported only when a model is first used, so the datasets and
preprocessing steps load fast.
"""

import importlib

from ._artifact import load, read_metadata, save
from ._explain import explain
from ._out_of_core import fit_out_of_core
from ._recommend import recommend
from ._version import __version__
from .datasets import load_movielens, make_interactions
from .preprocessing import (
    CleaningReport,
    FeatureBuilder,
    InteractionNormalizer,
    clean_interactions,
)

from ._registry import MODELS as _MODELS

# The models import TensorFlow: they load on first use.
_LAZY = {
    name: "skrec.models"
    for name in ("DeepRecommenderClassifier", *(entry.class_name for entry in _MODELS))
}

__all__ = sorted([
    "CleaningReport",
    "FeatureBuilder",
    "InteractionNormalizer",
    "__version__",
    "clean_interactions",
    "explain",
    "fit_out_of_core",
    "load",
    "load_movielens",
    "make_interactions",
    "read_metadata",
    "recommend",
    "save",
    *_LAZY,
])


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'skrec' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
