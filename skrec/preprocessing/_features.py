"""FeatureBuilder: ids, categories and numbers into model-ready indices.

The output of :class:`FeatureBuilder` describes itself: it carries an input
schema (which columns are id / categorical indices and their vocabulary sizes,
which are numeric, and whether each belongs to the user, the item or the
interaction) in ``DataFrame.attrs``, so a deep recommender placed after it in a
:class:`~sklearn.pipeline.Pipeline` needs no schema repeated in its parameters.
"""

import numbers
import operator
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..utils._fingerprint import data_fingerprint
from ..utils._streaming import Reservoir, RunningMoments
from ..utils._validation import as_numeric, check_columns, check_frame, check_id_column

SCHEMA_ATTR = "skrec_schema"

_OPERATORS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda values, options: values.isin(list(options)),
}

# Interaction-strength columns of the data contract: they describe the event,
# not the user, although their name starts with "user_".
_CONTEXT_DEFAULTS = ("user_behavior",)


class FeatureBuilder(TransformerMixin, BaseEstimator):
    """Turn an interaction log into the integer and numeric inputs of a recommender.

    ``fit`` learns vocabularies for the user and item ids and for categorical
    attributes, the statistics to scale numeric attributes and fill their gaps,
    the item catalogue and each user's seen items. ``transform`` returns a
    DataFrame with one column per feature: ids and categories as integer
    indices, numbers as scaled floats, declared boolean features as 0/1.

    Index 0 of every vocabulary is reserved: ids or categories unseen in
    ``fit``, categories below ``min_frequency`` and missing categories all map
    to it, so a model gives unknown users and items a shared out-of-vocabulary
    embedding instead of failing.

    Parameters
    ----------
    user_col, item_col : str or int, default="user_id", "item_id"
        Id columns (integer positions when ``X`` is a plain array).
    user_features, item_features : "auto" or list of str, default="auto"
        Attribute columns of the user and of the item. ``"auto"`` takes the
        columns named ``user_*`` / ``item_*`` of the data contract, except the
        ids and the context features.
    context_features : "auto" or list of str, default="auto"
        Columns describing the interaction itself (e.g. the normalised
        ``user_behavior`` strength). ``"auto"`` takes ``user_behavior`` when
        present; for a plain array, every column but the two ids.
    categorical_features : "auto" or list of str, default="auto"
        Which attribute columns are categorical. ``"auto"``: every column that
        is not numeric (object, string, category, datetime) or is boolean.
    boolean_features : dict or None, default=None
        Declarative 0/1 features, ``{name: (column, op, value)}`` with ``op``
        one of ``==, !=, <, <=, >, >=, in``; e.g.
        ``{"is_electronics": ("item_category", "==", "electronics")}``.
    min_frequency : int or float, default=1
        Categories seen fewer times (or in a smaller fraction of rows, if a
        float in (0, 1)) share the reserved index 0.
    max_categories : int or None, default=None
        Keep at most this many of the most frequent categories per column.
    numeric_missing : {"median", "mean", "zero", "error"}, default="median"
        Policy for missing numeric values: fill with the training median, mean
        or zero, or raise an error that names the column.
    scale_numeric : bool, default=True
        Standardise numeric columns with the training mean and deviation.
    history_length : int, default=0
        Length ``N`` of the sequence feature; 0 turns it off. When ``N > 0``
        the output gains ``N`` integer columns ``history_1 .. history_N``: the
        item indices of the user's last ``N`` positive interactions of the
        ``fit`` log *strictly before* the row's timestamp, oldest first and
        padded with 0 on the left, so ``history_N`` is always the most recent
        item (see Notes).
    timestamp_col : str or int, default="timestamp"
        Event-time column (datetimes, or numbers such as Unix seconds), read
        only when ``history_length > 0``. It is not itself a feature.

    Attributes
    ----------
    schema_ : list of dict
        One entry per output column: ``name``, ``kind`` (``"id"``,
        ``"categorical"``, ``"numeric"`` or ``"sequence"``), ``side``
        (``"user"``, ``"item"`` or ``"context"``) and ``vocabulary_size``
        (``None`` for numeric). The history columns are ``"sequence"``
        entries of side ``"context"`` with the item vocabulary size; a model
        receives them as one ``(batch, N)`` input.
    user_vocabulary_, item_vocabulary_ : pandas.Index
        Known raw ids; the id at position ``p`` has index ``p + 1``.
    categories_ : dict of str to pandas.Index
        Kept categories per categorical column, in index order from 1.
    numeric_stats_ : dict of str to dict
        ``fill``, ``mean`` and ``scale`` learned per numeric column.
    item_catalogue_ : pandas.DataFrame
        Raw item attributes (last seen) indexed by raw item id.
    user_profiles_ : pandas.DataFrame
        Raw user attributes (last seen) indexed by raw user id.
    seen_items_ : scipy.sparse.csr_matrix of shape (n_user_index, n_item_index)
        Which item indices each user index interacted with in ``fit``.
    item_popularity_ : ndarray of shape (n_item_index,)
        Interaction count of each item index in ``fit``.
    history_indptr_ : ndarray of shape (n_user_index + 1,)
        Only when ``history_length > 0``: the positives of user index ``u``
        are ``history_items_[history_indptr_[u]:history_indptr_[u + 1]]``
        (CSR layout, by time, ties in row order).
    history_items_ : ndarray of shape (n_positives,)
        Item index of each stored positive.
    history_times_ : ndarray of shape (n_positives,)
        Its time (``datetime64[ns]``, or ``float64`` for a numeric clock).
    n_samples_fit_ : int
        Number of rows of the log ``fit`` saw.
    data_fingerprint_ : str
        SHA-256 of that log's columns, values and labels (kept in the
        metadata of saved models, see :func:`skrec.save`).
    feature_names_in_ : ndarray of str
        Input column names (DataFrame input only).
    n_features_in_ : int
        Number of input columns.

    See Also
    --------
    InteractionNormalizer : Normalise interaction strengths before this step.

    Notes
    -----
    **History (sequence feature).** The stored history is every row of the
    ``fit`` log with ``y == 1``, or every row when ``y`` is None. A row that
    has a timestamp sees only stored positives of its user with a timestamp
    strictly earlier than its own: never itself, nothing at the same moment,
    nothing later, so ``fit_transform`` on a training log leaks no label. A
    row whose timestamp is missing (None, NaN, NaT), or a frame without the
    timestamp column, gets the user's latest ``N`` stored items: use it for
    serving after the training period, never on training rows. Unknown users
    get only padding. History items all come from the ``fit`` vocabulary, so
    they are never the unknown index 0 and a 0 in a history column always
    means "no item here" (a model can mask it, e.g.
    ``keras.layers.Embedding(mask_zero=True)``).

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.preprocessing import FeatureBuilder
    >>> log = pd.DataFrame({
    ...     "user_id": ["ann", "ann", "bob"],
    ...     "item_id": ["tv", "book", "tv"],
    ...     "item_category": ["electronics", "books", "electronics"],
    ...     "item_price": [300.0, 12.0, 300.0],
    ... })
    >>> fb = FeatureBuilder(
    ...     boolean_features={"is_electronics": ("item_category", "==", "electronics")}
    ... ).fit(log)
    >>> out = fb.transform(pd.DataFrame({"user_id": ["bob", "eve"],
    ...     "item_id": ["book", "tv"], "item_category": ["books", "electronics"],
    ...     "item_price": [12.0, 300.0]}))
    >>> out[["user_id", "item_id", "item_category", "is_electronics"]]
       user_id  item_id  item_category  is_electronics
    0        2        2              2             0.0
    1        0        1              1             1.0
    >>> [(c["name"], c["kind"], c["side"], c["vocabulary_size"]) for c in fb.schema_][:3]
    [('user_id', 'id', 'user', 3), ('item_id', 'id', 'item', 3), ('item_category', 'categorical', 'item', 3)]

    The last two items each user chose strictly before each event:

    >>> log = pd.DataFrame({
    ...     "user_id": ["ann", "ann", "ann", "ann", "bob"],
    ...     "item_id": ["tv", "book", "pen", "cup", "tv"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03",
    ...                                  "2024-01-04", "2024-01-02"]),
    ... })
    >>> y = [1, 1, 0, 1, 1]  # ann did not choose the pen
    >>> fb = FeatureBuilder(history_length=2).fit(log, y)
    >>> fb.transform(log)[["user_id", "item_id", "history_1", "history_2"]]
       user_id  item_id  history_1  history_2
    0        1        1          0          0
    1        1        2          0          1
    2        1        3          1          2
    3        1        4          1          2
    4        2        1          0          0
    """

    _parameter_constraints: dict = {
        "user_col": [str, Interval(numbers.Integral, 0, None, closed="left")],
        "item_col": [str, Interval(numbers.Integral, 0, None, closed="left")],
        "user_features": [StrOptions({"auto"}), list, tuple],
        "item_features": [StrOptions({"auto"}), list, tuple],
        "context_features": [StrOptions({"auto"}), list, tuple],
        "categorical_features": [StrOptions({"auto"}), list, tuple],
        "boolean_features": [dict, None],
        "min_frequency": [
            Interval(numbers.Integral, 1, None, closed="left"),
            Interval(numbers.Real, 0, 1, closed="neither"),
        ],
        "max_categories": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "numeric_missing": [StrOptions({"median", "mean", "zero", "error"})],
        "scale_numeric": ["boolean"],
        "history_length": [Interval(numbers.Integral, 0, None, closed="left")],
        "timestamp_col": [str, Interval(numbers.Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        user_col="user_id",
        item_col="item_id",
        user_features="auto",
        item_features="auto",
        context_features="auto",
        categorical_features="auto",
        boolean_features=None,
        min_frequency=1,
        max_categories=None,
        numeric_missing="median",
        scale_numeric=True,
        history_length=0,
        timestamp_col="timestamp",
    ):
        self.user_col = user_col
        self.item_col = item_col
        self.user_features = user_features
        self.item_features = item_features
        self.context_features = context_features
        self.categorical_features = categorical_features
        self.boolean_features = boolean_features
        self.min_frequency = min_frequency
        self.max_categories = max_categories
        self.numeric_missing = numeric_missing
        self.scale_numeric = scale_numeric
        self.history_length = history_length
        self.timestamp_col = timestamp_col

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn vocabularies, numeric statistics, the catalogue and seen items.

        Parameters
        ----------
        X : DataFrame of shape (n_interactions, n_columns)
            Interaction log (a 2-d array is accepted with integer ``user_col``
            and ``item_col``).
        y : array-like of shape (n_interactions,), default=None
            Binary labels; only read when ``history_length > 0``, where the
            rows with ``y == 1`` make the users' histories (every row when
            None).

        Returns
        -------
        self : FeatureBuilder
        """
        frame = check_frame(X, who=self._who, allow_array=True)
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.n_features_in_ = frame.shape[1]
        self._array_input = not isinstance(X, pd.DataFrame)
        if frame.shape[1] == 0:
            raise ValueError(
                f"{self._who}: 0 feature(s) (shape={frame.shape}) while a minimum "
                "of 2 is required (a user and an item column)."
            )
        if self._array_input and frame.shape[1] < 2:
            raise ValueError(
                f"{self._who}: X has 1 feature(s) but needs at least a user and an "
                "item column; pass an array with the user ids in column "
                f"{self.user_col} and the item ids in column {self.item_col}."
            )
        check_columns(frame, [self.user_col, self.item_col], who=self._who)
        for col in (self.user_col, self.item_col):
            check_id_column(frame, col, who=self._who)

        sides = self._resolve_columns(frame)
        categorical = self._resolve_categorical(frame, sides)

        self.user_vocabulary_ = pd.Index(pd.unique(frame[self.user_col]))
        self.item_vocabulary_ = pd.Index(pd.unique(frame[self.item_col]))
        schema = [
            self._entry(self.user_col, "id", "user", len(self.user_vocabulary_) + 1),
            self._entry(self.item_col, "id", "item", len(self.item_vocabulary_) + 1),
        ]

        self.categories_ = {}
        self.numeric_stats_ = {}
        n_rows = frame.shape[0]
        min_count = (
            self.min_frequency
            if isinstance(self.min_frequency, numbers.Integral)
            else int(np.ceil(self.min_frequency * n_rows))
        )
        ordered = [(col, side) for side in ("user", "item", "context") for col in sides[side]]
        for col, side in ordered:
            if col in categorical:
                counts = frame[col].value_counts(dropna=True, sort=True)
                kept = counts[counts >= min_count]
                if self.max_categories is not None:
                    kept = kept.iloc[: self.max_categories]
                self.categories_[col] = pd.Index(kept.index)
                schema.append(
                    self._entry(col, "categorical", side, len(kept) + 1)
                )
        for col, side in ordered:
            if col not in categorical:
                values, missing = self._numeric_column(frame, col, fitting=True)
                self.numeric_stats_[col] = self._numeric_stats(values, missing)
                schema.append(self._entry(col, "numeric", side, None))
        self._boolean_specs = self._resolve_booleans(frame, sides)
        for name, (_, _, _, side) in self._boolean_specs.items():
            schema.append(self._entry(name, "numeric", side, None))
        n_item_index = len(self.item_vocabulary_) + 1
        for name in self._history_names():
            schema.append(self._entry(name, "sequence", "context", n_item_index))
        self._check_unique_names(schema)
        self.schema_ = schema

        user_index = self._lookup(self.user_vocabulary_, frame[self.user_col])
        item_index = self._lookup(self.item_vocabulary_, frame[self.item_col])
        n_users, n_items = schema[0]["vocabulary_size"], schema[1]["vocabulary_size"]
        seen = sp.csr_matrix(
            (np.ones(n_rows, dtype=np.float32), (user_index, item_index)),
            shape=(n_users, n_items),
        )
        seen.data[:] = 1.0
        self.seen_items_ = seen
        self.item_popularity_ = np.bincount(item_index, minlength=n_items)
        self.item_catalogue_ = self._last_attributes(frame, self.item_col, sides["item"])
        self.user_profiles_ = self._last_attributes(frame, self.user_col, sides["user"])
        self._fit_history(frame, y, user_index, item_index, n_users)
        self.n_samples_fit_ = n_rows
        self.data_fingerprint_ = data_fingerprint(frame, y)
        self._stream = None
        return self

    def partial_fit(self, X, y=None):
        """Update the fitted state with one chunk of a log too large for memory.

        Call it once per chunk (e.g. per Parquet row group, see
        :func:`skrec.fit_out_of_core`); after every call the builder is
        usable and equals, up to the notes below, one built by :meth:`fit`
        on all chunks so far, concatenated in order. Memory holds the
        vocabularies, category counts, the seen (user, item) pairs and the
        catalogue, never the rows.

        Parameters
        ----------
        X : DataFrame of shape (n_interactions, n_columns)
            One chunk of the interaction log, with the same columns in every
            call.
        y : array-like of shape (n_interactions,), default=None
            Ignored (accepted for pipelines); the sequence feature, which
            reads it, cannot be fitted out of core.

        Returns
        -------
        self : FeatureBuilder

        Notes
        -----
        Exactly as :meth:`fit`: id vocabularies (in order of first
        appearance), kept categories (``min_frequency`` and
        ``max_categories`` apply to the counts over all chunks), numeric
        means and deviations, seen items, popularity, catalogue and
        profiles (last seen). ``numeric_missing="median"`` fills with the
        median of a 100,000-value uniform sample of each column
        (:class:`~skrec.utils._streaming.Reservoir`), not the exact median.
        ``data_fingerprint_`` chains the chunks' fingerprints, so it depends
        on how the log was cut. ``history_length > 0`` is refused: each
        user's history would keep every positive in memory.

        Examples
        --------
        >>> import pandas as pd
        >>> from skrec.preprocessing import FeatureBuilder
        >>> log = pd.DataFrame({"user_id": ["ann", "bob", "ann", "eve"],
        ...                     "item_id": ["tv", "tv", "pen", "cup"]})
        >>> fb = FeatureBuilder()
        >>> for chunk in (log.iloc[:2], log.iloc[2:]):
        ...     _ = fb.partial_fit(chunk)
        >>> list(fb.user_vocabulary_), fb.n_samples_fit_
        (['ann', 'bob', 'eve'], 4)
        >>> fb.transform(log)["item_id"].tolist()
        [1, 1, 2, 3]
        """
        state = getattr(self, "_stream", None)
        frame = check_frame(X, who=self._who, allow_array=True)
        if hasattr(self, "n_features_in_") and frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{self._who}: X has {frame.shape[1]} features, but FeatureBuilder is "
                f"expecting {self.n_features_in_} features as input; pass the same "
                "columns in every chunk."
            )
        if state is None:
            if hasattr(self, "schema_"):
                raise ValueError(
                    f"{self._who}: partial_fit continues a streamed fit, but this "
                    "builder was fitted with fit(); start from an unfitted one, "
                    "e.g. sklearn.base.clone(builder)."
                )
            self._validate_params()
            if self.history_length:
                raise ValueError(
                    f"{self._who}: history_length={self.history_length} cannot be "
                    "fitted out of core (every user's history is kept in memory); "
                    "use history_length=0, or fit() on a log that fits in memory."
                )
            if not isinstance(X, pd.DataFrame) and frame.shape[1] < 2:
                raise ValueError(
                    f"{self._who}: X has {frame.shape[1]} feature(s) but needs at least "
                    "a user and an item column."
                )
        check_columns(frame, [self.user_col, self.item_col], who=self._who)
        for col in (self.user_col, self.item_col):
            check_id_column(frame, col, who=self._who)
        if state is None:
            state = self._start_stream(X, frame)
        elif isinstance(X, pd.DataFrame) != (not self._array_input) or (
            not self._array_input and list(frame.columns) != list(self.feature_names_in_)
        ):
            first = getattr(self, "feature_names_in_", np.arange(self.n_features_in_))
            raise ValueError(
                f"{self._who}: this chunk has columns {list(frame.columns)} but the "
                f"first chunk had {list(first)}; pass the same columns, in the same "
                "order, in every chunk."
            )
        self._update_stream(state, frame, y)
        self._finish_stream(state)
        return self

    def _start_stream(self, X, frame):
        self._array_input = not isinstance(X, pd.DataFrame)
        if self._array_input:
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        sides = self._resolve_columns(frame)
        categorical = self._resolve_categorical(frame, sides)
        ordered = [(col, side) for side in ("user", "item", "context") for col in sides[side]]
        state = {
            "sides": sides,
            "ordered": ordered,
            "categorical": categorical,
            "counts": {col: None for col, _ in ordered if col in categorical},
            "moments": {col: RunningMoments() for col, _ in ordered if col not in categorical},
            "missing": {col: 0 for col, _ in ordered if col not in categorical},
            "sample": {col: Reservoir() for col, _ in ordered if col not in categorical},
            "n_rows": 0,
            "fingerprint": None,
        }
        self._boolean_specs = self._resolve_booleans(frame, sides)
        self.user_vocabulary_ = pd.Index([], dtype=frame[self.user_col].dtype)
        self.item_vocabulary_ = pd.Index([], dtype=frame[self.item_col].dtype)
        self.seen_items_ = sp.csr_matrix((1, 1), dtype=np.float32)
        self.item_popularity_ = np.zeros(1, dtype=np.int64)
        self.item_catalogue_ = self.user_profiles_ = None
        self._fit_history(frame, None, None, None, None)  # history_length == 0: clears it
        self._stream = state
        return state

    def _update_stream(self, state, frame, y):
        for vocabulary, col in (("user_vocabulary_", self.user_col), ("item_vocabulary_", self.item_col)):
            known = getattr(self, vocabulary)
            new = pd.unique(frame[col])
            new = new[known.get_indexer(new) < 0]
            if len(new):
                setattr(self, vocabulary, known.append(pd.Index(new)))
        for col, counts in state["counts"].items():
            chunk = frame[col].value_counts(dropna=True, sort=False)
            if counts is not None:
                # Not Series.add: its union would sort the categories.
                chunk = pd.concat([counts, chunk]).groupby(level=0, sort=False).sum()
            state["counts"][col] = chunk
        for col, moments in state["moments"].items():
            values, missing = self._numeric_column(frame, col)
            present = values[~missing]
            moments.update(present)
            state["missing"][col] += int(missing.sum())
            if self.numeric_missing == "median":
                state["sample"][col].update(present)
        user_index = self._lookup(self.user_vocabulary_, frame[self.user_col])
        item_index = self._lookup(self.item_vocabulary_, frame[self.item_col])
        n_users, n_items = len(self.user_vocabulary_) + 1, len(self.item_vocabulary_) + 1
        chunk_seen = sp.csr_matrix(
            (np.ones(frame.shape[0], dtype=np.float32), (user_index, item_index)),
            shape=(n_users, n_items),
        )
        seen = self.seen_items_.copy()
        seen.resize((n_users, n_items))
        seen = seen + chunk_seen
        seen.data[:] = 1.0
        self.seen_items_ = seen
        popularity = np.zeros(n_items, dtype=np.int64)
        popularity[: self.item_popularity_.size] = self.item_popularity_
        self.item_popularity_ = popularity + np.bincount(item_index, minlength=n_items)
        for attribute, id_col, side in (
            ("item_catalogue_", self.item_col, "item"),
            ("user_profiles_", self.user_col, "user"),
        ):
            latest = self._last_attributes(frame, id_col, state["sides"][side])
            known = getattr(self, attribute)
            if known is not None:
                # Ordered by last appearance, as fit's drop_duplicates(keep="last").
                latest = pd.concat([known[~known.index.isin(latest.index)], latest])
            setattr(self, attribute, latest)
        state["n_rows"] += frame.shape[0]
        chunk_print = data_fingerprint(frame, y)
        state["fingerprint"] = (
            chunk_print if state["fingerprint"] is None
            else data_fingerprint(pd.DataFrame({"chain": [state["fingerprint"], chunk_print]}))
        )

    def _finish_stream(self, state):
        n_users, n_items = len(self.user_vocabulary_) + 1, len(self.item_vocabulary_) + 1
        schema = [
            self._entry(self.user_col, "id", "user", n_users),
            self._entry(self.item_col, "id", "item", n_items),
        ]
        min_count = (
            self.min_frequency
            if isinstance(self.min_frequency, numbers.Integral)
            else int(np.ceil(self.min_frequency * state["n_rows"]))
        )
        self.categories_ = {}
        for col, side in state["ordered"]:
            if col in state["categorical"]:
                counts = state["counts"][col]
                # Most frequent first; ties in order of first appearance (value_counts' rule).
                counts = counts.sort_values(ascending=False, kind="stable")
                kept = counts[counts >= min_count]
                if self.max_categories is not None:
                    kept = kept.iloc[: self.max_categories]
                self.categories_[col] = pd.Index(kept.index)
                schema.append(self._entry(col, "categorical", side, len(kept) + 1))
        self.numeric_stats_ = {}
        for col, side in state["ordered"]:
            if col not in state["categorical"]:
                self.numeric_stats_[col] = self._streamed_numeric_stats(col, state)
                schema.append(self._entry(col, "numeric", side, None))
        for name, (_, _, _, side) in self._boolean_specs.items():
            schema.append(self._entry(name, "numeric", side, None))
        self._check_unique_names(schema)
        self.schema_ = schema
        self.n_samples_fit_ = state["n_rows"]
        self.data_fingerprint_ = state["fingerprint"]

    def _streamed_numeric_stats(self, col, state):
        moments, n_missing = state["moments"][col], state["missing"][col]
        if moments.count == 0:
            raise ValueError(
                f"{self._who}: numeric column {col!r} has only missing values so far; "
                "drop it from the features or fill it before fitting."
            )
        fill = {
            "median": lambda: float(np.median(state["sample"][col].values)),
            "mean": lambda: moments.mean,
            "zero": lambda: 0.0,
            "error": lambda: 0.0,
        }[self.numeric_missing]()
        mean, scale = 0.0, 1.0
        if self.scale_numeric:
            # Moments of the filled column: the present values plus n_missing copies of fill.
            n = moments.count + n_missing
            mean = (moments.count * moments.mean + n_missing * fill) / n
            m2 = (
                moments.m2
                + moments.count * (moments.mean - mean) ** 2
                + n_missing * (fill - mean) ** 2
            )
            std = float(np.sqrt(m2 / n))
            scale = std if std > 0 else 1.0
        return {"fill": float(fill), "mean": float(mean), "scale": scale}

    @property
    def _who(self):
        return type(self).__name__

    @staticmethod
    def _entry(name, kind, side, vocabulary_size):
        return {
            "name": name,
            "kind": kind,
            "side": side,
            "vocabulary_size": vocabulary_size,
        }

    def _resolve_columns(self, frame):
        ids = {self.user_col, self.item_col}
        names = [c for c in frame.columns if c not in ids]
        if self.context_features == "auto":
            if self._array_input:
                context = names
            else:
                context = [c for c in _CONTEXT_DEFAULTS if c in frame.columns]
        else:
            context = list(self.context_features)
        sides = {"context": context}
        for side, param in (("user", self.user_features), ("item", self.item_features)):
            if param == "auto":
                sides[side] = [
                    c
                    for c in names
                    if isinstance(c, str)
                    and c.startswith(side + "_")
                    and c not in context
                ]
            else:
                sides[side] = list(param)
        for side, param in (
            ("user", "user_features"),
            ("item", "item_features"),
            ("context", "context_features"),
        ):
            check_columns(frame, sides[side], who=self._who, param=param)
        return sides

    def _resolve_categorical(self, frame, sides):
        attributes = [c for side in sides.values() for c in side]
        if self.categorical_features == "auto":
            return {
                c
                for c in attributes
                if not pd.api.types.is_numeric_dtype(frame[c].dtype)
                or pd.api.types.is_bool_dtype(frame[c].dtype)
            }
        declared = list(self.categorical_features)
        unknown = [c for c in declared if c not in attributes]
        if unknown:
            raise ValueError(
                f"{self._who}: categorical_features {unknown} are not user, item or "
                "context features; add them to user_features, item_features or "
                "context_features."
            )
        return set(declared)

    def _numeric_column(self, frame, col, *, fitting=False):
        """``(values, missing)`` of a numeric column, under the missing-value policy."""
        values = as_numeric(frame, col, who=self._who)
        missing = np.isnan(values)
        if fitting and missing.all():
            raise ValueError(
                f"{self._who}: numeric column {col!r} has only missing values; "
                "drop it from the features or fill it before fitting."
            )
        if missing.any() and self.numeric_missing == "error":
            raise ValueError(
                f"{self._who}: column {col!r} has {int(missing.sum())} missing "
                "value(s); pass numeric_missing='median' (or 'mean', 'zero') or "
                "fill the data."
            )
        return values, missing

    def _numeric_stats(self, values, missing):
        present = values[~missing]
        fill = {
            "median": np.median(present),
            "mean": present.mean(),
            "zero": 0.0,
            "error": 0.0,
        }[self.numeric_missing]
        filled = np.where(missing, fill, values)
        mean, scale = 0.0, 1.0
        if self.scale_numeric:
            mean = float(filled.mean())
            std = float(filled.std())
            scale = std if std > 0 else 1.0
        return {"fill": float(fill), "mean": mean, "scale": scale}

    def _resolve_booleans(self, frame, sides):
        specs = {}
        for name, spec in (self.boolean_features or {}).items():
            if not (isinstance(spec, (tuple, list)) and len(spec) == 3):
                raise ValueError(
                    f"{self._who}: boolean feature {name!r} must be a "
                    f"(column, op, value) triple, got {spec!r}; e.g. "
                    "('item_category', '==', 'electronics')."
                )
            column, op, value = spec
            if op not in _OPERATORS:
                raise ValueError(
                    f"{self._who}: boolean feature {name!r} uses unknown operator "
                    f"{op!r}; use one of {sorted(_OPERATORS)}."
                )
            check_columns(frame, [column], who=self._who, param="boolean_features")
            side = next(
                (s for s in ("user", "item", "context") if column in sides[s]), None
            )
            if side is None:
                side = self._side_of_undeclared(column)
            specs[name] = (column, op, value, side)
        return specs

    def _side_of_undeclared(self, column):
        if column == self.item_col or str(column).startswith("item_"):
            return "item"
        if column == self.user_col or (
            str(column).startswith("user_") and column not in _CONTEXT_DEFAULTS
        ):
            return "user"
        return "context"

    @staticmethod
    def _lookup(vocabulary, values):
        return vocabulary.get_indexer(values) + 1

    @staticmethod
    def _last_attributes(frame, id_col, columns):
        return frame[[id_col, *columns]].drop_duplicates(id_col, keep="last").set_index(
            id_col
        )

    # -------------------------------------------------------------- history
    def _history_names(self):
        return [f"history_{k}" for k in range(1, self.history_length + 1)]

    def _check_unique_names(self, schema):
        names = [entry["name"] for entry in schema]
        clashes = sorted({str(n) for n in names if names.count(n) > 1})
        if clashes:
            raise ValueError(
                f"{self._who}: output column name(s) {clashes} are produced twice "
                "(a feature or boolean_features name equals another output, e.g. "
                "a history column); rename the input column or the boolean feature."
            )

    def _fit_history(self, frame, y, user_index, item_index, n_users):
        for name in ("history_indptr_", "history_items_", "history_times_"):
            if hasattr(self, name):
                delattr(self, name)
        self._history_clock = self._history_keys = None
        self._timestamp_kind = None
        self._timestamp_col = self.timestamp_col
        if self.history_length == 0:
            return
        if self.timestamp_col not in frame.columns:
            raise ValueError(
                f"{self._who}: history_length={self.history_length} orders each "
                f"user's events by time, but the time column {self.timestamp_col!r} "
                "(timestamp_col) is not in X; pass timestamp_col='<your time "
                "column>' or set history_length=0."
            )
        times, missing, kind = self._event_times(frame)
        if missing.any():
            first = frame.index[missing][0]
            raise ValueError(
                f"{self._who}: history_length={self.history_length} needs the time "
                f"of every event, but column {self.timestamp_col!r} has "
                f"{int(missing.sum())} missing value(s) (first at row {first!r}); "
                "drop or fill those rows before fitting."
            )
        self._timestamp_kind = kind
        if y is None:
            positive = np.ones(frame.shape[0], dtype=bool)
        else:
            y = np.asarray(y)
            if y.ndim == 2 and y.shape[1] == 1:
                y = y.ravel()
            if y.ndim != 1 or y.shape[0] != frame.shape[0]:
                raise ValueError(
                    f"{self._who}: y has shape {y.shape} but X has {frame.shape[0]} "
                    "rows; pass one label per row (1 = positive) or y=None to "
                    "count every row as a positive in the history."
                )
            positive = y == 1
        users = user_index[positive].astype(np.int64)
        items = item_index[positive].astype(np.int64)
        times = times[positive]
        # By user, then time; equal times keep the log's row order.
        order = np.lexsort((np.arange(users.size), times, users))
        users, items, times = users[order], items[order], times[order]
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=n_users), out=indptr[1:])
        self.history_indptr_ = indptr
        self.history_items_ = items
        self.history_times_ = times.view("datetime64[ns]") if kind == "datetime" else times
        # One sorted key per stored event, user * (n_clock + 1) + rank of its
        # time, makes "events of user u before t" a single searchsorted.
        self._history_clock = np.unique(times)
        self._history_keys = users * (self._history_clock.size + 1) + np.searchsorted(
            self._history_clock, times
        )

    def _event_times(self, frame):
        """Row times as ``(values, missing, kind)``.

        ``values`` is int64 nanoseconds for ``kind == "datetime"`` and float64
        for ``kind == "numeric"``; ``kind`` is None when every value is missing.
        """
        col = self._timestamp_col
        values = frame[col]
        dtype = values.dtype
        if pd.api.types.is_bool_dtype(dtype):
            kind = "invalid"
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            kind = "datetime"
        elif pd.api.types.is_numeric_dtype(dtype):
            kind = "numeric"
        else:
            inferred = pd.api.types.infer_dtype(values, skipna=True)
            if inferred == "empty":
                n = values.shape[0]
                return np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool), None
            if inferred in ("datetime64", "datetime", "date", "string"):
                kind = "datetime"
            elif inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
                kind = "numeric"
            else:
                kind = "invalid"
        if kind == "invalid":
            raise ValueError(
                f"{self._who}: column {col!r} (timestamp_col) must hold datetimes or "
                f"numbers (e.g. Unix seconds) to order events, got {dtype} values "
                f"such as {values.dropna().iloc[0]!r}; convert it with "
                f"pd.to_datetime(log[{col!r}])."
            )
        if kind == "numeric":
            numbers_ = pd.to_numeric(values, errors="coerce").to_numpy(
                dtype="float64", na_value=np.nan
            )
            return numbers_, np.isnan(numbers_), kind
        if pd.api.types.is_datetime64_any_dtype(dtype):
            parsed = values
        else:
            with warnings.catch_warnings():
                # Bad values are reported below, naming one.
                warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
                parsed = pd.to_datetime(values, errors="coerce", utc=True)
            bad = parsed.isna().to_numpy() & values.notna().to_numpy()
            if bad.any():
                raise ValueError(
                    f"{self._who}: column {col!r} (timestamp_col) holds "
                    f"{int(bad.sum())} value(s) that are not datetimes, e.g. "
                    f"{values[bad].iloc[0]!r}; convert it with "
                    f"pd.to_datetime(log[{col!r}]) and fix or drop those rows."
                )
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        missing = parsed.isna().to_numpy()
        nanoseconds = parsed.to_numpy(dtype="datetime64[ns]").view(np.int64)
        return nanoseconds, missing, kind

    def _history(self, frame, users):
        """One array of item indices per history column, oldest first, 0-padded on the left."""
        n_history = sum(entry["kind"] == "sequence" for entry in self.schema_)
        indptr = self.history_indptr_
        start, end = indptr[users], indptr[users + 1]
        if self._timestamp_col in frame.columns:
            times, missing, kind = self._event_times(frame)
            if kind is not None and kind != self._timestamp_kind:
                raise ValueError(
                    f"{self._who}: column {self._timestamp_col!r} holds {kind} values "
                    f"but held {self._timestamp_kind} values in fit, so the times "
                    "cannot be compared; pass the same kind of time, or missing "
                    "values (None/NaT) to use each user's latest history."
                )
            timed = ~missing
            if timed.any():
                clock = self._history_clock
                rank = np.searchsorted(clock, times[timed], side="left")
                query = users[timed] * (clock.size + 1) + rank
                end[timed] = np.searchsorted(self._history_keys, query, side="left")
        items = self.history_items_
        columns = []
        for k in range(n_history):
            position = end - (n_history - k)
            if items.size == 0:
                columns.append(np.zeros(users.size, dtype=np.int64))
            else:
                found = items[np.maximum(position, 0)]
                columns.append(np.where(position >= start, found, 0))
        return columns

    def transform(self, X):
        """Encode an interaction log (unknown ids and categories map to 0).

        Parameters
        ----------
        X : DataFrame of shape (n_interactions, n_columns)
            Interaction log with the columns seen in ``fit``. With
            ``history_length > 0`` the time column may be left out (or hold
            missing values): such rows get each user's latest history.

        Returns
        -------
        Xt : DataFrame of shape (n_interactions, n_features_out)
            Indices and scaled numbers; ``Xt.attrs["skrec_schema"]`` holds
            :attr:`schema_`.
        """
        check_is_fitted(self, "schema_")
        frame = check_frame(X, who=self._who, allow_array=True)
        with_history = getattr(self, "history_indptr_", None) is not None
        # Serving rows may leave out the time column: they get the latest history.
        time_left_out = (
            with_history
            and not self._array_input
            and self._timestamp_col not in frame.columns
        )
        if frame.shape[1] != self.n_features_in_ - time_left_out:
            raise ValueError(
                f"{self._who}: X has {frame.shape[1]} features, but FeatureBuilder "
                f"is expecting {self.n_features_in_} features as input; pass the "
                "same columns as in fit."
            )
        needed = [
            c["name"]
            for c in self.schema_
            if c["name"] not in self._boolean_specs and c["kind"] != "sequence"
        ]
        needed += [spec[0] for spec in self._boolean_specs.values()]
        check_columns(frame, list(dict.fromkeys(needed)), who=self._who)
        out = {}
        out[self.user_col] = self._lookup(self.user_vocabulary_, frame[self.user_col])
        out[self.item_col] = self._lookup(self.item_vocabulary_, frame[self.item_col])
        for col, categories in self.categories_.items():
            out[col] = categories.get_indexer(frame[col]) + 1
        for col, stats in self.numeric_stats_.items():
            values, missing = self._numeric_column(frame, col)
            values = np.where(missing, stats["fill"], values)
            out[col] = (values - stats["mean"]) / stats["scale"]
        for name, (column, op, value, _) in self._boolean_specs.items():
            out[name] = _OPERATORS[op](frame[column], value).to_numpy(dtype="float64")
        if with_history:
            history = self._history(frame, out[self.user_col].astype(np.int64))
            sequence = [c["name"] for c in self.schema_ if c["kind"] == "sequence"]
            out.update(zip(sequence, history))
        names = [c["name"] for c in self.schema_]
        result = pd.DataFrame({n: out[n] for n in names}, index=frame.index, copy=False)
        for entry in self.schema_:
            if entry["kind"] != "numeric":
                result[entry["name"]] = result[entry["name"]].astype("int64")
        result.attrs[SCHEMA_ATTR] = [dict(entry) for entry in self.schema_]
        return result

    def get_feature_names_out(self, input_features=None):
        """Output column names, in the order of :attr:`schema_`.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self, "schema_")
        return np.asarray([str(c["name"]) for c in self.schema_], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.input_tags.allow_nan = True
        # Output mixes integer indices and float columns.
        tags.transformer_tags.preserves_dtype = []
        return tags
