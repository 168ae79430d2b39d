"""Doctests of skrec.plot: a non-interactive backend, figures closed after each."""

import pytest

try:
    import matplotlib
except ImportError:  # the optional plot extra is not installed
    matplotlib = None

if matplotlib is None:
    collect_ignore_glob = ["*.py"]
else:
    matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    if matplotlib is not None:
        import matplotlib.pyplot as plt

        plt.close("all")
