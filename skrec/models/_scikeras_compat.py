"""Every workaround for scikeras 0.13 lives here, and only here.

scikeras is unmaintained; replacing it later (for example with
``keras.wrappers.SKLearnClassifier``) should touch this one module. What it
fixes, each checked by ``tests/models/test_scikeras_compat.py`` on the newest
scikit-learn:

1. Tags on scikit-learn >= 1.6. ``KerasClassifier`` lists ``ClassifierMixin``
   after ``BaseEstimator``, so its tags say ``estimator_type=None``:
   ``is_classifier`` is False, classifier CV defaults (stratified folds) do not
   apply and ``scoring="roc_auc"`` silently yields NaN in ``cross_val_score``
   and ``GridSearchCV``. We declare the classifier tags explicitly.
2. Feature-encoder metadata. ``BaseWrapper._initialize`` asks an *unfitted*
   fresh ``feature_encoder`` for ``get_metadata()``, so metadata learned while
   fitting the encoder never reaches the model builder. We read it from the
   fitted encoder.
3. Seeding. scikeras seeds through ``tensorflow_random_state``, which turns
   on TensorFlow op determinism; Keras then silently refuses XLA
   (``jit_compile``), so the option would do nothing. We seed Python, NumPy and
   TensorFlow ourselves around model building and training, without op
   determinism (CPU kernels used here are deterministic for a fixed seed and
   thread count, which the tests check). Keras draws initial-weight seeds
   from the module-level ``random``, shared with every thread of the process;
   during a fit it draws from a private ``random.Random`` with the same seed,
   so a thread drawing meanwhile (a Dask worker's event loop) changes nothing.
4. Input checks scikit-learn's conventions expect: sparse input is refused
   with scikit-learn's own message, and a column count that differs from
   ``fit`` names both counts.
5. The ``learning_rate`` convenience parameter. scikeras only routes
   ``optimizer__learning_rate``; we inject ``learning_rate`` unless the user
   routed one explicitly.
6. ``predict_proba`` on a single row: scikeras squeezes its output to shape
   ``(2,)``; scikit-learn (and a web service scoring one request) expects
   ``(1, 2)``.
7. Prediction speed. scikeras calls ``keras.Model.predict``, which runs the
   model's ``steps_per_execution`` (a training setting) and traces again for
   every new final-batch size: scoring 1.6 million candidate rows took 11 s
   with ``steps_per_execution=32`` against 1.3 s for the same batches through
   one graph with an unknown batch dimension. Unless predict callbacks or
   other ``predict__*`` arguments are given, we predict through such a graph,
   traced once per model and input signature, which also makes predictions
   independent of the process's thread settings (see
   :mod:`skrec.models._inference`).
8. Callbacks given to ``fit``. scikeras silently drops ``callbacks`` passed as
   a ``fit`` argument (``pipe.fit(X, y, model__callbacks=[...])``) and only
   runs those of the ``callbacks`` parameter, which are then pickled with
   the model. We run fit-argument callbacks for that call only.
9. Training another network. scikeras trains ``model_``; a sequence model
   trains a twin that shares its layers and reads groups of rows (one
   history per positive and its negatives). ``_keras_fit(...,
   network=...)`` trains that one for the call.

The contract skrec's models see
-------------------------------
Every scikeras private method is overridden here and only here; each calls a
skrec hook with a skrec name, so that no other module names a scikeras
private (``grep`` for ``_fit_keras_model``, ``_predict_raw``,
``_keras_build_fn``, ``_build_keras_model``, ``_validate_data``,
``_initialize``, ``target_encoder`` or ``feature_encoder`` finds them here
only):

- ``_check_fit_input(X, y) -> y``: validate parameters and the target
  before anything is built (``fit`` and ``partial_fit``);
- ``_make_model(compile_kwargs) -> keras.Model``: build and compile the
  network (``self.input_schema_`` holds the input schema by then);
- ``_build_scope()`` / ``_after_build(model)``: where the network is built
  (a distribution strategy's scope) and a last adjustment;
- ``_train(X, y, sample_weight, *, epochs, initial_epoch, warm_start,
  fit_kwargs)``: one fit; it calls ``_keras_fit(x, ...)`` (which runs Keras'
  ``fit`` the scikeras way: ``history_``, callbacks) on what it prepared;
- ``_label_categories()``: the class labels the target encoder must know
  (e.g. 0 and 1 when negatives are sampled), None for those of ``y``;
- ``_input_encoder()``: the transformer from model input to Keras inputs;
- ``_predict_rows(X, **kwargs)``: the raw ``(n, 1)`` positive-class output
  for model input ``X`` (default: the batched graph of workaround 7);
- helpers: ``_encode_input(X)`` (validate and transform model input),
  ``_routed(destination, name, default)`` (a routed parameter such as
  ``fit__batch_size``), ``_compile_arguments()``.
"""

