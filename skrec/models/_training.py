"""The training epochs of the deep recommenders: sampling, batching, validation.

One ``fit`` is one call to ``keras.Model.fit``: the epochs come from an
input pipeline (:func:`epoch_dataset`) that draws each epoch afresh (shuffle,
negatives, unknown-id masks) when Keras starts iterating it, so Keras
callbacks (``EarlyStopping``, ``ModelCheckpoint``, ``History``, the progress
bar) see the epochs of one fit, as in plain Keras.

Early stopping (:class:`EarlyStoppingMonitor`) scores a per-user hold-out of
the training rows after every epoch, by a ranking metric of each held-out
user's items among all items (:func:`~skrec.metrics._rank_counts.rank_metrics_at_k`)
or by the loss, keeps the best epoch's weights and stops after
``n_iter_no_change`` epochs without an improvement of ``tol``.
"""

import re

import numpy as np
import scipy.sparse as sp

from .._tf import keras, tf
from ..metrics._rank_counts import rank_metrics_at_k
from ._inference import WeightSnapshot
from ._inputs import INDEX_KINDS, NUMERIC_INPUT, input_name

# Validation users scored after each epoch, at most (a random sample).
MAX_VALIDATION_USERS = 1000
# early_stopping="auto" turns on from this many training positives.
AUTO_EARLY_STOPPING_ROWS = 10_000
# (user, item) rows predicted at once when a validation block is scored.
_ROWS_PER_SCORING_BLOCK = 1 << 20


