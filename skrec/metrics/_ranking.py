"""Ranking metrics over a recommender's long-format output.

Every per-user metric takes three aligned 1-d inputs, one entry per
(user, candidate item) row: ``y_true`` the relevance of the candidate (0/1,
or a graded value >= 0), ``y_score`` the model's score and ``groups`` the id
of the user the row belongs to. A candidate is *relevant* when its
``y_true`` is > 0.

Ranking rule (the same for every metric): within a user, candidates are
ordered by descending ``y_score``; **ties are broken pessimistically**, the
less relevant candidate first, then by original row order. A model that gives
every candidate the same score therefore gets no credit from the order in
which the rows happen to be listed (e.g. the held-out item written first in a
sampled-ranking protocol).

Users without any relevant candidate are excluded from the mean (their
per-user value is NaN); :func:`gauc` likewise excludes users whose rows are
all of one class. All computations are vectorised over users: one sort of the
whole table, then per-user sums with :func:`numpy.bincount`.
"""

import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning

# --------------------------------------------------------------- validation


def _check_k(k, who):
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"{who}: k must be an integer >= 1, got {k!r}; pass e.g. k=10.")
    return int(k)


def _as_1d_float(values, name, who):
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(
            f"{who}: {name} must be 1-d (one entry per user-item row), got an "
            f"array of shape {arr.shape}; flatten it or pass long-format data."
        )
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{who}: {name} must be numeric, got dtype {arr.dtype}.") from exc
    n_bad = int((~np.isfinite(arr)).sum())
    if n_bad:
        raise ValueError(
            f"{who}: {name} has {n_bad} NaN or infinite value(s); drop those rows "
            "or fill them before scoring."
        )
    return arr


def _factorize_users(groups, who):
    if isinstance(groups, np.ndarray) and groups.ndim != 1:
        raise ValueError(
            f"{who}: groups must be 1-d (the user id of each row), got shape {groups.shape}."
        )
    if not isinstance(groups, (pd.Series, pd.Index, np.ndarray)):
        groups = pd.Series(groups)
    codes, users = pd.factorize(groups, use_na_sentinel=True)
    n_missing = int((codes < 0).sum())
    if n_missing:
        raise ValueError(
            f"{who}: groups has {n_missing} missing user id(s); every row needs "
            "the id of its user."
        )
    users = pd.Index(users, name=getattr(groups, "name", None))
    return codes.astype(np.intp), users


def _check_ranking_inputs(y_true, y_score, groups, who):
    y_true = _as_1d_float(y_true, "y_true", who)
    y_score = _as_1d_float(y_score, "y_score", who)
    codes, users = _factorize_users(groups, who)
    lengths = {"y_true": len(y_true), "y_score": len(y_score), "groups": len(codes)}
    if len(set(lengths.values())) != 1:
        raise ValueError(
            f"{who}: y_true, y_score and groups must have the same length "
            f"(one entry per user-item row), got {lengths}."
        )
    if len(y_true) == 0:
        raise ValueError(f"{who}: got 0 rows; pass at least one user-item row.")
    if (y_true < 0).any():
        raise ValueError(
            f"{who}: y_true has {int((y_true < 0).sum())} negative value(s); "
            "relevance must be 0/1 or a graded value >= 0."
        )
    return y_true, y_score, codes, users


def _check_return_per_user(return_per_user, who):
    if not isinstance(return_per_user, (bool, np.bool_)):
        raise ValueError(
            f"{who}: return_per_user must be True or False, got {return_per_user!r}."
        )


# ------------------------------------------------------------------ ranking


def _group_starts(sorted_codes, n_users):
    """Position of each user's first row in an array sorted by user code."""
    counts = np.bincount(sorted_codes, minlength=n_users)
    return np.cumsum(counts) - counts, counts


def _rank_rows(y_true, y_score, codes, n_users):
    """Sort rows by user, descending score, pessimistic ties; 1-based ranks."""
    n = len(codes)
    # lexsort: last key is primary; ties -> lower relevance, then row order.
    order = np.lexsort((np.arange(n), y_true, -y_score, codes))
    sorted_codes = codes[order]
    starts, counts = _group_starts(sorted_codes, n_users)
    rank = np.arange(n) - starts[sorted_codes] + 1
    return order, sorted_codes, rank, counts


