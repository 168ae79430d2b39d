"""Preparing an interaction log: cleaning, strength normalisation, features."""

from ._cleaning import CleaningReport, clean_interactions
from ._features import FeatureBuilder
from ._normalizer import InteractionNormalizer

__all__ = [
    "CleaningReport",
    "FeatureBuilder",
    "InteractionNormalizer",
    "clean_interactions",
]
