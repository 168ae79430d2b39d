"""Clean an interaction log before it enters a pipeline.

A transformer cannot drop or merge rows (``y`` would no longer line up), so
de-duplication, removal of rows without ids and merging of repeated events
happen here, once, on the raw log.
"""

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..utils._validation import check_columns

_WHO = "clean_interactions"
_AGGREGATES = (None, "sum", "max", "last", "first")


@dataclass
class CleaningReport:
    """What :func:`clean_interactions` did to a log, so nothing is lost silently.

    Every input row is accounted for:
    ``n_input == n_output + sum(dropped.values()) + merged``.

    Attributes
    ----------
    n_input : int
        Rows in the input log.
    n_output : int
        Rows in the cleaned log.
    dropped : dict of str to int
        Rows removed, per reason, in the order the checks ran:
        ``"missing_user"``, ``"missing_item"``, ``"missing_label"`` (only with
        ``label_col``), ``"missing_strength"`` (only with
        ``fill_strength="drop"``) and ``"duplicate"`` (exact duplicate rows).
    merged : int
        Rows folded into another row of the same (user, item) pair by
        ``aggregate``.
    filled : dict of str to int
        Missing strength values filled, per column (only with a numeric
        ``fill_strength``).
    notes : list of str
        Decisions worth knowing about, e.g. which columns were summed.

    Examples
    --------
    >>> report = CleaningReport(n_input=5, n_output=3, dropped={"duplicate": 1},
    ...                         merged=1)
    >>> print(report)
    clean_interactions: 5 rows in, 3 rows out
      dropped 1 row(s): duplicate
      merged 1 repeated (user, item) row(s)
    """

    n_input: int
    n_output: int
    dropped: dict = field(default_factory=dict)
    merged: int = 0
    filled: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def __str__(self):
        lines = [f"{_WHO}: {self.n_input} rows in, {self.n_output} rows out"]
        lines += [
            f"  dropped {count} row(s): {reason}"
            for reason, count in self.dropped.items()
            if count
        ]
        if self.merged:
            lines.append(f"  merged {self.merged} repeated (user, item) row(s)")
        lines += [
            f"  filled {count} missing value(s) in {column!r}"
            for column, count in self.filled.items()
            if count
        ]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def clean_interactions(
    log,
    *,
    user_col="user_id",
    item_col="item_id",
    timestamp_col="timestamp",
    aggregate=None,
    strength_cols=("user_behavior",),
    label_col=None,
    fill_strength=None,
    drop_duplicates=True,
):
    """Drop unusable rows and merge repeated events of an interaction log.

    Steps, in order (each one counted in the report):

    1. drop rows whose user or item id is missing;
    2. drop rows whose label is missing (when ``label_col`` is given);
    3. fill missing strengths with ``fill_strength``, or drop those rows
       when it is ``"drop"``;
    4. drop exact duplicate rows, keeping the first (``drop_duplicates``);
    5. with ``aggregate``, merge the rows of each (user, item) pair into one.

    Merging follows the rule in ``aggregate``:

    ========  ================  =========  ==================================
    rule      strength columns  label      every other column (incl. time)
    ========  ================  =========  ==================================
    "sum"     sum               max        from the latest event
    "max"     max               max        from the latest event
    "last"    latest event      max        from the latest event
    "first"   earliest event    max        from the earliest event
    ========  ================  =========  ==================================

    "Latest" and "earliest" follow ``timestamp_col`` (ties and, when the
    column is absent, everything follow row order; a missing timestamp
    counts as earliest). Sums and maxima skip missing strengths; a pair
    whose strengths are all missing stays missing. The label is the maximum,
    so a pair with any positive event stays positive.

    Parameters
    ----------
    log : DataFrame
        Interaction log, one row per event. It is not modified.
    user_col, item_col : str, default="user_id", "item_id"
        Id columns; both must exist.
    timestamp_col : str or None, default="timestamp"
        Column that orders events for ``aggregate``; None, or a name that is
        not a column, uses row order (noted in the report).
    aggregate : {None, "sum", "max", "last", "first"}, default=None
        How to merge repeated (user, item) events; None keeps them all.
    strength_cols : str, list of str or "auto", default=("user_behavior",)
        Interaction-strength columns, used by ``aggregate="sum"`` or
        ``"max"`` and by ``fill_strength`` (and must exist when one of them
        is set). ``"auto"``
        takes every numeric column other than the ids, timestamp and label;
        the report lists what it picked.
    label_col : str or None, default=None
        Binary label column: rows without a label are dropped, and merged
        rows keep the maximum label.
    fill_strength : None, float or "drop", default=None
        What to do with missing strength values: None leaves them (a later
        :class:`~skrec.preprocessing.InteractionNormalizer` will refuse them),
        a number fills them, ``"drop"`` removes those rows.
    drop_duplicates : bool, default=True
        Drop rows identical in every column, which are usually logging
        artefacts. Set False when identical rows are real repeated events
        (e.g. a log without timestamps).

    Returns
    -------
    clean_log : DataFrame
        The cleaned log: a new DataFrame with the input's columns, rows in
        input order, each row keeping the index label of the row it came
        from.
    report : CleaningReport
        Row counts per reason; ``print(report)`` summarises them.

    Examples
    --------
    >>> import pandas as pd
    >>> from skrec.preprocessing import clean_interactions
    >>> log = pd.DataFrame({"user_id": ["u1", "u1", "u1", None, "u2"],
    ...                     "item_id": ["i1", "i1", "i1", "i2", "i1"],
    ...                     "user_behavior": [1, 1, 2, 5, 3],
    ...                     "timestamp": [10, 10, 20, 30, 40]})
    >>> clean, report = clean_interactions(log, aggregate="sum")
    >>> clean
      user_id item_id  user_behavior  timestamp
    2      u1      i1              3         20
    4      u2      i1              3         40
    >>> print(report)
    clean_interactions: 5 rows in, 2 rows out
      dropped 1 row(s): missing_user
      dropped 1 row(s): duplicate
      merged 1 repeated (user, item) row(s)
      note: aggregate='sum' applied to ['user_behavior']
    """
    if not isinstance(log, pd.DataFrame):
        raise TypeError(
            f"{_WHO}: expected a pandas DataFrame with named columns, got "
            f"{type(log).__name__}; wrap it with pd.DataFrame(log, columns=[...])."
        )
    if aggregate not in _AGGREGATES:
        raise ValueError(
            f"{_WHO}: aggregate={aggregate!r} is not a merge rule; pass one of "
            f"{list(_AGGREGATES)}."
        )
    _check_id_columns(log, user_col, item_col)
    if label_col is not None:
        check_columns(log, [label_col], who=_WHO, param="label_col")
    if not (fill_strength in (None, "drop") or _is_number(fill_strength)):
        raise ValueError(
            f"{_WHO}: fill_strength={fill_strength!r} is not supported; pass None "
            "(leave missing strengths), a number such as 0, or 'drop'."
        )

    n_input = len(log)
    notes = []
    dropped = {}
    filled = {}
    has_time = timestamp_col is not None and timestamp_col in log.columns
    strengths = []
    # Only sums, maxima and filling read strength columns; "last"/"first" copy rows.
    if aggregate in ("sum", "max") or fill_strength is not None:
        reserved = (user_col, item_col, timestamp_col if has_time else None, label_col)
        strengths = _strength_columns(log, strength_cols, reserved)
        if strength_cols == "auto":
            notes.append(f"strength_cols='auto' picked {strengths}")

    missing_user = log[user_col].isna().to_numpy()
    missing_item = log[item_col].isna().to_numpy() & ~missing_user
    dropped["missing_user"] = int(missing_user.sum())
    dropped["missing_item"] = int(missing_item.sum())
    keep = ~(missing_user | missing_item)
    if label_col is not None:
        missing_label = log[label_col].isna().to_numpy() & keep
        dropped["missing_label"] = int(missing_label.sum())
        keep &= ~missing_label
    clean = log[keep]

    if fill_strength == "drop":
        missing = clean[strengths].isna().any(axis=1).to_numpy()
        dropped["missing_strength"] = int(missing.sum())
        clean = clean[~missing]
    elif fill_strength is not None:
        counts = clean[strengths].isna().sum()
        filled = {column: int(counts[column]) for column in strengths}
        if any(filled.values()):
            clean = clean.fillna({column: fill_strength for column in strengths})

    if drop_duplicates:
        duplicate = clean.duplicated(keep="first").to_numpy()
        dropped["duplicate"] = int(duplicate.sum())
        clean = clean[~duplicate]

    n_before_merge = len(clean)
    if aggregate is not None and n_before_merge:
        if not has_time:
            notes.append(
                f"no timestamp column {timestamp_col!r}: 'latest' and 'earliest' "
                "follow row order"
            )
        clean = _merge_repeated(
            clean,
            keys=[user_col, item_col],
            rule=aggregate,
            strengths=strengths,
            label_col=label_col,
            timestamp_col=timestamp_col if has_time else None,
        )
        if aggregate in ("sum", "max"):
            notes.append(f"aggregate={aggregate!r} applied to {strengths}")
    merged = n_before_merge - len(clean)

    report = CleaningReport(
        n_input=n_input,
        n_output=len(clean),
        dropped=dropped,
        merged=merged,
        filled=filled,
        notes=notes,
    )
    return clean, report


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_id_columns(log, user_col, item_col):
    for param, column in (("user_col", user_col), ("item_col", item_col)):
        if column not in log.columns:
            raise ValueError(
                f"{_WHO}: id column {column!r} not found in the log (set by "
                f"{param}=); available columns are {list(log.columns)[:20]}. Pass "
                f"{param}='<name of your {param[:4]} id column>' or rename the column."
            )


