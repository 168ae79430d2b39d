"""FeatureBuilder: ids, categories and numbers into model-ready indices.

The output of :class:`FeatureBuilder` describes itself: it carries an input
schema (which columns are id / categorical indices and their vocabulary sizes,
which are numeric, and whether each belongs to the user, the item or the
interaction) in ``DataFrame.attrs``, so a deep recommender placed after it in a
:class:`~sklearn.pipeline.Pipeline` needs no schema repeated in its parameters.
"""

import numbers
import operator

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

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

    Attributes
    ----------
    schema_ : list of dict
        One entry per output column: ``name``, ``kind`` (``"id"``,
        ``"categorical"`` or ``"numeric"``), ``side`` (``"user"``, ``"item"``
        or ``"context"``) and ``vocabulary_size`` (``None`` for numeric).
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
    feature_names_in_ : ndarray of str
        Input column names (DataFrame input only).
    n_features_in_ : int
        Number of input columns.

    See Also
    --------
    InteractionNormalizer : Normalise interaction strengths before this step.

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

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn vocabularies, numeric statistics, the catalogue and seen items.

        Parameters
        ----------
        X : DataFrame of shape (n_interactions, n_columns)
            Interaction log (a 2-d array is accepted with integer ``user_col``
            and ``item_col``).
        y : ignored
            Present for pipeline compatibility.

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
                values = as_numeric(frame, col, who=self._who)
                self.numeric_stats_[col] = self._numeric_stats(col, values)
                schema.append(self._entry(col, "numeric", side, None))
        self._boolean_specs = self._resolve_booleans(frame, sides)
        for name, (_, _, _, side) in self._boolean_specs.items():
            schema.append(self._entry(name, "numeric", side, None))
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
        return self

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

    def _numeric_stats(self, col, values):
        missing = np.isnan(values)
        if missing.all():
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

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Encode an interaction log (unknown ids and categories map to 0).

        Parameters
        ----------
        X : DataFrame of shape (n_interactions, n_columns)
            Interaction log with the columns seen in ``fit``.

        Returns
        -------
        Xt : DataFrame of shape (n_interactions, n_features_out)
            Indices and scaled numbers; ``Xt.attrs["skrec_schema"]`` holds
            :attr:`schema_`.
        """
        check_is_fitted(self, "schema_")
        frame = check_frame(X, who=self._who, allow_array=True)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{self._who}: X has {frame.shape[1]} features, but FeatureBuilder "
                f"is expecting {self.n_features_in_} features as input; pass the "
                "same columns as in fit."
            )
        needed = [c["name"] for c in self.schema_ if c["name"] not in self._boolean_specs]
        needed += [spec[0] for spec in self._boolean_specs.values()]
        check_columns(frame, list(dict.fromkeys(needed)), who=self._who)
        out = {}
        out[self.user_col] = self._lookup(self.user_vocabulary_, frame[self.user_col])
        out[self.item_col] = self._lookup(self.item_vocabulary_, frame[self.item_col])
        for col, categories in self.categories_.items():
            out[col] = categories.get_indexer(frame[col]) + 1
        for col, stats in self.numeric_stats_.items():
            values = as_numeric(frame, col, who=self._who)
            missing = np.isnan(values)
            if missing.any() and self.numeric_missing == "error":
                raise ValueError(
                    f"{self._who}: column {col!r} has {int(missing.sum())} missing "
                    "value(s); pass numeric_missing='median' (or 'mean', 'zero') "
                    "or fill the data."
                )
            values = np.where(missing, stats["fill"], values)
            out[col] = (values - stats["mean"]) / stats["scale"]
        for name, (column, op, value, _) in self._boolean_specs.items():
            out[name] = _OPERATORS[op](frame[column], value).to_numpy(dtype="float64")
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