class EpochSampler:
    """Builds each epoch's training arrays: unknown-id masking, negatives, shuffle.

    Parameters
    ----------
    estimator : DeepRecommenderClassifier
        Supplies ``negative_ratio``, ``unknown_id_rate``, the seed and the
        fitted feature encoder's schema.
    X : dict of str to ndarray
        Encoded training inputs.
    y : ndarray of shape (n_rows,)
        0/1 labels.
    initial_epoch : int
        Keys the random stream, so that each ``partial_fit`` call draws
        fresh negatives while ``fit(epochs=n)`` stays reproducible.
    shuffle : bool
        Shuffle the rows of each epoch.
    """

    def __init__(self, estimator, X, y, initial_epoch=0, shuffle=True):
        self.X = X
        self.y = y
        self.shuffle = shuffle
        self.ratio = estimator.negative_ratio
        self.unknown_rate = estimator.unknown_id_rate
        seed = estimator._seed
        self.rng = np.random.default_rng(None if seed is None else [seed, initial_epoch])
        schema = estimator.feature_encoder_.schema_
        self.user_key = self.item_key = None
        self.item_side_keys = []
        # The history input is context: a negative copies its positive's, the
        # same user at the same moment, with no item-side column to replace.
        for position, entry in enumerate(schema):
            if entry["kind"] not in INDEX_KINDS:
                continue
            key = input_name(position)
            if entry["kind"] == "id" and entry["side"] == "user":
                self.user_key = key
            elif entry["kind"] == "id" and entry["side"] == "item":
                self.item_key = key
                self.n_items = entry["vocabulary_size"]
            elif entry["side"] == "item":
                self.item_side_keys.append(key)
        self.item_numeric_columns = [
            j
            for j, p in enumerate(estimator.feature_encoder_.numeric_positions_)
            if schema[p]["side"] == "item"
        ]
        self.n_negatives = 0
        if self.ratio > 0:
            self._prepare_negatives()
        self.n_rows = int(y.shape[0]) + self.n_negatives

    def _prepare_negatives(self):
        users = self.X[self.user_key].astype(np.int64)
        items = self.X[self.item_key].astype(np.int64)
        self.positive_rows = np.flatnonzero(self.y == 1)
        keys = users[self.positive_rows] * self.n_items + items[self.positive_rows]
        self.positive_keys = np.unique(keys)
        # Users who hold every item (index 1..n_items-1) get no negative; every
        # other user always gets one, so each epoch has the same size.
        key_users = self.positive_keys // self.n_items
        held = np.bincount(
            key_users[self.positive_keys % self.n_items > 0],
            minlength=int(users.max(initial=0)) + 1,
        )
        full = held[users[self.positive_rows]] >= self.n_items - 1
        self.positive_rows = self.positive_rows[~full]
        self.n_negatives = self.positive_rows.size * self.ratio
        # Item-side features of every item index, as last seen in training.
        self.item_tables = item_tables(self.X, self.item_key, self.item_side_keys,
                                       self.item_numeric_columns, self.n_items)

    def _sample_items(self, users):
        items = self.rng.integers(1, self.n_items, size=users.size)
        pending = np.arange(users.size)  # rows whose item may be a positive
        for _ in range(50):
            pending = pending[self._is_positive(users[pending], items[pending])]
            if pending.size == 0:
                return items
            # Redraw, and re-check, only the rows that hit a positive.
            items[pending] = self.rng.integers(1, self.n_items, size=pending.size)
        # Users who hold nearly every item: draw from what they do not hold.
        for row in pending[self._is_positive(users[pending], items[pending])]:
            user = users[row]
            lo, hi = np.searchsorted(self.positive_keys, [user * self.n_items,
                                                          (user + 1) * self.n_items])
            free = np.setdiff1d(np.arange(1, self.n_items),
                                self.positive_keys[lo:hi] - user * self.n_items)
            items[row] = free[self.rng.integers(free.size)]
        return items

    def _is_positive(self, users, items):
        keys = users * self.n_items + items
        position = np.searchsorted(self.positive_keys, keys)
        position = np.minimum(position, self.positive_keys.size - 1)
        return self.positive_keys[position] == keys

    def _negatives(self):
        rows = np.repeat(self.positive_rows, self.ratio)
        users = self.X[self.user_key][rows].astype(np.int64)
        items = self._sample_items(users)
        negatives = {key: value[rows] for key, value in self.X.items()}
        return with_items(negatives, items, self.item_key, self.item_tables)

    def epoch_groups(self, sample_weight):
        """``(X, y, w)`` of the next epoch as groups: each input row, then its negatives.

        Row ``g`` of every array is one group of ``G = 1 + negative_ratio``
        training rows sharing the input row's user and context (its history
        included): the item inputs hold ``G`` items (the row's own, then
        ``negative_ratio`` sampled negatives), ``y`` and ``w`` are
        ``(n_groups, G)``, and the numeric input is ``(n_groups, G, c)`` with
        each item's own item-side columns. A model can then encode the shared
        inputs once per group. Rows that get no negative (explicit negatives,
        users who hold every item) fill their group with weight-0 rows, so the
        weighted loss is that of :meth:`epoch`'s rows.
        """
        n, ratio = self.y.size, self.ratio
        negatives = np.zeros((n, ratio), dtype=np.int64)
        weight = np.zeros((n, 1 + ratio), dtype=np.float32)
        weight[:, 0] = 1.0 if sample_weight is None else sample_weight
        users = self.X[self.user_key][self.positive_rows].astype(np.int64)
        negatives[self.positive_rows] = self._sample_items(np.repeat(users, ratio)).reshape(
            -1, ratio
        )
        weight[self.positive_rows, 1:] = 1.0
        items = np.concatenate([self.X[self.item_key][:, None].astype(np.int64), negatives], 1)
        y = np.zeros((n, 1 + ratio), dtype=np.float32)
        y[:, 0] = self.y
        X = {key: value for key, value in self.X.items() if key not in self.item_side_keys}
        if NUMERIC_INPUT in X:
            X[NUMERIC_INPUT] = np.repeat(X[NUMERIC_INPUT][:, None, :], 1 + ratio, axis=1)
        X = with_items(X, items, self.item_key, self.item_tables)
        if self.unknown_rate > 0:
            X[self.user_key] = np.where(
                self.rng.random(n) < self.unknown_rate, 0, X[self.user_key]
            ).astype(np.int32)
            X[self.item_key] = np.where(
                self.rng.random(items.shape) < self.unknown_rate, 0, X[self.item_key]
            ).astype(np.int32)
        if self.shuffle:
            order = self.rng.permutation(n)
            X = {key: value[order] for key, value in X.items()}
            y, weight = y[order], weight[order]
        return X, y, weight

    def group_template(self):
        """Empty ``(X, y, w)`` arrays shaped as :meth:`epoch_groups`' output."""
        size = 1 + self.ratio
        X = {key: value[:0] for key, value in self.X.items()}
        for key in [self.item_key, *self.item_side_keys]:
            X[key] = np.zeros((0, size), dtype=self.X[key].dtype)
        if NUMERIC_INPUT in X:
            X[NUMERIC_INPUT] = np.zeros((0, size, self.X[NUMERIC_INPUT].shape[1]), np.float32)
        empty = np.zeros((0, size), dtype=np.float32)
        return X, empty, empty

    def hold_out(self, cut, sample_weight):
        """Keep rows ``[:cut]`` for training; return rows ``[cut:]`` as validation data.

        The validation rows get their negatives once (never a positive of the
        whole input), are not shuffled and keep their ids; the training rows'
        negatives still avoid the validation positives.
        """
        X_val = {key: value[cut:] for key, value in self.X.items()}
        y_val = self.y[cut:]
        w_val = None if sample_weight is None else sample_weight[cut:]
        self.X = {key: value[:cut] for key, value in self.X.items()}
        self.y = self.y[:cut]
        if self.ratio > 0:
            self.positive_rows = self.positive_rows[self.positive_rows < cut]
            self.n_negatives = self.positive_rows.size * self.ratio
        self.n_rows = int(self.y.shape[0]) + self.n_negatives
        return self.validation_rows(X_val, y_val, w_val)

    def validation_rows(self, X_val, y_val, w_val=None):
        """``(X, y[, w])`` of validation rows with their negatives, drawn once."""
        if self.ratio > 0:
            train = self.X, self.positive_rows
            self.X, self.positive_rows = X_val, np.flatnonzero(y_val == 1)
            try:
                negatives = self._negatives()
            finally:
                self.X, self.positive_rows = train
            n_neg = len(negatives[self.item_key])
            X_val = {key: np.concatenate([X_val[key], negatives[key]]) for key in X_val}
            y_val = np.concatenate([y_val, np.zeros(n_neg, dtype=y_val.dtype)])
            if w_val is not None:
                w_val = np.concatenate([w_val, np.ones(n_neg, dtype=w_val.dtype)])
        y_val = y_val.astype(np.float32).reshape(-1, 1)
        return (X_val, y_val) if w_val is None else (X_val, y_val, w_val)

    def epoch(self, sample_weight):
        """``(X, y, w)`` of the next epoch (``w`` None without sample weights)."""
        X, y, w = self.X, self.y, sample_weight
        if self.ratio > 0:
            negatives = self._negatives()
            X = {key: np.concatenate([X[key], negatives[key]]) for key in X}
            y = np.concatenate([y, np.zeros(self.n_negatives, dtype=y.dtype)])
            if w is not None:
                w = np.concatenate([w, np.ones(self.n_negatives, dtype=w.dtype)])
        if self.unknown_rate > 0:
            X = dict(X)
            for key in (self.user_key, self.item_key):
                mask = self.rng.random(y.size) < self.unknown_rate
                X[key] = np.where(mask, 0, X[key]).astype(np.int32)
        if self.shuffle:
            order = self.rng.permutation(y.size)
            X = {key: value[order] for key, value in X.items()}
            y = y[order]
            w = None if w is None else w[order]
        return X, y.astype(np.float32).reshape(-1, 1), w


