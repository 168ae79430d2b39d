"""DeepRecommenderClassifier: what every skrec Keras recommender shares."""

import copy
import functools
import numbers
import re
import sys
import warnings

import numpy as np
from scikeras.utils.transformers import ClassifierLabelEncoder
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

    Other parameters (``optimizer``, ``loss``, ``epochs``, ``batch_size``,
    ``random_state``, ``verbose``, ``callbacks`` and the routed
    ``optimizer__*``, ``loss__*``, ``fit__*``, ``predict__*``) are those of
    :class:`scikeras.wrappers.KerasClassifier`.
    """

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

    def _fit(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        # Shared by fit and partial_fit.
        self._check_params()
        self._warn_if_distribute_dropped()
        y = self._check_target(y)
        self._schema_in = schema_of(X)
        return super()._fit(
            X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs
        )

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
            and type(self)._fit_keras_model is not DeepRecommenderClassifier._fit_keras_model
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

    def _build_keras_model(self):
        strategy = self._distribution_strategy()
        if strategy is None:
            return super()._build_keras_model()
        with strategy.scope():
            model = super()._build_keras_model()
        if strategy.num_replicas_in_sync > 1 and not isinstance(
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

    @property
    def target_encoder(self):
        if self.negative_ratio > 0:
            # Sampled negatives are class 0 even when y holds only positives.
            return ClassifierLabelEncoder(loss=self.loss, categories=[np.array([0, 1])])
        return super().target_encoder

    @property
    def feature_encoder(self):
        return InputSplitter(schema=getattr(self, "_schema_in", None))

    def _fit_keras_model(
        self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs
    ):
        y = np.asarray(y).reshape(-1)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float32).reshape(-1)
        sampler = _EpochSampler(self, X, y, initial_epoch, shuffle=self.shuffle)
        validation = None
        split = self._validation_split()
        if split > 0:
            # Keras' validation_split would take the last rows of each epoch's
            # reshuffled, resampled arrays: other rows every epoch, all of them
            # trained on in other epochs. Hold out the input's last rows once
            # (Keras' rule), with their negatives drawn once.
            cut = int(np.floor(y.shape[0] * (1.0 - split)))
            if cut == 0 or cut == y.shape[0]:
                raise ValueError(
                    f"{type(self).__name__}: validation_split={split} leaves no "
                    f"{'training' if cut == 0 else 'validation'} rows out of "
                    f"{y.shape[0]}; use a split between 1/n and 1 - 1/n."
                )
            validation = sampler.hold_out(cut, sample_weight)
            if sample_weight is not None:
                sample_weight = sample_weight[:cut]
        batch_size = kwargs.get("batch_size", getattr(self, "fit__batch_size", self.batch_size))
        batch_size = 32 if batch_size is None else batch_size  # Keras' default
        # Keras' own pipeline for in-memory arrays shuffles and gathers every
        # batch in a parallel map; on a 2-core CPU that costs a fifth or more of
        # the throughput. We shuffle in NumPy and hand Keras whole batches.
        kwargs.update(shuffle=False, batch_size=None, validation_split=0.0)
        n_replicas = self.model_.distribute_strategy.num_replicas_in_sync
        if validation is not None:
            kwargs["validation_data"] = validation
            kwargs.setdefault("validation_batch_size", batch_size if batch_size > 0 else None)
            if n_replicas > 1:
                # Keras' batches of the arrays may split unevenly across replicas.
                X_val, y_val, *w_val = validation
                size = kwargs.pop("validation_batch_size") or y_val.shape[0]
                kwargs["validation_data"] = _batched_dataset(
                    X_val, y_val, w_val[0] if w_val else None, size, n_replicas
                )
        for epoch in range(initial_epoch, initial_epoch + epochs):
            X_epoch, y_epoch, w_epoch = sampler.epoch(sample_weight)
            size = y_epoch.shape[0] if batch_size == -1 else batch_size
            super()._fit_keras_model(
                _batched_dataset(X_epoch, y_epoch, w_epoch, size, n_replicas),
                None,
                sample_weight=None,
                warm_start=warm_start or epoch > initial_epoch,
                epochs=1,
                initial_epoch=epoch,
                **kwargs,
            )

    def _validation_split(self):
        return getattr(self, "fit__validation_split", self.validation_split) or 0

    def _predict_raw(self, X, **kwargs):
        check_same_schema(type(self).__name__, X, getattr(self, "input_schema_", None))
        if not hasattr(self, "predict__batch_size") and "batch_size" not in kwargs:
            kwargs["batch_size"] = self.predict_batch_size
        return super()._predict_raw(X, **kwargs)

    def _encoded_inputs(self, X):
        """The network's input arrays for model input ``X`` (hooks of recommend).

        The same checks as ``predict``: ``X`` must come from the FeatureBuilder
        the model was fitted on; then it is validated and split into the
        named Keras inputs.
        """
        check_same_schema(type(self).__name__, X, getattr(self, "input_schema_", None))
        X, _ = self._validate_data(X=X, y=None)
        return self.feature_encoder_.transform(X)

    # ----------------------------------------------------------- network
    def _keras_build_fn(self, meta, compile_kwargs):
        schema = meta["input_schema_"]
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


def _batched_dataset(X, y, sample_weight, batch_size, n_replicas=1):
    """A ``tf.data.Dataset`` whose elements are whole, already shuffled batches.

    Under a strategy with ``n_replicas > 1``, Keras splits each element across
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
    parts = []
    if n_full:
        parts.append(tf.data.Dataset.from_tensor_slices(full))
    if cut < n_rows:
        parts.append(
            tf.data.Dataset.from_tensors(tf.nest.map_structure(lambda a: a[0], rest))
        )
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


