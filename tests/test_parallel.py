"""skrec.parallel: a GridSearchCV on a Dask cluster equals the one run in-process."""

import importlib
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import skrec.parallel
from skrec import FeatureBuilder, NCFClassifier, make_interactions
from skrec.metrics import make_ranking_scorer

try:
    import distributed
except ImportError:  # the optional distributed extra is not installed
    distributed = None
else:
    from skrec.parallel import TensorFlowThreads, worker_tensorflow_threads

needs_dask = pytest.mark.skipif(
    distributed is None, reason='needs: pip install "skrec-deep[distributed]"'
)
GRID = {"ncfclassifier__embedding_dim": [4, 8, 16]}


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes, each with TensorFlowThreads."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        # No dashboard; its HTTP server (health checks) on a free port, so that
        # two pytest-xdist workers' clusters do not contend for port 8787.
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
    )
    client = distributed.Client(cluster)
    # intra-op from the worker's nthreads (1), inter-op given explicitly.
    client.register_plugin(TensorFlowThreads(inter_op_threads=2))
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def data():
    return make_interactions(
        n_users=60, n_items=40, n_interactions=1500, random_state=0, return_X_y=True
    )


def _search(**params):
    pipe = make_pipeline(
        FeatureBuilder(), NCFClassifier(epochs=1, embedding_dim=8, random_state=0)
    )
    # refit=False: best_params_ and the scores are what is compared; the
    # refit would only add one more fit in the main process to each search.
    return GridSearchCV(
        pipe, GRID, cv=2, scoring=make_ranking_scorer("ndcg", k=10), refit=False,
        **params,
    )


@needs_dask
@pytest.mark.slow
def test_search_on_dask_equals_search_in_process(client, data):
    X, y = data
    with distributed.get_task_stream(client) as tasks, parallel_config(backend="dask"):
        on_dask = _search().fit(X, y)
    in_process = _search(n_jobs=1).fit(X, y)

    # The fits really ran on both workers, not in this process.
    assert {task["worker"] for task in tasks.data} == set(
        client.scheduler_info()["workers"]
    )
    assert on_dask.best_params_ == in_process.best_params_
    # Exact: same seeds, and TensorFlow's results did not depend on its thread
    # count at this size (measured bit-identical with 1, 2 and 4 intra-op
    # threads; this process runs with TensorFlow's default or, under xdist, 1).
    for column in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(
            on_dask.cv_results_[column], in_process.cv_results_[column]
        )
    # The candidates are told apart: the comparison is not between ties.
    assert len(set(in_process.cv_results_["mean_test_score"])) == len(
        GRID["ncfclassifier__embedding_dim"]
    )


@needs_dask
@pytest.mark.slow
def test_plugin_prepares_every_worker(client):
    # One test for the plugin's three effects: with the search above, the
    # only users of the cluster; pytest-xdist hands each of its workers a
    # chunk of consecutive tests, so both normally share one cluster.
    threads = worker_tensorflow_threads(client)
    assert set(threads) == set(client.scheduler_info()["workers"])
    for sizes in threads.values():
        assert sizes == {"nthreads": 1, "intra_op_threads": 1, "inter_op_threads": 2}

    def environ():  # defined here: sent to the workers by value
        import os

        return os.environ["TF_NUM_INTRAOP_THREADS"], os.environ["TF_NUM_INTEROP_THREADS"]

    assert set(client.run(environ).values()) == {("1", "2")}

    # A seeded stream is not disturbed by another thread's draws: dask.sizeof
    # draws with random.sample on the worker's event loop while a task builds
    # a network whose initial weights Keras seeds from random.
    def seeded_stream_with_busy_thread():
        import random
        import threading

        random.seed(0)
        expected = [random.random() for _ in range(3)]
        random.seed(0)
        first = random.random()
        other = threading.Thread(target=lambda: random.sample(range(1000), 100))
        other.start()
        other.join()
        return expected == [first, random.random(), random.random()]

    assert set(client.run(seeded_stream_with_busy_thread).values()) == {True}

    # Once TensorFlow ran an operation, its pools cannot be resized.
    def run_an_operation():
        from skrec._tf import tf

        return float(tf.constant(1.0) + 1.0)

    assert set(client.run(run_an_operation).values()) == {2.0}
    with pytest.raises(RuntimeError, match=r"already runs TensorFlow.*client\.restart"):
        client.register_plugin(TensorFlowThreads(intra_op_threads=3))
    # The sizes the workers run with are accepted again.
    client.register_plugin(TensorFlowThreads(inter_op_threads=2))
    assert worker_tensorflow_threads(client) == threads


@pytest.mark.slow
def test_search_on_ray_equals_search_in_process(data):
    # Ray's joblib backend, the alternative the docs mention; Ray is not in
    # the dev extra (skipped there). Its workers run tasks on their main
    # thread, so no plugin is needed; the pools are sized by environment.
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray
    from sklearn.utils.parallel import Parallel, delayed

    X, y = data
    threads = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": threads},
    )
    try:
        register_ray()
        # n_jobs=-1: unlike Dask's, Ray's backend otherwise runs one job at a
        # time in this process.
        with parallel_config(backend="ray", n_jobs=-1):
            # GridSearchCV's own call: its fits go to other processes.
            pids = Parallel()(delayed(os.getpid)() for _ in range(4))
            on_ray = _search().fit(X, y)
    finally:
        ray.shutdown()
    in_process = _search(n_jobs=1).fit(X, y)

    assert os.getpid() not in pids
    assert on_ray.best_params_ == in_process.best_params_
    for column in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(
            on_ray.cv_results_[column], in_process.cv_results_[column]
        )


def test_import_does_not_import_dask():
    code = (
        "import sys, skrec, skrec.parallel; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_missing_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    monkeypatch.delitem(sys.modules, "skrec.parallel._dask", raising=False)

    with pytest.raises(ImportError, match=r'pip install "skrec-deep\[distributed\]"'):
        skrec.parallel.TensorFlowThreads
    with pytest.raises(ImportError, match="distributed extra"):
        importlib.import_module("skrec.parallel._dask")


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'DaskSearch'"):
        skrec.parallel.DaskSearch


@needs_dask
@pytest.mark.parametrize(
    "params, message",
    [
        ({"intra_op_threads": 0}, r"intra_op_threads=0 is not valid; pass an integer >= 1"),
        ({"inter_op_threads": 2.5}, r"inter_op_threads=2.5 is not valid"),
        ({"intra_op_threads": True}, r"intra_op_threads=True is not valid"),
        ({"thread_local_random": "yes"}, r"thread_local_random='yes' is not valid"),
    ],
)
def test_invalid_plugin_parameters_name_the_fix(params, message):
    with pytest.raises(ValueError, match=message):
        TensorFlowThreads(**params)
