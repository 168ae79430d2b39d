"""Synthetic e-commerce impression log with a known generative process."""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

CATEGORY_NAMES = (
    "electronics",
    "books",
    "clothing",
    "home_kitchen",
    "beauty",
    "sports",
    "toys",
    "grocery",
    "garden",
    "automotive",
    "health",
    "jewelry",
    "music",
    "office",
    "pet_supplies",
    "shoes",
    "baby",
    "video_games",
    "tools",
    "travel",
)

# Constants of the generative process, documented in make_interactions' Notes.
_AFFINITY_SCALE = 1.6  # logit units per standard deviation of the latent dot product
_INTEREST_BONUS = 0.8  # logit bonus when user_interest == item_category
_PRICE_EFFECT = -0.45  # logit change per standard deviation of log price
_POPULARITY_EXPONENT = 0.9  # Zipf exponent of item exposure
_MEAN_SESSION_LENGTH = 6  # impressions per browsing session
_MEAN_GAP_SECONDS = 45.0  # between two impressions of one session
_SPAN_SECONDS = 90 * 24 * 3600  # the log covers 90 days
_START = np.datetime64("2024-01-01T00:00:00", "ns")



@validate_params(
    {
        "n_users": [Interval(Integral, 1, None, closed="left")],
        "n_items": [Interval(Integral, 1, None, closed="left")],
        "n_interactions": [Interval(Integral, 1, None, closed="left")],
        "n_factors": [Interval(Integral, 1, None, closed="left")],
        "n_categories": [Interval(Integral, 1, len(CATEGORY_NAMES), closed="both")],
        "n_brands": [Interval(Integral, 1, None, closed="left")],
        "positive_rate": [Interval(Real, 0, 1, closed="neither")],
        "return_X_y": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_interactions(
    n_users=500,
    n_items=300,
    n_interactions=20_000,
    *,
    n_factors=8,
    n_categories=8,
    n_brands=20,
    positive_rate=0.25,
    return_X_y=False,
    random_state=None,
):
    """Generate a synthetic e-commerce impression log with purchase labels.

    Each row is one impression: an item shown to a user at a time, labelled 1
    if the user bought it. The purchase probability is driven by a hidden
    user-item affinity (a dot product of latent factors) plus side-feature
    effects, so a model that learns the affinity beats a popularity baseline,
    and the side features carry real signal. See Notes for the exact process.

    Parameters
    ----------
    n_users : int, default=500
        Number of users in the population. Users are drawn with long-tailed
        activity, so some may have no impression in the log.
    n_items : int, default=300
        Number of items in the catalogue. Items are shown with Zipf-like
        popularity, so tail items may have no impression in the log.
    n_interactions : int, default=20_000
        Number of rows (impressions) in the log.
    n_factors : int, default=8
        Dimension of the hidden user and item latent factors.
    n_categories : int, default=8
        Number of item categories, taken in order from ``"electronics"``,
        ``"books"``, ``"clothing"``, ... (at most 20). Every category has at
        least one item when ``n_items >= n_categories``.
    n_brands : int, default=20
        Number of brands. Each brand has a home category and a quality.
    positive_rate : float in (0, 1), default=0.25
        Expected fraction of rows with ``label == 1``. The intercept of the
        purchase model is solved for it; the realised rate differs from it by
        sampling noise only.
    return_X_y : bool, default=False
        If True, return ``(X, y)`` where ``y`` is the ``label`` Series and
        ``X`` the log without it, instead of one DataFrame.
    random_state : int, RandomState instance or None, default=None
        Seed of the generator. The same seed gives an identical log.

    Returns
    -------
    log : DataFrame of shape (n_interactions, 9)
        Returned when ``return_X_y=False``, sorted by ``timestamp`` with a
        ``RangeIndex``. Columns and dtypes:

        - ``user_id`` (str): ``"u0001"`` ... (zero-padded, at least 4 digits).
        - ``item_id`` (str): ``"i0001"`` ...
        - ``timestamp`` (datetime64[ns]): from 2024-01-01 over 90 days,
          grouped in browsing sessions; strictly increasing within each user,
          so no two rows share ``(user_id, item_id, timestamp)``.
        - ``user_behavior`` (int64): how many times the user viewed the item
          before this impression (views outside the log plus earlier
          impressions in it). Known before the event, never derived from
          the label.
        - ``user_interest`` (str): the category the user's profile names as
          favourite.
        - ``item_category`` (str): the item's category.
        - ``item_brand`` (str): ``"brand_01"`` ...
        - ``item_price`` (float64): price, > 0, log-normal per category.
        - ``label`` (int64): 1 if the impression led to a purchase, else 0.

    (X, y) : tuple of (DataFrame, Series)
        Returned when ``return_X_y=True``: ``X`` holds the first eight
        columns above, ``y`` the ``label`` column.

    See Also
    --------
    load_movielens : A real explicit-feedback log in the same contract.

    Notes
    -----
    The process, with ``sigmoid`` the logistic function, ``N(m, s)`` a normal
    draw with standard deviation ``s`` and ``z(.)`` standardisation over the
    catalogue:

    1. Categories have latent centroids ``c_k ~ N(0, I)``. Item ``i`` of
       category ``k`` has factor ``q_i = (0.8 c_k + 0.6 e_i) / sqrt(n_factors)``
       with ``e_i ~ N(0, I)``, so items of one category are alike. Users have
       factors ``p_u ~ N(0, I)``; the affinity ``p_u . q_i`` has unit variance.
    2. A user's ``user_interest`` is the category whose centroid they like
       most (``argmax_k p_u . c_k``), replaced by a random category for 15%
       of users (stale profiles).
    3. Each brand has a home category and a quality ``N(0, 0.4)``. An
       item's brand is one of its category's brands with probability 0.8,
       any brand otherwise. Prices are log-normal: ``log price = m_k +
       N(0, 0.45) + 0.25 quality`` with ``m_k`` uniform in ``[log 8, log 400]``.
    4. Exposure: items are shown with probability proportional to
       ``rank ** -0.9`` (a random popularity rank), users with log-normal
       activity. Item bias is ``0.35 * z(log exposure) + quality + N(0, 0.3)``
       (popular items are somewhat better), user bias is ``N(0, 0.3)``.
    5. The purchase probability of an impression is
       ``sigmoid(b + 1.6 p_u . q_i + user bias + item bias
       + 0.8 [user_interest == item_category] - 0.45 z(log price))``
       where ``b`` is solved so that the mean probability over the log equals
       ``positive_rate``; the label is a Bernoulli draw of it.
    6. ``user_behavior`` adds views outside the log, ``Poisson(exp(0.3 +
       0.7 p_u . q_i))`` drawn once per (user, item) pair, to the number of
       earlier impressions of the pair in the log. It is correlated with
       the affinity but drawn independently of the label.
    7. Timestamps: each user's impressions are split into sessions of about
       6 impressions that start uniformly over 90 days, 45 s apart on
       average within a session.

    Examples
    --------
    >>> from skrec.datasets import make_interactions
    >>> log = make_interactions(n_users=50, n_items=40, n_interactions=1000,
    ...                         random_state=0)
    >>> log.shape
    (1000, 9)
    >>> list(log.columns)  # doctest: +NORMALIZE_WHITESPACE
    ['user_id', 'item_id', 'timestamp', 'user_behavior', 'user_interest',
     'item_category', 'item_brand', 'item_price', 'label']
    >>> X, y = make_interactions(n_interactions=1000, return_X_y=True,
    ...                          random_state=0)
    >>> X.shape, y.name, sorted(y.unique().tolist())
    ((1000, 8), 'label', [0, 1])
    """
    rng = check_random_state(random_state)
    n = n_interactions
    k = n_factors

    # 1. latent factors; items of one category share a centroid
    centroids = rng.standard_normal((n_categories, k))
    item_category = _balanced_categories(rng, n_items, n_categories)
    item_factors = (
        0.8 * centroids[item_category] + 0.6 * rng.standard_normal((n_items, k))
    ) / np.sqrt(k)
    user_factors = rng.standard_normal((n_users, k))

    # 2. stated interest: the favourite category, stale for 15% of users
    user_interest = np.argmax(user_factors @ centroids.T, axis=1)
    stale = rng.random(n_users) < 0.15
    user_interest[stale] = rng.randint(n_categories, size=int(stale.sum()))

    # 3. brands and prices
    brand_category = rng.permutation(np.arange(n_brands) % n_categories)
    brand_quality = rng.normal(0.0, 0.4, n_brands)
    item_brand = _draw_brands(rng, item_category, brand_category, n_brands)
    category_log_price = rng.uniform(np.log(8.0), np.log(400.0), n_categories)
    log_price = (
        category_log_price[item_category]
        + 0.45 * rng.standard_normal(n_items)
        + 0.25 * brand_quality[item_brand]
    )
    item_price = np.maximum(np.round(np.exp(log_price), 2), 0.5)

    # 4. exposure and biases
    exposure = (rng.permutation(n_items) + 1.0) ** -_POPULARITY_EXPONENT
    exposure /= exposure.sum()
    activity = rng.lognormal(0.0, 0.8, n_users)
    activity /= activity.sum()
    item_bias = (
        0.35 * _standardise(np.log(exposure))
        + brand_quality[item_brand]
        + rng.normal(0.0, 0.3, n_items)
    )
    user_bias = rng.normal(0.0, 0.3, n_users)

    users = np.sort(rng.choice(n_users, size=n, p=activity))
    items = rng.choice(n_items, size=n, p=exposure)

    # 5. purchase probability; b solved for the requested positive rate
    affinity = (user_factors[users] * item_factors[items]).sum(axis=1)
    interest_match = user_interest[users] == item_category[items]
    score = (
        _AFFINITY_SCALE * affinity
        + user_bias[users]
        + item_bias[items]
        + _INTEREST_BONUS * interest_match
        + _PRICE_EFFECT * _standardise(np.log(item_price))[items]
    )
    intercept = _solve_intercept(score, positive_rate)
    label = (rng.random(n) < _sigmoid(intercept + score)).astype(np.int64)

    # 7. timestamps (users are sorted, so each user's rows are contiguous)
    seconds = _session_times(rng, users, n_users)
    order = np.lexsort((seconds, users))
    seconds = _strictly_increasing_per_user(seconds[order], users[order])
    order = order[np.argsort(seconds, kind="stable")]
    seconds = np.sort(seconds, kind="stable")  # global log order: by time
    users, items, label = users[order], items[order], label[order]
    affinity = affinity[order]

    # 6. prior views: outside the log (per pair) + earlier impressions in it
    pair = users.astype(np.int64) * n_items + items
    _, first, pair_index = np.unique(
        pair, return_index=True, return_inverse=True
    )
    outside_views = rng.poisson(np.exp(0.3 + 0.7 * affinity[first]))
    user_behavior = outside_views[pair_index] + _cumcount(pair)

    user_width = max(4, len(str(n_users)))
    item_width = max(4, len(str(n_items)))
    brand_width = max(2, len(str(n_brands)))
    user_names = np.array([f"u{u + 1:0{user_width}d}" for u in range(n_users)], object)
    item_names = np.array([f"i{i + 1:0{item_width}d}" for i in range(n_items)], object)
    brand_names = np.array(
        [f"brand_{b + 1:0{brand_width}d}" for b in range(n_brands)], object
    )
    category_names = np.array(CATEGORY_NAMES[:n_categories], object)

    log = pd.DataFrame(
        {
            "user_id": pd.Series(user_names[users], dtype="str"),
            "item_id": pd.Series(item_names[items], dtype="str"),
            "timestamp": _START + seconds.astype("timedelta64[s]"),
            "user_behavior": user_behavior.astype(np.int64),
            "user_interest": pd.Series(
                category_names[user_interest[users]], dtype="str"
            ),
            "item_category": pd.Series(
                category_names[item_category[items]], dtype="str"
            ),
            "item_brand": pd.Series(brand_names[item_brand[items]], dtype="str"),
            "item_price": item_price[items],
            "label": label,
        }
    )
    if return_X_y:
        return log.drop(columns="label"), log["label"]
    return log


def _balanced_categories(rng, n_items, n_categories):
    """Category of each item: every category once, the rest by random shares."""
    shares = rng.dirichlet(np.full(n_categories, 2.0))
    n_covered = min(n_items, n_categories)
    rest = rng.choice(n_categories, size=n_items - n_covered, p=shares)
    covered = rng.permutation(n_categories)[:n_covered]
    return rng.permutation(np.concatenate([covered, rest]))


def _draw_brands(rng, item_category, brand_category, n_brands):
    """Brand of each item: 80% from its own category's brands when it has any."""
    n_items = item_category.shape[0]
    n_categories = max(int(item_category.max()), int(brand_category.max())) + 1
    by_category = np.argsort(brand_category, kind="stable")
    counts = np.bincount(brand_category, minlength=n_categories)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    own = counts[item_category]
    pick_own = (rng.random(n_items) < 0.8) & (own > 0)
    position = starts[item_category] + np.floor(rng.random(n_items) * own).astype(int)
    own_brand = by_category[np.minimum(position, n_brands - 1)]
    any_brand = rng.randint(n_brands, size=n_items)
    return np.where(pick_own, own_brand, any_brand)


def _session_times(rng, users, n_users):
    """Seconds since the start of the log for each impression (users sorted)."""
    n = users.shape[0]
    counts = np.bincount(users, minlength=n_users)
    user_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n) - user_start[users]
    n_sessions = -(-counts // _MEAN_SESSION_LENGTH)  # ceil, 0 for idle users
    session_offset = np.concatenate([[0], np.cumsum(n_sessions)[:-1]])
    session_user = np.repeat(np.arange(n_users), n_sessions)
    session_start = rng.uniform(0.0, _SPAN_SECONDS, session_user.shape[0])
    session_start = session_start[np.lexsort((session_start, session_user))]
    session = session_offset[users] + rank * n_sessions[users] // counts[users]

    gaps = rng.exponential(_MEAN_GAP_SECONDS, n)
    elapsed = np.cumsum(gaps)
    new_session = np.concatenate([[True], session[1:] != session[:-1]])
    first = np.flatnonzero(new_session)
    within = elapsed - elapsed[first][np.cumsum(new_session) - 1]
    return np.floor(session_start[session] + within).astype(np.int64)


def _strictly_increasing_per_user(seconds, users):
    """Bump ties so each user's (sorted) times strictly increase by >= 1 s."""
    n = seconds.shape[0]
    counts = np.bincount(users)
    user_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n, dtype=np.int64) - user_start[users]
    # cumulative max of (t - rank) within each user; the offset keeps users apart
    offset = users.astype(np.int64) * (int(seconds.max()) + n + 1)
    floor = np.maximum.accumulate(seconds - rank + offset) - offset
    return floor + rank


def _cumcount(keys):
    """Number of earlier occurrences of each key, in array order."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    new_group = np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]])
    group_start = np.flatnonzero(new_group)[np.cumsum(new_group) - 1]
    result = np.empty_like(order)
    result[order] = np.arange(keys.shape[0]) - group_start
    return result


def _standardise(values):
    std = values.std()
    return (values - values.mean()) / (std if std > 0 else 1.0)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _solve_intercept(score, positive_rate):
    """Intercept b with mean(sigmoid(b + score)) == positive_rate (Newton)."""
    b = np.log(positive_rate / (1.0 - positive_rate)) - np.median(score)
    for _ in range(50):
        p = _sigmoid(b + score)
        gap = p.mean() - positive_rate
        if abs(gap) < 1e-9:
            break
        slope = max((p * (1.0 - p)).mean(), 1e-12)
        b -= np.clip(gap / slope, -5.0, 5.0)
    return b
