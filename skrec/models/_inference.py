"""Predictions that depend on the rows and the weights, not on the process's thread pools.

TensorFlow's CPU kernels split large matrix products and reductions across
the process's intra-op thread pool, and the split decides the order of the
floating-point additions. Measured on a 2-core AMD EPYC (TensorFlow 2.21,
oneDNN off): the product of a (512 x 1024) and a (1024 x 64) float32 matrix
differs in 30k of its 32k entries between 1 and 2 intra-op threads. A model
fitted in a pytest-xdist worker (1 thread) and reloaded in a fresh process
(one thread per core) could therefore predict differently in the last bit.

So every prediction runs the model's inference graph in a private
``tf.compat.v1.Session`` whose kernels run on one thread each
(``intra_op_parallelism_threads=1``; TensorFlow honours a session's own
intra-op pool only under ``TF_OVERRIDE_GLOBAL_THREADPOOL=1``, which
:mod:`skrec._tf` sets before TensorFlow starts). A call with several batches
runs them in parallel on Python threads, so the cores are still used. A
row's score then depends on its batch (the rows predicted with it), the
weights, the CPU and TensorFlow's kernel choice (oneDNN on or off, read once
per process from ``TF_ENABLE_ONEDNN_OPTS``), and not on thread settings or
load.

The graph is traced once per model and input signature, with the weights as
inputs: :class:`WeightSnapshot` reads them once per call, so a model trained
further (``partial_fit``, ``warm_start``) is never scored with stale weights.
"""

import concurrent.futures
import os
import threading
import warnings
import weakref

import numpy as np

from .. import _tf as _tf_module
from .._tf import tf
from tensorflow.core.protobuf import config_pb2  # noqa: E402  (after the quiet import)

_GRAPHS = weakref.WeakKeyDictionary()
_GRAPHS_LOCK = threading.Lock()
_POOL = None
_POOL_LOCK = threading.Lock()
_WARNED = False


def batched_predict(model, X, batch_size):
    """``model(X, training=False)`` in batches of ``batch_size`` rows, as a NumPy array.

    ``X`` is an array or a dict of arrays with the same number of rows, and
    ``model`` a Keras model with one output. See the module docstring for
    why the result does not depend on the process's thread settings.
    """
    return WeightSnapshot(model).predict(X, batch_size)


class WeightSnapshot:
    """A Keras model's inference function on its weights as they are now.

    Read once, the weights serve every batch of every :meth:`predict` call,
    so that a caller scoring many blocks (``recommend``) copies them once.

    Parameters
    ----------
    model : keras.Model
        A model with one output.
    """

    def __init__(self, model):
        self.model = model
        self._feeds = {}

    def predict(self, X, batch_size):
        """``model(X, training=False)`` in batches of ``batch_size`` rows.

        Parameters
        ----------
        X : ndarray or dict of str to ndarray
            The model's inputs, all with the same number of rows.
        batch_size : int
            Rows per batch.

        Returns
        -------
        outputs : ndarray of shape (n_rows, ...)
        """
        arrays = X if isinstance(X, dict) else {None: X}
        arrays = {key: np.asarray(value) for key, value in arrays.items()}
        n_rows = len(next(iter(arrays.values())))
        graph = _inference_graph(self.model, arrays)
        weights = self._feeds.get(graph)
        if weights is None:
            weights = self._feeds[graph] = graph.read_weights()
        batch_size = max(int(batch_size), 1)
        starts = range(0, n_rows, batch_size) if n_rows else [0]

        def run(start):
            batch = [arrays[key][start:start + batch_size] for key in graph.input_keys]
            return graph.run(batch, weights)

        if len(starts) == 1:
            return run(starts[0])
        return np.concatenate(list(_pool().map(run, starts)))


