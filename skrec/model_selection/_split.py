"""Cross-validators for interaction logs: per-user and temporal splits.

Every splitter reads the user and timestamp columns of a DataFrame ``X`` by
name and yields ``(train, test)`` integer row positions, so it can be passed
as ``cv=`` to :class:`~sklearn.model_selection.GridSearchCV` or
:func:`~sklearn.model_selection.cross_validate`. Users too short to be split
are never dropped silently: each splitter records, after ``split``, a
``split_summary_`` dict of row and user counts (also returned by
``describe(X)``).
"""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Hidden,
    Interval,
    validate_parameter_constraints,
)

from ..utils._validation import check_columns, check_frame, check_id_column

__all__ = ["LeaveLatestOut", "TemporalSplit", "UserHoldout"]


class _InteractionSplitter(BaseCrossValidator):
    """Shared validation and bookkeeping of the skrec splitters."""

    _parameter_constraints: dict = {}

    def _validate_params(self):
        params = {name: getattr(self, name) for name in self._parameter_constraints}
        validate_parameter_constraints(
            self._parameter_constraints, params, caller_name=type(self).__name__
        )

    def _check_log(self, X, columns):
        """Return ``X`` as a DataFrame holding ``columns`` ({param: name})."""
        who = type(self).__name__
        frame = check_frame(X, who=who)
        for param, column in columns.items():
            check_columns(frame, [column], who=who, param=param)
        return frame

    def _user_codes(self, frame):
        """Dense integer codes of the user column and the number of users."""
        check_id_column(frame, self.user_col, who=type(self).__name__)
        codes, uniques = pd.factorize(frame[self.user_col])
        return codes, len(uniques)

    def _time_codes(self, frame):
        """Order-preserving integer codes of the timestamp column."""
        return self._order_codes(frame, self.timestamp_col, "timestamp_col")

    def _order_codes(self, frame, column, param):
        """Order-preserving integer codes of ``column`` and its sorted values."""
        values = frame[column]
        missing = values.isna().to_numpy()
        if missing.any():
            raise ValueError(
                f"{type(self).__name__}: column {column!r} ({param}) has "
                f"{int(missing.sum())} missing value(s) (first at row "
                f"{values.index[missing][0]!r}); drop or fill them first, e.g. "
                f"log.dropna(subset=[{column!r}])."
            )
        try:
            codes, uniques = pd.factorize(values, sort=True)
        except TypeError as exc:
            raise ValueError(
                f"{type(self).__name__}: column {column!r} ({param}) cannot be "
                f"ordered ({exc}); convert it with pd.to_datetime or to numbers."
            ) from exc
        return codes, uniques

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splits.

        Parameters
        ----------
        X, y, groups : object
            Ignored, present for API compatibility.

        Returns
        -------
        n_splits : int
            Number of (train, test) pairs that ``split`` yields.
        """
        self._validate_params()
        return self.n_splits


def _rank_in_user(user_codes, n_users, keys):
    """Position of each row within its user, ordered by ``keys`` then row.

    Returns ``(rank, counts)``: ``rank[i]`` is 0 for the user's first row in
    that order, and ``counts[u]`` the number of rows of user ``u``.
    """
    n = len(user_codes)
    positions = np.arange(n)
    # lexsort: the last key is the primary one; row position breaks every tie
    order = np.lexsort((positions, *keys[::-1], user_codes))
    counts = np.bincount(user_codes, minlength=n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = positions - starts[user_codes[order]]
    return rank, counts


def _summary(eligible_users, counts, n_test_rows):
    """Counts of one per-user split, so that no user is lost silently."""
    short = ~eligible_users
    n_rows = int(counts.sum())
    return {
        "n_rows": n_rows,
        "n_train_rows": n_rows - int(n_test_rows),
        "n_test_rows": int(n_test_rows),
        "n_users": int(counts.size),
        "n_users_in_test": int(eligible_users.sum()),
        "n_users_train_only": int(short.sum()),
        "n_rows_train_only": int(counts[short].sum()),
    }


class LeaveLatestOut(_InteractionSplitter):
    """Hold out each user's latest interactions (leave-latest-out, protocol P2).

    For every user with enough history, the ``n`` latest interactions by
    ``timestamp`` go to the test set and all earlier ones to the train set.
    This is the protocol of the NCF paper (HR@10 / NDCG@10 on the held-out
    item ranked among sampled unseen items). There is one split.

    Rules:

    - **Ties.** Rows are ordered by timestamp, then by the ``tie_break``
      column if given (the larger value counts as the later one), then by
      row position (the row further down ``X`` counts as the later one). The
      split is therefore deterministic. Ties matter: MovieLens users rate
      many films in the same second, and on ML-100k the held-out item
      differs for 281 of the 943 users between ``tie_break=None`` and
      ``tie_break="item_id"``, which moves popularity's HR@10 from 0.41 to
      0.31. Published ML-100k leave-latest-out figures hold out the larger
      item id (``tie_break="item_id"``).
    - **Short histories.** A user is held out only if they have at least
      ``max(min_history, n + 1)`` interactions, so that every held-out user
      keeps at least one training row. Other users stay entirely in the
      train set; they are counted in ``split_summary_`` (users and rows kept
      train-only), never dropped.

    Parameters
    ----------
    n : int, default=1
        Number of latest interactions per user to hold out.
    min_history : int, default=2
        Minimum number of interactions a user needs to be held out.
    user_col : str, default="user_id"
        Column of ``X`` holding the user ids.
    timestamp_col : str, default="timestamp"
        Column of ``X`` holding the event time (datetime or numeric; no
        missing values).
    tie_break : str or None, default=None
        Column of ``X`` ordering rows of one user with equal timestamps (the
        larger value is the later one), e.g. ``"item_id"``; None: row
        position alone breaks ties.

    Attributes
    ----------
    split_summary_ : dict
        Set by ``split`` (same as ``describe(X)``): ``n_rows``,
        ``n_train_rows``, ``n_test_rows``, ``n_users``, ``n_users_in_test``,
        ``n_users_train_only`` (short history) and ``n_rows_train_only``.

    See Also
    --------
    UserHoldout : Per-user random holdout (protocol P1).
    TemporalSplit : One global time cutoff, or rolling folds over time.

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.model_selection import LeaveLatestOut
    >>> log = pd.DataFrame({"user_id": ["a", "a", "a", "b", "c", "c"],
    ...                     "item_id": [1, 2, 3, 1, 2, 3],
    ...                     "timestamp": [3, 1, 2, 5, 1, 4]})
    >>> cv = LeaveLatestOut(n=1)
    >>> train, test = next(cv.split(log))
    >>> train.tolist(), test.tolist()
    ([1, 2, 3, 4], [0, 5])
    >>> cv.split_summary_["n_users_train_only"]  # "b" has one interaction
    1
    """

    _parameter_constraints: dict = {
        "n": [Interval(Integral, 1, None, closed="left")],
        "min_history": [Interval(Integral, 1, None, closed="left")],
        "user_col": [str, Hidden(Integral)],
        "timestamp_col": [str, Hidden(Integral)],
        "tie_break": [str, Hidden(Integral), None],
    }

    n_splits = 1

    def __init__(
        self,
        n=1,
        *,
        min_history=2,
        user_col="user_id",
        timestamp_col="timestamp",
        tie_break=None,
    ):
        self.n = n
        self.min_history = min_history
        self.user_col = user_col
        self.timestamp_col = timestamp_col
        self.tie_break = tie_break

    def _test_mask(self, X):
        self._validate_params()
        columns = {"user_col": self.user_col, "timestamp_col": self.timestamp_col}
        if self.tie_break is not None:
            columns["tie_break"] = self.tie_break
        frame = self._check_log(X, columns)
        users, n_users = self._user_codes(frame)
        keys = [self._time_codes(frame)[0]]
        if self.tie_break is not None:
            keys.append(self._order_codes(frame, self.tie_break, "tie_break")[0])
        rank, counts = _rank_in_user(users, n_users, keys)
        eligible = counts >= max(self.min_history, self.n + 1)
        from_end = counts[users] - 1 - rank
        test_mask = (from_end < self.n) & eligible[users]
        return test_mask, _summary(eligible, counts, test_mask.sum())

    def describe(self, X):
        """Return the counts of the split of ``X`` without splitting it.

        Parameters
        ----------
        X : DataFrame
            Interaction log with the user and timestamp columns.

        Returns
        -------
        summary : dict
            Same keys as ``split_summary_``.
        """
        return self._test_mask(X)[1]

    def split(self, X, y=None, groups=None):
        """Yield the single (train, test) split of ``X``.

        Parameters
        ----------
        X : DataFrame
            Interaction log with the user and timestamp columns.
        y, groups : object
            Ignored, present for API compatibility.

        Yields
        ------
        train : ndarray of int
            Row positions of the training set.
        test : ndarray of int
            Row positions of the held-out latest interactions.
        """
        test_mask, self.split_summary_ = self._test_mask(X)
        yield np.flatnonzero(~test_mask), np.flatnonzero(test_mask)


class UserHoldout(_InteractionSplitter):
    """Per-user random holdout: split each user's interactions (protocol P1).

    Each user's interactions are shuffled and ``round(test_size * count)``
    of them (halves rounded up) go to the test set, clipped so that every
    held-out user has at least one test and one train row. This is the
    per-user stratified 75/25 split of the Microsoft Recommenders
    MovieLens-100k benchmark. Timestamps are not needed.

    Rules:

    - **Short histories.** Users with fewer than ``min_history`` (at least 2)
      interactions stay entirely in the train set; they are counted in
      ``split_summary_``, never dropped.
    - **Repetitions.** ``n_splits > 1`` gives independent random
      repetitions (like :class:`~sklearn.model_selection.ShuffleSplit`), not
      K-fold: test sets of different splits may overlap. Every repetition
      holds out the same number of rows per user.
    - **Reproducibility.** With an int ``random_state``, every call of
      ``split`` yields the same splits.

    Parameters
    ----------
    test_size : float in (0, 1), default=0.25
        Target fraction of each user's interactions to hold out.
    n_splits : int, default=1
        Number of independent random repetitions.
    min_history : int, default=2
        Minimum number of interactions a user needs to be held out; values
        below 2 act as 2, since a held-out user keeps a train row.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffles.
    user_col : str, default="user_id"
        Column of ``X`` holding the user ids.

    Attributes
    ----------
    split_summary_ : dict
        Set by ``split`` (same as ``describe(X)``): ``n_rows``,
        ``n_train_rows``, ``n_test_rows``, ``n_users``, ``n_users_in_test``,
        ``n_users_train_only`` (short history) and ``n_rows_train_only``.

    See Also
    --------
    LeaveLatestOut : Hold out each user's latest interactions (protocol P2).

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.model_selection import UserHoldout
    >>> log = pd.DataFrame({"user_id": ["a"] * 8 + ["b"] * 4 + ["c"],
    ...                     "item_id": range(13)})
    >>> cv = UserHoldout(test_size=0.25, random_state=0)
    >>> train, test = next(cv.split(log))
    >>> log["user_id"].iloc[test].value_counts().sort_index().to_dict()
    {'a': 2, 'b': 1}
    >>> cv.split_summary_["n_users_train_only"]  # "c" has one interaction
    1
    """

    _parameter_constraints: dict = {
        "test_size": [Interval(Real, 0, 1, closed="neither")],
        "n_splits": [Interval(Integral, 1, None, closed="left")],
        "min_history": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "user_col": [str, Hidden(Integral)],
    }

    def __init__(
        self, test_size=0.25, *, n_splits=1, min_history=2, random_state=None,
        user_col="user_id",
    ):
        self.test_size = test_size
        self.n_splits = n_splits
        self.min_history = min_history
        self.random_state = random_state
        self.user_col = user_col

    def _prepare(self, X):
        self._validate_params()
        frame = self._check_log(X, {"user_col": self.user_col})
        users, n_users = self._user_codes(frame)
        counts = np.bincount(users, minlength=n_users)
        eligible = counts >= max(self.min_history, 2)
        n_test = np.clip(np.floor(self.test_size * counts + 0.5), 1, counts - 1)
        n_test = np.where(eligible, n_test, 0).astype(np.int64)
        summary = _summary(eligible, counts, n_test.sum())
        return users, n_users, n_test, summary

    def describe(self, X):
        """Return the counts of the split of ``X`` without splitting it.

        Parameters
        ----------
        X : DataFrame
            Interaction log with the user column.

        Returns
        -------
        summary : dict
            Same keys as ``split_summary_`` (identical for every repetition).
        """
        return self._prepare(X)[3]

    def split(self, X, y=None, groups=None):
        """Yield ``n_splits`` random per-user (train, test) splits of ``X``.

        Parameters
        ----------
        X : DataFrame
            Interaction log with the user column.
        y, groups : object
            Ignored, present for API compatibility.

        Yields
        ------
        train : ndarray of int
            Row positions of the training set.
        test : ndarray of int
            Row positions of the held-out interactions.
        """
        users, n_users, n_test, self.split_summary_ = self._prepare(X)
        rng = check_random_state(self.random_state)
        for _ in range(self.n_splits):
            # a random key per row orders each user's rows at random
            rank, _ = _rank_in_user(users, n_users, [rng.random(len(users))])
            test_mask = rank < n_test[users]
            yield np.flatnonzero(~test_mask), np.flatnonzero(test_mask)


class TemporalSplit(_InteractionSplitter):
    """Split an interaction log globally in time.

    Two modes:

    - **Cutoff** (``cutoff`` given): one split; rows with ``timestamp <
      cutoff`` are train, rows at or after ``cutoff`` are test. No test row
      is earlier than any train row. ``n_splits`` must be None or 1 and
      ``test_size`` None.
    - **Rolling folds** (``cutoff=None``): like
      :class:`~sklearn.model_selection.TimeSeriesSplit`, but over the sorted
      *distinct* timestamps, so that rows sharing a timestamp are never
      split apart. The last ``n_splits * test_size`` distinct timestamps are
      cut into ``n_splits`` consecutive test windows; each fold trains on
      every row before its test window (expanding window).

    Users are ignored: a user may appear only in test (cold start), as in
    production.

    Parameters
    ----------
    cutoff : timestamp-like, number or None, default=None
        Start of the test period. Strings are parsed with ``pd.Timestamp``
        when the timestamp column is a datetime.
    n_splits : int or None, default=None
        Number of rolling folds; None means 5 without ``cutoff``, 1 with it.
    test_size : int, float in (0, 1) or None, default=None
        Rolling folds only: distinct timestamps per test window (an int), or
        a fraction of all distinct timestamps (a float, at least one).
        None means ``n_distinct // (n_splits + 1)``.
    timestamp_col : str, default="timestamp"
        Column of ``X`` holding the event time (no missing values).

    Attributes
    ----------
    split_summary_ : dict
        Set by ``split`` (same as ``describe(X)``): ``n_rows`` and ``folds``,
        a list with ``n_train_rows``, ``n_test_rows``, ``test_start`` and
        ``test_end`` (first and last test timestamp) per fold.

    See Also
    --------
    LeaveLatestOut : Per-user temporal holdout (protocol P2).

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.model_selection import TemporalSplit
    >>> log = pd.DataFrame({"user_id": ["a", "b", "a", "b", "a", "b"],
    ...                     "timestamp": [1, 2, 2, 3, 4, 5]})
    >>> train, test = next(TemporalSplit(cutoff=3).split(log))
    >>> train.tolist(), test.tolist()
    ([0, 1, 2], [3, 4, 5])
    >>> for train, test in TemporalSplit(n_splits=2).split(log):
    ...     print(train.tolist(), test.tolist())
    [0, 1, 2, 3] [4]
    [0, 1, 2, 3, 4] [5]
    """

    _parameter_constraints: dict = {
        "n_splits": [Interval(Integral, 1, None, closed="left"), None],
        "test_size": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
            None,
        ],
        "timestamp_col": [str, Hidden(Integral)],
    }

    def __init__(
        self, cutoff=None, *, n_splits=None, test_size=None, timestamp_col="timestamp"
    ):
        self.cutoff = cutoff
        self.n_splits = n_splits
        self.test_size = test_size
        self.timestamp_col = timestamp_col

    def _validate_params(self):
        super()._validate_params()
        if self.cutoff is not None and (
            self.n_splits not in (None, 1) or self.test_size is not None
        ):
            raise ValueError(
                f"TemporalSplit: cutoff={self.cutoff!r} gives one split, but "
                f"n_splits={self.n_splits!r} and test_size={self.test_size!r} were "
                "also passed; pass either cutoff or n_splits/test_size."
            )

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splits.

        Parameters
        ----------
        X, y, groups : object
            Ignored, present for API compatibility.

        Returns
        -------
        n_splits : int
            1 with ``cutoff``, else ``n_splits`` (5 when None).
        """
        self._validate_params()
        if self.cutoff is not None:
            return 1
        return 5 if self.n_splits is None else self.n_splits

    def _test_masks(self, X):
        """List of boolean test masks and the summary."""
        n_splits = self.get_n_splits()
        frame = self._check_log(X, {"timestamp_col": self.timestamp_col})
        times, uniques = self._time_codes(frame)
        n_distinct = len(uniques)
        if self.cutoff is not None:
            cutoff = self.cutoff
            if isinstance(cutoff, str) and isinstance(uniques, pd.DatetimeIndex):
                cutoff = pd.Timestamp(cutoff)
            try:
                first_test = int(uniques.searchsorted(cutoff, side="left"))
            except TypeError as exc:
                raise ValueError(
                    f"TemporalSplit: cutoff={self.cutoff!r} cannot be compared with "
                    f"column {self.timestamp_col!r} of dtype "
                    f"{frame[self.timestamp_col].dtype}; pass a value of that type."
                ) from exc
            if first_test in (0, n_distinct):
                side = "train" if first_test == 0 else "test"
                raise ValueError(
                    f"TemporalSplit: cutoff={self.cutoff!r} leaves the {side} set "
                    f"empty (column {self.timestamp_col!r} spans {uniques[0]!r} to "
                    f"{uniques[-1]!r}); pick a cutoff inside that range."
                )
            windows = [(first_test, n_distinct)]
        else:
            if self.test_size is None:
                size = n_distinct // (n_splits + 1)
            elif isinstance(self.test_size, Integral):
                size = int(self.test_size)
            else:
                size = max(1, int(self.test_size * n_distinct))
            if size < 1 or n_splits * size >= n_distinct:
                raise ValueError(
                    f"TemporalSplit: column {self.timestamp_col!r} has {n_distinct} "
                    f"distinct timestamp(s), too few for n_splits={n_splits} test "
                    f"windows of {max(size, 1)} timestamp(s) plus a training period; "
                    "lower n_splits or test_size, or pass a cutoff."
                )
            first = n_distinct - n_splits * size
            windows = [
                (first + i * size, first + (i + 1) * size) for i in range(n_splits)
            ]
        masks, folds = [], []
        for start, stop in windows:
            test_mask = (times >= start) & (times < stop)
            masks.append((times < start, test_mask))
            folds.append(
                {
                    "n_train_rows": int((times < start).sum()),
                    "n_test_rows": int(test_mask.sum()),
                    "test_start": uniques[start],
                    "test_end": uniques[stop - 1],
                }
            )
        return masks, {"n_rows": int(times.size), "folds": folds}

    def describe(self, X):
        """Return the counts of the splits of ``X`` without splitting it.

        Parameters
        ----------
        X : DataFrame
            Interaction log with the timestamp column.

        Returns
        -------
        summary : dict
            Same keys as ``split_summary_``.
        """
        return self._test_masks(X)[1]

    def split(self, X, y=None, groups=None):
        """Yield the temporal (train, test) splits of ``X``.

        Parameters
        ----------
        X : DataFrame
            Interaction log with the timestamp column.
        y, groups : object
            Ignored, present for API compatibility.

        Yields
        ------
        train : ndarray of int
            Row positions before the test period.
        test : ndarray of int
            Row positions in the test period.
        """
        masks, self.split_summary_ = self._test_masks(X)
        for train_mask, test_mask in masks:
            yield np.flatnonzero(train_mask), np.flatnonzero(test_mask)