def item_tables(X, item_key, item_side_keys, item_numeric_columns, n_items):
    """Item-side input values of every item index, as last seen in ``X``.

    Returns a dict: input name -> ``(n_items,)`` array, and, with numeric
    item-side columns, ``(NUMERIC_INPUT, columns) -> (n_items, c)`` array.
    """
    items = X[item_key].astype(np.int64)
    tables = {}
    for key in item_side_keys:
        table = np.zeros(n_items, dtype=X[key].dtype)
        table[items] = X[key]
        tables[key] = table
    if item_numeric_columns:
        columns = tuple(item_numeric_columns)
        table = np.zeros((n_items, len(columns)), dtype=np.float32)
        table[items] = X[NUMERIC_INPUT][:, list(columns)]
        tables[(NUMERIC_INPUT, columns)] = table
    return tables


def with_items(rows, items, item_key, tables):
    """``rows`` (a dict of input arrays) with the item id and item-side inputs of ``items``."""
    rows = dict(rows)
    rows[item_key] = items.astype(np.int32)
    for key, table in tables.items():
        if isinstance(key, tuple):  # item-side numeric columns: the last axis
            numeric = rows[NUMERIC_INPUT].copy()
            numeric[..., list(key[1])] = table[items]
            rows[NUMERIC_INPUT] = numeric
        else:
            rows[key] = table[items]
    return rows


