"""Non-neural baseline recommenders: item popularity and EASE.

Both are scikit-learn binary classifiers over (user, item) rows, so they drop
into ``make_pipeline(FeatureBuilder(), <baseline>)``, ``GridSearchCV`` and
:func:`skrec.recommend` exactly like the deep models. They read only the user
and item id columns (located through the schema that
:class:`~skrec.preprocessing.FeatureBuilder` attaches); any other column is
accepted and ignored. A plain 2-d array is read as column 0 = user ids,
column 1 = item ids, and the baseline learns the id vocabulary itself.

Index 0 is the unknown user / item (an id unseen at fit time). Both models
score it 0; the popularity fallback for unknown users belongs to
``recommend``, not to the scorer.
"""

import numbers

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import ClassifierTags
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._inputs import InputSplitter, check_same_schema, input_name, schema_of

__all__ = ["PopularityClassifier", "EASEClassifier"]


class _IdBaseline(ClassifierMixin, BaseEstimator):
    """Shared plumbing: id extraction, label checks, ``predict``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Binary classifiers of (user, item) rows, ranking models first: the
        # probability is a monotone map of the ranking score, not calibrated.
        tags.classifier_tags = ClassifierTags(multi_class=False, poor_score=True)
        tags.input_tags.allow_nan = False
        return tags

    def _as_array(self, X, schema):
        who = type(self).__name__
        if sp.issparse(X):
            raise TypeError(
                f"{who}: a sparse matrix was passed, but dense data is required. Use "
                "'.toarray()' to convert to a dense numpy array, or pass the "
                "FeatureBuilder output (a DataFrame)."
            )
        dtypes = getattr(X, "dtypes", None)  # a DataFrame: no conversion to look
        kinds = ([getattr(d, "kind", "O") for d in dtypes] if dtypes is not None
                 else [np.asarray(X).dtype.kind])
        if "c" in kinds:
            raise ValueError(f"{who}: Complex data not supported; ids are real numbers.")
        try:
            X_arr = np.asarray(X, dtype=float)
        except (TypeError, ValueError):  # e.g. raw string ids in a plain array
            if schema is not None:
                raise
            X_arr = np.asarray(X, dtype=object)
            for value in X_arr.ravel():
                if not isinstance(value, (str, bytes, numbers.Number)):
                    raise TypeError(
                        f"{who}: every id must be a string or a number; got "
                        f"{type(value).__name__} {value!r}: argument must be a string "
                        "or a number."
                    )
        if X_arr.ndim == 2 and X_arr.shape[0] == 0:
            raise ValueError(
                f"{who}: Found array with 0 sample(s) (shape={X_arr.shape}) while a "
                "minimum of 1 is required."
            )
        if X_arr.dtype.kind == "f" and not np.isfinite(X_arr).all():
            raise ValueError(
                f"{who}: Input X contains NaN or infinity; user and item ids must "
                "be present in every row (drop or fill those rows first)."
            )
        return X_arr

    def _fit_ids(self, X, y):
        """Learn the id encoder; return ``(users, items, y)`` index arrays."""
        schema = schema_of(X)
        X_arr = self._as_array(X, schema)
        if X_arr.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} expects a 2-d X, got {X_arr.ndim} dimension(s)."
            )
        if schema is None and X_arr.shape[1] < 2:
            raise ValueError(
                f"{type(self).__name__}: Found array with {X_arr.shape[1]} feature(s) "
                f"(shape={X_arr.shape}) while a minimum of 2 is required: column 0 "
                "holds user ids and column 1 item ids (or pass FeatureBuilder output)."
            )
        y = column_or_1d(np.asarray(y), warn=True)
        if len(y) != X_arr.shape[0]:
            raise ValueError(
                f"X has {X_arr.shape[0]} rows but y has {len(y)} labels."
            )
        self.classes_, positive = _binary_labels(type(self).__name__, y)
        self.splitter_ = InputSplitter(schema=schema).fit(X_arr)
        self.input_schema_ = self.splitter_.schema_
        self.n_features_in_ = X_arr.shape[1]
        self.user_position_, self.item_position_ = _id_positions(
            self.input_schema_, type(self).__name__
        )
        self.n_users_ = int(self.input_schema_[self.user_position_]["vocabulary_size"])
        self.n_items_ = int(self.input_schema_[self.item_position_]["vocabulary_size"])
        users, items = self._split(X_arr)
        return users, items, positive.astype(np.int64)

    def _ids(self, X):
        """``(users, items)`` index arrays of ``X`` under the fitted encoder."""
        check_is_fitted(self, "splitter_")
        # A model fitted on a plain array learned its own schema: nothing to compare.
        fitted = self.input_schema_ if self.splitter_.id_vocabularies_ is None else None
        schema = check_same_schema(type(self).__name__, X, fitted)
        X_arr = self._as_array(X, schema)
        if X_arr.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} expects a 2-d X, got shape {X_arr.shape}. "
                "Reshape your data either using array.reshape(-1, 1) if your data "
                "has a single feature or array.reshape(1, -1) if it contains a "
                "single sample."
            )
        if X_arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X_arr.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input; pass the same "
                "columns as in fit."
            )
        return self._split(X_arr)

    def _split(self, X_arr):
        inputs = self.splitter_.transform(X_arr)
        users = inputs[input_name(self.user_position_)].astype(np.int64)
        items = inputs[input_name(self.item_position_)].astype(np.int64)
        return users, items

    def predict_proba(self, X):
        """``(n, 2)`` array; column 1 is a monotone map of the ranking score."""
        p1 = self._score_to_proba(self.decision_function(X))
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X):
        """1 where ``predict_proba(X)[:, 1] > 0.5``, else 0."""
        positive = self.predict_proba(X)[:, 1] > 0.5  # checks fitted first
        return self.classes_[positive.astype(int)]


def _binary_labels(who, y):
    """``(classes_, positive mask)`` of a binary target; clear errors otherwise.

    0/1 labels (ones only included: implicit feedback) give ``classes_ = [0,
    1]``; any other pair of labels is sorted and the second is the positive
    class, as in scikit-learn's binary classifiers.
    """
    kind = type_of_target(y)
    if kind in ("unknown", "continuous", "continuous-multioutput"):
        raise ValueError(
            f"{who}: Unknown label type: {kind} target with values "
            f"{np.unique(y)[:5]!r}; pass one binary label per row, e.g. "
            "y = (rating >= 4).astype(int)."
        )
    classes = np.unique(y)
    if len(classes) > 2:
        raise ValueError(
            f"{who}: Only binary classification is supported: y must be one binary "
            f"label per row; got classes {classes[:5].tolist()}. Binarise it first, "
            "e.g. y = (rating >= 4).astype(int)."
        )
    if classes.dtype.kind in "biuf" and set(classes.tolist()) <= {0, 1}:
        return np.array([0, 1]), y == 1
    if len(classes) < 2:
        raise ValueError(
            f"{who}: y holds one class only ({classes.tolist()}); pass 0/1 labels "
            "(all ones for implicit feedback) or both classes."
        )
    return classes, y == classes[1]


def _id_positions(schema, who):
    user = [j for j, e in enumerate(schema) if e["kind"] == "id" and e["side"] == "user"]
    item = [j for j, e in enumerate(schema) if e["kind"] == "id" and e["side"] == "item"]
    if not user or not item:
        raise ValueError(
            f"{who} needs a user id column and an item id column; the schema of X "
            f"has {len(user)} user id and {len(item)} item id column(s)."
        )
    return user[0], item[0]


class PopularityClassifier(_IdBaseline):
    """Score every (user, item) by the item's number of positive interactions.

    The non-personalised baseline: ``decision_function`` returns, for each
    row, how many training rows with ``y == 1`` carry its item (the user is
    ignored). An unknown item (index 0, or an item never seen at fit time)
    scores 0, as does an item that was shown but never chosen.

    ``predict_proba(X)[:, 1]`` is ``count / max_count`` (0 everywhere when the
    training data has no positive), so the most popular item gets 1 and the
    map is strictly increasing in the count: ranking metrics computed on the
    probability equal those on the count. ``predict`` thresholds it at 0.5.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        ``array([0, 1])``.
    item_counts_ : ndarray of shape (``n_items_``,)
        Positive-interaction count per item index (index 0 = unknown: 0).
    max_count_ : float
        ``item_counts_.max()``.
    n_users_, n_items_ : int
        Vocabulary sizes, index 0 (unknown) included.
    input_schema_ : list of dict
        Schema of the training X (learned for a plain array).
    n_features_in_ : int
        Number of columns of the training X.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 10], [2, 10], [1, 20], [3, 30]])
    >>> clf = PopularityClassifier().fit(X, [1, 1, 1, 0])
    >>> clf.decision_function(np.array([[9, 10], [9, 20], [9, 30], [9, 99]]))
    array([2., 1., 0., 0.])
    >>> clf.predict_proba(np.array([[9, 10], [9, 20]]))[:, 1]
    array([1. , 0.5])
    """

    def __init__(self):
        pass

    def fit(self, X, y):
        """Count positive interactions per item."""
        _, items, y = self._fit_ids(X, y)
        counts = np.bincount(items[y == 1], minlength=self.n_items_).astype(np.float64)
        counts[0] = 0.0  # the unknown item never scores
        self.item_counts_ = counts
        self.max_count_ = float(counts.max())
        return self

    def decision_function(self, X):
        """The item's positive-interaction count, per row of ``X``."""
        _, items = self._ids(X)
        return self.item_counts_[items]

    def _score_to_proba(self, scores):
        if self.max_count_ <= 0:
            return np.zeros_like(scores)
        return scores / self.max_count_


