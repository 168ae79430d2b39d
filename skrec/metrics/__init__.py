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
from ._scorer import RankingScorer, make_ranking_scorer

__all__ = [
    "RankingScorer",
    "catalogue_coverage",
    "gauc",
    "hit_rate_at_k",
    "make_ranking_scorer",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "novelty",
    "precision_at_k",
    "recall_at_k",
]
