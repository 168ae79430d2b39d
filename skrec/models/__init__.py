"""Deep recommenders: scikeras ``KerasClassifier`` subclasses."""

from .. import _tf  # noqa: F401  (import TensorFlow quietly, before scikeras)
from ._base import DeepRecommenderClassifier
from ._ncf import NCFClassifier

__all__ = ["DeepRecommenderClassifier", "NCFClassifier"]
