"""Splitting a 2-d feature matrix into the named inputs of a Keras model.

A deep recommender's inputs are described by a *schema*: one entry per column
with its ``kind`` (``"id"``, ``"categorical"``, ``"numeric"``, ``"sequence"``),
``side`` (``"user"``, ``"item"``, ``"context"``) and ``vocabulary_size``.
:class:`~skrec.preprocessing.FeatureBuilder` attaches it to its output; for a
plain array the encoder learns one itself (column 0: user ids, column 1: item
ids, the rest numeric).
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..preprocessing._features import SCHEMA_ATTR

NUMERIC_INPUT = "numeric"
HISTORY_INPUT = "history"
INDEX_KINDS = ("id", "categorical")
KINDS = (*INDEX_KINDS, "numeric", "sequence")


def schema_of(X):
    """The schema attached to ``X`` by FeatureBuilder, or None."""
    attrs = getattr(X, "attrs", None)
    if attrs and SCHEMA_ATTR in attrs:
        return [dict(entry) for entry in attrs[SCHEMA_ATTR]]
    return None


def check_same_schema(who, X, fitted_schema):
    """Refuse FeatureBuilder output whose schema is not the one a model was fitted on.

    Returns the schema of ``X`` (None for a plain array).
    """
    schema = schema_of(X)
    if schema is not None and fitted_schema is not None and schema != fitted_schema:
        raise ValueError(
            f"{who}: X was encoded by a FeatureBuilder other than the one this "
            "model was trained on (its schema differs), so its ids would be read "
            "as the wrong users and items; predict through the fitted pipeline."
        )
    return schema


def input_name(entry_position):
    """Keras input name of the index column at ``entry_position``."""
    return f"index_{entry_position}"


class InputSplitter(TransformerMixin, BaseEstimator):
    """Turn a validated 2-d array into the dict of arrays a model consumes.

    Index columns (ids, categoricals) become one ``int32`` input each; all
    numeric columns are stacked into one ``float32`` input named
    ``"numeric"``; the ``"sequence"`` columns (FeatureBuilder's
    ``history_1 .. history_N``) into one ``(n, N)`` ``int32`` input named
    ``"history"``, in schema order.

    Parameters
    ----------
    schema : list of dict or None
        Column descriptions; None learns one from a plain array.
    """

    def __init__(self, schema=None):
        self.schema = schema

    def fit(self, X, y=None):
        X = np.asarray(X)
        if self.schema is not None:
            if len(self.schema) != X.shape[1]:
                raise ValueError(
                    f"X has {X.shape[1]} columns but its schema describes "
                    f"{len(self.schema)}; pass the output of the same FeatureBuilder."
                )
            unknown = sorted(
                {str(e["kind"]) for e in self.schema if e["kind"] not in KINDS}
            )
            if unknown:
                raise ValueError(
                    f"the input schema has column kind(s) {unknown}; known kinds "
                    f"are {list(KINDS)}. Pass the output of FeatureBuilder."
                )
            self.schema_ = [dict(entry) for entry in self.schema]
            self.id_vocabularies_ = None
        else:
            if X.shape[1] < 2:
                raise ValueError(
                    f"X has {X.shape[1]} feature(s) but a recommender needs a user "
                    "id column and an item id column; pass FeatureBuilder output or "
                    "an array whose column 0 holds user ids and column 1 item ids."
                )
            self.id_vocabularies_ = [np.unique(X[:, 0]), np.unique(X[:, 1])]
            self.schema_ = [
                {"name": 0, "kind": "id", "side": "user",
                 "vocabulary_size": len(self.id_vocabularies_[0]) + 1},
                {"name": 1, "kind": "id", "side": "item",
                 "vocabulary_size": len(self.id_vocabularies_[1]) + 1},
            ] + [
                {"name": j, "kind": "numeric", "side": "context", "vocabulary_size": None}
                for j in range(2, X.shape[1])
            ]
        self.index_positions_ = [
            j for j, e in enumerate(self.schema_) if e["kind"] in INDEX_KINDS
        ]
        self.numeric_positions_ = [
            j for j, e in enumerate(self.schema_) if e["kind"] == "numeric"
        ]
        self.sequence_positions_ = [
            j for j, e in enumerate(self.schema_) if e["kind"] == "sequence"
        ]
        return self

    def transform(self, X):
        X = np.asarray(X)
        inputs = {}
        for j in self.index_positions_:
            column = X[:, j]
            if self.id_vocabularies_ is not None and j < 2:
                column = _lookup_sorted(self.id_vocabularies_[j], column)
            else:
                size = self.schema_[j]["vocabulary_size"]
                # An index outside the vocabulary can only come from a different
                # FeatureBuilder: treat it as unknown rather than a wrong id.
                column = np.where((column >= 0) & (column < size), column, 0)
            inputs[input_name(j)] = column.astype(np.int32)
        if self.numeric_positions_:
            inputs[NUMERIC_INPUT] = X[:, self.numeric_positions_].astype(np.float32)
        sequence = getattr(self, "sequence_positions_", [])
        if sequence:
            block = X[:, sequence]
            sizes = np.array([self.schema_[j]["vocabulary_size"] for j in sequence])
            block = np.where((block >= 0) & (block < sizes), block, 0)
            inputs[HISTORY_INPUT] = block.astype(np.int32)
        return inputs

    def get_metadata(self):
        return {"input_schema_": self.schema_}


def _lookup_sorted(vocabulary, values):
    position = np.searchsorted(vocabulary, values)
    position = np.clip(position, 0, len(vocabulary) - 1)
    return np.where(vocabulary[position] == values, position + 1, 0)
