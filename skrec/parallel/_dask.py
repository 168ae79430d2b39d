"""TensorFlowThreads: a Dask worker plugin that prepares workers for TensorFlow fits."""

import asyncio
import logging
import numbers
import os
import random
import threading

_INSTALL = 'pip install "skrec-deep[distributed]"'

try:
    from distributed import WorkerPlugin
except ImportError as exc:
    raise ImportError(
        "skrec.parallel runs searches on Dask, which is not installed; install the "
        f"distributed extra with: {_INSTALL}  (or: pip install \"dask[distributed]\")"
    ) from exc

logger = logging.getLogger(__name__)


class TensorFlowThreads(WorkerPlugin):
    """Dask worker plugin: size TensorFlow's thread pools, keep seeded fits reproducible.

    TensorFlow starts two thread pools per process the first time it runs an
    operation, each by default as large as the machine's cores: the intra-op
    pool splits one operation (a matrix product) over threads, the inter-op
    pool runs independent operations side by side. Several worker processes
    on one machine then each start a pool per core and oversubscribe it.
    Registered with :meth:`distributed.Client.register_plugin`, this plugin
    fixes both sizes on every worker, present or started later, before the
    worker runs TensorFlow work, and keeps the worker's own threads from
    drawing on the random stream that a fit's ``random_state`` seeds, so that
    a pipeline fitted on a worker equals the one fitted in the main process.

    Parameters
    ----------
    intra_op_threads : int, default=None
        Size of each worker's intra-op pool; None: the worker's ``nthreads``
        (the cores it was started with, ``dask worker --nthreads``).
    inter_op_threads : int, default=None
        Size of each worker's inter-op pool; None: the worker's ``nthreads``.
    thread_local_random : bool, default=True
        Give each thread of the worker process its own generator behind the
        functions of Python's :mod:`random` module. Keras draws the seeds of
        a network's initial weights from that module, which ``random_state``
        seeds; the worker's event loop draws from it too (``dask.sizeof``
        samples task results with ``random.sample``) while the next fit
        builds its network, so without this the same ``random_state`` gives
        different weights in a worker than in the main process.

    See Also
    --------
    worker_tensorflow_threads : The sizes the workers run with.

    Notes
    -----
    The sizes are set with :mod:`tf.config.threading` in the worker process
    and exported as ``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS``
    for processes the worker starts. TensorFlow cannot resize its pools once
    it has run an operation: registering the plugin on a worker that already
    ran TensorFlow with other sizes raises ``RuntimeError``;
    ``client.restart()`` then starts fresh worker processes, which get the
    plugin before any task.

    With ``thread_local_random=True``, a thread of the worker that seeds the
    :mod:`random` module (``random.seed``) no longer shares that stream with
    the other threads; code that seeds in one thread and draws in another
    must pass a :class:`random.Random` instead. Removing the plugin (or
    closing the worker) restores the module's functions. Workers of
    ``LocalCluster(processes=False)`` live in your own process: there the
    plugin changes your process's TensorFlow pools and :mod:`random`. With it, fits that run at the same time in
    threads of one worker (``nthreads > 1``) gave the same scores as fitted
    one after the other (measured with :class:`~skrec.models.NCFClassifier`);
    without it they do not. TensorFlow's and NumPy's global seeds stay shared
    by the process (skrec's models shuffle and sample with their own NumPy
    generators), so one thread per worker (``threads_per_worker=1``,
    ``dask worker --nthreads 1``) with the cores given to
    ``intra_op_threads`` is the safest set-up.

    Examples
    --------
    >>> from skrec.parallel import TensorFlowThreads
    >>> TensorFlowThreads()
    TensorFlowThreads()
    >>> TensorFlowThreads(intra_op_threads=4, inter_op_threads=2)
    TensorFlowThreads(intra_op_threads=4, inter_op_threads=2)

    On a cluster (skipped here: starting worker processes takes seconds):

    >>> from dask.distributed import Client, LocalCluster
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> client.register_plugin(TensorFlowThreads())  # doctest: +SKIP
    """

    # A fixed name: registering again replaces the plugin instead of adding one.
    name = "skrec.parallel.TensorFlowThreads"

    def __init__(self, intra_op_threads=None, inter_op_threads=None,
                 thread_local_random=True):
        for param, value in (
            ("intra_op_threads", intra_op_threads),
            ("inter_op_threads", inter_op_threads),
        ):
            valid = value is None or (
                isinstance(value, numbers.Integral)
                and not isinstance(value, bool)
                and value >= 1
            )
            if not valid:
                raise ValueError(
                    f"TensorFlowThreads: {param}={value!r} is not valid; pass an "
                    "integer >= 1, or None for the worker's nthreads"
                )
        if not isinstance(thread_local_random, bool):
            raise ValueError(
                f"TensorFlowThreads: thread_local_random={thread_local_random!r} is "
                "not valid; pass True or False"
            )
        self.intra_op_threads = intra_op_threads
        self.inter_op_threads = inter_op_threads
        self.thread_local_random = thread_local_random

    def __repr__(self):
        params = [
            f"{param}={value!r}"
            for param, value, default in (
                ("intra_op_threads", self.intra_op_threads, None),
                ("inter_op_threads", self.inter_op_threads, None),
                ("thread_local_random", self.thread_local_random, True),
            )
            if value is not default
        ]
        return f"TensorFlowThreads({', '.join(params)})"

    async def setup(self, worker):
        """Prepare the worker's random streams and TensorFlow pools (called by Dask)."""
        nthreads = worker.state.nthreads
        intra = self.intra_op_threads or nthreads
        inter = self.inter_op_threads or nthreads
        if nthreads > 1 and not self.thread_local_random:
            logger.warning(
                "worker %s runs %d tasks at a time and thread_local_random=False: "
                "concurrent fits share Python's random stream, so random_state does "
                "not reproduce their results; pass thread_local_random=True or start "
                "workers with --nthreads 1", worker.address, nthreads,
            )
        if self.thread_local_random:
            _use_thread_local_random()
        # Importing TensorFlow takes seconds: off the event loop, so that the
        # worker keeps answering the scheduler meanwhile.
        await asyncio.to_thread(_set_tensorflow_threads, intra, inter, worker.address)

    def teardown(self, worker):
        """Restore the :mod:`random` module's functions (called by Dask)."""
        if self.thread_local_random:
            _restore_random()