def _aggregate(per_user, eligible, users, name, return_per_user, who, reason):
    values = np.where(eligible, per_user, np.nan)
    if return_per_user:
        return pd.Series(values, index=users, name=name)
    if not eligible.any():
        warnings.warn(
            f"{who}: {reason}; the metric is undefined and NaN is returned.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return float("nan")
    return float(values[eligible].mean())


class _TopK:
    """Per-row and per-user quantities shared by the top-k metrics."""

    def __init__(self, y_true, y_score, groups, k, who):
        self.k = _check_k(k, who)
        y_true, y_score, codes, self.users = _check_ranking_inputs(
            y_true, y_score, groups, who
        )
        self.n_users = len(self.users)
        order, self.codes, self.rank, self.n_candidates = _rank_rows(
            y_true, y_score, codes, self.n_users
        )
        self.relevance = y_true[order]
        self.relevant = self.relevance > 0
        self.in_top = self.rank <= self.k
        self.n_relevant = np.bincount(
            self.codes, weights=self.relevant, minlength=self.n_users
        )
        self.hits = self.per_user(self.relevant & self.in_top)
        self.eligible = self.n_relevant > 0

    def per_user(self, row_values):
        return np.bincount(self.codes, weights=row_values, minlength=self.n_users)

    def cumulative_hits(self):
        """Relevant candidates at or above each row's rank, within its user."""
        total = np.cumsum(self.relevant)
        starts, _ = _group_starts(self.codes, self.n_users)
        before = np.concatenate(([0], total))[starts]
        return total - before[self.codes]


_NO_RELEVANT = "no user has a relevant item (y_true > 0)"


def hit_rate_at_k(y_true, y_score, groups, k=10, *, return_per_user=False):
    """Share of users with at least one relevant item in their top ``k``.

    ``HR@k(u) = 1`` if any candidate ranked ``<= k`` for user ``u`` has
    ``y_true > 0``, else ``0``; the result is the mean over users that have at
    least one relevant candidate (other users are excluded). Ranking and ties
    follow the module rule: descending score, ties broken pessimistically
    (less relevant first, then row order).

    Parameters
    ----------
    y_true : array-like of shape (n_rows,)
        Relevance of each (user, candidate) row, 0/1 or graded >= 0.
    y_score : array-like of shape (n_rows,)
        Model score of each row; higher ranks first.
    groups : array-like of shape (n_rows,)
        User id of each row (any hashable).
    k : int, default=10
        Cut-off rank, >= 1. ``k`` larger than a user's candidate list is
        allowed (the whole list is the top ``k``).
    return_per_user : bool, default=False
        Return a Series of per-user values indexed by user id (NaN for
        excluded users) instead of the mean.

    Returns
    -------
    float or pandas.Series
        Mean hit rate over eligible users (NaN, with an
        ``UndefinedMetricWarning``, if no user is eligible), or the per-user
        values.

    Examples
    --------
    >>> from skrec.metrics import hit_rate_at_k
    >>> y_true = [1, 0, 0, 0, 0, 1]
    >>> y_score = [0.9, 0.8, 0.1, 0.7, 0.6, 0.5]
    >>> users = ["ann", "ann", "ann", "bob", "bob", "bob"]
    >>> hit_rate_at_k(y_true, y_score, users, k=2)
    0.5
    >>> hit_rate_at_k(y_true, y_score, users, k=2, return_per_user=True)
    ann    1.0
    bob    0.0
    Name: hit_rate_at_k, dtype: float64
    """
    who = "hit_rate_at_k"
    _check_return_per_user(return_per_user, who)
    top = _TopK(y_true, y_score, groups, k, who)
    per_user = (top.hits > 0).astype(np.float64)
    return _aggregate(
        per_user, top.eligible, top.users, who, return_per_user, who, _NO_RELEVANT
    )


def precision_at_k(y_true, y_score, groups, k=10, *, return_per_user=False):
    """Mean over users of the share of the top ``k`` that is relevant.

    ``P@k(u) = (relevant candidates ranked <= k) / k``. The divisor is always
    ``k``, also for a user with fewer than ``k`` candidates (the convention of
    Microsoft Recommenders). Users without a relevant candidate are excluded
    from the mean.

    Parameters
    ----------
    y_true, y_score, groups, k, return_per_user
        As in :func:`hit_rate_at_k`.

    Returns
    -------
    float or pandas.Series
        Mean precision over eligible users, or the per-user values.

    Examples
    --------
    >>> from skrec.metrics import precision_at_k
    >>> precision_at_k([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], [1, 1, 1, 1], k=3)
    0.6666666666666666
    """
    who = "precision_at_k"
    _check_return_per_user(return_per_user, who)
    top = _TopK(y_true, y_score, groups, k, who)
    return _aggregate(
        top.hits / top.k, top.eligible, top.users, who, return_per_user, who, _NO_RELEVANT
    )


def recall_at_k(y_true, y_score, groups, k=10, *, return_per_user=False):
    """Mean over users of the share of their relevant items found in the top ``k``.

    ``R@k(u) = (relevant candidates ranked <= k) / (relevant candidates of u)``
    (the Microsoft Recommenders definition: the divisor is not capped at
    ``k``, so a user with more than ``k`` relevant items cannot reach 1).
    Users without a relevant candidate are excluded from the mean.

    Parameters
    ----------
    y_true, y_score, groups, k, return_per_user
        As in :func:`hit_rate_at_k`.

    Returns
    -------
    float or pandas.Series
        Mean recall over eligible users, or the per-user values.

    Examples
    --------
    >>> from skrec.metrics import recall_at_k
    >>> recall_at_k([1, 0, 1, 1], [0.9, 0.8, 0.7, 0.1], [1, 1, 1, 1], k=2)
    0.3333333333333333
    """
    who = "recall_at_k"
    _check_return_per_user(return_per_user, who)
    top = _TopK(y_true, y_score, groups, k, who)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_user = top.hits / top.n_relevant
    return _aggregate(
        per_user, top.eligible, top.users, who, return_per_user, who, _NO_RELEVANT
    )


def map_at_k(y_true, y_score, groups, k=10, *, return_per_user=False):
    """Mean average precision at ``k``.

    ``AP@k(u) = sum(P@r(u) for each rank r <= k holding a relevant item)
    / min(k, n_relevant(u))``, the common IR definition: a user whose top
    ``k`` is as good as it can be gets 1, whatever the number of relevant
    items. (Microsoft Recommenders divides by ``n_relevant`` instead; the two
    agree whenever ``n_relevant <= k``.) MAP@k is the mean of AP@k over users
    with at least one relevant candidate.

    Parameters
    ----------
    y_true, y_score, groups, k, return_per_user
        As in :func:`hit_rate_at_k`.

    Returns
    -------
    float or pandas.Series
        MAP@k over eligible users, or the per-user AP@k values.

    Examples
    --------
    >>> from skrec.metrics import map_at_k
    >>> # relevant at ranks 1 and 3: (1/1 + 2/3) / min(10, 2)
    >>> round(map_at_k([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], [1, 1, 1, 1]), 6)
    0.833333
    """
    who = "map_at_k"
    _check_return_per_user(return_per_user, who)
    top = _TopK(y_true, y_score, groups, k, who)
    precision_at_rank = top.cumulative_hits() / top.rank
    summed = top.per_user(np.where(top.relevant & top.in_top, precision_at_rank, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_user = summed / np.minimum(top.k, top.n_relevant)
    return _aggregate(
        per_user, top.eligible, top.users, who, return_per_user, who, _NO_RELEVANT
    )


def mrr_at_k(y_true, y_score, groups, k=10, *, return_per_user=False):
    """Mean reciprocal rank of the first relevant item, cut at ``k``.

    ``RR@k(u) = 1 / rank`` of the best-ranked relevant candidate of ``u`` if
    that rank is ``<= k``, else ``0``. Users without a relevant candidate are
    excluded from the mean.

    Parameters
    ----------
    y_true, y_score, groups, k, return_per_user
        As in :func:`hit_rate_at_k`.

    Returns
    -------
    float or pandas.Series
        MRR@k over eligible users, or the per-user values.

    Examples
    --------
    >>> from skrec.metrics import mrr_at_k
    >>> mrr_at_k([0, 0, 1, 1], [0.9, 0.8, 0.7, 0.1], ["a", "a", "a", "b"], k=5)
    0.6666666666666666
    """
    who = "mrr_at_k"
    _check_return_per_user(return_per_user, who)
    top = _TopK(y_true, y_score, groups, k, who)
    first = top.relevant & top.in_top & (top.cumulative_hits() == 1)
    per_user = top.per_user(np.where(first, 1.0 / top.rank, 0.0))
    return _aggregate(
        per_user, top.eligible, top.users, who, return_per_user, who, _NO_RELEVANT
    )


def ndcg_at_k(y_true, y_score, groups, k=10, *, gains=None, return_per_user=False):
    """Normalised discounted cumulative gain at ``k``, binary or graded.

    ``DCG@k(u) = sum over ranks r <= k of gain(rel_r) / log2(r + 1)`` and
    ``NDCG@k(u) = DCG@k(u) / IDCG@k(u)``, where ``IDCG@k`` is the DCG of the
    user's candidates sorted by true relevance. The gain is
    ``2 ** rel - 1`` (``gains=None`` or ``"exponential"``, Burges et al.) or
    ``rel`` (``gains="linear"``); for 0/1 relevance the two coincide. Users
    without a relevant candidate (IDCG = 0) are excluded from the mean.

    Parameters
    ----------
    y_true, y_score, groups, k, return_per_user
        As in :func:`hit_rate_at_k`; graded ``y_true`` values are used as
        relevance grades.
    gains : {None, "exponential", "linear"}, default=None
        Gain of a relevance grade; ``None`` means ``"exponential"``.

    Returns
    -------
    float or pandas.Series
        NDCG@k over eligible users, or the per-user values.

    Examples
    --------
    >>> from skrec.metrics import ndcg_at_k
    >>> # relevant item at rank 2 of 3: (1/log2(3)) / (1/log2(2))
    >>> round(ndcg_at_k([0, 1, 0], [0.9, 0.8, 0.7], [7, 7, 7]), 6)
    0.63093
    >>> # graded: gain 2**1-1=1 at rank 1, 2**2-1=3 at rank 2; the ideal order swaps them
    >>> round(ndcg_at_k([1, 2], [0.9, 0.1], ["u", "u"]), 6)  # (1 + 3/log2(3)) / (3 + 1/log2(3))
    0.796708
    """
    who = "ndcg_at_k"
    _check_return_per_user(return_per_user, who)
    if gains not in (None, "exponential", "linear"):
        raise ValueError(
            f"{who}: gains must be None, 'exponential' or 'linear', got {gains!r}."
        )
    top = _TopK(y_true, y_score, groups, k, who)

    def gain(rel):
        return rel if gains == "linear" else np.expm1(rel * np.log(2.0))

    discount = 1.0 / np.log2(top.rank + 1.0)
    dcg = top.per_user(np.where(top.in_top, gain(top.relevance) * discount, 0.0))
    # ideal order: rows already grouped by user, so ranks are unchanged
    ideal_order = np.lexsort((-top.relevance, top.codes))
    ideal_rel = top.relevance[ideal_order]
    idcg = top.per_user(np.where(top.in_top, gain(ideal_rel) * discount, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_user = dcg / idcg
    return _aggregate(
        per_user, top.eligible, top.users, who, return_per_user, who, _NO_RELEVANT
    )


def gauc(y_true, y_score, groups, *, weighting="rows", return_per_user=False):
    """Group (per-user) ROC AUC, averaged over users.

    For each user, ``AUC(u)`` is the probability that a random relevant
    candidate (``y_true > 0``) scores above a random irrelevant one, tied
    scores counting 1/2 (the Mann-Whitney statistic, equal to
    :func:`sklearn.metrics.roc_auc_score` on that user's rows). Users whose
    rows are all relevant or all irrelevant have no AUC and are excluded.
    ``GAUC = sum_u w_u AUC(u) / sum_u w_u`` over the remaining users, with
    ``w_u`` the user's number of rows (``weighting="rows"``, the usual GAUC
    of industrial CTR work) or 1 (``weighting="uniform"``).

    Parameters
    ----------
    y_true : array-like of shape (n_rows,)
        Relevance of each row; values > 0 are the positive class.
    y_score : array-like of shape (n_rows,)
        Model score of each row.
    groups : array-like of shape (n_rows,)
        User id of each row (any hashable).
    weighting : {"rows", "uniform"}, default="rows"
        Weight of a user in the average.
    return_per_user : bool, default=False
        Return a Series of per-user AUC (NaN for excluded users) instead of
        the weighted mean; ``weighting`` is then not used.

    Returns
    -------
    float or pandas.Series
        GAUC over eligible users, or the per-user AUC values.

    Examples
    --------
    >>> from skrec.metrics import gauc
    >>> y_true = [1, 0, 0, 1, 0, 1, 0]
    >>> y_score = [0.9, 0.5, 0.1, 0.2, 0.6, 0.3, 0.3]
    >>> users = ["a", "a", "a", "b", "b", "b", "b"]
    >>> gauc(y_true, y_score, users, return_per_user=True)
    a    1.000
    b    0.125
    Name: gauc, dtype: float64
    >>> gauc(y_true, y_score, users)  # (3 * 1.0 + 4 * 0.125) / 7
    0.5
    """
    who = "gauc"
    _check_return_per_user(return_per_user, who)
    if weighting not in ("rows", "uniform"):
        raise ValueError(
            f"{who}: weighting must be 'rows' or 'uniform', got {weighting!r}."
        )
    y_true, y_score, codes, users = _check_ranking_inputs(y_true, y_score, groups, who)
    n, n_users = len(codes), len(users)
    order = np.lexsort((y_score, codes))
    sorted_codes, sorted_score = codes[order], y_score[order]
    positive = y_true[order] > 0
    # blocks of equal (user, score) share the average of their positions
    new_block = np.ones(n, dtype=bool)
    new_block[1:] = (sorted_codes[1:] != sorted_codes[:-1]) | (
        sorted_score[1:] != sorted_score[:-1]
    )
    block_id = np.cumsum(new_block) - 1
    block_start = np.flatnonzero(new_block)
    block_end = np.append(block_start[1:], n) - 1
    mid_position = (block_start + block_end)[block_id] / 2.0
    starts, n_rows = _group_starts(sorted_codes, n_users)
    rank = mid_position - starts[sorted_codes] + 1.0
    n_pos = np.bincount(sorted_codes, weights=positive, minlength=n_users)
    n_neg = n_rows - n_pos
    rank_sum = np.bincount(sorted_codes, weights=np.where(positive, rank, 0.0), minlength=n_users)
    eligible = (n_pos > 0) & (n_neg > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_user = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    if return_per_user:
        return pd.Series(np.where(eligible, per_user, np.nan), index=users, name=who)
    if not eligible.any():
        warnings.warn(
            f"{who}: no user has both relevant and irrelevant rows; GAUC is "
            "undefined and NaN is returned.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return float("nan")
    weight = n_rows[eligible] if weighting == "rows" else np.ones(int(eligible.sum()))
    return float(np.sum(weight * per_user[eligible]) / np.sum(weight))


# ---------------------------------------------------------- list metrics


def _as_item_array(recommended_items, who):
    if isinstance(recommended_items, (pd.Series, pd.Index)):
        items = recommended_items.to_numpy()
    else:
        items = np.asarray(recommended_items)
        if items.ndim == 2:  # one row of k items per user
            items = items.ravel()
    if items.ndim != 1:
        raise ValueError(
            f"{who}: recommended_items must be 1-d (long format) or a 2-d "
            f"(n_users, k) array, got shape {items.shape}."
        )
    if len(items) == 0:
        raise ValueError(f"{who}: recommended_items is empty; pass at least one item.")
    return items


def catalogue_coverage(recommended_items, catalogue):
    """Share of the catalogue that appears in at least one recommendation list.

    ``coverage = |distinct recommended items| / |catalogue|``.

    Parameters
    ----------
    recommended_items : array-like of shape (n_recommendations,) or (n_users, k)
        Every recommended item id (long format, one per recommendation slot).
    catalogue : int or array-like
        Catalogue size, or the catalogue's item ids (duplicates ignored). A
        recommended item outside the given catalogue is an error, as it
        usually means mismatched ids.

    Returns
    -------
    float
        Coverage in [0, 1].

    Examples
    --------
    >>> from skrec.metrics import catalogue_coverage
    >>> catalogue_coverage(["tv", "book", "tv", "pen"], catalogue=8)
    0.375
    >>> catalogue_coverage([[1, 2], [2, 3]], catalogue=[1, 2, 3, 4])
    0.75
    """
    who = "catalogue_coverage"
    items = _as_item_array(recommended_items, who)
    distinct = pd.unique(pd.Series(items))
    if isinstance(catalogue, numbers.Integral) and not isinstance(catalogue, bool):
        size = int(catalogue)
        if size < 1:
            raise ValueError(f"{who}: catalogue size must be >= 1, got {size}.")
        if len(distinct) > size:
            raise ValueError(
                f"{who}: {len(distinct)} distinct items were recommended but the "
                f"catalogue size is {size}; pass the true catalogue size."
            )
        return len(distinct) / size
    known = pd.Index(pd.unique(pd.Series(np.asarray(catalogue).ravel())))
    if len(known) == 0:
        raise ValueError(f"{who}: catalogue is empty; pass its item ids or its size.")
    unknown = pd.Index(distinct).difference(known)
    if len(unknown):
        raise ValueError(
            f"{who}: {len(unknown)} recommended item(s) are not in the catalogue, "
            f"e.g. {list(unknown[:3])}; check that both use the same item ids."
        )
    return len(distinct) / len(known)


def novelty(recommended_items, item_popularity):
    """Mean self-information of the recommended items.

    ``novelty = mean over recommendation slots of -log2 p(i)``, where
    ``p(i) = count(i) / sum of all counts`` is item ``i``'s share of the
    training interactions. Recommending rarer items scores higher. With
    equal-length lists this equals the mean over users of each list's mean.

    Parameters
    ----------
    recommended_items : array-like of shape (n_recommendations,) or (n_users, k)
        Every recommended item id (long format, one per recommendation slot).
    item_popularity : pandas.Series or dict
        Training interaction count of each item, indexed by item id (e.g.
        ``log["item_id"].value_counts()``). Every recommended item must have
        a count > 0, otherwise its novelty would be infinite.

    Returns
    -------
    float
        Mean novelty in bits.

    Examples
    --------
    >>> from skrec.metrics import novelty
    >>> popularity = {"tv": 6, "book": 1, "pen": 1}  # shares 3/4, 1/8, 1/8
    >>> novelty(["book", "pen"], popularity)  # -log2(1/8) = 3 bits each
    3.0
    >>> round(novelty(["tv", "book"], popularity), 6)  # (0.415037 + 3) / 2
    1.707519
    """
    who = "novelty"
    items = _as_item_array(recommended_items, who)
    if isinstance(item_popularity, dict):
        item_popularity = pd.Series(item_popularity, dtype=np.float64)
    if not isinstance(item_popularity, pd.Series):
        raise TypeError(
            f"{who}: item_popularity must be a pandas Series or dict of counts "
            f"indexed by item id, got {type(item_popularity).__name__}; use "
            "log['item_id'].value_counts()."
        )
    counts = item_popularity.astype(np.float64)
    if (~np.isfinite(counts.to_numpy())).any() or (counts < 0).any():
        raise ValueError(f"{who}: item_popularity must hold finite counts >= 0.")
    total = counts.sum()
    if total <= 0:
        raise ValueError(f"{who}: item_popularity sums to 0; pass training counts.")
    position = counts.index.get_indexer(items)
    share = np.where(position >= 0, counts.to_numpy()[position] / total, 0.0)
    missing = share <= 0
    if missing.any():
        examples = list(pd.unique(pd.Series(items[missing]))[:3])
        raise ValueError(
            f"{who}: {int(missing.sum())} recommendation(s) have no training "
            f"interactions (popularity 0 or absent), e.g. {examples}; their "
            "novelty is infinite. Pass counts that cover every recommended item."
        )
    return float(np.mean(-np.log2(share)))
