"""Ranking metrics of a dense block of scores, from the ranks of the relevant items.

:mod:`skrec.metrics._ranking` sorts a long table of (user, item, score)
rows. When a model scores every candidate of a block of users at once, the
metrics need only the position of each relevant item: the number of
candidates that outscore it. No table of pairs is built, and no row of
scores is sorted. The ranking rule is the one of :mod:`~skrec.metrics._ranking`
(ties broken against the model: a relevant item tied with an irrelevant one
ranks below it), so the values are the same.
"""

import numpy as np

# Relevant entries compared with a whole row of scores at once.
_COMPARISONS_PER_CHUNK = 1 << 24


def rank_metrics_at_k(scores, relevant, k, excluded=None):
    """Per-user NDCG@k and recall@k of a ``(n_users, n_items)`` score block.

    Parameters
    ----------
    scores : ndarray of shape (n_users, n_items)
        Higher is better. Not modified.
    relevant : scipy.sparse matrix of shape (n_users, n_items)
        Non-zero where the item is relevant to the user (binary relevance).
    k : int
        Cut-off.
    excluded : scipy.sparse matrix of shape (n_users, n_items) or None
        Non-zero where the item is not a candidate (e.g. seen in training);
        an excluded relevant item still counts in the recall's divisor and
        the ideal DCG, and can never be found.

    Returns
    -------
    ndcg, recall : ndarray of shape (n_users,)
        NaN for users without a relevant item.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> scores = np.array([[0.9, 0.8, 0.7]])
    >>> ndcg, recall = rank_metrics_at_k(scores, sp.csr_matrix([[0, 1, 0]]), k=2)
    >>> round(float(ndcg[0]), 6), float(recall[0])  # rank 2: 1 / log2(3)
    (0.63093, 1.0)
    """
    scores = np.array(scores, dtype=np.float64)
    n_users = scores.shape[0]
    if excluded is not None:
        excluded = excluded.tocoo()
        scores[excluded.row, excluded.col] = -np.inf
    relevant = relevant.tocsr()
    relevant.eliminate_zeros()
    relevant.sort_indices()
    n_relevant = np.diff(relevant.indptr)
    rows = np.repeat(np.arange(n_users), n_relevant)
    own = scores[rows, relevant.indices]
    found = np.isfinite(own)
    # Candidates scoring at least as high as each relevant item (itself included).
    at_least = np.zeros(rows.size, dtype=np.int64)
    chunk = max(1, _COMPARISONS_PER_CHUNK // max(scores.shape[1], 1))
    for start in range(0, rows.size, chunk):
        stop = start + chunk
        at_least[start:stop] = (
            scores[rows[start:stop]] >= own[start:stop, None]
        ).sum(axis=1)
    # Among a user's relevant items, in descending score (ties in item order):
    # j items come first, and `ties` of them score at least as high as each.
    order = np.lexsort((-own, rows))
    first = np.searchsorted(rows[order], rows[order], side="left")
    j = np.empty(rows.size, dtype=np.int64)
    j[order] = np.arange(rows.size) - first
    relevant_at_least = np.empty(rows.size, dtype=np.int64)
    sorted_rows, sorted_own = rows[order], own[order]
    # Last position, within the user, of a score >= each one's own score.
    last = _last_at_least(sorted_rows, sorted_own)
    relevant_at_least[order] = last - first + 1
    position = at_least - relevant_at_least + j  # 0-based rank
    hit = found & (position < k)
    discount = np.where(hit, 1.0 / np.log2(position + 2.0), 0.0)
    dcg = np.bincount(rows, weights=discount, minlength=n_users)
    hits = np.bincount(rows, weights=hit.astype(np.float64), minlength=n_users)
    ideal_discounts = np.cumsum(1.0 / np.log2(np.arange(k) + 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        idcg = np.where(n_relevant > 0, ideal_discounts[np.minimum(n_relevant, k) - 1], 0.0)
        ndcg = np.where(n_relevant > 0, dcg / idcg, np.nan)
        recall = np.where(n_relevant > 0, hits / n_relevant, np.nan)
    return ndcg, recall


def _last_at_least(sorted_rows, sorted_scores):
    """For entries sorted by (row, descending score): the last index of each
    row whose score is >= the entry's own (the end of its tie run)."""
    n = sorted_rows.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    boundary = np.ones(n, dtype=bool)  # True where a new (row, score) run starts
    boundary[1:] = (sorted_rows[1:] != sorted_rows[:-1]) | (sorted_scores[1:] != sorted_scores[:-1])
    run_start = np.flatnonzero(boundary)
    run_end = np.r_[run_start[1:], n] - 1
    run_of = np.cumsum(boundary) - 1
    return run_end[run_of]
