"""Normalise interaction-strength columns with statistics learned in ``fit``."""

import numbers

import numpy as np
import pandas as pd
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._validation import as_numeric, check_columns, check_frame, check_id_column

_WHO = "InteractionNormalizer"

# Statistics each grouped strategy learns per group (and globally, for unseen groups).
_STATISTICS = {
    "smoothed_max": ("max",),
    "max": ("max_abs",),
    "zscore": ("mean", "std"),
    "log1p": (),
    "binary": (),
}
_NEEDS_NON_NEGATIVE = frozenset({"smoothed_max", "log1p", "bm25"})

# An item every user has would get a negative idf; keep it small and positive instead.
_IDF_FLOOR = 1e-3


class InteractionNormalizer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Normalise interaction-strength columns per user, per item or globally.

    Strength columns (counts, ratings, dwell time) are rescaled with
    statistics learned in :meth:`fit`; every other column passes through
    unchanged and in order. For a strength value ``a`` in group ``g``:

    ================  ==========================================================
    ``strategy``      value after transform
    ================  ==========================================================
    ``smoothed_max``  ``(a + 1) / max(max_g(A), 1)``: add-one, divided by the
                      group's largest strength floored at 1 (the formula
                      ``Â = (A + 1) / max(A, 1)`` of the seed design).
    ``max``           ``a / max_g(|A|)``: max-abs scaling, i.e. ``a / max_g(A)``
                      for non-negative strengths; a group whose maximum is 0
                      maps to 0.
    ``zscore``        ``(a - mean_g) / std_g`` with the population standard
                      deviation (``ddof=0``); a constant group divides by 1.
    ``log1p``         ``log(1 + a)`` (stateless).
    ``binary``        ``1.0`` if ``a > 0`` else ``0.0`` (stateless).
    ``bm25``          ``a (k1 + 1) / (a + k1 (1 - b + b len_u / avg_len)) idf_i``
                      as in the ``bm25_weight`` of implicit-feedback
                      recommenders, with ``len_u`` the user's total strength,
                      ``avg_len`` its mean over users and
                      ``idf_i = log(n_users / (1 + n_i))``, ``n_i`` the number
                      of users with a positive strength on item ``i``; idf is
                      clipped below at ``1e-3`` so that an item every user has
                      keeps a small positive weight. Uses both ``user_col``
                      and ``item_col`` and ignores ``group_by``.
    ================  ==========================================================

    Groups not seen in ``fit`` fall back to global statistics: the maximum,
    mean and standard deviation over all training rows; for ``bm25`` an
    unseen user gets ``len_u = avg_len`` (no length correction) and an unseen
    item the mean idf of the training items. Transform is row-wise, so the
    output for a row never depends on the other rows passed with it.

    Parameters
    ----------
    columns : str, int or list of str or int, default="user_behavior"
        Strength column(s) to normalise. An integer is a column position
        (as in :class:`~sklearn.compose.ColumnTransformer`), anything else a
        column label. Positions are the only way to name columns of a numpy
        array.
    strategy : {"smoothed_max", "max", "zscore", "log1p", "binary", "bm25"}, \
            default="smoothed_max"
        Normalisation rule, see the table above.
    group_by : {"user", "item"} or None, default="user"
        Group whose statistics normalise each row; None uses global
        statistics. Ignored by ``log1p``, ``binary`` and ``bm25``.
    user_col : str or int, default="user_id"
        User id column (label or position).
    item_col : str or int, default="item_id"
        Item id column (label or position).
    k1 : float, default=1.2
        BM25 term-frequency saturation; larger values keep strengths closer
        to linear. Only used by ``bm25``.
    b : float, default=0.75
        BM25 length normalisation, from 0 (none) to 1 (full). Only used by
        ``bm25``.

    Attributes
    ----------
    columns_ : list
        Labels of the strength columns in the training data.
    group_stats_ : dict of str to DataFrame
        Per-group statistics keyed by group kind (``"user"`` or ``"item"``):
        each DataFrame is indexed by the group ids and has columns
        ``(strength column, statistic)``. Empty for global and stateless
        strategies; ``bm25`` stores ``"length"`` per user and ``"idf"`` per
        item.
    global_stats_ : DataFrame
        Fallback statistics for unseen groups: one row per statistic, one
        column per strength column (no rows for stateless strategies). For
        ``bm25``: ``"length"`` is ``avg_len``, ``"idf"`` the mean item idf and
        ``"n_users"`` the number of training users.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names seen in ``fit``, defined only when they are all strings.

    See Also
    --------
    skrec.preprocessing.clean_interactions : Drop duplicates and rows with
        missing ids before normalising.

    Notes
    -----
    Given a DataFrame, :meth:`transform` returns a copy of it (same index,
    same column order) with the strength columns replaced by float64 values,
    so the next step can still select columns by name; given an array it
    returns a float64 array. ``set_output(transform="pandas")`` works for both.

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.preprocessing import InteractionNormalizer
    >>> log = pd.DataFrame({"user_id": ["u1", "u1", "u2"],
    ...                     "item_id": ["i1", "i2", "i1"],
    ...                     "user_behavior": [4, 1, 0]})
    >>> InteractionNormalizer().fit_transform(log)
      user_id item_id  user_behavior
    0      u1      i1           1.25
    1      u1      i2           0.50
    2      u2      i1           1.00
    >>> InteractionNormalizer(strategy="max", group_by=None).fit_transform(log)
      user_id item_id  user_behavior
    0      u1      i1           1.00
    1      u1      i2           0.25
    2      u2      i1           0.00
    """

    _parameter_constraints: dict = {
        "columns": [str, numbers.Integral, list, tuple],
        "strategy": [
            StrOptions({"smoothed_max", "max", "zscore", "log1p", "binary", "bm25"})
        ],
        "group_by": [StrOptions({"user", "item"}), None],
        "user_col": [str, numbers.Integral],
        "item_col": [str, numbers.Integral],
        "k1": [Interval(numbers.Real, 0, None, closed="left")],
        "b": [Interval(numbers.Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        *,
        columns="user_behavior",
        strategy="smoothed_max",
        group_by="user",
        user_col="user_id",
        item_col="item_id",
        k1=1.2,
        b=0.75,
    ):
        self.columns = columns
        self.strategy = strategy
        self.group_by = group_by
        self.user_col = user_col
        self.item_col = item_col
        self.k1 = k1
        self.b = b

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = self.strategy in _NEEDS_NON_NEGATIVE
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the per-group and global statistics of the strength columns.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Interaction log; an array needs integer column positions.
        y : None
            Ignored.

        Returns
        -------
        self : InteractionNormalizer
            Fitted transformer.
        """
        frame, is_array = self._validate_input(X, reset=True)
        labels = self._strength_labels(frame, is_array)
        strengths = self._strength_values(frame, labels)
        self.columns_ = list(labels)
        self.group_stats_ = {}
        if self.strategy == "bm25":
            users = self._group_keys(frame, "user", is_array)
            items = self._group_keys(frame, "item", is_array)
            self._fit_bm25(strengths, labels, users, items)
            self._stream = None
            return self
        self._stream = None
        statistics = _STATISTICS[self.strategy]
        self.global_stats_ = pd.DataFrame(
            _global_statistics(strengths, statistics),
            index=pd.Index(statistics, name="statistic"),
            columns=pd.Index(labels),
        )
        if statistics and self.group_by is not None:
            keys = self._group_keys(frame, self.group_by, is_array)
            self.group_stats_[self.group_by] = _group_statistics(
                strengths, keys, statistics, labels, self.group_by
            )
        return self

    def partial_fit(self, X, y=None):
        """Update the statistics with one chunk of a log too large for memory.

        After any sequence of calls the statistics equal those :meth:`fit`
        learns on the chunks concatenated (up to rounding): maxima merge
        exactly, means and deviations by Chan's pairwise update. Memory holds
        one row of figures per group, never the rows.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            One chunk of the interaction log, with the same columns each call.
        y : None
            Ignored.

        Returns
        -------
        self : InteractionNormalizer

        Notes
        -----
        ``strategy="bm25"`` is refused: its idf counts the distinct users of
        each item, which a chunk cannot tell from the users of earlier ones.

        Examples
        --------
        >>> import pandas as pd
        >>> from skrec.preprocessing import InteractionNormalizer
        >>> log = pd.DataFrame({"user_id": ["u1", "u1", "u2"],
        ...                     "item_id": ["i1", "i2", "i1"],
        ...                     "user_behavior": [4, 1, 0]})
        >>> norm = InteractionNormalizer()
        >>> for chunk in (log.iloc[:1], log.iloc[1:]):
        ...     _ = norm.partial_fit(chunk)
        >>> norm.transform(log)["user_behavior"].tolist()
        [1.25, 0.5, 1.0]
        """
        state = getattr(self, "_stream", None)
        if hasattr(self, "columns_"):
            self._validate_input(X, reset=False)  # sklearn's n_features message first
        if state is None and hasattr(self, "columns_") and not _STATISTICS.get(self.strategy, 1):
            state = self._stream = {"global": None, "group": None}  # stateless: nothing to lose
        first = state is None
        if first:
            if hasattr(self, "columns_"):
                raise ValueError(
                    f"{_WHO}: partial_fit continues a streamed fit, but this "
                    "normalizer was fitted with fit(); start from an unfitted one, "
                    "e.g. sklearn.base.clone(normalizer)."
                )
            self._validate_params()
            if self.strategy == "bm25":
                raise ValueError(
                    f"{_WHO}: strategy='bm25' cannot be fitted chunk by chunk (its "
                    "idf counts distinct users per item over the whole log); use "
                    "strategy='smoothed_max', 'log1p' or 'zscore', or fit() in memory."
                )
        frame, is_array = self._validate_input(X, reset=first)
        labels = self._strength_labels(frame, is_array)
        strengths = self._strength_values(frame, labels)
        statistics = _STATISTICS[self.strategy]
        if first:
            self.columns_ = list(labels)
            state = self._stream = {"global": None, "group": None}
        self.group_stats_ = {}
        if not statistics:  # log1p, binary: nothing to learn
            self.global_stats_ = pd.DataFrame(
                np.empty((0, len(labels))),
                index=pd.Index(statistics, name="statistic"),
                columns=pd.Index(labels),
            )
            return self
        if self.group_by is not None:
            keys = self._group_keys(frame, self.group_by, is_array)
            state["group"] = _merge(state["group"], _accumulate(strengths, keys, statistics))
            self.group_stats_[self.group_by] = _finish(
                state["group"], statistics, labels, self.group_by
            )
        state["global"] = _merge(
            state["global"],
            _accumulate(strengths, np.zeros(len(strengths), dtype=np.int8), statistics),
        )
        table = _finish(state["global"], statistics, labels, "all").to_numpy()
        # One group, columns (label, statistic) -> rows statistic, columns label.
        self.global_stats_ = pd.DataFrame(
            table.reshape(len(labels), len(statistics)).T,
            index=pd.Index(statistics, name="statistic"),
            columns=pd.Index(labels),
        )
        return self

    def transform(self, X):
        """Replace the strength columns by their normalised values.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Interaction log with the columns seen in ``fit``.

        Returns
        -------
        X_out : DataFrame or ndarray of shape (n_samples, n_features)
            A DataFrame (copy of ``X``, same index and column order) when
            ``X`` is one, else a float64 array.
        """
        check_is_fitted(self)
        frame, is_array = self._validate_input(X, reset=False)
        labels = self._strength_labels(frame, is_array)
        strengths = self._strength_values(frame, labels)
        if self.strategy == "bm25":
            normalized = self._transform_bm25(strengths, frame, is_array)
        else:
            normalized = self._transform_grouped(strengths, frame, is_array)

        if is_array:
            out = frame.to_numpy(dtype=np.float64, copy=True)
            out[:, [frame.columns.get_loc(c) for c in labels]] = normalized
            return out
        out = X.copy()
        for j, label in enumerate(labels):
            out[label] = normalized[:, j]
        return out

    # -- input handling -------------------------------------------------

    def _validate_input(self, X, *, reset):
        """Return ``(frame, is_array)`` after sklearn's feature checks."""
        if isinstance(X, pd.DataFrame):
            frame = check_frame(X, who=_WHO)
            validate_data(self, X, reset=reset, skip_check_array=True)
            return frame, False
        array = validate_data(self, X, reset=reset, dtype="numeric")
        return pd.DataFrame(array, copy=False), True

    def _resolve(self, frame, key, *, param, is_array):
        """Turn a column position or label into the frame's column label."""
        if isinstance(key, numbers.Integral) and not isinstance(key, (bool, np.bool_)):
            n_features = frame.shape[1]
            if not 0 <= key < n_features:
                raise ValueError(
                    f"{_WHO}: {param}={key} is a column position, but the input has "
                    f"{n_features} feature(s); pass a position from 0 to "
                    f"{n_features - 1} or a column name."
                )
            return frame.columns[int(key)]
        if is_array:
            raise ValueError(
                f"{_WHO}: {param}={key!r} is a column name, but X is an array "
                "without column names; pass a pandas DataFrame or give "
                f"{param} as an integer column position, e.g. {param}=0."
            )
        check_columns(frame, [key], who=_WHO, param=param)
        return key

    def _strength_labels(self, frame, is_array):
        specs = self.columns
        specs = list(specs) if isinstance(specs, (list, tuple)) else [specs]
        if not specs:
            raise ValueError(
                f"{_WHO}: columns=[] names no strength column; pass at least one, "
                "e.g. columns='user_behavior'."
            )
        labels = [
            self._resolve(frame, c, param="columns", is_array=is_array) for c in specs
        ]
        if len(set(labels)) != len(labels):
            raise ValueError(
                f"{_WHO}: columns={self.columns!r} names the same column twice; "
                "list each strength column once."
            )
        return labels

    def _strength_values(self, frame, labels):
        """Return the strength columns as a float64 matrix, or raise."""
        values = np.column_stack([as_numeric(frame, c, who=_WHO) for c in labels])
        for j, label in enumerate(labels):
            column = values[:, j]
            bad = ~np.isfinite(column)
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                row = _plain(frame.index[first])
                kind = "NaN" if np.isnan(column[first]) else "infinite"
                raise ValueError(
                    f"{_WHO}: column {label!r} has {int(bad.sum())} missing or "
                    f"infinite value(s), e.g. {kind} at row {row!r}; "
                    "fill or drop them first, e.g. skrec.clean_interactions(log, "
                    f"fill_strength=0) or log[{label!r}].fillna(0)."
                )
            if self.strategy in _NEEDS_NON_NEGATIVE:
                negative = column < 0
                if negative.any():
                    first = int(np.flatnonzero(negative)[0])
                    row = _plain(frame.index[first])
                    # "Negative values in data" is the phrase sklearn's checks expect.
                    raise ValueError(
                        f"{_WHO}: strategy={self.strategy!r} needs non-negative "
                        f"strengths. Negative values in data: column {label!r} has "
                        f"{int(negative.sum())} negative value(s), e.g. "
                        f"{float(column[first])!r} at row {row!r}; clip them with "
                        f"log[{label!r}].clip(lower=0), or use strategy='zscore' "
                        "or 'max', which accept negative strengths."
                    )
        return values

    def _group_keys(self, frame, kind, is_array):
        param = f"{kind}_col"
        key = getattr(self, param)
        label = self._resolve(frame, key, param=param, is_array=is_array)
        check_id_column(frame, label, who=_WHO)
        return frame[label].to_numpy()

    # -- statistics -----------------------------------------------------

    def _fit_bm25(self, strengths, labels, users, items):
        n_users = len(pd.unique(users))
        lengths = pd.DataFrame(strengths).groupby(users, sort=False).sum()
        # Users with a positive strength on the item, each counted once.
        positive = pd.DataFrame(strengths > 0).groupby([users, items], sort=False).any()
        n_with_item = positive.groupby(level=1, sort=False).sum()
        idf = np.maximum(np.log(n_users / (1.0 + n_with_item)), _IDF_FLOOR)

        lengths.columns = pd.MultiIndex.from_product([labels, ["length"]])
        idf.columns = pd.MultiIndex.from_product([labels, ["idf"]])
        lengths.index.name, idf.index.name = "user", "item"
        self.group_stats_ = {"user": lengths, "item": idf}
        self.global_stats_ = pd.DataFrame(
            [
                lengths.mean(axis=0).to_numpy(),
                idf.mean(axis=0).to_numpy(),
                np.full(len(labels), float(n_users)),
            ],
            index=pd.Index(["length", "idf", "n_users"], name="statistic"),
            columns=pd.Index(labels),
        )

    def _lookup(self, kind, keys, statistic):
        """Per-row statistic of each strength column; unseen groups get the global."""
        stats = self.group_stats_[kind]
        rows = stats.index.get_indexer(keys)
        table = stats.xs(statistic, axis=1, level=1).to_numpy(dtype=np.float64)
        fallback = self.global_stats_.loc[statistic].to_numpy(dtype=np.float64)
        return np.where((rows >= 0)[:, None], table[rows], fallback)

    def _transform_grouped(self, a, frame, is_array):
        if self.strategy == "log1p":
            return np.log1p(a)
        if self.strategy == "binary":
            return (a > 0).astype(np.float64)

        if self.group_by is None:
            keys = None
        else:
            keys = self._group_keys(frame, self.group_by, is_array)

        def stat(name):
            if keys is None:
                return self.global_stats_.loc[name].to_numpy(dtype=np.float64)[None, :]
            return self._lookup(self.group_by, keys, name)

        if self.strategy == "smoothed_max":
            return (a + 1.0) / np.maximum(stat("max"), 1.0)
        if self.strategy == "max":
            scale = np.broadcast_to(stat("max_abs"), a.shape)
            return np.divide(a, scale, out=np.zeros_like(a), where=scale > 0)
        std = stat("std")
        return (a - stat("mean")) / np.where(std > 0, std, 1.0)

    def _transform_bm25(self, a, frame, is_array):
        users = self._group_keys(frame, "user", is_array)
        items = self._group_keys(frame, "item", is_array)
        avg_length = self.global_stats_.loc["length"].to_numpy(dtype=np.float64)
        lengths = self._lookup("user", users, "length")
        ratio = np.divide(
            lengths, avg_length, out=np.ones_like(lengths), where=avg_length > 0
        )
        denominator = a + self.k1 * (1.0 - self.b + self.b * ratio)
        saturated = np.divide(
            a * (self.k1 + 1.0),
            denominator,
            out=np.zeros_like(a),
            where=denominator > 0,
        )
        return saturated * self._lookup("item", items, "idf")


