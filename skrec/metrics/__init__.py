"""Ranking, coverage and novelty metrics for recommender evaluation."""

from ._ranking import (
    catalogue_coverage,
    gauc,
    hit_rate_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
)

__all__ = [
    "catalogue_coverage",
    "gauc",
    "hit_rate_at_k",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "novelty",
    "precision_at_k",
    "recall_at_k",
]