# ------------------------------------------------------------------ batches
def batch_arrays(X, y, sample_weight, batch_size, n_replicas=1):
    """Cut ``(X, y[, w])`` into whole batches: ``(full, rest)``.

    ``full`` holds ``(n_full, batch_size, ...)`` arrays, ``rest`` the last,
    shorter batch as ``(n_rest, ...)`` arrays (``n_rest`` may be 0).

    Under a strategy with ``n_replicas > 1``, Keras splits each batch across
    the replicas, averages the loss per replica and sums the replicas'
    gradients: that is the one-device update only when every replica holds
    the same number of rows, and a replica left with no row (a last batch
    smaller than ``n_replicas``) breaks the gradient all-reduce of some
    networks. So a batch whose size is not a multiple of ``n_replicas`` gets
    copies of its own first rows with weight 0, and its real rows' weights
    are multiplied by ``padded size / size``.
    """
    arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
    n_rows = y.shape[0]
    n_full = n_rows // batch_size
    cut = n_full * batch_size
    full = tf.nest.map_structure(
        lambda a: a[:cut].reshape(n_full, batch_size, *a.shape[1:]), arrays
    )
    rest = tf.nest.map_structure(lambda a: a[cut:][np.newaxis], arrays)
    sizes = [batch_size, n_rows - cut]
    if any(size % n_replicas for size in sizes if size):
        full, rest = (
            _pad_batches(part, sample_weight, size, n_replicas)
            for part, size in zip((full, rest), sizes)
        )
    return full, tf.nest.map_structure(lambda a: a[0], rest)


def batched_dataset(X, y, sample_weight, batch_size, n_replicas=1):
    """A ``tf.data.Dataset`` whose elements are the whole batches of ``batch_arrays``."""
    full, rest = batch_arrays(X, y, sample_weight, batch_size, n_replicas)
    parts = []
    if tf.nest.flatten(full)[0].shape[0]:
        parts.append(tf.data.Dataset.from_tensor_slices(full))
    if tf.nest.flatten(rest)[0].shape[0]:
        parts.append(tf.data.Dataset.from_tensors(rest))
    dataset = parts[0] if len(parts) == 1 else parts[0].concatenate(parts[1])
    return dataset.prefetch(2)