def _plain(value):
    """A numpy scalar as the Python value it holds, so messages read ``11``."""
    return value.item() if isinstance(value, np.generic) else value


def _global_statistics(values, statistics):
    """Statistics over all rows: array of shape (n_statistics, n_columns)."""
    mean = values.mean(axis=0)
    computed = {
        "max": lambda: values.max(axis=0),
        "max_abs": lambda: np.abs(values).max(axis=0),
        "mean": lambda: mean,
        "std": lambda: _std(values.var(axis=0), mean, len(values)),
    }
    table = np.array([computed[name]() for name in statistics], dtype=np.float64)
    return table.reshape(len(statistics), values.shape[1])




def _group_statistics(values, keys, statistics, labels, kind):
    """Per-group statistics: index = group ids, columns = (label, statistic)."""
    return _finish(_accumulate(values, keys, statistics), statistics, labels, kind)


def _accumulate(values, keys, statistics):
    """Per-group figures of one chunk that merge across chunks (see ``_merge``)."""
    data = pd.DataFrame(values)
    if statistics == ("max_abs",):
        data = data.abs()
    grouped = data.groupby(keys, sort=False)
    if statistics == ("mean", "std"):
        count = grouped.size()
        mean = grouped.mean()
        return {"count": count, "mean": mean, "m2": grouped.var(ddof=0).mul(count, axis=0)}
    return {"max": grouped.max()}