class _EpochSampler:
    """Builds each epoch's training arrays: unknown-id masking and negatives."""

    def __init__(self, estimator, X, y, initial_epoch=0, shuffle=True):
        self.X = X
        self.y = y
        self.shuffle = shuffle
        self.ratio = estimator.negative_ratio
        self.unknown_rate = estimator.unknown_id_rate
        seed = estimator._seed
        # Keyed by the first epoch so that each partial_fit call draws fresh
        # negatives while fit(epochs=n) stays reproducible.
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
        if self.ratio > 0:
            self._prepare_negatives()

    def _prepare_negatives(self):
        users = self.X[self.user_key].astype(np.int64)
        items = self.X[self.item_key].astype(np.int64)
        self.positive_rows = np.flatnonzero(self.y == 1)
        self.positive_keys = np.unique(
            users[self.positive_rows] * self.n_items + items[self.positive_rows]
        )
        # Item-side features of every item index, as last seen in training.
        self.item_tables = {}
        for key in self.item_side_keys:
            table = np.zeros(self.n_items, dtype=self.X[key].dtype)
            table[items] = self.X[key]
            self.item_tables[key] = table
        if self.item_numeric_columns:
            numeric = self.X[NUMERIC_INPUT][:, self.item_numeric_columns]
            table = np.zeros((self.n_items, numeric.shape[1]), dtype=np.float32)
            table[items] = numeric
            self.item_numeric_table = table

    def _sample_items(self, users):
        items = self.rng.integers(1, self.n_items, size=users.size)
        keep = np.ones(users.size, dtype=bool)
        pending = np.arange(users.size)  # rows whose item may be a positive
        for _ in range(50):
            keys = users[pending] * self.n_items + items[pending]
            position = np.searchsorted(self.positive_keys, keys)
            position = np.minimum(position, self.positive_keys.size - 1)
            pending = pending[self.positive_keys[position] == keys]
            if pending.size == 0:
                break
            # Redraw, and re-check, only the rows that hit a positive.
            items[pending] = self.rng.integers(1, self.n_items, size=pending.size)
        else:  # users who hold (nearly) every item as a positive
            keep[pending] = False
        return items, keep

    def _negatives(self):
        rows = np.repeat(self.positive_rows, self.ratio)
        users = self.X[self.user_key][rows].astype(np.int64)
        items, keep = self._sample_items(users)
        rows, items = rows[keep], items[keep]
        negatives = {key: value[rows] for key, value in self.X.items()}
        negatives[self.item_key] = items.astype(np.int32)
        for key, table in self.item_tables.items():
            negatives[key] = table[items]
        if self.item_numeric_columns:
            numeric = negatives[NUMERIC_INPUT].copy()
            numeric[:, self.item_numeric_columns] = self.item_numeric_table[items]
            negatives[NUMERIC_INPUT] = numeric
        return negatives, rows.size

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
            self.positive_rows = np.flatnonzero(self.y == 1)
            train_positive_rows, train_X = self.positive_rows, self.X
            self.X, self.positive_rows = X_val, np.flatnonzero(y_val == 1)
            negatives, n_neg = self._negatives()
            self.X, self.positive_rows = train_X, train_positive_rows
            X_val = {key: np.concatenate([X_val[key], negatives[key]]) for key in X_val}
            y_val = np.concatenate([y_val, np.zeros(n_neg, dtype=y_val.dtype)])
            if w_val is not None:
                w_val = np.concatenate([w_val, np.ones(n_neg, dtype=w_val.dtype)])
        y_val = y_val.astype(np.float32).reshape(-1, 1)
        return (X_val, y_val) if w_val is None else (X_val, y_val, w_val)

    def epoch(self, sample_weight):
        X, y, w = self.X, self.y, sample_weight
        if self.ratio > 0:
            negatives, n_neg = self._negatives()
            X = {key: np.concatenate([X[key], negatives[key]]) for key in X}
            y = np.concatenate([y, np.zeros(n_neg, dtype=y.dtype)])
            if w is not None:
                w = np.concatenate([w, np.ones(n_neg, dtype=w.dtype)])
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