import contextlib
import random

import numpy as np
import scipy.sparse as sp

from .._tf import keras  # quiet TensorFlow import before scikeras's
from scikeras._utils import route_params  # noqa: E402
from scikeras.utils.transformers import ClassifierLabelEncoder  # noqa: E402
from scikeras.wrappers import KerasClassifier  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.utils import ClassifierTags, TargetTags  # noqa: E402

from ._inference import batched_predict  # noqa: E402

try:  # where Keras 3 draws initial-weight seeds from (private; see seeded())
    from keras.src.random import seed_generator as _seed_generator  # noqa: E402
except ImportError:  # pragma: no cover - another Keras layout: global random only
    _seed_generator = None


@contextlib.contextmanager
def seeded(seed):
    """Seed Python, NumPy and TensorFlow for a block; restore the global RNGs."""
    if seed is None:
        yield
        return
    python_state, numpy_state = random.getstate(), np.random.get_state()
    # Keras draws the seeds of initial weights from the module-level ``random``,
    # which any other thread (a Dask worker's event loop, a server) may draw from
    # mid-fit; a private generator with the same seed gives the same draws, alone.
    keras_random = getattr(_seed_generator, "python_random", None)
    try:
        keras.utils.set_random_seed(int(seed))
        if keras_random is random:
            _seed_generator.python_random = random.Random(int(seed))
        yield
    finally:
        if keras_random is random:
            _seed_generator.python_random = keras_random
        random.setstate(python_state)
        np.random.set_state(numpy_state)