def _set_tensorflow_threads(intra, inter, where):
    from .._tf import tf

    pools = tf.config.threading
    try:
        pools.set_intra_op_parallelism_threads(intra)
        pools.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # TensorFlow already ran an operation in this process
        raise RuntimeError(
            f"TensorFlowThreads: worker {where} already runs TensorFlow with "
            f"intra_op_threads={pools.get_intra_op_parallelism_threads()}, "
            f"inter_op_threads={pools.get_inter_op_parallelism_threads()} "
            "(0: one per core), which cannot change in a running process; register "
            "the plugin before running TensorFlow work, or call client.restart() so "
            "that fresh worker processes start with "
            f"intra_op_threads={intra}, inter_op_threads={inter}"
        ) from None
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(intra)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(inter)


_THREAD_STATE = threading.local()
_GLOBAL_RANDOM_FUNCTIONS = {}


def _thread_generator():
    generator = getattr(_THREAD_STATE, "generator", None)
    if generator is None:
        generator = _THREAD_STATE.generator = random.Random()
    return generator


def _per_thread(name):
    def function(*args, **kwargs):
        return getattr(_thread_generator(), name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = getattr(random.Random, name).__doc__
    return function


def _use_thread_local_random():
    """Point the random module's functions at one generator per thread."""
    if _GLOBAL_RANDOM_FUNCTIONS:  # already done in this process
        return
    for name in dir(random):
        function = getattr(random, name)
        # random.seed, random.randint, ...: methods of the module's hidden
        # generator; names bound elsewhere with "from random import" keep it.
        if getattr(function, "__self__", None) is random._inst:
            _GLOBAL_RANDOM_FUNCTIONS[name] = function
            setattr(random, name, _per_thread(name))


def _restore_random():
    for name, function in _GLOBAL_RANDOM_FUNCTIONS.items():
        setattr(random, name, function)
    _GLOBAL_RANDOM_FUNCTIONS.clear()


def worker_tensorflow_threads(client):
    """The TensorFlow thread-pool sizes of every worker of a Dask client.

    Runs on each worker (with :meth:`distributed.Client.run`), so it shows
    what :class:`TensorFlowThreads` set there.

    Parameters
    ----------
    client : distributed.Client
        A client connected to the cluster.

    Returns
    -------
    threads : dict
        ``{worker_address: {"nthreads": ..., "intra_op_threads": ...,
        "inter_op_threads": ...}}``; ``nthreads`` is the number of tasks the
        worker runs at a time, and a pool size of 0 means TensorFlow's
        default (one thread per core).

    Examples
    --------
    Skipped here: starting worker processes takes seconds.

    >>> from dask.distributed import Client, LocalCluster
    >>> from skrec.parallel import TensorFlowThreads, worker_tensorflow_threads
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> client.register_plugin(TensorFlowThreads(intra_op_threads=2))  # doctest: +SKIP
    >>> worker_tensorflow_threads(client)  # doctest: +SKIP
    {'tcp://127.0.0.1:35473': {'nthreads': 1, 'intra_op_threads': 2, 'inter_op_threads': 1},
     'tcp://127.0.0.1:41265': {'nthreads': 1, 'intra_op_threads': 2, 'inter_op_threads': 1}}
    """
    return client.run(_tensorflow_threads)


def _tensorflow_threads(dask_worker):
    from .._tf import tf

    return {
        "nthreads": dask_worker.state.nthreads,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }
