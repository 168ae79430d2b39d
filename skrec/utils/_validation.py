"""Input validation shared by every skrec step.

Every error names the step, the column, the offending value and the fix, so a
user can act on it without reading a traceback.
"""

import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp


def check_frame(X, *, who, allow_array=False):
    """Return ``X`` as a DataFrame, or raise a clear error.

    Parameters
    ----------
    X : DataFrame or array-like
        Interaction log.
    who : str
        Name of the calling step, used in messages.
    allow_array : bool
        If True, a 2-d array is accepted and wrapped in a DataFrame whose
        columns are the integer positions ``0, 1, ...``.
    """
    if isinstance(X, pd.DataFrame):
        frame = X
    elif allow_array:
        if sp.issparse(X):
            raise TypeError(
                f"{who}: A sparse matrix was passed, but dense data is required. "
                "Use '.toarray()' to convert to a dense numpy array."
            )
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise ValueError(
                f"{who}: expected 2D array, got {arr.ndim}D array instead. "
                "Reshape your data either using array.reshape(-1, 1) if your data "
                "has a single feature or array.reshape(1, -1) if it contains a "
                "single sample."
            )
        if np.iscomplexobj(arr):
            raise ValueError(f"{who}: Complex data not supported; pass real values.")
        frame = pd.DataFrame(arr)
    else:
        raise TypeError(
            f"{who}: expected a pandas DataFrame with named columns, got "
            f"{type(X).__name__}; wrap it with pd.DataFrame(X, columns=[...])."
        )
    if frame.shape[0] == 0:
        raise ValueError(
            f"{who}: the interaction log is empty (0 rows, minimum of 1 is required); "
            "pass at least one interaction."
        )
    return frame


def check_columns(frame, columns, *, who, param=None):
    """Raise a ``KeyError``-free ``ValueError`` naming missing columns."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        where = f" (set by {param}=)" if param else ""
        raise ValueError(
            f"{who}: column(s) {missing} not found in the input{where}; available "
            f"columns are {list(frame.columns)[:20]}. Rename the column or pass "
            "its name as a parameter."
        )


def check_id_column(frame, column, *, who):
    """Check that an id column has no missing values and one id type."""
    values = frame[column]
    n_missing = int(values.isna().sum())
    if n_missing:
        raise ValueError(
            f"{who}: column {column!r} has {n_missing} missing id value(s) "
            f"(first at row {values.index[values.isna().to_numpy()][0]!r}); "
            "drop those rows first, e.g. with skrec.clean_interactions(log)."
        )
    # infer_dtype scans in C; the per-value kinds are only computed to explain an error.
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in (
        "mixed",
        "mixed-integer",
    ):
        kinds = values.map(_id_kind)
        if kinds.nunique() > 1:
            first = values[kinds != kinds.iloc[0]].iloc[0]
            raise ValueError(
                f"{who}: column {column!r} mixes id types "
                f"({sorted(kinds.unique())}), e.g. {values.iloc[0]!r} and {first!r}; "
                f"convert the ids to one type, e.g. log[{column!r}].astype(str)."
            )


def _id_kind(value):
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    return type(value).__name__


def as_numeric(frame, column, *, who):
    """Return a column as float64, naming the first non-numeric value if any."""
    values = frame[column]
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64").to_numpy()
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    converted = pd.to_numeric(values, errors="coerce")
    bad = converted.isna() & values.notna()
    if bad.any():
        raise ValueError(
            f"{who}: column {column!r} must be numeric but holds "
            f"{int(bad.sum())} non-numeric value(s), e.g. {values[bad].iloc[0]!r} "
            f"at row {values.index[bad.to_numpy()][0]!r}; convert it with "
            f"pd.to_numeric(log[{column!r}], errors='coerce') and choose a "
            "missing-value policy, or declare it categorical."
        )
    return converted.to_numpy(dtype="float64", na_value=np.nan)
