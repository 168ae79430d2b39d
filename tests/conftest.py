"""Shared fixtures: small synthetic logs so the suite stays fast on 2 cores."""

import os

import pytest

from skrec._tf import tf
from skrec.datasets import make_interactions

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest -n N runs N worker processes: one TensorFlow thread pool each,
    # so that the workers share the cores instead of oversubscribing them.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


@pytest.fixture(scope="session")
def log_xy():
    """A 6,000-row synthetic e-commerce log, ``(X, y)``."""
    return make_interactions(
        n_users=200, n_items=150, n_interactions=6000, random_state=0, return_X_y=True
    )
