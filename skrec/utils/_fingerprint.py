"""A content fingerprint of a training log (kept in model metadata)."""

import hashlib

import numpy as np
import pandas as pd


def data_fingerprint(frame, y=None):
    """SHA-256 of a DataFrame's column names, values and of ``y``.

    Two logs with the same columns, rows (in the same order) and labels get
    the same fingerprint; any changed value, row or column changes it.

    Parameters
    ----------
    frame : DataFrame
    y : array-like, default=None

    Returns
    -------
    fingerprint : str
        ``"sha256:"`` followed by 64 hex digits.

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.utils._fingerprint import data_fingerprint
    >>> a = pd.DataFrame({"user_id": [1, 2], "item_id": [3, 4]})
    >>> data_fingerprint(a) == data_fingerprint(a.copy())
    True
    >>> data_fingerprint(a) == data_fingerprint(a.assign(item_id=[3, 5]))
    False
    """
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(np.int64(len(frame)).tobytes())
    if frame.shape[1]:
        rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        digest.update(np.ascontiguousarray(rows).tobytes())
    if y is not None:
        labels = pd.util.hash_pandas_object(pd.Series(np.asarray(y)), index=False)
        digest.update(labels.to_numpy().tobytes())
    return "sha256:" + digest.hexdigest()
