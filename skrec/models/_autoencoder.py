"""AutoencoderClassifier: a denoising autoencoder over each user's interactions (Mult-DAE)."""

import numbers
import re
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.utils.multiclass import type_of_target

from .._tf import keras
from ._base import DeepRecommenderClassifier
from ._inputs import NUMERIC_INPUT, input_name
from ._params import check_hidden_units, check_non_negative, check_rate, is_int
from ._inference import WeightSnapshot
from ._training import EarlyStoppingMonitor, hold_out_users, parse_scoring, user_rows_dataset
from ..metrics._rank_counts import rank_metrics_at_k

# The data contract's interaction-strength column (see FeatureBuilder).
_DEFAULT_STRENGTH = "user_behavior"
# Dense scores held at once while predicting: users per block = this // n_items.
_MAX_BLOCK_VALUES = 1 << 21


@keras.saving.register_keras_serializable(package="skrec")
class MultinomialLogLikelihood(keras.losses.Loss):
    """Negative multinomial log-likelihood ``-sum_i x_i log softmax(logits)_i``.

    ``y_true`` holds interaction weights that need not sum to 1. Keras'
    ``CategoricalCrossentropy(from_logits=True)`` computes the same value but
    TensorFlow's fused gradient ``softmax - x`` assumes ``sum(x) == 1``:
    measured on MovieLens-100k it made the training loss *rise* every epoch.
    Built from ``log_softmax``, the gradient is the true
    ``sum(x) * softmax - x``.
    """

    def __init__(self, name="multinomial_nll", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true = keras.ops.cast(y_true, y_pred.dtype)
        return -keras.ops.sum(y_true * keras.ops.log_softmax(y_pred, axis=-1), axis=-1)


class AutoencoderClassifier(DeepRecommenderClassifier):
    """Denoising autoencoder recommender over each user's interaction vector (Mult-DAE).

    Each user is one training example: the vector ``x_u`` of their positive
    interactions over the whole item vocabulary. The network L2-normalises
    it, drops each entry with probability ``corruption`` (the "denoising"),
    encodes it through ``tanh`` layers of widths ``hidden_units``, decodes it
    through the mirrored layers to one logit per item and is trained to
    reconstruct the *uncorrupted* interactions under a multinomial
    likelihood: the loss is ``-sum_i x_ui log softmax(logits)_i``, averaged
    over the users of a batch (Liang et al. 2018, the DAE variant [1]_).
    Every item the user did not interact with is thus a negative at once; no
    negatives are sampled.

    Input values. Without a strength column ``x_ui`` is 1 for each positive
    (a repeated positive counts once). With one (by default the
    ``user_behavior`` column, as normalised by
    :class:`~skrec.preprocessing.InteractionNormalizer` and scaled by
    :class:`~skrec.preprocessing.FeatureBuilder`), ``x_ui = 2 * sigmoid(z)``
    where ``z`` standardises the strength with its mean and deviation over
    the training positives: an average interaction weighs 1, a stronger one
    up to 2, a weaker one down to 0, and the weight does not depend on
    FeatureBuilder's affine scaling (``scale_numeric``). Being bounded, it
    keeps one extreme strength from swamping a user's vector. A repeated
    (user, item) positive keeps its largest weight; ``sample_weight``
    multiplies a row's weight.

    Rows with ``y == 0`` are not positives: they are left out of the
    interaction vectors (the multinomial loss already treats every item
    outside the vector as a negative), so they neither help nor hurt.

    Prediction. The fitted estimator keeps each user's training vector
    (``user_items_``, sparse). For a row (user ``u``, item ``i``) the vector
    goes through the network *without* corruption, giving the multinomial
    item distribution ``pi_u``; ``predict_proba`` returns
    ``1 - (1 - pi_ui) ** n_u``, the probability that item ``i`` is drawn at
    least once in ``n_u`` draws, with ``n_u`` the user's number of training
    positives. It ranks a user's items exactly as ``pi_u`` does and, unlike
    the raw softmax (about ``1 / n_items``), reaches 0.5 for items the model
    expects the user to pick. Rows are grouped by user so that each distinct
    user goes through the network once. A user without a training vector
    (unknown users, index 0, and users with only ``y == 0`` rows) gets an
    empty vector, i.e. the decoder's learned item prior (close to
    popularity), and ``n_u`` the mean over training users. The unknown item
    (index 0) is never a training positive, so it scores low.

    :func:`skrec.recommend` ranks the whole catalogue with one forward pass
    per block of users through the private ``_pairwise_scorer`` hook.

    Parameters
    ----------
    hidden_units : tuple of int, default=(200,)
        Widths of the encoder's ``tanh`` layers; the last is the bottleneck.
        The decoder mirrors the others (``(600, 200)``: items -> 600 -> 200 ->
        600 -> items). At least one layer. The default is the paper's DAE
        (items -> 200 -> items); on MovieLens-100k (protocol P1, 943 users)
        the deeper ``(600, 200)`` overfit within 10 epochs (nDCG@10 0.431 at
        10 epochs, 0.376 at 25) while ``(200,)`` reached 0.474 at 25.
    corruption : float, default=0.5
        Dropout rate on the normalised input vector during training (the
        paper's 0.5); 0 trains a plain (non-denoising) autoencoder.
    l2 : float, default=1e-2
        L2 penalty on every kernel, added to the per-user loss. The paper's
        weight decay (``0.01 / batch of 500``, about 1e-5) over-fits a small
        log: on MovieLens-100k P1 ``l2=1e-5`` peaked at nDCG@10 0.47 after 25
        epochs and fell to 0.44 by 50, while ``1e-2`` climbs to a plateau of
        0.48 from about 60 epochs on (0.483 after 100 on all the training
        data; 0.479 under early stopping, which holds 5% of it out);
        ``5e-3`` gave 0.475 and ``3e-2`` under-fits (0.43).
    strength_column : "auto", str, int or None, default="auto"
        Numeric column of ``X`` (its FeatureBuilder schema name) whose values
        weight the interactions. ``"auto"``: ``user_behavior`` when ``X`` has
        it as a numeric column, else none. None: every positive weighs 1.
    optimizer : str or keras optimizer, default="adam"
    learning_rate : float, default=1e-3
    epochs : int, default=200
        Passes over the users; an upper bound under early stopping (on by
        default from 10,000 positives: on MovieLens-100k P1 it kept epoch 107
        of 119).
    n_iter_no_change : int, default=20
        Epochs without an improvement before early stopping ends the fit
        (the other models wait 5): an epoch of this model is cheap and its
        validation score climbs slowly, by less than its epoch-to-epoch
        noise; with 5 it stopped near epoch 30 at nDCG@10 0.46.
    batch_size : int, default=32
        **Users** per training batch (not rows); -1: all users at once.
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, corruption and the order of users: the
        same seed gives the same predictions.
    verbose : int, default=0
    **kwargs
        Further :class:`~skrec.models.DeepRecommenderClassifier` and scikeras
        parameters (``jit_compile``, ``steps_per_execution``,
        ``predict_batch_size`` (users per forward pass at prediction, capped
        so that a block holds at most about two million scores),
        ``callbacks``, ``optimizer__*``, ``fit__*``). ``negative_ratio``
        must stay 0 and ``loss`` cannot be changed (the loss is the
        multinomial log-likelihood); ``unknown_id_rate`` is unused (there are
        no id embeddings); ``validation_split`` is not supported.

    Attributes
    ----------
    model_ : keras.Model
        The trained network: input ``(batch, n_items)`` interaction weights,
        output ``(batch, n_items)`` item logits.
    user_items_ : scipy.sparse.csr_matrix of shape (n_user_index, n_item_index)
        Each user index's training interaction weights (row 0, the unknown
        user, is empty).
    item_embeddings_ : ndarray of shape (n_item_index, d)
        The item representations learned by the decoder: row ``i`` is the
        output layer's weight vector of item index ``i`` (``d`` is the last
        decoder width, ``hidden_units[0]``). Items that the same users choose
        get similar rows.
    strength_column_ : str, int or None
        The strength column used, or None.
    history_ : dict of list
        Training loss per epoch (``loss``: the mean multinomial negative
        log-likelihood per user, plus the L2 penalty).
    classes_ : ndarray of shape (2,)
        The two labels.
    input_schema_ : list of dict
        The columns the model was fitted on.

    See Also
    --------
    skrec.models.EASEClassifier : The closed-form linear item-item autoencoder.
    skrec.preprocessing.InteractionNormalizer : Produces the strengths used as weights.

    References
    ----------
    .. [1] Liang, D., Krishnan, R. G., Hoffman, M. D. and Jebara, T.
       "Variational Autoencoders for Collaborative Filtering". WWW 2018.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skrec.datasets import make_interactions
    >>> from skrec.models import AutoencoderClassifier
    >>> from skrec.preprocessing import FeatureBuilder, InteractionNormalizer
    >>> X, y = make_interactions(n_users=50, n_items=40, n_interactions=2000,
    ...                          random_state=0, return_X_y=True)
    >>> model = AutoencoderClassifier(hidden_units=(32,), epochs=2, random_state=0)
    >>> pipe = make_pipeline(InteractionNormalizer(), FeatureBuilder(), model)
    >>> pipe.fit(X, y).predict_proba(X.head(3)).shape
    (3, 2)
    >>> model.strength_column_
    'user_behavior'
    """

    def __init__(
        self,
        *,
        hidden_units=(200,),
        corruption=0.5,
        l2=1e-2,
        strength_column="auto",
        optimizer="adam",
        learning_rate=1e-3,
        epochs=200,
        batch_size=32,
        n_iter_no_change=20,
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        super().__init__(
            optimizer=optimizer,
            learning_rate=learning_rate,
            epochs=epochs,
            batch_size=batch_size,
            n_iter_no_change=n_iter_no_change,
            random_state=random_state,
            verbose=verbose,
            **kwargs,
        )
        self.hidden_units = hidden_units
        self.corruption = corruption
        self.l2 = l2
        self.strength_column = strength_column

    # ------------------------------------------------------------ checks
    def _check_params(self):
        super()._check_params()
        who = type(self).__name__
        check_hidden_units(who, self.hidden_units, example="(600, 200)")
        if len(tuple(self.hidden_units)) == 0:
            raise ValueError(
                f"{who}: hidden_units=() has no layer; an autoencoder needs at least "
                "one, e.g. (600, 200)."
            )
        check_rate(who, "corruption", self.corruption)
        check_non_negative(who, "l2", self.l2)
        column = self.strength_column
        if not (column is None or isinstance(column, (str, numbers.Integral))) or isinstance(
            column, bool
        ):
            raise ValueError(
                f"{who}: strength_column={column!r} must be 'auto', None or the name "
                "of a numeric column, e.g. 'user_behavior'."
            )
        if self.negative_ratio != 0:
            raise ValueError(
                f"{who}: negative_ratio={self.negative_ratio!r} is not used; the "
                "multinomial loss treats every item outside a user's vector as a "
                "negative. Leave negative_ratio=0."
            )
        if self.loss != "binary_crossentropy":
            raise ValueError(
                f"{who}: loss={self.loss!r} cannot be changed; the model is trained "
                "with the multinomial log-likelihood of each user's interactions."
            )
        if self._validation_split() > 0:
            raise ValueError(
                f"{who}: validation_split is not supported (it would split rows, "
                "not users); pass early_stopping=True, which holds out a share of "
                "some users' items, or evaluate on a split from skrec.model_selection."
            )

    def _check_target(self, y):
        who = type(self).__name__
        if y is None:
            raise ValueError(
                f"{who} requires y to be passed, but the target y is None; pass one "
                "binary label per row (all ones for implicit feedback)."
            )
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please "
                "change the shape of y to (n_samples,), for example using ravel().",
                DataConversionWarning,
                stacklevel=3,
            )
            y = y.ravel()
        try:
            classes = np.unique(y)
        except TypeError:  # mixed, unorderable labels
            classes = None
        if y.ndim != 1 or classes is None or len(classes) > 2 or (
            len(classes) == 1 and not _is_binary_numeric(classes)
        ):
            shown = None if classes is None else classes[:5].tolist()
            try:
                kind = type_of_target(y)
            except ValueError:
                kind = "unknown"
            raise ValueError(
                f"{who}: Only binary classification is supported: y must be one "
                f"binary label per row (1 = positive interaction); got a {kind} "
                f"target with classes {shown}. Binarise it first, e.g. "
                "y = (rating >= 4).astype(int)."
            )
        if _is_binary_numeric(classes):
            # Implicit feedback may hold ones only; the classes are still 0 and 1.
            self._target_categories = [np.array([0, 1], dtype=y.dtype)]
            positive = 1
        else:
            self._target_categories = "auto"
            positive = classes[-1]
        if not (y == positive).any():
            raise ValueError(
                f"{who}: y holds no positive ({positive!r}); the autoencoder learns "
                "from each user's positive interactions."
            )
        return y

    def _label_categories(self):
        return getattr(self, "_target_categories", None)

    # ----------------------------------------------------------- network
    def _make_model(self, compile_kwargs):
        schema = self.input_schema_
        n_items = _id_entry(schema, "item", type(self).__name__)[1]["vocabulary_size"]
        regularizer = keras.regularizers.L2(self.l2) if self.l2 > 0 else None
        units = [int(u) for u in self.hidden_units]
        weights = keras.Input(shape=(n_items,), dtype="float32", name="user_items")
        # A zero vector (unknown user) stays zero: no division by 0.
        hidden = keras.layers.UnitNormalization(axis=-1, name="l2_normalize")(weights)
        if self.corruption > 0:
            hidden = keras.layers.Dropout(float(self.corruption), name="corruption")(hidden)
        for depth, width in enumerate(units):
            hidden = keras.layers.Dense(
                width, activation="tanh", kernel_regularizer=regularizer,
                name=f"encoder_{depth}",
            )(hidden)
        for depth, width in enumerate(reversed(units[:-1])):
            hidden = keras.layers.Dense(
                width, activation="tanh", kernel_regularizer=regularizer,
                name=f"decoder_{depth}",
            )(hidden)
        logits = keras.layers.Dense(
            n_items, kernel_regularizer=regularizer, name="item_logits"
        )(hidden)
        name = re.sub(r"[^A-Za-z0-9_.]", "_", type(self).__name__).lstrip("_") or "model"
        model = keras.Model(inputs=weights, outputs=logits, name=name)
        compile_kwargs = dict(compile_kwargs)
        compile_kwargs["loss"] = MultinomialLogLikelihood()
        compile_kwargs.pop("metrics", None)
        model.compile(
            **compile_kwargs,
            jit_compile=bool(self.jit_compile),
            steps_per_execution=self.steps_per_execution,
        )
        return model

    # ----------------------------------------------------------- fitting
    def _train(self, X, y, sample_weight, *, epochs, initial_epoch, warm_start, fit_kwargs):
        kwargs = fit_kwargs
        schema = self.feature_encoder_.schema_
        users, items = self._ids(X)
        positive = np.asarray(y).reshape(-1) == 1
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        resume = bool(warm_start) and hasattr(self, "user_items_")
        if not resume:
            self._fit_strength(schema, X, positive)
        weights = self._row_weights(X)
        if sample_weight is not None:
            weights = weights * sample_weight
        keep = positive & (users > 0) & (items > 0) & (weights > 0)
        shape = (schema[self._user_position]["vocabulary_size"], self._n_items)
        chunk = _max_matrix(users[keep], items[keep], weights[keep], shape)
        if resume:
            # partial_fit: a later chunk adds to (never erases) what is known.
            chunk = _max_of(self.user_items_, chunk)
            train_users = np.unique(users[keep])
        else:
            train_users = np.flatnonzero(np.diff(chunk.indptr))
        self.user_items_ = chunk
        counts = np.diff(chunk.indptr)
        self._mean_draws = float(counts[counts > 0].mean()) if (counts > 0).any() else 1.0

        batch_size = kwargs.pop(
            "batch_size", self._routed("fit", "batch_size", self.batch_size)
        )
        batch_size = 32 if batch_size is None else int(batch_size)
        seed = self._seed
        monitor = None
        training = chunk[train_users]
        if self._early_stopping_active(positive):
            training, monitor = self._validation(training, seed)
        if batch_size == -1:
            batch_size = max(len(train_users), 1)
        rng = np.random.default_rng(None if seed is None else [seed, initial_epoch])
        n_train = len(train_users)

        def order():
            return rng.permutation(n_train) if self.shuffle else np.arange(n_train)

        dataset, clock = user_rows_dataset(training, order, batch_size)
        kwargs.update(batch_size=None, validation_split=0.0, shuffle=False)
        callbacks = [clock] + ([monitor] if monitor else [])
        callbacks += list(kwargs.pop("callbacks", None) or [])
        self._keras_fit(
            dataset, epochs=epochs, initial_epoch=initial_epoch, warm_start=warm_start,
            callbacks=callbacks, **kwargs,
        )
        self._record_epochs(monitor, initial_epoch)

    def _validation(self, training, seed):
        """Hold out a share of some users' items: ``(training matrix, monitor)``.

        The held-out entries leave the training vectors (and come back in
        ``user_items_`` for prediction); after each epoch the monitor ranks
        every item from each validation user's remaining vector.
        """
        who = type(self).__name__
        coo = training.tocoo()
        rng = np.random.default_rng(None if seed is None else [seed, 1])
        held = hold_out_users(who, coo.row.astype(np.int64), np.ones(coo.nnz, bool),
                              self.validation_fraction, rng)
        kept = sp.csr_matrix(
            (coo.data[~held], (coo.row[~held], coo.col[~held])), shape=training.shape
        )
        users = np.unique(coo.row[held])
        relevant = sp.csr_matrix(
            (np.ones(int(held.sum()), np.int8),
             (np.searchsorted(users, coo.row[held]), coo.col[held])),
            shape=(len(users), training.shape[1]),
        )
        inputs = kept[users]
        excluded = (inputs != 0).astype(np.int8).tolil()
        excluded[:, 0] = 1  # the unknown item is no candidate
        excluded = excluded.tocsr()
        metric, k = parse_scoring(who, self.scoring)

        def score(model, logs):
            logits = WeightSnapshot(model).predict(
                inputs.toarray().astype(np.float32), 8192
            ).astype(np.float64)
            if metric == "loss":  # the multinomial likelihood of the held-out items
                logits -= logits.max(axis=1, keepdims=True)
                log_pi = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
                return float(np.asarray(relevant.multiply(log_pi).sum()) / relevant.nnz)
            ndcg, recall = rank_metrics_at_k(logits, relevant, k, excluded)
            return float(np.nanmean(ndcg if metric == "ndcg" else recall))

        monitor = EarlyStoppingMonitor(score, self.n_iter_no_change, self.tol,
                                       verbose=self.verbose)
        return kept, monitor

    def _fit_strength(self, schema, X, positive):
        """Resolve the strength column and learn its statistics on the positives."""
        who = type(self).__name__
        numeric = [
            (j, entry["name"])
            for j, entry in enumerate(e for e in schema if e["kind"] == "numeric")
        ]
        wanted = self.strength_column
        self._strength_position = None
        self.strength_column_ = None
        if wanted is None:
            return
        found = [
            j for j, name in numeric
            if (name == _DEFAULT_STRENGTH if wanted == "auto" else
                name == wanted or str(name) == str(wanted))
        ]
        if not found:
            if wanted == "auto":
                return
            raise ValueError(
                f"{who}: strength_column={wanted!r} is not a numeric column of X; its "
                f"numeric columns are {[name for _, name in numeric]}. Pass one of "
                "them, 'auto' or None."
            )
        self._strength_position = found[0]
        self.strength_column_ = numeric[found[0]][1]
        values = np.asarray(X[NUMERIC_INPUT][:, found[0]], dtype=np.float64)[positive]
        self._strength_mean = float(values.mean()) if values.size else 0.0
        scale = float(values.std()) if values.size else 0.0
        self._strength_scale = scale if scale > 0 else 1.0

    def _row_weights(self, X):
        n = len(X[input_name(self._user_position)])
        if self._strength_position is None:
            return np.ones(n, dtype=np.float64)
        values = np.asarray(X[NUMERIC_INPUT][:, self._strength_position], dtype=np.float64)
        z = (values - self._strength_mean) / self._strength_scale
        return 2.0 / (1.0 + np.exp(-z))

    def _ids(self, X):
        """``(users, items)`` index arrays of an encoded input dict."""
        schema = self.feature_encoder_.schema_
        who = type(self).__name__
        self._user_position = _id_entry(schema, "user", who)[0]
        item_position, item_entry = _id_entry(schema, "item", who)
        self._item_position = item_position
        self._n_items = int(item_entry["vocabulary_size"])
        users = X[input_name(self._user_position)].astype(np.int64)
        items = X[input_name(item_position)].astype(np.int64)
        return users, items

    # -------------------------------------------------------- prediction
    def _predict_rows(self, X, **kwargs):
        users, items = self._encode(X)
        proba = np.empty(len(users), dtype=np.float64)
        if len(users) == 0:
            return proba.reshape(-1, 1)
        unique, inverse = np.unique(users, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        block = self._users_per_block()
        network = WeightSnapshot(self.model_)
        for start in range(0, len(unique), block):
            stop = min(start + block, len(unique))
            lo, hi = np.searchsorted(inverse[order], [start, stop])
            rows = order[lo:hi]
            scores = self._user_item_proba(unique[start:stop], network)
            proba[rows] = scores[inverse[rows] - start, items[rows]]
        return proba.reshape(-1, 1)

    def _pairwise_scorer(self, item_rows):
        """Score every (user, item) pair, one forward pass per user (hook of recommend).

        :func:`skrec.recommend` calls this private method once with the
        candidate items, then the returned function once per block of users.

        Parameters
        ----------
        item_rows : DataFrame of shape (n_items, n_features)
            FeatureBuilder output with one row per candidate item; only the
            item id column is read.

        Returns
        -------
        score : callable
            ``score(user_rows) -> ndarray of shape (n_users, n_items)``: the
            ``predict_proba`` positive-class probability of every pair (equal
            to it to float tolerance). ``user_rows`` is FeatureBuilder output
            with one row per user; only the user id column is read.
        """
        _, items = self._encode(item_rows)
        network = WeightSnapshot(self.model_)

        def score(user_rows):
            users, _ = self._encode(user_rows)
            out = np.empty((len(users), len(items)), dtype=np.float64)
            block = self._users_per_block()
            for start in range(0, len(users), block):
                scores = self._user_item_proba(users[start:start + block], network)
                out[start:start + block] = scores[:, items]
            return out

        return score

    def _encode(self, X):
        """Validated ``(users, items)`` index arrays of model input ``X``."""
        if not self.initialized_:
            raise NotFittedError("Estimator needs to be fit before `predict` can be called")
        return self._ids(self._encoded_inputs(X))

    def _users_per_block(self):
        cap = max(1, _MAX_BLOCK_VALUES // max(self._n_items, 1))
        batch = self._routed("predict", "batch_size", self.predict_batch_size)
        return max(1, min(int(batch), cap)) if is_int(batch) and batch > 0 else cap

    def _user_item_proba(self, users, network):
        """``(len(users), n_items)`` probability that each item is drawn for each user.

        ``network``: a :class:`WeightSnapshot` of ``model_``.
        """
        vectors = self.user_items_[users]
        logits = network.predict(
            vectors.toarray().astype(np.float32), max(len(users), 1)
        ).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        log_pi = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        draws = np.diff(vectors.indptr).astype(np.float64)
        draws[draws == 0] = self._mean_draws
        # 1 - (1 - pi) ** n, computed without cancellation for small pi.
        return -np.expm1(draws[:, None] * np.log1p(-np.exp(log_pi)))

    @property
    def item_embeddings_(self):
        """Item representations: the output layer's weight vector per item index."""
        if not self.initialized_:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call fit first."
            )
        kernel = self.model_.get_layer("item_logits").kernel
        return np.asarray(keras.ops.convert_to_numpy(kernel)).T.copy()


def _is_binary_numeric(classes):
    return classes.dtype.kind in "biuf" and set(classes.tolist()) <= {0, 1}


def _id_entry(schema, side, who):
    for position, entry in enumerate(schema):
        if entry["kind"] == "id" and entry["side"] == side:
            return position, entry
    raise ValueError(f"{who} needs a {side} id column; the schema of X has none.")


def _max_matrix(rows, cols, values, shape):
    """CSR matrix with the largest value of each repeated (row, col)."""
    if rows.size == 0:
        return sp.csr_matrix(shape, dtype=np.float32)
    key = rows * shape[1] + cols
    order = np.lexsort((-values, key))  # by key, largest value first
    key, values = key[order], values[order]
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    key, values = key[first], values[first]
    matrix = sp.csr_matrix(
        (values.astype(np.float32), (key // shape[1], key % shape[1])), shape=shape
    )
    matrix.sort_indices()
    return matrix


def _max_of(old, new):
    """Entry-wise maximum of two non-negative CSR matrices of the same shape."""
    merged = old.maximum(new).tocsr().astype(np.float32)
    merged.sort_indices()
    return merged
