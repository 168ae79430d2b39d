"""Recommenders: Keras deep models (scikeras ``KerasClassifier`` subclasses) and baselines."""

from .. import _tf  # noqa: F401  (import TensorFlow quietly, before scikeras)
from ._base import DeepRecommenderClassifier
from ._baselines import EASEClassifier, PopularityClassifier
from ._ncf import NCFClassifier

__all__ = [
    "DeepRecommenderClassifier",
    "EASEClassifier",
    "NCFClassifier",
    "PopularityClassifier",
]
