"""Top-k recommendations from a fitted skrec pipeline."""

import numbers

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .preprocessing import FeatureBuilder

__all__ = ["recommend"]

_COLUMNS = ["user_id", "item_id", "score", "rank", "fallback"]
# Bytes held per score of a block: the float64 score, the model's float32
# intermediates (logits, probabilities) and the top-k selection's temporaries.
_BYTES_PER_SCORE = 32
_USERS_PER_ENCODING = 4096


def recommend(
    model,
    users,
    k=10,
    *,
    exclude_seen=True,
    items=None,
    context=None,
    batch_size=200_000,
    working_memory=64,
):
    """Recommend the ``k`` best-scored items to each user.

    Every candidate item is scored for every known user by the whole
    pipeline (``model.predict_proba(...)[:, positive class]``, or one matrix
    product per block of users for models that offer it, see Notes), the
    items the user interacted with during ``fit`` are optionally left out,
    and the ``k`` highest scores are kept. Users unknown to the pipeline get
    the most popular items instead (``fallback=True``).

    Parameters
    ----------
    model : sklearn.pipeline.Pipeline
        A fitted pipeline with a fitted :class:`~skrec.FeatureBuilder` among
        its steps (the first one is used) and a final classifier with
        ``predict_proba``. The FeatureBuilder must have been fitted on a
        DataFrame: its catalogue, user profiles, seen items and popularity
        define the candidates.
    users : hashable or iterable of hashable
        Raw user ids (list, array, Series...; a single string or number is
        one user). Duplicates are dropped, keeping the first occurrence.
    k : int, default=10
        Number of recommendations per user (fewer when fewer candidates are
        left after excluding seen items).
    exclude_seen : bool, default=True
        Leave out the items each user interacted with in the training log
        (``FeatureBuilder.seen_items_``).
    items : iterable of hashable or None, default=None
        Candidate raw item ids; ``None`` means every item of the catalogue
        (``FeatureBuilder.item_catalogue_``). Ids outside the catalogue raise
        a ``ValueError`` naming them. Duplicates are dropped.
    context : dict or None, default=None
        Values of the columns that describe neither the user nor the item
        (e.g. ``{"timestamp": pd.Timestamp("2024-06-01")}``), see Notes.
    batch_size : int, default=200_000
        Candidate (user, item) rows per ``predict_proba`` call when pairs are
        scored row by row (models without the fast path, see Notes).
    working_memory : float, default=64
        Memory, in MiB, that the scores of one block of work may take,
        counted at 32 bytes a score (the score, the model's intermediate
        arrays and the top-k selection's). Users are scored in blocks and
        candidates in chunks of at most ``working_memory * 2**20 // 32``
        (user, item) scores, each block keeping only its users' running
        top-k, so memory does not grow with the number of users or
        candidates; on the fast path a block holds at least one user's
        scores for all candidates. Results do not depend on it. See Notes.

    Returns
    -------
    recommendations : DataFrame
        Columns ``user_id``, ``item_id``, ``score`` (float), ``rank`` (int,
        1 to ``k``) and ``fallback`` (bool, True for popularity rows). Users
        appear in the order given, each with its rows by rank.

    Notes
    -----
    Candidate rows carry exactly the pipeline's input columns, in order:
    the user id, the item id, the item's attributes from
    ``item_catalogue_``, the user's attributes from ``user_profiles_``, and
    for every other column (the event's context, e.g. ``user_behavior``,
    ``timestamp``): ``context[column]`` when given, else a missing value
    when the FeatureBuilder encodes the column as categorical (it maps to
    the reserved unknown index), else ``0`` (for an interaction-strength
    column: no prior interaction with the item).

    Ties in score are broken by candidate order (catalogue order, or the
    order of ``items``), so results are deterministic.

    **Fast paths.** When the FeatureBuilder is the step right before the
    final estimator, the pipeline's steps up to it encode one row per
    candidate item (paired with the first known user) and one row per block
    user (paired with the first candidate item, with the request's context),
    instead of one raw row per (user, item) pair. Then, if the estimator's
    positive class is its last ``predict_proba`` column and it has a private
    ``_pairwise_scorer(item_rows)`` method (``TwoTowerClassifier``,
    ``AutoencoderClassifier``, and ``CNNClassifier`` / ``GRUClassifier``
    without side features), the
    function it returns is called once per block of users on ``user_rows``
    and gives the ``(n_users, n_items)`` probabilities of every pair (one
    matrix product). Otherwise encoded pair rows are assembled from the two
    (item-side columns from the item rows, every other column from the user
    rows) and scored by the estimator's ``predict_proba``. Both give the
    results of the raw row path to float tolerance; seen-item exclusion,
    ``k``, ties and the fallback are applied the same way. The raw row path
    is kept when a non-item encoded column varies from item to item (e.g.
    ``InteractionNormalizer(group_by="item")`` makes the context
    item-dependent), and a hook that returns None leaves the assembled pairs
    in place.

    **Memory and speed.** No ``(n_users, n_candidates)`` array is built.
    On the fast path each block is ``max(1, S // n_candidates)`` users
    scored against every candidate by one hook call, where
    ``S = working_memory * 2**20 // 32``; otherwise a block is
    ``max(1, S // chunk)`` users by a chunk of ``min(n_candidates, S)``
    candidates, and only the block's pairs the user has not seen are
    scored, ``batch_size`` rows per ``predict_proba`` call. Each chunk's
    ``k`` best per user are found with a partition (linear time) and merged
    into a running top-k; seen items are read from the users' rows of the
    sparse ``seen_items_``. Candidates are encoded once per call, users in
    groups of 4,096. Bigger blocks amortise the per-call cost of the model
    (a few milliseconds); beyond a few tens of MiB they gain little. Not
    counted in ``working_memory``: the model's own fixed buffers, the
    encoded candidate rows, the ``batch_size`` rows of a ``predict_proba``
    call, and the result (``k`` rows per user).

    Unknown users (not in ``FeatureBuilder.user_vocabulary_``, e.g. new
    sign-ups) have no history and cannot be scored individually: they get
    the candidates ranked by training interaction count
    (``item_popularity_``), with ``score`` the item's share of all training
    interactions, and ``fallback=True``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skrec import FeatureBuilder
    >>> from skrec._recommend import recommend
    >>> log = pd.DataFrame({
    ...     "user_id": ["ann", "ann", "bob", "bob", "eve"],
    ...     "item_id": ["tv", "book", "tv", "pen", "tv"],
    ...     "item_price": [300.0, 12.0, 300.0, 2.0, 300.0],
    ... })
    >>> y = [1, 0, 1, 0, 1]
    >>> model = make_pipeline(FeatureBuilder(), LogisticRegression()).fit(log, y)
    >>> recs = recommend(model, ["eve", "zoe"], k=2)
    >>> recs[["user_id", "item_id", "rank", "fallback"]]
      user_id item_id  rank  fallback
    0     eve    book     1     False
    1     eve     pen     2     False
    2     zoe      tv     1      True
    3     zoe    book     2      True
    """
    builder = _find_builder(model)
    k = _check_positive_int(k, "k")
    batch_size = _check_positive_int(batch_size, "batch_size")
    scores_per_block = _scores_per_block(working_memory)
    if context is not None and not isinstance(context, dict):
        raise ValueError(
            f"recommend: context must be a dict of column -> value or None, got "
            f"{type(context).__name__}."
        )
    context = dict(context or {})
    users = _as_unique_ids(users)
    catalogue = builder.item_catalogue_
    candidates = _candidate_items(catalogue, items)

    item_index = builder.item_vocabulary_.get_indexer(candidates) + 1
    user_index = builder.user_vocabulary_.get_indexer(users) + 1
    known = user_index > 0

    columns = list(getattr(model, "feature_names_in_", builder.feature_names_in_))
    unknown_context = [
        c
        for c in context
        if c not in columns
        or c in (builder.user_col, builder.item_col)
        or c in catalogue.columns
        or c in builder.user_profiles_.columns
    ]
    if unknown_context:
        raise ValueError(
            f"recommend: context columns {unknown_context} are not context columns "
            f"of the pipeline's input; its context columns are "
            f"{_context_columns(builder, columns)}."
        )

    positive = _positive_column(model)
    positions = np.arange(len(users))
    frames = []
    if known.any():
        frames.append(
            _score_known(
                model,
                builder,
                users[known],
                positions[known],
                user_index[known],
                candidates,
                item_index,
                columns,
                context,
                positive,
                k,
                exclude_seen,
                batch_size,
                scores_per_block,
            )
        )
    if (~known).any():
        frames.append(
            _popular(builder, users[~known], positions[~known], candidates, item_index, k)
        )
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty(candidates)
    result = pd.concat(frames, ignore_index=True)
    result = result.sort_values(["_position", "rank"], kind="stable", ignore_index=True)
    return result[_COLUMNS]