class _InferenceGraph:
    """One model's inference graph for one input signature, in a private session.

    The variables the traced function reads become placeholders: their
    current values are fed with every batch (see :class:`WeightSnapshot`).
    """

    def __init__(self, model, arrays):
        from tensorflow.python.framework.convert_to_constants import (
            convert_variables_to_constants_v2_as_graph,
        )

        self.input_keys = sorted(arrays, key=str)
        specs = {
            key: tf.TensorSpec((None, *value.shape[1:]), tf.as_dtype(value.dtype))
            for key, value in arrays.items()
        }
        signature = specs[None] if None in specs else specs
        function = tf.function(lambda inputs: model(inputs, training=False))
        concrete = function.get_concrete_function(signature)
        outputs = tf.nest.flatten(concrete.structured_outputs)
        if len(outputs) != 1:
            raise ValueError(
                f"skrec predicts models with one output; {model.name} has {len(outputs)}."
            )
        # Freezing converts every read of a variable (ReadVariableOp, and
        # ResourceGather in embeddings, inside loops too) into plain ops on a
        # Const named after the captured handle; those Consts become inputs.
        handles = {internal.op.name: external for external, internal in concrete.graph.captures
                   if internal.dtype == tf.resource}
        _, graph_def = convert_variables_to_constants_v2_as_graph(concrete)
        self._handles, weight_names = [], []
        for node in graph_def.node:
            if node.op == "Const" and node.name in handles:
                value = node.attr["value"].tensor
                dtype, shape = value.dtype, value.tensor_shape
                node.op = "Placeholder"
                node.ClearField("attr")
                node.attr["dtype"].type = dtype
                node.attr["shape"].shape.CopyFrom(shape)
                self._handles.append((handles[node.name], tf.dtypes.as_dtype(dtype)))
                weight_names.append(node.name + ":0")
        graph = tf.Graph()
        with graph.as_default():
            tf.graph_util.import_graph_def(graph_def, name="")
        input_names = [tensor.name for tensor in concrete.inputs[: len(self.input_keys)]]
        # concrete.inputs lists the flattened signature (dict keys sorted) first.
        config = tf.compat.v1.ConfigProto(
            intra_op_parallelism_threads=1,
            inter_op_parallelism_threads=_n_threads(),
            use_per_session_threads=True,
            allow_soft_placement=True,
        )
        self._session = tf.compat.v1.Session(graph=graph, config=config)
        # The direct callable: Session.make_callable with feeds goes through
        # Session.run's Python feed handling, a millisecond per call.
        options = config_pb2.CallableOptions()
        options.feed.extend(input_names + weight_names)
        options.fetch.append(outputs[0].name)
        self._run = self._session._make_callable_from_options(options)

    def read_weights(self):
        """The current value of every variable the graph reads, as NumPy arrays.

        Read without a copy: the arrays view TensorFlow's buffers, which a
        later assignment to a variable copies before writing, so a snapshot
        keeps the values it read.
        """
        return [
            np.asarray(tf.raw_ops.ReadVariableOp(resource=handle, dtype=dtype))
            for handle, dtype in self._handles
        ]

    def run(self, batch, weights):
        """The output for one batch (inputs in ``input_keys`` order)."""
        return np.asarray(self._run(*batch, *weights)[0])

    def __del__(self):
        session = getattr(self, "_session", None)
        if session is not None:
            try:
                session.close()
            except Exception:  # pragma: no cover - interpreter shutdown
                pass


def _inference_graph(model, arrays):
    """The cached :class:`_InferenceGraph` of ``model`` for the signature of ``arrays``."""
    signature = tuple(
        (str(key), value.dtype.str, value.shape[1:])
        for key, value in sorted(arrays.items(), key=lambda item: str(item[0]))
    )
    with _GRAPHS_LOCK:
        graphs = _GRAPHS.setdefault(model, {})
        graph = graphs.get(signature)
        if graph is None:
            _warn_if_shared_thread_pool()
            graph = graphs[signature] = _InferenceGraph(model, arrays)
    return graph


def _warn_if_shared_thread_pool():
    global _WARNED
    if _tf_module.STARTED_BEFORE_SKREC and not _WARNED:
        _WARNED = True
        warnings.warn(
            "TensorFlow was running before skrec was imported, so skrec could not "
            "give its predictions a thread pool of their own: they use the "
            "process's, and may differ in the last bit from the same model's "
            "predictions in a process with other thread settings. Import skrec "
            "before running TensorFlow operations, or start Python with the "
            "environment variable TF_OVERRIDE_GLOBAL_THREADPOOL=1.",
            UserWarning,
            stacklevel=2,
        )


def _n_threads():
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _pool():
    """The threads that run a call's batches side by side (one per usable core)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = concurrent.futures.ThreadPoolExecutor(
                max_workers=_n_threads(), thread_name_prefix="skrec-predict"
            )
    return _POOL