def _pad_batches(batches, sample_weight, size, n_replicas):
    """``(X, y, w)`` of ``(n_batches, size, ...)`` arrays, padded to ``n_replicas`` multiples."""
    X, y = batches[0], batches[1]
    weight = (
        np.ones(y.shape[:2], dtype=np.float32)
        if sample_weight is None
        else batches[2].astype(np.float32)
    )
    padded = -(-size // n_replicas) * n_replicas if size else 0
    if padded == size:
        return X, y, weight
    copies = np.arange(padded - size) % size
    X, y = tf.nest.map_structure(
        lambda a: np.concatenate([a, a[:, copies]], axis=1), (X, y)
    )
    weight = np.concatenate(
        [weight * np.float32(padded / size), np.zeros_like(weight[:, copies])], axis=1
    )
    return X, y, weight


def epoch_dataset(draw, template, n_rows, batch_size, n_replicas=1):
    """A dataset of one epoch's batches that ``draw()`` builds afresh on every iteration.

    Keras iterates a dataset of known length once per epoch: each iteration
    calls ``draw()`` (in NumPy, through ``tf.numpy_function``) for that
    epoch's ``(X, y, w)`` arrays, cut into whole batches by
    :func:`batch_arrays`, so one ``Model.fit`` trains on fresh negatives and
    shuffles every epoch.

    Parameters
    ----------
    draw : callable
        ``draw() -> (X, y, w)``: the next epoch (``w`` may be None).
    template : tuple
        ``(X, y, w)`` arrays with the dtypes and trailing shapes of an epoch
        (their length does not matter).
    n_rows : int
        Rows of every epoch.
    batch_size : int
        Rows per batch.
    n_replicas : int, default=1
        Replicas of the distribution strategy (see :func:`batch_arrays`).

    Returns
    -------
    dataset : tf.data.Dataset
    clock : keras.callbacks.Callback
        Pass it to ``Model.fit`` (first): it keys each draw to its epoch.
    """
    n_full, n_rest = divmod(n_rows, batch_size)
    padded = n_replicas > 1 and any(size % n_replicas for size in (batch_size, n_rest) if size)
    X, y, w = template
    if w is None and padded:  # batch_arrays adds the padding's weights
        w = np.ones(len(y), dtype=np.float32)
    structure = (X, y) if w is None else (X, y, w)
    leaves = tf.nest.flatten(structure)
    dtypes = [tf.as_dtype(leaf.dtype) for leaf in leaves]
    trailing = [leaf.shape[1:] for leaf in leaves]
    if padded:
        n_rest = -(-n_rest // n_replicas) * n_replicas
    full_size = -(-batch_size // n_replicas) * n_replicas

    clock = _EpochClock(draw)

    def produce():
        X, y, w = clock.draw()
        full, rest = batch_arrays(X, y, w, batch_size, n_replicas)
        # Copies: TensorFlow may write into the buffers it is handed (buffer
        # forwarding), and the clock hands the same arrays out again.
        return [np.array(a) for a in tf.nest.flatten(full) + tf.nest.flatten(rest)]

    def one_epoch(_):
        outputs = tf.numpy_function(produce, [], dtypes + dtypes, stateful=True)
        full = outputs[: len(leaves)]
        rest = outputs[len(leaves):]
        for tensor, shape in zip(full, trailing):
            tensor.set_shape([n_full, full_size, *shape])
        for tensor, shape in zip(rest, trailing):
            tensor.set_shape([n_rest, *shape])
        full = tf.nest.pack_sequence_as(structure, full)
        rest = tf.nest.pack_sequence_as(structure, rest)
        parts = []
        if n_full:
            parts.append(tf.data.Dataset.from_tensor_slices(full))
        if n_rest:
            parts.append(tf.data.Dataset.from_tensors(rest))
        return parts[0] if len(parts) == 1 else parts[0].concatenate(parts[1])

    n_batches = n_full + (1 if n_rest else 0)
    dataset = tf.data.Dataset.range(1).flat_map(one_epoch)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)
    return dataset, clock


def user_rows_dataset(matrix, draw_order, batch_size):
    """A dataset of ``(x, x)`` dense batches of rows of a CSR matrix, one epoch per iteration.

    ``draw_order() -> ndarray`` gives each epoch's order of the rows (a
    permutation, drawn afresh per epoch as in :func:`epoch_dataset`); batches
    are densified one at a time, so memory holds one batch, not the matrix.

    Returns
    -------
    dataset : tf.data.Dataset
    clock : keras.callbacks.Callback
        Pass it to ``Model.fit`` (first), as for :func:`epoch_dataset`.
    """
    matrix = matrix.tocsr()
    matrix.sort_indices()
    n_rows, n_columns = matrix.shape
    columns = tf.RaggedTensor.from_row_splits(
        matrix.indices.astype(np.int64), matrix.indptr.astype(np.int64)
    )
    values = tf.RaggedTensor.from_row_splits(
        matrix.data.astype(np.float32), matrix.indptr.astype(np.int64)
    )
    clock = _EpochClock(lambda: np.asarray(draw_order(), dtype=np.int64))

    def dense(rows):
        picked_columns = tf.gather(columns, rows)
        picked_values = tf.gather(values, rows)
        where = tf.stack(
            [picked_columns.value_rowids(), picked_columns.flat_values], axis=1
        )
        batch = tf.scatter_nd(
            where, picked_values.flat_values,
            tf.stack([tf.shape(rows, out_type=tf.int64)[0], n_columns]),
        )
        batch.set_shape([None, n_columns])
        return batch, batch

    def one_epoch(_):
        order = tf.numpy_function(lambda: np.array(clock.draw()), [], tf.int64, stateful=True)
        order.set_shape([n_rows])
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size).map(dense)

    n_batches = -(-n_rows // batch_size)
    dataset = tf.data.Dataset.range(1).flat_map(one_epoch)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)
    return dataset, clock


class _EpochClock(keras.callbacks.Callback):
    """Tells :func:`epoch_dataset` which epoch Keras is in.

    A distribution strategy iterates a dataset once more than Keras trains
    on it (to look at its first element): keyed by the epoch, a repeated
    iteration gets the same arrays, and the random stream of the epochs
    does not depend on who iterates.
    """

    def __init__(self, draw):
        super().__init__()
        self._draw = draw
        self._epoch = None  # None: before the first epoch begins
        self._drawn = None  # the epoch of self._arrays
        self._arrays = None

    def on_epoch_begin(self, epoch, logs=None):
        if self._arrays is not None and self._drawn is None:
            self._drawn = epoch  # drawn by a look before training: this epoch's
        self._epoch = epoch

    def draw(self):
        if self._arrays is None or self._drawn != self._epoch:
            self._arrays = self._draw()
            self._drawn = self._epoch
        return self._arrays


# --------------------------------------------------------------- validation
def parse_scoring(who, scoring):
    """``("ndcg" | "recall", k)`` or ``("loss", None)`` for a ``scoring`` parameter."""
    if isinstance(scoring, str):
        if scoring == "loss":
            return "loss", None
        match = re.fullmatch(r"(ndcg|recall)@([1-9][0-9]*)", scoring)
        if match:
            return match.group(1), int(match.group(2))
    raise ValueError(
        f"{who}: scoring={scoring!r} is not a validation score; pass 'ndcg@K' or "
        "'recall@K' (e.g. 'ndcg@20': each held-out user's items ranked among all "
        "items) or 'loss'."
    )


def hold_out_users(who, users, positive, fraction, rng):
    """Choose the validation rows: a share of some users' positive rows.

    Up to :data:`MAX_VALIDATION_USERS` users with at least two positives are
    drawn; each keeps at least one positive for training and gives
    ``fraction`` of its positives, rounded at random (so that the expected
    share is ``fraction`` for every user), to validation.

    Returns
    -------
    validation : ndarray of bool, shape (n_rows,)
        True for the held-out rows.
    """
    rows = np.flatnonzero(positive)
    counts = np.bincount(users[rows], minlength=int(users.max(initial=0)) + 1)
    candidates = np.flatnonzero(counts >= 2)
    if candidates.size > MAX_VALIDATION_USERS:
        candidates = np.sort(rng.choice(candidates, MAX_VALIDATION_USERS, replace=False))
    chosen = np.zeros(counts.size, dtype=bool)
    chosen[candidates] = True
    rows = rows[chosen[users[rows]]]
    # A random order within each user; the first `take` rows are held out.
    order = np.lexsort((rng.random(rows.size), users[rows]))
    rows = rows[order]
    row_users = users[rows]
    first = np.searchsorted(row_users, row_users, side="left")
    rank = np.arange(rows.size) - first
    n_user = counts[row_users]
    take = np.floor(fraction * n_user + rng.random(rows.size)[first]).astype(np.int64)
    take = np.minimum(take, n_user - 1)
    validation = np.zeros(users.size, dtype=bool)
    validation[rows[rank < take]] = True
    n_users = np.unique(users[validation]).size
    if n_users < 2:
        raise ValueError(
            f"{who}: early stopping needs held-out positives of at least 2 users, "
            f"but validation_fraction={fraction!r} holds out positives of "
            f"{n_users} user(s) of this log ({int((counts >= 2).sum())} user(s) "
            "have two positives or more). Pass a larger validation_fraction, or "
            "early_stopping=False and a number of epochs."
        )
    return validation


class RankingValidation:
    """Ranks every item for each held-out user and scores the held-out ones.

    Parameters
    ----------
    X_train, X_valid : dict of str to ndarray
        Encoded training and validation rows.
    y_train : ndarray
        Training labels (the user's training positives are not candidates).
    user_key, item_key : str
        Input names of the user and item ids.
    tables : dict
        Item-side inputs of every item index (:func:`item_tables`).
    n_items : int
        Item vocabulary size (index 0, the unknown item, is no candidate).
    metric, k : str, int
        ``"ndcg"`` or ``"recall"`` at ``k``.
    score_pairs : callable or None
        ``score_pairs(user_inputs, items) -> (n_users, n_items)`` scores, for
        models that rank a catalogue faster than row by row (one row of
        ``user_inputs`` per user); None: every (user, item) row is predicted.
    """

    def __init__(self, X_train, X_valid, y_train, user_key, item_key, tables, n_items,
                 metric, k, score_pairs=None):
        self.score_pairs = score_pairs
        self.metric, self.k = metric, k
        self.item_key, self.tables, self.n_items = item_key, tables, n_items
        valid_users = X_valid[user_key].astype(np.int64)
        self.users, first = np.unique(valid_users, return_index=True)
        # One template row per user: its user and context inputs.
        self.templates = {key: value[first] for key, value in X_valid.items()}
        column = np.searchsorted(self.users, valid_users)
        self.relevant = _indicator(column, X_valid[item_key], len(self.users), n_items)
        train_users = X_train[user_key].astype(np.int64)
        positive = (y_train == 1) & np.isin(train_users, self.users)
        # The user's training positives and the unknown item (index 0) are no candidates.
        everyone = np.arange(len(self.users))
        self.seen = _indicator(
            np.concatenate([np.searchsorted(self.users, train_users[positive]), everyone]),
            np.concatenate([X_train[item_key][positive], np.zeros(everyone.size)]),
            len(self.users), n_items,
        )

    def score(self, model, logs=None):
        """Mean NDCG@k (or recall@k) of the held-out items under ``model``."""
        network = WeightSnapshot(model)
        items = np.arange(self.n_items)
        block = max(1, _ROWS_PER_SCORING_BLOCK // self.n_items)
        values = []
        for start in range(0, len(self.users), block):
            stop = min(start + block, len(self.users))
            if self.score_pairs is not None:
                users = {key: value[start:stop] for key, value in self.templates.items()}
                scores = self.score_pairs(users, items)
            else:
                repeat = np.repeat(np.arange(start, stop), self.n_items)
                rows = {key: value[repeat] for key, value in self.templates.items()}
                rows = with_items(rows, np.tile(items, stop - start), self.item_key,
                                  self.tables)
                scores = network.predict(rows, 8192).reshape(stop - start, self.n_items)
            ndcg, recall = rank_metrics_at_k(
                scores, self.relevant[start:stop], self.k, self.seen[start:stop]
            )
            values.append(ndcg if self.metric == "ndcg" else recall)
        return float(np.nanmean(np.concatenate(values)))


def _indicator(rows, columns, n_rows, n_columns):
    """A 0/1 CSR matrix with ones at ``(rows, columns)``."""
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.int8), (rows, np.asarray(columns, dtype=np.int64))),
        shape=(n_rows, n_columns),
    )
    matrix.data[:] = 1  # repeated pairs count once
    return matrix