# ---------------------------------------------------------------- helpers
def _find_builder(model):
    steps = getattr(model, "steps", None)
    if not isinstance(steps, list):
        raise ValueError(
            "recommend: model must be a fitted sklearn Pipeline containing a "
            f"FeatureBuilder step, got {type(model).__name__}."
        )
    builders = [step for _, step in steps[:-1] if isinstance(step, FeatureBuilder)]
    if not builders:
        raise ValueError(
            "recommend: the pipeline has no FeatureBuilder step before its final "
            f"estimator (steps: {[name for name, _ in steps]}); recommend needs one "
            "to know the item catalogue, user profiles and seen items."
        )
    builder = builders[0]
    check_is_fitted(builder, "schema_")
    if not hasattr(builder, "feature_names_in_"):
        raise ValueError(
            "recommend: the FeatureBuilder was fitted on an array; fit the pipeline "
            "on a DataFrame so candidate rows can be built by column name."
        )
    if not hasattr(model, "predict_proba"):
        raise ValueError(
            f"recommend: the final step {type(steps[-1][1]).__name__} has no "
            "predict_proba; end the pipeline with a probabilistic classifier."
        )
    return builder


def _check_positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"recommend: {name} must be a positive integer, got {value!r}.")
    if value < 1:
        raise ValueError(f"recommend: {name} must be a positive integer, got {value!r}.")
    return int(value)