def _merge(old, new):
    """Merge two ``_accumulate`` results; groups keep their first appearance order."""
    if old is None:
        return new
    if "max" in new:
        both = pd.concat([old["max"], new["max"]])
        return {"max": both.groupby(level=0, sort=False).max()}
    index = old["count"].index.append(new["count"].index.difference(old["count"].index, sort=False))
    n_a = old["count"].reindex(index, fill_value=0).to_numpy(dtype=np.float64)[:, None]
    n_b = new["count"].reindex(index, fill_value=0).to_numpy(dtype=np.float64)[:, None]
    mean_a = old["mean"].reindex(index, fill_value=0.0).to_numpy()
    mean_b = new["mean"].reindex(index, fill_value=0.0).to_numpy()
    m2_a = old["m2"].reindex(index, fill_value=0.0).to_numpy()
    m2_b = new["m2"].reindex(index, fill_value=0.0).to_numpy()
    n = n_a + n_b
    delta = mean_b - mean_a
    mean = mean_a + delta * n_b / n
    m2 = m2_a + m2_b + delta**2 * n_a * n_b / n
    columns = old["mean"].columns
    return {
        "count": pd.Series(n[:, 0].astype(np.int64), index=index),
        "mean": pd.DataFrame(mean, index=index, columns=columns),
        "m2": pd.DataFrame(m2, index=index, columns=columns),
    }


def _finish(accumulated, statistics, labels, kind):
    """Accumulated figures -> the per-group table ``fit`` builds."""
    if "max" in accumulated:
        blocks = [accumulated["max"]]
    else:
        count = accumulated["count"].to_numpy()[:, None]
        mean = accumulated["mean"].to_numpy()
        blocks = [mean, _std(accumulated["m2"].to_numpy() / count, mean, count)]
    groups = pd.Index((accumulated.get("max", accumulated.get("mean"))).index).rename(kind)
    table = np.stack([np.asarray(block, dtype=np.float64) for block in blocks], axis=2)
    return pd.DataFrame(
        table.reshape(len(groups), -1),
        index=groups,
        columns=pd.MultiIndex.from_product([labels, list(statistics)]),
    )


def _std(var, mean, count):
    """Population standard deviation; exactly 0 where the data is constant.

    Rounding leaves a constant group with a tiny positive variance; the bound
    below (the one scikit-learn's StandardScaler uses) recognises it.
    """
    eps = np.finfo(np.float64).eps
    upper_bound = count * eps * var + (count * mean * eps) ** 2
    return np.where(var <= upper_bound, 0.0, np.sqrt(var))
