"""Shared fixtures: small synthetic logs so the suite stays fast on 2 cores."""

import pytest

from skrec.datasets import make_interactions


@pytest.fixture(scope="session")
def log_xy():
    """A 6,000-row synthetic e-commerce log, ``(X, y)``."""
    return make_interactions(
        n_users=200, n_items=150, n_interactions=6000, random_state=0, return_X_y=True
    )