class KerasClassifierCompat(KerasClassifier):
    """``scikeras.wrappers.KerasClassifier`` fixed for current scikit-learn.

    Not public: subclass :class:`skrec.models.DeepRecommenderClassifier`.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags(multi_class=False)
        tags.target_tags = TargetTags(required=True)
        tags.classifier_tags.poor_score = True
        tags.non_deterministic = True
        tags.input_tags.allow_nan = False
        return tags

    def _initialize(self, X, y=None):
        self._seed = _seed_of(self.random_state)
        # None keeps scikeras from enabling op determinism (workaround 3).
        self._random_state = None

        X, y = self._validate_data(X, y, reset=True)
        self.target_encoder_ = self.target_encoder.fit(y)
        vars(self).update(**getattr(self.target_encoder_, "get_metadata", dict)())
        self.feature_encoder_ = self.feature_encoder.fit(X)
        # scikeras reads this from an unfitted encoder (workaround 2).
        vars(self).update(**getattr(self.feature_encoder_, "get_metadata", dict)())
        self.model_ = self._build_keras_model()
        self._initialize_callbacks()
        return X, y

    def _validate_data(self, X=None, y=None, reset=False, y_numeric=False):
        if X is not None:
            if sp.issparse(X):
                raise TypeError(
                    "A sparse matrix was passed, but dense data is required. Use "
                    "'.toarray()' to convert to a dense numpy array."
                )
            shape = getattr(X, "shape", ())
            n_features = shape[1] if len(shape) == 2 else None
            expected = getattr(self, "n_features_in_", None)
            if not reset and None not in (expected, n_features) and n_features != expected:
                raise ValueError(
                    f"X has {n_features} features, but {type(self).__name__} is "
                    f"expecting {expected} features as input; pass the same "
                    "columns as in fit."
                )
        return super()._validate_data(X, y, reset=reset, y_numeric=y_numeric)

    def predict_proba(self, X, **kwargs):
        """Class probabilities, shape ``(n_samples, 2)`` (also for one row).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Model input.
        **kwargs : dict
            Passed to ``keras.Model.predict``.

        Returns
        -------
        proba : ndarray of shape (n_samples, 2)
        """
        proba = super().predict_proba(X, **kwargs)
        return proba.reshape(1, -1) if proba.ndim == 1 else proba

    def _predict_raw(self, X, **kwargs):
        return self._predict_rows(X, **kwargs)

    def _predict_rows(self, X, **kwargs):
        """Raw ``(n_samples, 1)`` output of the network for model input ``X``."""
        # Same steps as scikeras' BaseWrapper._predict_raw, then workaround 7.
        if not self.initialized_:
            raise NotFittedError("Estimator needs to be fit before `predict` can be called")
        X, _ = self._validate_data(X=X, y=None)
        X = self.feature_encoder_.transform(X)
        pred_args = route_params(
            self.get_params(),
            destination="predict",
            pass_filter=self._predict_kwargs,
            strict=True,
        )
        pred_args = {k: v for k, v in pred_args.items() if not k.startswith("callbacks")}
        pred_args.update(kwargs)
        batch_size = pred_args.pop("batch_size", None) or 32
        if batch_size == -1:
            batch_size = len(next(iter(X.values()))) if isinstance(X, dict) else len(X)
        pred_args.pop("verbose", None)
        if pred_args or self._predict_callbacks:
            return self.model_.predict(
                x=X, batch_size=batch_size, callbacks=self._predict_callbacks, **pred_args
            )
        return batched_predict(self.model_, X, max(int(batch_size), 1))

    def _build_keras_model(self):
        with seeded(self._seed), self._build_scope():
            model = super()._build_keras_model()
        return self._after_build(model)

    def _keras_build_fn(self, meta, compile_kwargs):
        return self._make_model(compile_kwargs)

    def _fit(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        y = self._check_fit_input(X, y)
        if not (self.warm_start or warm_start) or not self.initialized_:
            # _initialize (called inside) sets the seed; draw it early so the
            # whole fit, building included, runs under it.
            self._seed = _seed_of(self.random_state)
        with seeded(getattr(self, "_seed", None)):
            return super()._fit(
                X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs
            )

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch,
                         **kwargs):
        return self._train(X, y, sample_weight, epochs=epochs, initial_epoch=initial_epoch,
                           warm_start=warm_start, fit_kwargs=kwargs)

    @property
    def target_encoder(self):
        categories = self._label_categories()
        if categories is None:
            return super().target_encoder
        return ClassifierLabelEncoder(loss=self.loss, categories=categories)

    @property
    def feature_encoder(self):
        encoder = self._input_encoder()
        return super().feature_encoder if encoder is None else encoder

    # ------------------------------------------- hooks (see module docstring)
    def _check_fit_input(self, X, y):
        """Validate parameters and ``y`` before a fit; return ``y`` as used."""
        return y

    def _make_model(self, compile_kwargs):  # pragma: no cover - abstract
        """Build and compile the Keras network (``self.input_schema_`` is set)."""
        raise NotImplementedError

    def _build_scope(self):
        """Context in which the network is built (e.g. a strategy's scope)."""
        return contextlib.nullcontext()

    def _after_build(self, model):
        """Adjust the freshly built network; return it."""
        return model

    def _train(self, X, y, sample_weight, *, epochs, initial_epoch, warm_start, fit_kwargs):
        """One fit of ``model_`` on encoded input ``X`` (default: Keras' own)."""
        self._keras_fit(X, y, sample_weight, epochs=epochs, initial_epoch=initial_epoch,
                        warm_start=warm_start, **fit_kwargs)

    def _label_categories(self):
        """Class labels the target encoder must know, or None for those of ``y``."""
        return None

    def _input_encoder(self):
        """Transformer from model input to the network's inputs, or None (scikeras')."""
        return None

    # -------------------------------------------------------------- helpers
    def _keras_fit(self, x, y=None, sample_weight=None, *, epochs, initial_epoch,
                   warm_start, callbacks=None, network=None, **fit_kwargs):
        """Run Keras ``fit`` the scikeras way (``history_``, the callbacks parameter).

        ``callbacks`` run for this call only (workaround 8); ``network`` (a
        Keras model sharing ``model_``'s layers, workaround 9) is trained in
        ``model_``'s place for this call.
        """
        kept_callbacks, kept_model = self._fit_callbacks, self.model_
        extra = list(callbacks or []) + list(fit_kwargs.pop("callbacks", None) or [])
        if extra:
            self._fit_callbacks = list(kept_callbacks or []) + extra
        if network is not None:
            self.model_ = network
        try:
            return KerasClassifier._fit_keras_model(
                self, x, y, sample_weight, warm_start, epochs, initial_epoch, **fit_kwargs
            )
        finally:
            self._fit_callbacks, self.model_ = kept_callbacks, kept_model

    def _encode_input(self, X):
        """Validate model input ``X`` and split it into the network's inputs."""
        X, _ = self._validate_data(X=X, y=None)
        return self.feature_encoder_.transform(X)

    def _routed(self, destination, name, default):
        """A routed parameter (``fit__batch_size``) if given, else ``default``."""
        return getattr(self, f"{destination}__{name}", default)

    def _compile_arguments(self):
        """The keyword arguments of ``keras.Model.compile`` from the parameters."""
        return self._get_compile_kwargs()

    def _get_compile_kwargs(self):
        params = {}
        if getattr(self, "learning_rate", None) is not None and not hasattr(
            self, "optimizer__learning_rate"
        ):
            # Routed params are read from attributes; set one for this call only.
            params["optimizer__learning_rate"] = self.learning_rate
        if not params:
            return super()._get_compile_kwargs()
        vars(self).update(params)
        try:
            return super()._get_compile_kwargs()
        finally:
            for name in params:
                delattr(self, name)


def _seed_of(random_state):
    if isinstance(random_state, np.random.RandomState):
        state = random_state.get_state()
        r = np.random.RandomState()
        r.set_state(state)
        return int(r.randint(low=1, high=2**31 - 1))
    return random_state