class EASEClassifier(_IdBaseline):
    """EASE: the closed-form linear item-item autoencoder (Steck, 2019).

    With ``X`` the binary user x item matrix of training positives
    (``y == 1``; repeated positives count once),

    ``G = XᵀX + l2·I``, ``P = G⁻¹``, ``B = I − P / diag(P)`` (column-wise, so
    ``diag(B) = 0``), and ``score(u, i) = X_u · B[:, i]``.

    Rows are scored in blocks of distinct users (``S = X[users] @ B``, then
    gathered), float64 throughout. An unknown user (index 0) has an empty
    history and scores 0 on every item; an unknown item (index 0) scores 0
    for every user. The popularity fallback for cold users is the job of
    :func:`skrec.recommend`, not of this scorer. Items already in the user's
    history are scored like any other item (their ``B`` diagonal is 0, so a
    user's own item is scored from its co-occurrences only).

    ``predict_proba(X)[:, 1]`` maps the score ``s`` through the algebraic
    sigmoid ``p = ½·(1 + z / (1 + |z|))`` with ``z = 4·(s − ½)``: centred on
    ½, the midpoint of the 0/1 targets EASE regresses onto (``s = 0`` → 1/6,
    ``s = ½`` → ½, ``s = 1`` → 5/6). It is strictly increasing and, unlike a
    logistic, does not round to exactly 0 or 1 in float64 for any realistic
    score, so ranking metrics on the probability equal those on the score.

    Parameters
    ----------
    l2 : float, default=500.0
        L2 penalty λ on the item-item weights (> 0). Larger values shrink
        ``B`` towards 0 and favour popular items less; published optima lie
        between ~100 and ~1000 on MovieLens-size data.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        ``array([0, 1])``.
    B_ : ndarray of shape (``n_items_``, ``n_items_``)
        Item-item weight matrix (row/column 0, the unknown item, is zero).
    user_items_ : scipy.sparse.csr_matrix of shape (``n_users_``, ``n_items_``)
        Binary training-positive history per user index.
    n_users_, n_items_ : int
        Vocabulary sizes, index 0 (unknown) included.
    input_schema_ : list of dict
        Schema of the training X (learned for a plain array).
    n_features_in_ : int
        Number of columns of the training X.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 10], [1, 20], [2, 10], [2, 20], [3, 10]])
    >>> clf = EASEClassifier(l2=1.0).fit(X, np.ones(5))
    >>> s = clf.decision_function(np.array([[3, 20], [3, 10], [4, 20]]))
    >>> bool(s[0] > s[1]), float(s[2])
    (True, 0.0)
    """

    _block_size = 1024  # distinct users scored per dense block

    def __init__(self, l2=500.0):
        self.l2 = l2

    def fit(self, X, y):
        """Build the user x item matrix of positives and solve for ``B_``."""
        l2 = float(self.l2)
        if not np.isfinite(l2) or l2 <= 0:
            raise ValueError(f"l2 must be a positive finite float, got {self.l2!r}.")
        users, items, y = self._fit_ids(X, y)
        keep = (y == 1) & (users > 0) & (items > 0)
        history = sp.csr_matrix(
            (np.ones(int(keep.sum())), (users[keep], items[keep])),
            shape=(self.n_users_, self.n_items_),
            dtype=np.float64,
        )
        history.sum_duplicates()
        history.data[:] = 1.0  # binary: a repeated positive counts once
        self.user_items_ = history
        self.B_ = ease_weights(history, l2)
        return self

    def decision_function(self, X):
        """EASE score ``X_u · B[:, i]`` per row of ``X``."""
        users, items = self._ids(X)
        scores = np.zeros(len(users), dtype=np.float64)
        unique_users, inverse = np.unique(users, return_inverse=True)
        for start in range(0, len(unique_users), self._block_size):
            block = unique_users[start:start + self._block_size]
            dense = np.asarray(self.user_items_[block] @ self.B_)
            rows = (inverse >= start) & (inverse < start + len(block))
            scores[rows] = dense[inverse[rows] - start, items[rows]]
        return scores

    @staticmethod
    def _score_to_proba(scores):
        z = 4.0 * (scores - 0.5)
        return 0.5 * (1.0 + z / (1.0 + np.abs(z)))


def ease_weights(history, l2):
    """EASE item-item matrix ``B = I − P / diag(P)``, ``P = (XᵀX + l2·I)⁻¹``.

    ``history`` is the (sparse or dense) binary user x item matrix; returns a
    dense float64 ``(n_items, n_items)`` array with zero diagonal.
    """
    gram = history.T @ history
    gram = gram.toarray() if sp.issparse(gram) else np.asarray(gram)
    gram = np.asarray(gram, dtype=np.float64)
    gram[np.diag_indices_from(gram)] += l2
    n = gram.shape[0]
    factor = scipy.linalg.cho_factor(gram, lower=True, check_finite=False)
    precision = scipy.linalg.cho_solve(factor, np.eye(n), check_finite=False)
    weights = -precision / np.diag(precision)[np.newaxis, :]
    weights[np.diag_indices_from(weights)] = 0.0
    return weights
