"""Warnings and errors that skrec raises, for ``warnings.filterwarnings`` and ``except``."""

__all__ = ["UnsafeArtifactError", "VersionMismatchWarning"]


class UnsafeArtifactError(ValueError):
    """A model file that :func:`skrec.load` refuses to load.

    Raised when a ``.skrec`` file names a class or function outside skrec's
    allow-list, was modified after it was saved, or holds a Keras network
    that Keras' ``safe_mode`` refuses; and when a ``.joblib`` file (a pickle,
    which runs code on load) is given without ``trusted=True``.

    Examples
    --------
    >>> from skrec.exceptions import UnsafeArtifactError
    >>> issubclass(UnsafeArtifactError, ValueError)
    True
    """


class VersionMismatchWarning(UserWarning):
    """A model is loaded under other library versions than it was saved with.

    The model loads, but its predictions may differ; the message names each
    library (skrec, scikit-learn, Keras, TensorFlow) with both versions.

    Examples
    --------
    >>> import warnings
    >>> from skrec.exceptions import VersionMismatchWarning
    >>> warnings.simplefilter("error", VersionMismatchWarning)  # make it fatal
    >>> warnings.resetwarnings()
    """