def _scores_per_block(working_memory):
    """Scores a block may hold within ``working_memory`` MiB."""
    if (
        isinstance(working_memory, (bool, np.bool_))
        or not isinstance(working_memory, numbers.Real)
        or not np.isfinite(working_memory)
        or working_memory <= 0
    ):
        raise ValueError(
            "recommend: working_memory must be a positive number of MiB "
            f"(e.g. 64), got {working_memory!r}."
        )
    return max(1, int(working_memory * 2**20 // _BYTES_PER_SCORE))


def _as_unique_ids(values):
    if values is None or isinstance(values, (str, bytes)) or np.isscalar(values):
        values = [values]
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy()
    elif isinstance(values, np.ndarray):
        values = values.ravel()
    else:
        values = list(values)
    return pd.Index(pd.Series(values).drop_duplicates().to_numpy())


def _candidate_items(catalogue, items):
    if items is None:
        return catalogue.index
    wanted = _as_unique_ids(items)
    if len(wanted) == 0:
        raise ValueError("recommend: items is empty; pass at least one item id or None.")
    missing = wanted[catalogue.index.get_indexer(wanted) < 0]
    if len(missing):
        shown = list(missing[:10])
        more = f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""
        raise ValueError(
            f"recommend: items {shown}{more} are not in the fitted item catalogue; "
            "only items seen in fit can be scored."
        )
    return catalogue.index[catalogue.index.get_indexer(wanted)]


def _context_columns(builder, columns):
    taken = {builder.user_col, builder.item_col}
    taken |= set(builder.item_catalogue_.columns) | set(builder.user_profiles_.columns)
    return [c for c in columns if c not in taken]


def _positive_column(model):
    classes = getattr(model, "classes_", None)
    if classes is None:
        return -1
    classes = list(classes)
    for positive in (1, True):
        if positive in classes:
            return classes.index(positive)
    return len(classes) - 1


def _context_value(builder, column, context):
    if column in context:
        return context[column]
    if column in builder.categories_:
        return None
    if getattr(builder, "history_length", 0) and column == builder.timestamp_col:
        return None  # no time: each user's latest history items
    return 0


def _score_known(
    model,
    builder,
    users,
    positions,
    user_index,
    candidates,
    item_index,
    columns,
    context,
    positive,
    k,
    exclude_seen,
    batch_size,
    scores_per_block,
):
    """Top-k of every known user, one frame (``_position``: place in ``users``).

    Users are scored in blocks and, on the row paths, candidates in chunks, so
    that a block holds at most ``scores_per_block`` scores (at least one user
    by all candidates on the hook path); each block keeps only a running top-k.
    """
    catalogue = builder.item_catalogue_
    profiles = builder.user_profiles_
    item_rows = catalogue.index.get_indexer(candidates)
    profile_rows = profiles.index.get_indexer(users)
    n_items = len(candidates)
    pair_scorer = _pair_scorer(
        model, builder, columns, users, candidates, item_rows, profile_rows, context, positive
    )
    kind, scorer = pair_scorer or ("rows", None)
    if kind == "matrix":
        # The hook scores all candidates of a user at once (one call per block).
        items_per_chunk = n_items
    else:
        items_per_chunk = min(n_items, scores_per_block)
    users_per_block = max(1, scores_per_block // items_per_chunk)
    if exclude_seen:
        seen_matrix = builder.seen_items_.tocsr()
        candidate_of = np.full(
            max(seen_matrix.shape[1], int(item_index.max(initial=0)) + 1), -1, dtype=np.intp
        )
        candidate_of[item_index] = np.arange(n_items)
    no_pairs = np.empty(0, dtype=np.intp)
    picked = {"user": [], "item": [], "score": [], "rank": []}
    for start in range(0, len(users), users_per_block):
        stop = min(start + users_per_block, len(users))
        n_block = stop - start
        if exclude_seen:
            seen_rows, seen_items = _seen_candidates(
                seen_matrix, candidate_of, user_index[start:stop]
            )
        else:
            seen_rows = seen_items = no_pairs
        top = _RunningTopK(n_block, k)
        if kind == "matrix":
            block = scorer(start, stop)
            block[seen_rows, seen_items] = -np.inf
            # Select in slices: the selection's temporaries stay a fraction of the block.
            width = max(8 * k, scores_per_block // (4 * n_block), 1)
            for lo in range(0, n_items, width):
                top.add(block[:, lo : lo + width], lo)
            del block
        else:
            for lo in range(0, n_items, items_per_chunk):
                hi = min(lo + items_per_chunk, n_items)
                a, b = np.searchsorted(seen_items, (lo, hi))
                unseen = np.ones((n_block, hi - lo), dtype=bool)
                unseen[seen_rows[a:b], seen_items[a:b] - lo] = False
                flat = np.flatnonzero(unseen)  # the pairs to score, row by row
                del unseen
                chunk = np.full((n_block, hi - lo), -np.inf)
                for first in range(0, len(flat), batch_size):
                    u, i = np.divmod(flat[first : first + batch_size], hi - lo)
                    if kind == "pairs":
                        chunk[u, i] = scorer(start, stop, u, i + lo)
                        continue
                    frame = _candidate_frame(
                        builder,
                        columns,
                        users[start:stop][u],
                        candidates[i + lo],
                        catalogue.iloc[item_rows[i + lo]],
                        profiles.iloc[profile_rows[start:stop][u]],
                        context,
                    )
                    chunk[u, i] = np.asarray(model.predict_proba(frame))[:, positive]
                del flat
                top.add(chunk, lo)
                del chunk
        n_keep = np.minimum(n_items - np.bincount(seen_rows, minlength=n_block), k)
        rows, ranks = np.nonzero(np.arange(top.items.shape[1])[None, :] < n_keep[:, None])
        picked["user"].append(start + rows)
        picked["item"].append(top.items[rows, ranks])
        picked["score"].append(top.scores[rows, ranks])
        picked["rank"].append(ranks + 1)
    rows = np.concatenate(picked["user"])
    return _result_frame(
        users[rows],
        positions[rows],
        candidates[np.concatenate(picked["item"])],
        np.concatenate(picked["score"]),
        np.concatenate(picked["rank"]),
        fallback=False,
    )


def _seen_candidates(seen_matrix, candidate_of, user_index):
    """``(block row, candidate position)`` of every seen candidate, by position.

    Read from the users' rows of the sparse ``seen_items_``: no dense
    users x items mask.
    """
    block = seen_matrix[user_index]
    block.sum_duplicates()
    rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
    items = candidate_of[block.indices]
    keep = (items >= 0) & (block.data > 0)
    rows, items = rows[keep], items[keep]
    order = np.argsort(items, kind="stable")
    return rows[order], items[order]


class _RunningTopK:
    """The ``k`` best candidates of each of ``n_rows`` users, fed chunk by chunk.

    Candidates are ranked by score, descending, ties by candidate position,
    ascending: the order of a stable ``argsort(-scores)`` over all candidates
    at once. A NaN score ranks as ``-inf`` (and is reported as NaN). Chunks
    must come in increasing candidate position. ``items`` and ``scores`` hold
    the current best, ranked, one row per user.
    """

    def __init__(self, n_rows, k):
        self.k = k
        self.items = np.empty((n_rows, 0), dtype=np.intp)
        self.scores = np.empty((n_rows, 0), dtype=np.float64)
        self._keys = self.scores

    def add(self, chunk, offset):
        """Merge the ``(n_rows, width)`` scores of candidates ``offset, offset + 1, ...``."""
        n_rows, width = chunk.shape
        keys = chunk
        if np.isnan(np.sum(chunk)):  # cheaper than isnan(chunk).any(); may be a false alarm
            keys = np.where(np.isnan(chunk), -np.inf, chunk)
        if width > self.k:
            flat = self._best_of_chunk(keys)
            rows, cols = np.divmod(flat, width)
            shape = (n_rows, self.k)
            keys_new = keys[rows, cols].reshape(shape)
            scores_new = chunk[rows, cols].reshape(shape)
            items_new = (cols + offset).reshape(shape)
        else:
            keys_new, scores_new = keys, chunk
            items_new = np.broadcast_to(np.arange(offset, offset + width), chunk.shape)
        keys = np.concatenate([self._keys, keys_new], axis=1)
        items = np.concatenate([self.items, items_new], axis=1)
        scores = np.concatenate([self.scores, scores_new], axis=1)
        order = np.lexsort((items, -keys), axis=-1)[:, : self.k]
        self._keys = np.take_along_axis(keys, order, axis=1)
        self.items = np.take_along_axis(items, order, axis=1)
        self.scores = np.take_along_axis(scores, order, axis=1)

    def _best_of_chunk(self, keys):
        """Flat indices of exactly ``k`` best entries of each row, row by row."""
        k = self.k
        width = keys.shape[1]
        kth = np.partition(keys, width - k, axis=1)[:, width - k, None]
        take = keys >= kth
        tied_rows = np.flatnonzero(np.count_nonzero(take, axis=1) > k)
        if len(tied_rows):
            # More than k entries reach the k-th score: the first ties in
            # candidate order win, as in a stable sort.
            keys, kth = keys[tied_rows], kth[tied_rows]
            above = keys > kth
            tied = keys == kth
            need = k - np.count_nonzero(above, axis=1)
            take[tied_rows] = above | (tied & (np.cumsum(tied, axis=1) <= need[:, None]))
        return np.flatnonzero(take)


def _pair_scorer(
    model, builder, columns, users, candidates, item_rows, profile_rows, context, positive
):
    """How to score users ``start:stop`` x candidates without raw pair rows, or None.

    Returns ``("matrix", scores)`` with ``scores(start, stop)`` the
    ``(n_users, n_items)`` array, ``("pairs", scores)`` with
    ``scores(start, stop, user_offsets, item_offsets)`` the scores of the
    given pairs (one ``predict_proba`` call), or None. Users are encoded in
    groups of ``_USERS_PER_ENCODING``, the candidates once.

    When the FeatureBuilder is the step right before the final estimator, the
    pipeline's steps up to it encode one row per candidate item and one row
    per user, instead of one row per (user, item) pair. Then either the
    estimator's ``_pairwise_scorer`` hook scores all pairs (see Notes of
    :func:`recommend`), or encoded pair rows are assembled from the two
    (item-side columns from the item rows, all others from the user rows)
    and go straight to the estimator's ``predict_proba``. None (the raw row
    path) when the FeatureBuilder is not right before the estimator, or when
    a non-item column of the encoded rows varies from item to item (e.g. an
    ``InteractionNormalizer(group_by="item")`` before the FeatureBuilder makes
    the context item-dependent): pairs could not be assembled exactly.
    """
    steps = model.steps
    estimator = steps[-1][1]
    if len(steps) < 2 or steps[-2][1] is not builder:
        return None
    catalogue = builder.item_catalogue_
    profiles = builder.user_profiles_
    encode = model[:-1].transform
    n_items = len(candidates)
    items_encoded = encode(
        _candidate_frame(
            builder,
            columns,
            np.repeat(np.asarray(users[:1], dtype=object), n_items),
            candidates,
            catalogue.iloc[item_rows],
            profiles.iloc[np.repeat(profile_rows[:1], n_items)],
            context,
        )
    )
    item_side = [entry["side"] == "item" for entry in builder.schema_]
    if not _constant_where(items_encoded, np.logical_not(item_side)):
        return None

    encoded = {"start": 0, "stop": 0, "rows": None}

    def encode_users(start, stop):
        """Encoded rows of ``users[start:stop]``, from groups of users encoded at once."""
        if not encoded["start"] <= start < stop <= encoded["stop"]:
            # One pipeline transform per group of blocks: with a large catalogue
            # a block is a few users, and the transform's fixed cost would dominate.
            end = min(len(users), max(stop, start + _USERS_PER_ENCODING))
            n_users = end - start
            encoded.update(
                start=start,
                stop=end,
                rows=encode(
                    _candidate_frame(
                        builder,
                        columns,
                        users[start:end],
                        candidates[np.zeros(n_users, dtype=np.intp)],
                        catalogue.iloc[np.repeat(item_rows[:1], n_users)],
                        profiles.iloc[profile_rows[start:end]],
                        context,
                    )
                ),
            )
        first = encoded["start"]
        return encoded["rows"].iloc[start - first : stop - first]

    hook = getattr(estimator, "_pairwise_scorer", None)
    classes = getattr(model, "classes_", None)
    score_block = None
    if hook is not None and classes is not None and positive in (-1, len(classes) - 1):
        score_block = hook(items_encoded)
    if score_block is not None:

        def scores(start, stop):
            n_users = stop - start
            block = np.asarray(score_block(encode_users(start, stop)))
            # float32 -> float64 is exact: ranking in float32 gives the same order
            # and ties, with half the memory; the kept scores are reported as float64.
            if block.dtype not in (np.float32, np.float64):
                block = block.astype(np.float64)
            elif not block.flags.writeable:
                block = block.copy()
            if block.shape != (n_users, n_items):
                raise ValueError(
                    f"recommend: {type(estimator).__name__}._pairwise_scorer returned "
                    f"scores of shape {block.shape} for {n_users} users and {n_items} "
                    f"items; expected ({n_users}, {n_items})."
                )
            return block

        return "matrix", scores

    item_arrays = [column.to_numpy() for _, column in items_encoded.items()]

    def pair_scores(start, stop, u, i):
        """Scores of the pairs ``(users[start:stop][u], candidates[i])``."""
        users_encoded = encode_users(start, stop)
        frame = pd.DataFrame(
            {
                name: (item_arrays[j][i] if item_side[j] else column.to_numpy()[u])
                for j, (name, column) in enumerate(users_encoded.items())
            },
            columns=users_encoded.columns,
        )
        frame.attrs = dict(users_encoded.attrs)
        return np.asarray(estimator.predict_proba(frame))[:, positive]

    return "pairs", pair_scores


def _constant_where(frame, mask):
    """True when every column of ``frame`` selected by ``mask`` holds one value."""
    for (_, column), selected in zip(frame.items(), mask):
        if selected and len(column) > 1 and column.nunique(dropna=False) > 1:
            return False
    return True


def _result_frame(users, positions, items, scores, ranks, *, fallback):
    return pd.DataFrame(
        {
            "user_id": pd.Series(np.asarray(users, dtype=object), dtype=object),
            "item_id": items,
            "score": np.asarray(scores, dtype=np.float64),
            "rank": np.asarray(ranks, dtype=np.int64),
            "fallback": np.full(len(positions), fallback, dtype=bool),
            "_position": positions,
        }
    )


def _candidate_frame(builder, columns, users, items, item_attrs, user_attrs, context):
    data = {}
    n = len(users)
    for column in columns:
        if column == builder.user_col:
            data[column] = np.asarray(users, dtype=object)
        elif column == builder.item_col:
            data[column] = np.asarray(items, dtype=object)
        elif column in item_attrs.columns:
            data[column] = item_attrs[column].reset_index(drop=True)
        elif column in user_attrs.columns:
            data[column] = user_attrs[column].reset_index(drop=True)
        else:
            value = _context_value(builder, column, context)
            data[column] = pd.Series([value] * n) if value is None else np.repeat(value, n)
    return pd.DataFrame(data, columns=columns)


def _popular(builder, users, positions, candidates, item_index, k):
    popularity = np.asarray(builder.item_popularity_, dtype=np.float64)
    total = popularity.sum()
    counts = popularity[item_index]
    order = np.argsort(-counts, kind="stable")[:k]
    share = counts[order] / total if total > 0 else counts[order]
    n_users, n_top = len(users), len(order)
    return _result_frame(
        np.repeat(np.asarray(users, dtype=object), n_top),
        np.repeat(positions, n_top),
        candidates[np.tile(order, n_users)],
        np.tile(share, n_users),
        np.tile(np.arange(1, n_top + 1), n_users),
        fallback=True,
    )


def _empty(candidates):
    return pd.DataFrame(
        {
            "user_id": pd.Series([], dtype=object),
            "item_id": pd.Series([], dtype=candidates.dtype),
            "score": pd.Series([], dtype=np.float64),
            "rank": pd.Series([], dtype=np.int64),
            "fallback": pd.Series([], dtype=bool),
        }
    )
