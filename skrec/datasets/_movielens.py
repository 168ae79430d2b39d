"""Loader for the MovieLens-100k files: u.data, u.item, u.user and u.genre."""

import os
import warnings
from numbers import Real
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, validate_params

_WHO = "load_movielens"
_DOWNLOAD_HINT = (
    "download MovieLens 100K (ml-100k.zip) from "
    "https://grouplens.org/datasets/movielens/100k/, unzip it and pass the "
    "'ml-100k' directory as path"
)
_FILES = ("u.data", "u.item", "u.user", "u.genre")
_ENCODING = "latin-1"  # titles such as 'Misérables, Les (1995)' are latin-1 bytes
_RATING_FIELDS = "user id, item id, rating, unix timestamp"
_ITEM_FIXED_FIELDS = 5  # movie id | title | release date | video release date | URL
_USER_FIELDS = 5  # user id | age | gender | occupation | zip code
_NO_GENRE = "unknown"



@validate_params(
    {
        "path": [str, os.PathLike],
        "positive_threshold": [Interval(Real, 1, 5, closed="both")],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_movielens(path, *, positive_threshold=4, return_X_y=False):
    """Load the MovieLens-100k ratings as an interaction log with binary labels.

    Reads the files of the ``ml-100k`` directory (ratings ``u.data``, movies
    ``u.item``, users ``u.user``, genre names ``u.genre``) and joins them into
    one row per rating, in the skrec data contract. Nothing is downloaded.

    Parameters
    ----------
    path : str or path-like
        The unzipped ``ml-100k`` directory, from
        https://grouplens.org/datasets/movielens/100k/.
    positive_threshold : float in [1, 5], default=4
        A rating is a positive (``label == 1``) when ``rating >=
        positive_threshold``. Use 1 to treat every rating as an implicit
        positive.
    return_X_y : bool, default=False
        If True, return ``(X, y)`` where ``y`` is the ``label`` Series and
        ``X`` the log without ``label`` **and without** ``rating``: the rating
        defines the label, so keeping it as a feature would leak the answer.

    Returns
    -------
    log : DataFrame of shape (n_ratings, 11)
        Returned when ``return_X_y=False``; rows in ``u.data`` order with a
        ``RangeIndex``. Columns and dtypes:

        - ``user_id`` (int64), ``item_id`` (int64): the ids of the files.
        - ``timestamp`` (datetime64[ns]): the rating time (UTC, naive).
        - ``user_age`` (int64), ``user_gender`` (str, ``"M"``/``"F"``),
          ``user_occupation`` (str): from ``u.user``.
        - ``title`` (str): decoded from latin-1.
        - ``item_category`` (str): the movie's first genre in ``u.genre``
          order (``"unknown"`` for a movie with no genre flag).
        - ``item_genres`` (str): all its genres joined by ``"|"``.
        - ``rating`` (int64): the rating, 1 to 5.
        - ``label`` (int64): ``rating >= positive_threshold`` as 0/1.

    (X, y) : tuple of (DataFrame, Series)
        Returned when ``return_X_y=True``: ``X`` without ``rating`` and
        ``label`` (9 columns), ``y`` the ``label`` column.

    Raises
    ------
    FileNotFoundError
        If ``path`` or one of its four files is missing; the message says
        where to get the data.
    ValueError
        If a line of a file is malformed; the message names the file and the
        line number.

    Warns
    -----
    UserWarning
        If ratings refer to a user or item missing from ``u.user`` or
        ``u.item``; those ratings are dropped and the warning gives the count.

    See Also
    --------
    make_interactions : A synthetic log in the same contract.

    Examples
    --------
    Write a two-rating dataset in the MovieLens-100k format and load it:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from skrec.datasets import load_movielens
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "u.genre").write_text("Comedy|0\\nDrama|1\\n")
    >>> _ = (root / "u.user").write_text("1|24|M|technician|85711\\n")
    >>> _ = (root / "u.item").write_text(
    ...     "7|Twelve Monkeys (1995)|01-Jan-1995||http://x|0|1\\n"
    ...     "8|Babe (1995)|01-Jan-1995||http://x|1|1\\n")
    >>> _ = (root / "u.data").write_text("1\\t7\\t5\\t881250949\\n"
    ...                                  "1\\t8\\t3\\t881250950\\n")
    >>> log = load_movielens(root)
    >>> log[["user_id", "item_id", "rating", "label", "item_genres"]]
       user_id  item_id  rating  label   item_genres
    0        1        7       5      1         Drama
    1        1        8       3      0  Comedy|Drama
    >>> X, y = load_movielens(root, return_X_y=True)
    >>> "rating" in X.columns, y.tolist()
    (False, [1, 0])
    """
    root = Path(path)
    files = _locate_files(root)
    genres = _read_genres(files["u.genre"])
    items = _read_items(files["u.item"], genres)
    users = _read_users(files["u.user"])
    ratings = _read_ratings(files["u.data"])
    ratings = _drop_unknown(ratings, users, items, files["u.data"])

    log = pd.DataFrame(
        {
            "user_id": ratings["user_id"],
            "item_id": ratings["item_id"],
            "timestamp": pd.to_datetime(ratings["timestamp"], unit="s").astype(
                "datetime64[ns]"
            ),
        }
    )
    user_rows = users.index.get_indexer(log["user_id"])
    item_rows = items.index.get_indexer(log["item_id"])
    for column in ("user_age", "user_gender", "user_occupation"):
        log[column] = users[column].to_numpy()[user_rows]
    for column in ("title", "item_category", "item_genres"):
        log[column] = items[column].to_numpy()[item_rows]
    log["rating"] = ratings["rating"]
    log["label"] = (ratings["rating"] >= positive_threshold).astype(np.int64)
    log = log.astype(
        {
            "user_gender": "str",
            "user_occupation": "str",
            "title": "str",
            "item_category": "str",
            "item_genres": "str",
        }
    ).reset_index(drop=True)
    if return_X_y:
        return log.drop(columns=["rating", "label"]), log["label"]
    return log


def _locate_files(root):
    if not root.exists():
        raise FileNotFoundError(
            f"{_WHO}: directory {str(root)!r} does not exist; {_DOWNLOAD_HINT}."
        )
    if not root.is_dir():
        raise NotADirectoryError(
            f"{_WHO}: {str(root)!r} is a file; pass the 'ml-100k' directory that "
            f"holds {', '.join(_FILES)}, e.g. {str(root.parent)!r}."
        )
    files = {name: root / name for name in _FILES}
    for name, file in files.items():
        if not file.is_file():
            nested = root / "ml-100k" / name
            hint = (
                f"it is in {str(nested.parent)!r}; pass that directory as path"
                if nested.is_file()
                else _DOWNLOAD_HINT
            )
            raise FileNotFoundError(
                f"{_WHO}: file {str(file)!r} not found ({name} is part of the "
                f"MovieLens-100k format); {hint}."
            )
    return files


def _lines(file):
    """Yield (line number, line) for the non-blank lines of a file."""
    with open(file, encoding=_ENCODING, newline="") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield number, line


def _malformed(file, number, line, expected):
    shown = line if len(line) <= 80 else line[:77] + "..."
    return ValueError(
        f"{_WHO}: malformed line {number} of {str(file)!r}: expected {expected}, "
        f"got {shown!r}. Check that the file is the original MovieLens-100k "
        "file (re-download it if it was edited or truncated)."
    )


def _parse_int(text, file, number, line, expected):
    try:
        return int(text)
    except ValueError:
        raise _malformed(file, number, line, expected) from None


def _read_genres(file):
    """Return genre names ordered by their index in ``u.genre``."""
    expected = "'name|index' with an integer index"
    by_index = {}
    for number, line in _lines(file):
        fields = line.split("|")
        if len(fields) != 2 or not fields[0]:
            raise _malformed(file, number, line, expected)
        index = _parse_int(fields[1], file, number, line, expected)
        if index in by_index:
            raise ValueError(
                f"{_WHO}: line {number} of {str(file)!r} repeats genre index "
                f"{index} (already {by_index[index]!r}); each index must appear once."
            )
        by_index[index] = fields[0]
    if sorted(by_index) != list(range(len(by_index))) or not by_index:
        raise ValueError(
            f"{_WHO}: genre indices in {str(file)!r} must be 0, 1, ..., n-1, got "
            f"{sorted(by_index)}; restore the original file."
        )
    return [by_index[i] for i in range(len(by_index))]


def _read_items(file, genres):
    n_fields = _ITEM_FIXED_FIELDS + len(genres)
    expected = (
        f"{n_fields} '|'-separated fields (movie id | title | release date | "
        f"video release date | IMDb URL | {len(genres)} genre flags 0/1 as "
        "listed in u.genre)"
    )
    ids, titles, categories, genre_lists = [], [], [], []
    seen = {}
    for number, line in _lines(file):
        fields = line.split("|")
        if len(fields) != n_fields:
            raise _malformed(file, number, line, expected)
        item_id = _parse_int(fields[0], file, number, line, expected)
        flags = fields[_ITEM_FIXED_FIELDS:]
        if any(flag not in ("0", "1") for flag in flags):
            raise _malformed(file, number, line, expected)
        if item_id in seen:
            raise ValueError(
                f"{_WHO}: line {number} of {str(file)!r} repeats movie id "
                f"{item_id} (first on line {seen[item_id]}); each id must appear once."
            )
        seen[item_id] = number
        names = [name for name, flag in zip(genres, flags) if flag == "1"]
        ids.append(item_id)
        titles.append(fields[1])
        categories.append(names[0] if names else _NO_GENRE)
        genre_lists.append("|".join(names) if names else _NO_GENRE)
    return pd.DataFrame(
        {"title": titles, "item_category": categories, "item_genres": genre_lists},
        index=pd.Index(ids, dtype=np.int64, name="item_id"),
    )


def _read_users(file):
    expected = "5 '|'-separated fields (user id | age | gender | occupation | zip code)"
    ids, ages, genders, occupations = [], [], [], []
    seen = {}
    for number, line in _lines(file):
        fields = line.split("|")
        if len(fields) != _USER_FIELDS:
            raise _malformed(file, number, line, expected)
        user_id = _parse_int(fields[0], file, number, line, expected)
        age = _parse_int(fields[1], file, number, line, expected)
        if user_id in seen:
            raise ValueError(
                f"{_WHO}: line {number} of {str(file)!r} repeats user id "
                f"{user_id} (first on line {seen[user_id]}); each id must appear once."
            )
        seen[user_id] = number
        ids.append(user_id)
        ages.append(age)
        genders.append(fields[2])
        occupations.append(fields[3])
    return pd.DataFrame(
        {
            "user_age": np.asarray(ages, dtype=np.int64),
            "user_gender": genders,
            "user_occupation": occupations,
        },
        index=pd.Index(ids, dtype=np.int64, name="user_id"),
    )


def _read_ratings(file):
    """Parse ``u.data``: a fast C parse, and a line scan to name any bad line."""
    names = ["user_id", "item_id", "rating", "timestamp"]
    try:
        frame = pd.read_csv(
            file, sep=r"\s+", header=None, encoding=_ENCODING, engine="c"
        )
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        frame = None
    if (
        frame is not None
        and frame.shape[1] == len(names)
        and all(pd.api.types.is_integer_dtype(t) for t in frame.dtypes)
    ):
        frame.columns = names
        return frame.astype(np.int64)

    # The fast parse failed or looks wrong: scan the lines to report the first bad one.
    expected = f"4 whitespace-separated integers ({_RATING_FIELDS})"
    rows = []
    for number, line in _lines(file):
        fields = line.split()
        if len(fields) != len(names):
            raise _malformed(file, number, line, expected)
        rows.append([_parse_int(f, file, number, line, expected) for f in fields])
    if not rows:
        raise ValueError(
            f"{_WHO}: {str(file)!r} holds no ratings; restore the original file."
        )
    return pd.DataFrame(np.asarray(rows, dtype=np.int64), columns=names)


def _drop_unknown(ratings, users, items, file):
    """Drop ratings whose user or item is not described, with a warning."""
    unknown_user = ~ratings["user_id"].isin(users.index).to_numpy()
    unknown_item = ~ratings["item_id"].isin(items.index).to_numpy()
    drop = unknown_user | unknown_item
    if not drop.any():
        return ratings
    reasons = []
    if unknown_user.any():
        example = ratings["user_id"].to_numpy()[unknown_user][0]
        reasons.append(
            f"{int(unknown_user.sum())} with a user id missing from u.user "
            f"(e.g. {example})"
        )
    if unknown_item.any():
        example = ratings["item_id"].to_numpy()[unknown_item][0]
        reasons.append(
            f"{int(unknown_item.sum())} with an item id missing from u.item "
            f"(e.g. {example})"
        )
    warnings.warn(
        f"{_WHO}: dropped {int(drop.sum())} of {len(ratings)} ratings in "
        f"{str(file)!r}: {'; '.join(reasons)}. Use a complete ml-100k directory "
        "to keep them.",
        UserWarning,
        stacklevel=4,  # _drop_unknown < load_movielens < validate_params wrapper
    )
    return ratings.loc[~drop].reset_index(drop=True)
