"""Model artifacts: ``save`` / ``load`` with metadata, in a format that runs no code on load.

A ``.skrec`` file is a zip archive:

- ``metadata.json``: library versions, the input schema, the training
  data's size and fingerprint, optional evaluation figures, and the SHA-256
  of every other member;
- ``estimator.pkl``: the scikit-learn side (pipeline, preprocessing steps,
  estimator attributes) as a pickle that :class:`_RestrictedUnpickler`
  reads: only the classes and functions on an allow-list can be named in
  it, so a tampered file cannot make loading call ``os.system`` or any
  other function;
- ``networks/<n>.keras``: each Keras network, in Keras' own archive format
  (configuration plus weights), loaded with ``safe_mode=True`` (no Python
  lambdas, no arbitrary module imports).

A ``.joblib`` file is the plain joblib pickle that ``joblib.load`` reads,
with the metadata attached to the model as ``skrec_metadata_``. Loading it
runs code from the file, so :func:`load` asks for ``trusted=True``.
"""

import datetime
import hashlib
import importlib
import io
import json
import os
import pickle
import platform
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ._version import __version__
from .exceptions import UnsafeArtifactError, VersionMismatchWarning

FORMAT_VERSION = 1
_METADATA = "metadata.json"
_ESTIMATOR = "estimator.pkl"
_NETWORKS = "networks/"
_SUFFIXES = (".skrec", ".joblib")

