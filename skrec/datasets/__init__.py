"""Datasets: a synthetic e-commerce log and a MovieLens-100k loader.

Both return an interaction log in the skrec data contract (one row per event,
``user_id``, ``item_id``, ``timestamp``, side features and a binary ``label``).
"""

from ._movielens import load_movielens
from ._synthetic import make_interactions

__all__ = ["load_movielens", "make_interactions"]