def _strength_columns(log, strength_cols, reserved):
    """Resolve ``strength_cols``; ``reserved`` = (user, item, timestamp, label)."""
    user_col, item_col, _, label_col = reserved
    if strength_cols == "auto":
        return [
            column
            for column in log.columns
            if column not in reserved
            and pd.api.types.is_numeric_dtype(log[column].dtype)
            and not pd.api.types.is_bool_dtype(log[column].dtype)
        ]
    columns = [strength_cols] if isinstance(strength_cols, str) else list(strength_cols)
    missing = [column for column in columns if column not in log.columns]
    if missing:
        raise ValueError(
            f"{_WHO}: strength column(s) {missing} not found in the log (set by "
            f"strength_cols=); available columns are {list(log.columns)[:20]}. "
            "Pass strength_cols=[...] naming your strength columns, "
            "strength_cols=() if the log has none, or strength_cols='auto'."
        )
    clash = [column for column in columns if column in (user_col, item_col, label_col)]
    if clash:
        raise ValueError(
            f"{_WHO}: strength_cols={columns} includes the id or label column(s) "
            f"{clash}; list only interaction-strength columns."
        )
    return columns


def _merge_repeated(clean, *, keys, rule, strengths, label_col, timestamp_col):
    """One row per (user, item): vectorised with a time sort and groupby."""
    if timestamp_col is None:
        order = np.arange(len(clean))
    else:
        times = clean[timestamp_col].reset_index(drop=True)
        order = times.sort_values(kind="stable", na_position="first").index.to_numpy()
    events = clean.iloc[order]
    # The representative event of each pair supplies every non-aggregated column.
    keep = "first" if rule == "first" else "last"
    is_kept = ~events.duplicated(subset=keys, keep=keep).to_numpy()
    grouped = events.groupby(keys, sort=False, dropna=False, observed=True)

    merged = events[is_kept].copy()
    if rule in ("sum", "max"):
        for column in strengths:
            # min_count=1: a pair whose strengths are all missing stays missing.
            options = {"min_count": 1} if rule == "sum" else {}
            values = grouped[column].transform(rule, **options)
            merged[column] = values.to_numpy()[is_kept]
    if label_col is not None:
        merged[label_col] = grouped[label_col].transform("max").to_numpy()[is_kept]
    # Back to input order.
    return merged.iloc[np.argsort(order[is_kept], kind="stable")]
