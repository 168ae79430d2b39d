"""Reading an interaction log for the command line: file formats, column mapping, config."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ._output import CLIError

DATA_KEYS = (
    "user_col", "item_col", "time_col", "label_col", "rating_col",
    "positive_threshold", "strength_col", "features", "sep",
)


def load_config(path):
    """Read a TOML or JSON config file: ``[data]`` and ``[model]`` tables."""
    path = Path(path)
    if not path.is_file():
        raise CLIError(f"config file {str(path)!r} does not exist.")
    text = path.read_text()
    try:
        if path.suffix == ".json":
            config = json.loads(text)
        elif path.suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # pragma: no cover - Python 3.10
                raise CLIError("TOML config files need Python 3.11+; use a .json config.")
            config = tomllib.loads(text)
        else:
            raise CLIError(
                f"config file {str(path)!r}: use a .toml or .json file (got {path.suffix!r})."
            )
    except (ValueError, json.JSONDecodeError) as error:
        raise CLIError(f"config file {str(path)!r} is not valid: {error}") from None
    unknown = set(config) - {"data", "model", "evaluate"}
    if unknown:
        raise CLIError(
            f"config file {str(path)!r}: unknown section(s) {sorted(unknown)}; "
            "use [data], [model] and [evaluate]."
        )
    bad = set(config.get("data", {})) - set(DATA_KEYS)
    if bad:
        raise CLIError(
            f"config file {str(path)!r}: unknown [data] key(s) {sorted(bad)}; "
            f"known keys: {', '.join(DATA_KEYS)}."
        )
    return config


def read_log(path, sep=None):
    """Read a CSV (or TSV) or Parquet interaction log."""
    path = Path(path)
    if not path.exists():
        raise CLIError(f"data file {str(path)!r} does not exist.")
    suffix = "".join(path.suffixes[-2:]) if path.suffix in (".gz", ".bz2", ".zip") else path.suffix
    if suffix.startswith((".parquet", ".pq")) or path.is_dir():
        try:
            return pd.read_parquet(path)
        except ImportError:
            raise CLIError(
                "reading Parquet needs pyarrow: pip install pyarrow "
                "(or convert the file to CSV)."
            ) from None
    if suffix.startswith((".csv", ".tsv", ".txt")):
        if sep is None:
            sep = "\t" if suffix.startswith(".tsv") else ","
        try:
            return pd.read_csv(path, sep=sep)
        except (pd.errors.ParserError, UnicodeDecodeError) as error:
            raise CLIError(f"could not read {str(path)!r} as CSV: {error}") from None
    raise CLIError(
        f"data file {str(path)!r}: unknown format {path.suffix!r}; use .csv, .tsv or .parquet."
    )


def data_spec(args, config):
    """Column mapping from flags, then the config's [data] table, then defaults."""
    section = config.get("data", {})

    def pick(key, default):
        value = getattr(args, key, None)
        return section.get(key, default) if value is None else value

    return {
        "user_col": pick("user_col", "user_id"),
        "item_col": pick("item_col", "item_id"),
        "time_col": pick("time_col", "timestamp"),
        "label_col": pick("label_col", "label"),
        "rating_col": pick("rating_col", None),
        "positive_threshold": pick("positive_threshold", None),
        "strength_col": pick("strength_col", None),
        "features": pick("features", "auto"),
        "sep": pick("sep", None),
    }


def split_xy(log, spec, reporter):
    """Return ``(X, y, implicit)`` from a log and a column mapping.

    ``y`` comes from the label column (0/1), or from a rating column and a
    threshold, or is all ones (implicit feedback: positives only).
    """
    for key in ("user_col", "item_col"):
        if spec[key] not in log.columns:
            raise CLIError(
                f"column {spec[key]!r} (the {key.replace('_col', '')} id) is not in the "
                f"data, whose columns are {list(log.columns)}; name it with "
                f"--{key.replace('_', '-')}."
            )
    before = len(log)
    missing = log[spec["user_col"]].isna() | log[spec["item_col"]].isna()
    if missing.any():
        log = log[~missing]
        reporter.say(
            f"dropped {int(missing.sum()):,} of {before:,} rows with a missing user or item id"
        )
    rating, label = spec["rating_col"], spec["label_col"]
    if rating is not None:
        if rating not in log.columns:
            raise CLIError(
                f"--rating-col {rating!r} is not a column of the data ({list(log.columns)})."
            )
        if spec["positive_threshold"] is None:
            raise CLIError(
                f"--rating-col {rating!r} needs --positive-threshold (e.g. 4: a rating "
                "of 4 or more is a positive)."
            )
        values = pd.to_numeric(log[rating], errors="coerce")
        if values.isna().any():
            bad = log.loc[values.isna(), rating].iloc[0]
            raise CLIError(
                f"column {rating!r} holds a non-numeric rating {bad!r}; fix or drop those rows."
            )
        y = (values >= float(spec["positive_threshold"])).astype(np.int64)
        X = log.drop(columns=[c for c in (rating, label) if c in log.columns])
        return X, y.rename("label"), False
    if label in log.columns:
        y = log[label]
        values = set(pd.unique(y.dropna()))
        if y.isna().any() or not values <= {0, 1, True, False}:
            odd = sorted(values - {0, 1, True, False}, key=str)[:3] or ["missing"]
            raise CLIError(
                f"column {label!r} must hold binary labels 0/1, found {odd}; for ratings "
                "use --rating-col COLUMN --positive-threshold T instead."
            )
        X = log.drop(columns=[label])
        y = y.astype(np.int64)
        return X, y, bool((y == 1).all())
    reporter.detail(f"no {label!r} column: every row is a positive (implicit feedback)")
    return log, pd.Series(np.ones(len(log), dtype=np.int64), index=log.index, name="label"), True
