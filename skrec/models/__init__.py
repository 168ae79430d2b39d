"""Recommenders: Keras deep models (scikeras ``KerasClassifier`` subclasses) and baselines."""

from .. import _tf  # noqa: F401  (import TensorFlow quietly, before scikeras)
from ._autoencoder import AutoencoderClassifier
from ._base import DeepRecommenderClassifier
from ._baselines import EASEClassifier, PopularityClassifier
from ._cnn import CNNClassifier
from ._deepfm import DeepFMClassifier
from ._gru import GRUClassifier
from ._mf import MFClassifier
from ._ncf import NCFClassifier
from ._two_tower import TwoTowerClassifier
from ._wide_deep import WideDeepClassifier

from .._registry import MODELS as _MODELS

__all__ = ["DeepRecommenderClassifier", *(entry.class_name for entry in _MODELS)]