class EarlyStoppingMonitor(keras.callbacks.Callback):
    """Scores the validation set after each epoch; stops and keeps the best weights.

    Parameters
    ----------
    score : callable
        ``score(model, logs) -> float``, higher is better (``logs``: Keras'
        epoch logs, ``val_loss`` included when the fit has validation data).
    n_iter_no_change : int
        Epochs without an improvement of more than ``tol`` before stopping.
    tol : float
        Improvement that counts.
    verbose : int
        Print each epoch's score when > 0.
    network : keras.Model or None
        The network scored and whose weights are kept (default: the one
        Keras trains; a sequence model trains a grouped twin of its
        prediction network, which shares its weights).
    """

    def __init__(self, score, n_iter_no_change, tol, verbose=0, network=None):
        super().__init__()
        self.network = network
        self.score_fn = score
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.verbose = verbose
        self.scores = []
        self.best_score = -np.inf
        self.best_epoch = None
        self.best_weights = None
        self._waited = 0

    def on_epoch_end(self, epoch, logs=None):
        network = self.network or self.model
        score = self.score_fn(network, logs or {})
        self.scores.append(score)
        if logs is not None:
            logs["val_score"] = score  # for the callbacks and History that follow
        # scikit-learn's rule (MLPClassifier): count the epochs that do not beat
        # the best by tol; keep the weights of the best score, however small the gain.
        self._waited = 0 if score > self.best_score + self.tol else self._waited + 1
        if score > self.best_score:
            self.best_score, self.best_epoch = score, epoch
            self.best_weights = network.get_weights()
        if self._waited >= self.n_iter_no_change:
            self.model.stop_training = True
        if self.verbose:
            print(f"Epoch {epoch + 1}: validation score {score:.5f} "
                  f"(best {self.best_score:.5f} at epoch {self.best_epoch + 1})")

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            (self.network or self.model).set_weights(self.best_weights)
