"""DeepRecommenderClassifier: what every skrec Keras recommender shares."""

import copy
import functools
import numbers
import re
import sys
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import type_of_target

from .._tf import keras, tf
from ._inputs import (
    HISTORY_INPUT,
    INDEX_KINDS,
    NUMERIC_INPUT,
    InputSplitter,
    check_same_schema,
    input_name,
    schema_of,
)
from ._scikeras_compat import KerasClassifierCompat
from ._training import (
    AUTO_EARLY_STOPPING_ROWS,
    EarlyStoppingMonitor,
    EpochSampler,
    RankingValidation,
    batched_dataset,
    epoch_dataset,
    hold_out_users,
    item_tables,
    parse_scoring,
)


class DeepRecommenderClassifier(KerasClassifierCompat):
    """Base class of skrec's deep recommenders (a scikeras ``KerasClassifier``).

    Subclasses implement :meth:`_build_network`, which maps the model's Keras
    inputs to one sigmoid probability per row; this class builds the inputs
    from the schema of :class:`~skrec.preprocessing.FeatureBuilder` output,
    compiles for speed, samples negatives for implicit feedback, keeps the
    console quiet and makes fits reproducible under ``random_state``.

    Parameters
    ----------
    negative_ratio : int, default=0
        0: ``y`` is used as given and must hold both classes. ``k > 0``: rows
        with ``y == 1`` are implicit positives and each epoch ``k`` fresh
        negatives per positive are drawn uniformly from the item vocabulary,
        never among the user's own positives; a negative copies the positive's
        user and context features and takes the sampled item's own features.
        Rows with ``y == 0`` are kept as explicit negatives.
    unknown_id_rate : float, default=0.01
        Each epoch, this fraction of training rows has its user id, and
        independently its item id, replaced by the reserved unknown index, so
        that the shared out-of-vocabulary embeddings learn an average user and
        item instead of staying at their random start.
    learning_rate : float, default=1e-3
        Optimizer learning rate (an explicit ``optimizer__learning_rate``
        wins).
    jit_compile : bool, default=False
        Compile training and prediction steps with XLA. Measured on a 2-core
        CPU it was no faster than the TensorFlow graph for these networks and
        costs seconds of compilation per fit, so it is off by default.
    steps_per_execution : int, default=32
        Batches run per call into the TensorFlow graph. Running 32 at a time
        removes most of Keras' per-batch Python overhead: the main reason
        skrec trains faster than a default ``compile()`` (see
        ``benchmarks/bench_ncf.py``). Under a ``distribute`` strategy with
        several replicas Keras runs one batch per call whatever this value
        (several fail there: keras-team/keras#19246).
    predict_batch_size : int, default=8192
        Batch size for prediction (an explicit ``predict__batch_size`` wins).
    distribute : tf.distribute.Strategy, "mirrored" or None, default=None
        Train on several devices. The network is built and compiled under
        the strategy's scope, and each batch of ``batch_size`` rows (the
        global batch) is split evenly across its replicas, padded where
        needed with rows of weight 0, so that an update equals the
        one-device update (batch normalisation and dropout masks aside,
        which are per replica). ``"mirrored"``: one
        ``tf.distribute.MirroredStrategy()`` over this machine's GPUs (or its
        CPU), made by the first fit that asks for it and shared by the
        process. Pass one strategy object to every model of a process: two
        ``MirroredStrategy`` objects over the same devices clash in
        TensorFlow's collective ops. A ``MultiWorkerMirroredStrategy`` needs
        the same integer ``random_state`` on every worker. Prediction runs on
        one device. Clones and copies share the strategy object; pickling
        drops it (it holds this process's devices): a loaded model has
        ``distribute=None`` and warns if it is trained again without
        ``set_params(distribute=...)``. ``"mirrored"`` is pickled as it is.
        None: one device.
    early_stopping : "auto", bool, default="auto"
        Hold out a per-user share of the training positives, score it after
        every epoch and stop when ``n_iter_no_change`` epochs in a row do not
        beat the best score by more than ``tol``; the best epoch's weights
        are kept, so ``epochs`` is an upper bound. ``"auto"``: on when the
        training data has at least 10,000 positives. :meth:`partial_fit`
        never stops early (it trains one epoch).
    validation_fraction : float, default=0.05
        Share of each validation user's positives held out (rounded at
        random, so every user gives this share on average, and keeps at
        least one positive for training). The validation users are those
        with two positives or more, at most 1,000 of them (a random sample,
        fixed for the fit): their held-out rows are never trained on. Like
        the items of a test set, a held-out item may be drawn as one of the
        user's training negatives (excluding it would tell the model that it
        is special, and the validation score would rise while the model
        overfits). At least two users must get held-out rows. Why 0.05 and
        not scikit-learn's 0.1: a log of up to 1,000 users loses this share
        of all its training data, and on MovieLens-100k P1 NCF scored
        nDCG@10 0.413 with 0.1 against 0.420 with 0.05 (0.420 with 0.03).
    n_iter_no_change : int, default=5
        Epochs without an improvement before stopping (scikit-learn's
        ``MLPClassifier`` waits 10; an epoch of a recommender costs more,
        and 5 outlasts the epoch-to-epoch noise of NDCG@20 over 1,000 users).
    tol : float, default=1e-4
        Gain of the validation score that counts as an improvement.
    scoring : str, default="ndcg@20"
        Validation score. ``"ndcg@K"`` or ``"recall@K"``: each validation
        user's held-out items ranked among all items of the vocabulary
        (their training positives excluded; the user's other inputs, e.g.
        the history, taken from one of the held-out rows). ``"loss"``: minus
        the loss on the held-out rows with negatives drawn once.

    Attributes
    ----------
    n_iter_ : int
        Epochs trained by the last ``fit`` (``partial_fit`` adds one per call).
    validation_scores_ : list of float or None
        The validation score after each epoch (None without early stopping).
    best_iteration_ : int or None
        The epoch (1-based) whose weights were kept under early stopping.
    best_validation_score_ : float or None
        Its score.

    Other parameters (``optimizer``, ``loss``, ``epochs``, ``batch_size``,
    ``random_state``, ``verbose``, ``callbacks`` and the routed
    ``optimizer__*``, ``loss__*``, ``fit__*``, ``predict__*``) are those of
    :class:`scikeras.wrappers.KerasClassifier`.
    """

    _partial = False  # True during partial_fit

    def __init__(
        self,
        *,
        negative_ratio=0,
        unknown_id_rate=0.01,
        optimizer="adam",
        learning_rate=1e-3,
        loss="binary_crossentropy",
        epochs=10,
        batch_size=256,
        jit_compile=False,
        steps_per_execution=32,
        predict_batch_size=8192,
        distribute=None,
        early_stopping="auto",
        validation_fraction=0.05,
        n_iter_no_change=5,
        tol=1e-4,
        scoring="ndcg@20",
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        super().__init__(
            optimizer=optimizer,
            loss=loss,
            epochs=epochs,
            batch_size=batch_size,
            random_state=random_state,
            verbose=verbose,
            **kwargs,
        )
        self.negative_ratio = negative_ratio
        self.unknown_id_rate = unknown_id_rate
        self.learning_rate = learning_rate
        self.jit_compile = jit_compile
        self.steps_per_execution = steps_per_execution
        self.predict_batch_size = predict_batch_size
        self.distribute = distribute
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.scoring = scoring

    # ----------------------------------------------------------- fitting
    def fit(self, X, y, sample_weight=None, **kwargs):
        """Build the network for ``X``'s schema and train it.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            FeatureBuilder output, or a plain array whose column 0 holds user
            ids, column 1 item ids and the rest numeric features.
        y : array-like of shape (n_samples,)
            Binary labels (all ones allowed when ``negative_ratio > 0``).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights (sampled negatives get weight 1).
        **kwargs : dict
            Passed to ``keras.Model.fit``.

        Returns
        -------
        self : DeepRecommenderClassifier
        """
        return super().fit(X, y, sample_weight=sample_weight, **kwargs)

    def _check_fit_input(self, X, y):
        # Shared by fit and partial_fit.
        self._check_params()
        self._warn_if_distribute_dropped()
        y = self._check_target(y)
        self._schema_in = schema_of(X)
        return y

    def _check_params(self):
        who = type(self).__name__
        checks = [
            ("negative_ratio", numbers.Integral, 0, "an integer >= 0, e.g. 4"),
            ("epochs", numbers.Integral, 1, "an integer >= 1"),
            ("steps_per_execution", numbers.Integral, 1, "an integer >= 1"),
            ("predict_batch_size", numbers.Integral, 1, "an integer >= 1"),
        ]
        for name, kind, low, fix in checks:
            value = getattr(self, name)
            if not isinstance(value, kind) or isinstance(value, bool) or value < low:
                raise ValueError(f"{who}: {name}={value!r} is invalid; use {fix}.")
        batch_size = self.batch_size
        if batch_size is not None and (
            not isinstance(batch_size, numbers.Integral)
            or isinstance(batch_size, bool)
            or not (batch_size >= 1 or batch_size == -1)
        ):
            raise ValueError(
                f"{who}: batch_size={batch_size!r} is invalid; use an integer >= 1 "
                "(e.g. 256), or -1 for the whole training set."
            )
        if not (self.early_stopping == "auto" or isinstance(self.early_stopping, (bool, np.bool_))):
            raise ValueError(
                f"{who}: early_stopping={self.early_stopping!r} is invalid; use 'auto', "
                "True or False."
            )
        fraction = self.validation_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not (
            0 < fraction < 1
        ):
            raise ValueError(
                f"{who}: validation_fraction={fraction!r} is invalid; use a number "
                "between 0 and 1, e.g. 0.1."
            )
        no_change = self.n_iter_no_change
        if not isinstance(no_change, numbers.Integral) or isinstance(no_change, bool) or (
            no_change < 1
        ):
            raise ValueError(
                f"{who}: n_iter_no_change={no_change!r} is invalid; use an integer "
                ">= 1, e.g. 5 (or early_stopping=False to train every epoch)."
            )
        if isinstance(self.tol, bool) or not isinstance(self.tol, numbers.Real) or not (
            self.tol >= 0
        ):
            raise ValueError(f"{who}: tol={self.tol!r} is invalid; use a number >= 0.")
        parse_scoring(who, self.scoring)
        if self.early_stopping is True and self._validation_split() > 0:
            raise ValueError(
                f"{who}: early_stopping=True holds out validation users itself; "
                f"validation_split={self._validation_split()!r} would hold out other "
                "rows. Pass one of them (validation_split=0.0 or early_stopping=False)."
            )
        if not 0 <= self.unknown_id_rate < 1:
            raise ValueError(
                f"{who}: unknown_id_rate={self.unknown_id_rate!r} must be in [0, 1)."
            )
        self._distribution_strategy()  # refuses an invalid distribute

    # ------------------------------------------------------ distribution
    def _distribution_strategy(self):
        """The ``tf.distribute.Strategy`` that ``distribute`` names, or None."""
        who = type(self).__name__
        value = getattr(self, "distribute", None)  # absent from older pickles
        if value is None:
            return None
        if isinstance(value, str) and value == "mirrored":
            return _mirrored_strategy()
        if not isinstance(value, tf.distribute.Strategy):
            raise ValueError(
                f"{who}: distribute={value!r} is not a tf.distribute.Strategy; pass "
                "a strategy object, e.g. distribute=tf.distribute.MirroredStrategy(), "
                "the string 'mirrored', or None to train on one device."
            )
        n_replicas = value.num_replicas_in_sync
        if (
            n_replicas > 1
            and type(self)._train is not DeepRecommenderClassifier._train
        ):
            # Only _batched_dataset splits batches evenly: Keras' first-batch
            # build fails on uneven splits and the loss would weigh rows unevenly.
            raise ValueError(
                f"{who}: distribute={value.__class__.__name__} with {n_replicas} replicas "
                "is not supported: this model builds its own training batches, which "
                "are not split evenly across replicas. Use distribute=None."
            )
        # (The default strategy has one replica and no worker_devices.)
        n_workers = n_replicas // len(value.extended.worker_devices) if n_replicas > 1 else 1
        if n_workers > 1 and self.random_state is None:
            # Every worker builds the epochs (shuffle, negatives) itself and
            # keeps its share of each global batch: the epochs must match.
            raise ValueError(
                f"{who}: distribute={value.__class__.__name__} spans {n_workers} workers "
                "but random_state is None; pass the same integer random_state on "
                "every worker, e.g. random_state=0, so that all workers draw the "
                "same batches."
            )
        return value

    def _build_scope(self):
        strategy = self._distribution_strategy()
        return super()._build_scope() if strategy is None else strategy.scope()

    def _after_build(self, model):
        strategy = self._distribution_strategy()
        if strategy is not None and strategy.num_replicas_in_sync > 1 and not isinstance(
            strategy, tf.distribute.TPUStrategy
        ):
            # Keras runs steps_per_execution > 1 steps in a tf.cond inside a
            # while loop, where the optimizer's cross-replica merge_call fails
            # ("You must feed a value for placeholder tensor", keras#19246).
            model.steps_per_execution = 1
        return model

    def _warn_if_distribute_dropped(self):
        dropped = vars(self).get("_distribute_dropped")
        if dropped is not None and getattr(self, "distribute", None) is None:
            warnings.warn(
                f"{type(self).__name__} was pickled with distribute={dropped}, which "
                "cannot be pickled and was replaced by None: this fit runs on one "
                "device. Pass the strategy again with set_params(distribute=...), "
                "or set_params(distribute=None) to silence this warning.",
                UserWarning,
                stacklevel=_caller_level(),
            )

    def set_params(self, **params):
        """Set the parameters of this estimator (see scikit-learn's ``set_params``).

        Parameters
        ----------
        **params : dict
            Estimator parameters, including routed ones (``optimizer__x``).

        Returns
        -------
        self : DeepRecommenderClassifier
        """
        if "distribute" in params:
            vars(self).pop("_distribute_dropped", None)
        return super().set_params(**params)

    def __getstate__(self):
        state = dict(super().__getstate__())
        strategy = state.get("distribute")
        if isinstance(strategy, tf.distribute.Strategy):
            # A strategy holds this process's devices and threads: it cannot
            # be pickled, and a loaded model may run on another machine.
            state["distribute"] = None
            state["_distribute_dropped"] = (
                f"{type(strategy).__name__}({strategy.num_replicas_in_sync} replicas)"
            )
        return state

    def __deepcopy__(self, memo):
        # A copied strategy would repeat the original's collective-op keys
        # (a clash at the next fit); a copy in this process shares it.
        strategy = getattr(self, "distribute", None)
        if isinstance(strategy, tf.distribute.Strategy):
            memo[id(strategy)] = strategy
        twin = type(self).__new__(type(self))
        memo[id(self)] = twin
        state = dict(BaseEstimator.__getstate__(self))
        twin.__setstate__(copy.deepcopy(state, memo))
        return twin

    def __sklearn_clone__(self):
        strategy = getattr(self, "distribute", None)
        if not isinstance(strategy, tf.distribute.Strategy):
            return super().__sklearn_clone__()
        # clone() would deep-copy the strategy, whose collective-op keys then
        # clash with the original's: share it, like any handle on devices.
        view = type(self).__new__(type(self))
        vars(view).update(vars(self), distribute=None)
        twin = super(DeepRecommenderClassifier, view).__sklearn_clone__()
        twin.distribute = strategy
        return twin

    def _check_target(self, y):
        who = type(self).__name__
        if y is None:
            raise ValueError(
                f"{who} requires y to be passed, but the target y is None; pass "
                "one binary label per row (all ones for implicit feedback with "
                "negative_ratio > 0)."
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
        kind = type_of_target(y)
        if kind == "unknown":
            raise ValueError(
                f"{who}: Unknown label type {y.dtype}; pass one binary label per "
                "row, e.g. y = (rating >= 4).astype(int)."
            )
        classes = np.unique(y)
        if kind not in ("binary", "multiclass") or len(classes) > 2:
            raise ValueError(
                f"{who}: Only binary classification is supported: y must be one "
                f"binary label per row; got a {kind} target with classes "
                f"{classes[:5].tolist()}. Binarise it first, e.g. "
                "y = (rating >= 4).astype(int)."
            )
        if self.negative_ratio == 0 and len(classes) < 2:
            raise ValueError(
                f"{who}: y holds one class only ({classes.tolist()}); with "
                "negative_ratio=0 labels are used as given and both classes are "
                "needed. For implicit feedback (positives only) pass "
                "negative_ratio=4 to sample negatives."
            )
        if self.negative_ratio > 0 and not set(classes.tolist()) <= {0, 1}:
            raise ValueError(
                f"{who}: with negative_ratio={self.negative_ratio} y must be 0/1 "
                f"(1 = implicit positive); got classes {classes.tolist()}."
            )
        return y

    def _label_categories(self):
        if self.negative_ratio > 0:
            # Sampled negatives are class 0 even when y holds only positives.
            return [np.array([0, 1])]
        return None

    def _input_encoder(self):
        return InputSplitter(schema=getattr(self, "_schema_in", None))

    def _train(self, X, y, sample_weight, *, epochs, initial_epoch, warm_start, fit_kwargs):
        kwargs = fit_kwargs
        who = type(self).__name__
        y = np.asarray(y).reshape(-1)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float32).reshape(-1)
        early = self._early_stopping_active(y)
        validation = monitor = None
        if early:
            # A per-user hold-out of the training rows, chosen once per fit.
            user_key, _, _ = _id_inputs(self.feature_encoder_.schema_)
            users = X[user_key].astype(np.int64)
            rng = np.random.default_rng(None if self._seed is None else [self._seed, 1])
            held = hold_out_users(who, users, y == 1, self.validation_fraction, rng)
            X_valid = {key: value[held] for key, value in X.items()}
            X = {key: value[~held] for key, value in X.items()}
            y_valid, y = y[held], y[~held]
            if sample_weight is not None:
                sample_weight = sample_weight[~held]
        sampler = EpochSampler(self, X, y, initial_epoch, shuffle=self.shuffle)
        split = self._validation_split()
        if split > 0 and not early:
            # Keras' validation_split would take the last rows of each epoch's
            # reshuffled, resampled arrays: other rows every epoch, all of them
            # trained on in other epochs. Hold out the input's last rows once
            # (Keras' rule), with their negatives drawn once.
            cut = int(np.floor(y.shape[0] * (1.0 - split)))
            if cut == 0 or cut == y.shape[0]:
                raise ValueError(
                    f"{who}: validation_split={split} leaves no "
                    f"{'training' if cut == 0 else 'validation'} rows out of "
                    f"{y.shape[0]}; use a split between 1/n and 1 - 1/n."
                )
            validation = sampler.hold_out(cut, sample_weight)
            if sample_weight is not None:
                sample_weight = sample_weight[:cut]
        batch_size = kwargs.get("batch_size", self._routed("fit", "batch_size", self.batch_size))
        batch_size = 32 if batch_size is None else batch_size  # Keras' default
        batch_size = sampler.n_rows if batch_size == -1 else batch_size
        n_replicas = self.model_.distribute_strategy.num_replicas_in_sync
        if early:
            metric, k = parse_scoring(who, self.scoring)
            if metric == "loss":
                X_val, y_val, *w_val = sampler.validation_rows(X_valid, y_valid)
                score = _ValidationLoss(batched_dataset(
                    X_val, y_val, w_val[0] if w_val else None, batch_size
                ))
            else:
                score = RankingValidation(
                    X, X_valid, y, sampler.user_key, sampler.item_key,
                    item_tables(sampler.X, sampler.item_key, sampler.item_side_keys,
                                sampler.item_numeric_columns, sampler.n_items),
                    sampler.n_items, metric, k, getattr(self, "_score_encoded", None),
                ).score
            monitor = EarlyStoppingMonitor(score, self.n_iter_no_change, self.tol,
                                           verbose=self.verbose, network=self.model_)
        # Keras' own pipeline for in-memory arrays shuffles and gathers every
        # batch in a parallel map; on a 2-core CPU that costs a fifth or more of
        # the throughput. We shuffle in NumPy and hand Keras whole batches,
        # drawn afresh for every epoch of one Keras fit.
        kwargs.update(shuffle=False, batch_size=None, validation_split=0.0)
        if validation is not None:
            X_val, y_val, *w_val = validation
            kwargs["validation_data"] = batched_dataset(
                X_val, y_val, w_val[0] if w_val else None,
                kwargs.pop("validation_batch_size", None) or batch_size, n_replicas,
            )
        network = self._training_network()
        if network is self.model_:
            dataset, clock = epoch_dataset(
                lambda: sampler.epoch(sample_weight),
                (X, y.astype(np.float32).reshape(-1, 1), sample_weight),
                sampler.n_rows, batch_size, n_replicas,
            )
        else:  # groups of 1 + negative_ratio rows; batch_size still counts rows
            group = 1 + self.negative_ratio
            dataset, clock = epoch_dataset(
                lambda: sampler.epoch_groups(sample_weight), sampler.group_template(),
                y.shape[0], max(1, batch_size // group), n_replicas,
            )
            dataset = dataset.map(_rows_of_groups)
        callbacks = [clock] + ([monitor] if monitor else [])
        callbacks += list(kwargs.pop("callbacks", None) or [])
        self._keras_fit(
            dataset, epochs=epochs, initial_epoch=initial_epoch, warm_start=warm_start,
            callbacks=callbacks, network=None if network is self.model_ else network,
            **kwargs,
        )
        self._record_epochs(monitor, initial_epoch)

    def _training_network(self):
        """The Keras model that ``fit`` trains: ``model_`` (a subclass may train a twin)."""
        return self.model_

    def _record_epochs(self, monitor, initial_epoch):
        """Set ``n_iter_``, ``validation_scores_``, ``best_iteration_`` after a fit."""
        n_run = len(self.history_.get("loss", [])) - (initial_epoch if self._partial else 0)
        self.n_iter_ = (getattr(self, "n_iter_", 0) if self._partial else 0) + max(n_run, 0)
        if monitor is None:
            self.validation_scores_ = None
            self.best_iteration_ = None
            self.best_validation_score_ = None
        else:
            self.validation_scores_ = list(monitor.scores)
            self.best_iteration_ = monitor.best_epoch + 1
            self.best_validation_score_ = monitor.best_score

    def _early_stopping_active(self, y):
        """Whether this fit holds out validation users and stops early."""
        if self._partial:
            return False  # partial_fit trains one epoch, as asked
        if isinstance(self.early_stopping, str):  # "auto"
            return (
                int((y == 1).sum()) >= AUTO_EARLY_STOPPING_ROWS
                and not self._validation_split()
            )
        return bool(self.early_stopping)

    def partial_fit(self, X, y, sample_weight=None, **kwargs):
        """Train one more epoch (the first call builds the network).

        Early stopping does not apply: each call is one epoch.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            As in :meth:`fit`.
        y : array-like of shape (n_samples,)
            As in :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), default=None
            As in :meth:`fit`.
        **kwargs : dict
            Passed to ``keras.Model.fit``.

        Returns
        -------
        self : DeepRecommenderClassifier
        """
        self._partial = True
        try:
            return super().partial_fit(X, y, sample_weight=sample_weight, **kwargs)
        finally:
            self._partial = False

    def _validation_split(self):
        return self._routed("fit", "validation_split", self.validation_split) or 0

    def _predict_rows(self, X, **kwargs):
        check_same_schema(type(self).__name__, X, getattr(self, "input_schema_", None))
        if "batch_size" not in kwargs:
            kwargs["batch_size"] = self._routed("predict", "batch_size", self.predict_batch_size)
        return super()._predict_rows(X, **kwargs)

    def _encoded_inputs(self, X):
        """The network's input arrays for model input ``X`` (hooks of recommend).

        The same checks as ``predict``: ``X`` must come from the FeatureBuilder
        the model was fitted on; then it is validated and split into the
        named Keras inputs.
        """
        check_same_schema(type(self).__name__, X, getattr(self, "input_schema_", None))
        return self._encode_input(X)

    # ----------------------------------------------------------- network
    def _make_model(self, compile_kwargs):
        schema = self.input_schema_
        inputs = {}
        for position, entry in enumerate(schema):
            if entry["kind"] in INDEX_KINDS:
                name = input_name(position)
                inputs[name] = keras.Input(shape=(), dtype="int32", name=name)
        n_numeric = sum(entry["kind"] == "numeric" for entry in schema)
        if n_numeric:
            inputs[NUMERIC_INPUT] = keras.Input(
                shape=(n_numeric,), dtype="float32", name=NUMERIC_INPUT
            )
        n_history = sum(entry["kind"] == "sequence" for entry in schema)
        if n_history:
            # A network that does not read it (e.g. NCF) leaves it unconnected.
            inputs[HISTORY_INPUT] = keras.Input(
                shape=(n_history,), dtype="int32", name=HISTORY_INPUT
            )
        probability = self._build_network(_Features(schema, inputs))
        # TensorFlow scope names cannot start with "_" (e.g. a private subclass).
        name = re.sub(r"[^A-Za-z0-9_.]", "_", type(self).__name__).lstrip("_") or "model"
        model = keras.Model(inputs=inputs, outputs=probability, name=name)
        model.compile(
            **compile_kwargs,
            jit_compile=bool(self.jit_compile),
            steps_per_execution=self.steps_per_execution,
        )
        return model

    def _build_network(self, features):  # pragma: no cover - abstract
        """Map :class:`_Features` to a ``(batch, 1)`` sigmoid probability."""
        raise NotImplementedError


def _caller_level():
    """``warnings.warn`` stacklevel of the first frame outside skrec and scikeras."""
    level, frame = 2, sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
        ("skrec.", "scikeras.")
    ):
        level, frame = level + 1, frame.f_back
    return level


@functools.lru_cache(maxsize=None)
def _mirrored_strategy():
    """The process's ``MirroredStrategy`` over all its GPUs (or the CPU), made once."""
    return tf.distribute.MirroredStrategy()


class _Features:
    """The Keras inputs of one model, looked up by role.

    Parameters
    ----------
    schema : list of dict
        Column descriptions (see :mod:`skrec.models._inputs`).
    inputs : dict of str to KerasTensor
        The model's inputs, keyed by input name.
    """

    def __init__(self, schema, inputs):
        self.schema = schema
        self.inputs = inputs

    def _index_entry(self, side, kind="id"):
        for position, entry in enumerate(self.schema):
            if entry["kind"] == kind and entry["side"] == side:
                return entry, self.inputs[input_name(position)]
        raise ValueError(f"the input schema has no {side} {kind} column")

    @property
    def user(self):
        """``(vocabulary_size, input)`` of the user id."""
        entry, tensor = self._index_entry("user")
        return entry["vocabulary_size"], tensor

    @property
    def item(self):
        """``(vocabulary_size, input)`` of the item id."""
        entry, tensor = self._index_entry("item")
        return entry["vocabulary_size"], tensor

    @property
    def categorical(self):
        """List of ``(name, vocabulary_size, input)`` of side categoricals."""
        return [
            (str(entry["name"]), entry["vocabulary_size"], self.inputs[input_name(p)])
            for p, entry in enumerate(self.schema)
            if entry["kind"] == "categorical"
        ]

    @property
    def numeric(self):
        """The stacked numeric input, or None."""
        return self.inputs.get(NUMERIC_INPUT)

    @property
    def history(self):
        """``(vocabulary_size, input)`` of the item history, or None.

        The input is ``(batch, N)`` int32: the user's last ``N`` positive items
        before the row's time, oldest first, left-padded with 0 (never an
        item, so ``Embedding(vocabulary_size, dim, mask_zero=True)`` masks
        it; but a masked mean, e.g. ``GlobalAveragePooling1D``, of a row with
        no history is 0 / 0: divide by ``maximum(count, 1)`` instead). Its
        vocabulary is the item id's, so an item embedding can be shared with it.
        """
        entries = [entry for entry in self.schema if entry["kind"] == "sequence"]
        if not entries:
            return None
        return entries[0]["vocabulary_size"], self.inputs[HISTORY_INPUT]


def _id_inputs(schema):
    """``(user input name, item input name, item vocabulary size)`` of a schema."""
    user_key = item_key = n_items = None
    for position, entry in enumerate(schema):
        if entry["kind"] == "id" and entry["side"] == "user":
            user_key = input_name(position)
        elif entry["kind"] == "id" and entry["side"] == "item":
            item_key, n_items = input_name(position), int(entry["vocabulary_size"])
    return user_key, item_key, n_items


class _ValidationLoss:
    """The validation score of ``scoring="loss"``: minus the loss on the held-out rows.

    Also reported as ``val_loss`` in the epoch's logs (and ``history_``).
    """

    def __init__(self, dataset):
        self.dataset = dataset

    def __call__(self, network, logs):
        loss = network.evaluate(self.dataset, verbose=0, return_dict=True)["loss"]
        logs["val_loss"] = float(loss)
        return -float(loss)


def _rows_of_groups(X, y, w):
    """A batch of groups as the rows a grouped network outputs: ``(groups * G, ...)``."""
    return X, tf.reshape(y, (-1, 1)), tf.reshape(w, (-1,))
