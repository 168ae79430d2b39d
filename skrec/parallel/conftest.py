"""Doctests of skrec.parallel: collected only where Dask is installed."""

try:
    import distributed
except ImportError:  # the optional distributed extra is not installed
    distributed = None

if distributed is None:
    collect_ignore_glob = ["_dask.py"]