# Globals a safe artifact may name, beyond scikit-learn, scikeras and skrec
# estimator classes (see _is_allowed). Each builds data, never runs code
# chosen by the file.
_ALLOWED_GLOBALS = {
    ("builtins", name)
    for name in (
        "bool", "bytearray", "bytes", "complex", "dict", "float", "frozenset",
        "int", "list", "range", "set", "slice", "str", "tuple", "object",
    )
} | {
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("copyreg", "_reconstructor"),
    ("datetime", "date"),
    ("datetime", "datetime"),
    ("datetime", "timedelta"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.random", "RandomState"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._mt19937", "MT19937"),
    ("numpy.random._pcg64", "PCG64"),
    ("pandas", "CategoricalDtype"),
    ("pandas", "DataFrame"),
    ("pandas", "DatetimeTZDtype"),
    ("pandas", "Index"),
    ("pandas", "MultiIndex"),
    ("pandas", "RangeIndex"),
    ("pandas", "Series"),
    ("pandas", "StringDtype"),
    ("pandas", "Timestamp"),
    ("pandas._libs.internals", "_unpickle_block"),
    ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"),
    ("pandas._libs.tslibs.timedeltas", "_timedelta_unpickle"),
    ("pandas.arrays", "ArrowStringArray"),
    ("pandas.arrays", "Categorical"),
    ("pandas.arrays", "DatetimeArray"),
    ("pandas.arrays", "StringArray"),
    ("pandas.core.arrays.categorical", "Categorical"),
    ("pandas.core.arrays.string_", "StringArray"),
    ("pandas.core.arrays.string_arrow", "ArrowStringArray"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.internals.managers", "BlockManager"),
    ("pandas.core.internals.managers", "SingleBlockManager"),
    ("pyarrow.lib", "_restore_array"),
    ("pyarrow.lib", "py_buffer"),
    ("pyarrow.lib", "type_for_alias"),
    ("scipy.sparse", "csr_matrix"),
    ("scipy.sparse._csr", "csr_matrix"),
    ("scipy.sparse._csc", "csc_matrix"),
}
_ESTIMATOR_MODULES = ("sklearn.", "scikeras.", "skrec.")


def _is_allowed(module, name):
    """Whether a safe artifact may name ``module.name``.

    Explicitly listed data constructors, and estimator classes
    (``BaseEstimator`` subclasses) of scikit-learn, scikeras and skrec: their
    construction stores parameters and their ``__setstate__`` stores
    attributes. The module is imported only when its name is on that list.
    """
    if (module, name) in _ALLOWED_GLOBALS:
        return True
    if not module.startswith(_ESTIMATOR_MODULES) or "." in name:
        return False
    from sklearn.base import BaseEstimator

    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return isinstance(found, type) and issubclass(found, BaseEstimator)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that refuses any global outside the allow-list."""

    def __init__(self, file, networks):
        super().__init__(file)
        self._networks = networks

    def find_class(self, module, name):
        if not _is_allowed(module, name):
            raise UnsafeArtifactError(
                f"refused to load: the file names {module}.{name}, which is not "
                "on skrec's allow-list of estimator and data classes, so loading "
                "it could run code chosen by whoever made the file. Only load "
                "files from a source you trust; if you made this file with a "
                "custom estimator, save it with joblib instead."
            )
        return super().find_class(module, name)

    def persistent_load(self, pid):
        kind, position = pid
        if kind != "keras" or not 0 <= position < len(self._networks):
            raise UnsafeArtifactError(f"refused to load: unknown reference {pid!r}.")
        return self._networks[position]


class _NetworkPickler(pickle.Pickler):
    """Pickler that sets Keras networks aside (saved as ``.keras`` archives)."""

    def __init__(self, file):
        super().__init__(file, protocol=5)
        self.networks = []

    def persistent_id(self, obj):
        from ._tf import keras

        if isinstance(obj, keras.Model):
            for position, network in enumerate(self.networks):
                if network is obj:
                    return ("keras", position)
            self.networks.append(obj)
            return ("keras", len(self.networks) - 1)
        return None


def library_versions():
    """Versions of the libraries a fitted model depends on.

    Returns
    -------
    versions : dict of str to str
        ``skrec``, ``scikit-learn``, ``keras``, ``tensorflow``, ``numpy``,
        ``pandas`` and ``python``.

    Examples
    --------
    >>> from skrec._artifact import library_versions
    >>> sorted(library_versions())[:3]
    ['keras', 'numpy', 'pandas']
    """
    from importlib.metadata import PackageNotFoundError, version

    versions = {"skrec": __version__}
    for name in ("scikit-learn", "keras", "tensorflow", "numpy", "pandas"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            versions[name] = None
    versions["python"] = platform.python_version()
    return versions


def _steps(model):
    return [step for _, step in model.steps] if hasattr(model, "steps") else [model]


def _json_safe(value):
    """``value`` with numpy scalars and arrays made JSON-serialisable."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def build_metadata(model, evaluation=None):
    """The metadata saved with ``model``: versions, schema, training data, figures.

    Parameters
    ----------
    model : estimator or Pipeline
        A fitted skrec pipeline or estimator.
    evaluation : dict of str to float, default=None
        Evaluation figures to keep with the model (e.g. ``{"ndcg@10": 0.42}``).

    Returns
    -------
    metadata : dict
        JSON-serialisable.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(_steps(model)[-1])
    steps = _steps(model)
    builder = next((s for s in steps if hasattr(s, "schema_")), None)
    final = steps[-1]
    training = {}
    if builder is not None:
        training = {
            "n_rows": getattr(builder, "n_samples_fit_", None),
            "n_users": len(builder.user_vocabulary_),
            "n_items": len(builder.item_vocabulary_),
            "fingerprint": getattr(builder, "data_fingerprint_", None),
        }
    names_in = getattr(model, "feature_names_in_", None)
    return _json_safe({
        "format_version": FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "estimator": {
            "steps": [type(step).__name__ for step in steps],
            "final": type(final).__name__,
            "params": {k: v for k, v in final.get_params(deep=False).items()},
        },
        "input_columns": None if names_in is None else list(names_in),
        "schema": getattr(builder, "schema_", getattr(final, "input_schema_", None)),
        "training_data": training,
        "evaluation": dict(evaluation or {}),
    })


def check_versions(metadata, source="the model"):
    """Warn with :class:`VersionMismatchWarning` where saved and running versions differ."""
    saved = metadata.get("versions", {})
    running = library_versions()
    differ = [
        f"{name} {saved[name]} (now {running.get(name)})"
        for name in ("skrec", "scikit-learn", "keras", "tensorflow")
        if saved.get(name) is not None and saved[name] != running.get(name)
    ]
    if differ:
        warnings.warn(
            f"{source} was saved with " + ", ".join(differ) + ". It loaded, but "
            "predictions may differ from the saved model's; refit it under the "
            "running versions, or install the saved ones.",
            VersionMismatchWarning,
            stacklevel=3,
        )


def _format_of(path, format):
    if format is not None:
        if format not in ("skrec", "joblib"):
            raise ValueError(
                f"format={format!r} is not supported; use 'skrec' (safe) or 'joblib'."
            )
        return format
    suffix = Path(path).suffix
    if suffix not in _SUFFIXES:
        raise ValueError(
            f"cannot tell the format of {str(path)!r} from its suffix {suffix!r}; "
            "name the file '.skrec' (safe format) or '.joblib', or pass format=."
        )
    return suffix[1:]


def save(model, path, *, evaluation=None, format=None):
    """Save a fitted model with its metadata.

    Parameters
    ----------
    model : Pipeline or estimator
        A fitted skrec pipeline (or estimator).
    path : str or path-like
        Where to write. A ``.skrec`` file uses the safe format (loading runs
        no code from the file); a ``.joblib`` file is a plain joblib pickle
        that ``joblib.load`` reads too.
    evaluation : dict of str to float, default=None
        Evaluation figures to keep with the model, e.g. the scores of
        ``make_ranking_scorer``.
    format : {"skrec", "joblib"}, default=None
        Overrides the format the suffix implies.

    Returns
    -------
    metadata : dict
        What was saved with the model (see :func:`read_metadata`).

    Raises
    ------
    UnsafeArtifactError
        If the model holds an object the safe format cannot vouch for (for
        example a custom estimator class outside scikit-learn and skrec);
        save it as ``.joblib`` instead.

    See Also
    --------
    load : Read a model back.
    read_metadata : Read the metadata without loading the model.

    Examples
    --------
    >>> import tempfile, os
    >>> import skrec
    >>> from sklearn.pipeline import make_pipeline
    >>> from skrec.models import PopularityClassifier
    >>> X, y = skrec.make_interactions(n_users=20, n_items=15, n_interactions=300,
    ...                                random_state=0, return_X_y=True)
    >>> pipe = make_pipeline(skrec.FeatureBuilder(), PopularityClassifier()).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skrec")
    >>> meta = skrec.save(pipe, path, evaluation={"ndcg@10": 0.31})
    >>> meta["training_data"]["n_rows"], meta["evaluation"]
    (300, {'ndcg@10': 0.31})
    >>> skrec.load(path).predict_proba(X.head(2)).shape
    (2, 2)
    """
    format = _format_of(path, format)
    metadata = build_metadata(model, evaluation)
    if format == "joblib":
        import joblib

        had = "skrec_metadata_" in vars(model)
        previous = vars(model).get("skrec_metadata_")
        model.skrec_metadata_ = metadata
        try:
            joblib.dump(model, path)
        finally:
            if had:
                model.skrec_metadata_ = previous
            else:
                del model.skrec_metadata_
        return metadata

    buffer = io.BytesIO()
    pickler = _NetworkPickler(buffer)
    pickler.dump(model)
    payload = buffer.getvalue()
    networks = []
    for network in pickler.networks:
        with _temporary_keras_path() as tmp:
            network.save(tmp)
            networks.append(Path(tmp).read_bytes())
    # Refuse now, not at load time, if the safe reader would refuse the file.
    _RestrictedUnpickler(io.BytesIO(payload), [None] * len(networks)).load()
    members = {_ESTIMATOR: payload}
    members.update({f"{_NETWORKS}{n}.keras": data for n, data in enumerate(networks)})
    metadata["sha256"] = {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}
    tmp_path = f"{path}.partial"
    with zipfile.ZipFile(tmp_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_METADATA, json.dumps(metadata, indent=2))
        for name, data in members.items():
            archive.writestr(name, data)
    os.replace(tmp_path, path)
    return metadata


class _temporary_keras_path:
    """A temporary ``.keras`` file name, removed afterwards."""

    def __enter__(self):
        import tempfile

        self._dir = tempfile.TemporaryDirectory()
        return os.path.join(self._dir.name, "network.keras")

    def __exit__(self, *exc):
        self._dir.cleanup()


def _open_archive(path):
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise UnsafeArtifactError(
            f"{str(path)!r} is not a .skrec archive (not a zip file); if it is a "
            "joblib file, name it '.joblib' and load it with trusted=True."
        ) from None
    try:
        metadata = json.loads(archive.read(_METADATA))
    except KeyError:
        archive.close()
        raise UnsafeArtifactError(
            f"{str(path)!r} has no {_METADATA}: it was not written by skrec.save."
        ) from None
    return archive, metadata


def read_metadata(path, *, trusted=False):
    """Read the metadata saved with a model.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    trusted : bool, default=False
        Only for ``.joblib`` files, whose metadata sits inside the pickle: they
        are loaded whole, which runs code from the file.

    Returns
    -------
    metadata : dict
        ``format_version``, ``created``, ``versions`` (skrec, scikit-learn,
        keras, tensorflow, numpy, pandas, python), ``estimator`` (steps,
        final class, parameters), ``input_columns``, ``schema``,
        ``training_data`` (``n_rows``, ``n_users``, ``n_items``,
        ``fingerprint``) and ``evaluation``; ``.skrec`` files add ``sha256``
        of their members.
    """
    if _format_of(path, None) == "joblib":
        model = load(path, trusted=trusted)
        return getattr(model, "skrec_metadata_", {})
    archive, metadata = _open_archive(path)
    archive.close()
    return metadata


def load(path, *, trusted=False):
    """Load a model written by :func:`save` (or any joblib model file).

    Parameters
    ----------
    path : str or path-like
        A ``.skrec`` file (safe: only allow-listed estimator and data classes
        are rebuilt, Keras networks load with ``safe_mode=True``) or a
        ``.joblib`` file.
    trusted : bool, default=False
        Must be True to load a ``.joblib`` file: unpickling runs code from
        the file, so only do it for files from a source you trust.

    Returns
    -------
    model : Pipeline or estimator
        The fitted model, with the saved metadata as ``skrec_metadata_``.

    Raises
    ------
    UnsafeArtifactError
        If a ``.skrec`` file names a class or function outside the allow-list,
        was modified after it was saved, or holds a Keras network that
        ``safe_mode`` refuses; or a ``.joblib`` file is given without
        ``trusted=True``.

    Warns
    -----
    VersionMismatchWarning
        If the model was saved under other versions of skrec, scikit-learn,
        Keras or TensorFlow.
    """
    if _format_of(path, None) == "joblib":
        if not trusted:
            raise UnsafeArtifactError(
                f"{str(path)!r} is a joblib pickle: loading it runs code from the "
                "file. Pass trusted=True if you trust its source, or save models "
                "as '.skrec' (skrec.save(model, 'model.skrec')) to load them safely."
            )
        import joblib

        model = joblib.load(path)
        metadata = getattr(model, "skrec_metadata_", None)
        if metadata is not None:
            check_versions(metadata, source=repr(str(path)))
        return model

    archive, metadata = _open_archive(path)
    with archive:
        expected = metadata.get("sha256", {})
        names = [n for n in archive.namelist() if n != _METADATA]
        if sorted(names) != sorted(expected):
            raise UnsafeArtifactError(
                f"refused to load {str(path)!r}: its members {sorted(names)} do not "
                f"match those recorded when it was saved {sorted(expected)}."
            )
        data = {name: archive.read(name) for name in names}
    for name, blob in data.items():
        if hashlib.sha256(blob).hexdigest() != expected[name]:
            raise UnsafeArtifactError(
                f"refused to load {str(path)!r}: {name} was modified after the file "
                "was saved (its SHA-256 differs from the recorded one)."
            )
    check_versions(metadata, source=repr(str(path)))
    from ._tf import keras

    networks = []
    n_networks = sum(name.startswith(_NETWORKS) for name in data)
    for n in range(n_networks):
        with _temporary_keras_path() as tmp:
            Path(tmp).write_bytes(data[f"{_NETWORKS}{n}.keras"])
            try:
                networks.append(keras.saving.load_model(tmp, safe_mode=True))
            except Exception as error:
                raise UnsafeArtifactError(
                    f"refused to load {str(path)!r}: Keras would not load network "
                    f"{n} in safe mode ({error})"
                ) from error
    model = _RestrictedUnpickler(io.BytesIO(data[_ESTIMATOR]), networks).load()
    model.skrec_metadata_ = metadata
    return model
