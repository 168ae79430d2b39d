"""Why a fitted pipeline gave a (user, item) score: history items and features."""

import numbers

import numpy as np
import pandas as pd

from ._recommend import (
    _candidate_frame,
    _context_columns,
    _find_builder,
    _positive_column,
)
from .preprocessing._features import SCHEMA_ATTR

__all__ = ["Explanation", "explain"]

# Keras item-embedding layers read when an estimator has no ``_item_embeddings``
# hook (NCFClassifier's two towers); concatenated in this order.
_ITEM_EMBEDDING_LAYERS = ("gmf_item", "mlp_item")

_HISTORY_METHODS = {  # one line each; explain's Notes say it in full
    "exact": "exact EASE terms B[j, i]; they sum to raw_score",
    "occlusion": "score - score without the item in the history input",
    "similarity": "cosine similarity of item embeddings, not a change of score",
    "none": "not available: the model reads no history and has no item embeddings",
}


class Explanation:
    """Why a fitted pipeline gave one (user, item) score; see :func:`explain`.

    Attributes
    ----------
    user, item : hashable
        The raw ids explained.
    score : float
        The pipeline's probability of a positive interaction for the pair.
    raw_score : float or None
        The final estimator's score before its probability map, when the
        history decomposition is exact (``history_method="exact"``), else
        None.
    known_user : bool
        False when the user is not in the FeatureBuilder's vocabulary: the
        pair is explained with an empty history.
    history_method : {"exact", "occlusion", "similarity", "none"}
        What the ``contribution`` of :attr:`history` means (see
        :func:`explain`, Notes).
    history : DataFrame
        Columns ``item_id`` and ``contribution``: the user's training items,
        strongest (largest absolute contribution) first, at most ``top``.
    features : DataFrame
        Columns ``feature``, ``side``, ``kind``, ``value`` (the raw input
        value; the encoded value for a declared boolean feature; the tuple of
        history item ids for ``history``), ``encoded`` (the FeatureBuilder's
        output value), ``baseline`` (the encoded value it is replaced by) and
        ``contribution`` (``score`` minus the score with the feature at its
        baseline), strongest first, at most ``top``.
    notes : list of str
        Remarks on this pair: the user was unknown, or the item is itself in
        the user's training history.
    """

    def __init__(
        self,
        *,
        user,
        item,
        score,
        raw_score,
        known_user,
        history_method,
        history,
        features,
        notes,
        estimator_name,
    ):
        self.user = user
        self.item = item
        self.score = score
        self.raw_score = raw_score
        self.known_user = known_user
        self.history_method = history_method
        self.history = history
        self.features = features
        self.notes = notes
        self.estimator_name = estimator_name

    @property
    def history_meaning(self):
        """What a history ``contribution`` is, in words."""
        return _HISTORY_METHODS[self.history_method]

    def to_frame(self):
        """Both tables in one tidy frame.

        Returns
        -------
        frame : DataFrame
            Columns ``source`` (``"history"`` or ``"feature"``), ``name``
            (item id or feature name) and ``contribution``; history rows
            first, each part in the order of its table.
        """
        parts = [
            pd.DataFrame(
                {
                    "source": "history",
                    "name": pd.Series(self.history["item_id"].to_numpy(), dtype=object),
                    "contribution": self.history["contribution"].to_numpy(),
                }
            ),
            pd.DataFrame(
                {
                    "source": "feature",
                    "name": pd.Series(self.features["feature"].to_numpy(), dtype=object),
                    "contribution": self.features["contribution"].to_numpy(),
                }
            ),
        ]
        return pd.concat(parts, ignore_index=True)

    def __repr__(self):
        head = (
            f"Explanation(user={self.user!r}, item={self.item!r}, "
            f"score={self.score:.4g}"
        )
        if self.raw_score is not None:
            head += f", raw_score={self.raw_score:.4g}"
        lines = [head + f", model={self.estimator_name})"]
        lines += [f"note: {note}" for note in self.notes]
        lines.append(f"history ({self.history_meaning}):")
        lines.append(_indent(_table(self.history)) if len(self.history) else "  (none)")
        lines.append("features (score - score with the feature at its baseline):")
        lines.append(_indent(_table(self.features)))
        return "\n".join(lines)


def explain(model, user, item, *, top=10, context=None):
    """Say which history items and features drove one (user, item) score.

    The pair is scored like :func:`~skrec.recommend` scores a candidate
    (``model.predict_proba(row)[:, positive class]`` on a row built from the
    FeatureBuilder's catalogue and user profiles), then every occluded variant
    of that row, one per feature and, where the model reads the history, one
    per history item, is scored in a single batched ``predict_proba`` call.

    Parameters
    ----------
    model : sklearn.pipeline.Pipeline
        A fitted pipeline with a fitted :class:`~skrec.FeatureBuilder` (fitted
        on a DataFrame) before a final classifier with ``predict_proba``; any
        classifier works, skrec's or scikit-learn's.
    user : hashable
        Raw user id. A user unknown to the FeatureBuilder is explained with
        an empty history, the unknown-user index and missing user attributes
        (``known_user=False``, and a note says so).
    item : hashable
        Raw item id; it must be in the FeatureBuilder's ``item_catalogue_``.
    top : int or None, default=10
        Rows kept in each table, strongest first; None keeps all.
    context : dict or None, default=None
        Values of the context columns, as in :func:`~skrec.recommend` (e.g.
        ``{"user_behavior": 3}`` or ``{"timestamp": ...}``); a context column
        left out is missing (categorical) or 0, and with a history feature a
        missing time means the user's latest history.

    Returns
    -------
    explanation : Explanation
        ``score``, ``history`` and ``features`` tables (``to_frame()`` joins
        them in one tidy frame), ``history_method`` and ``notes``; its repr
        prints all of it.

    Raises
    ------
    ValueError
        When ``model`` is not a fitted pipeline with a FeatureBuilder, when
        ``item`` is not in the catalogue, when ``top`` is not a positive
        integer or None, or when ``context`` names a column that is not a
        context column.

    See Also
    --------
    skrec.recommend : Top-k items per user from the same pipeline.

    Notes
    -----
    **Features.** Each FeatureBuilder output column is replaced, in the
    encoded row, by a baseline: index 0 (unknown) for id and categorical
    columns; for numeric columns the training mean, i.e. 0 once standardised
    (with ``scale_numeric=False`` the FeatureBuilder keeps no mean and the
    missing-value fill of ``numeric_missing`` is used); 0 (false) for declared
    boolean features. The ``history_1 .. history_N`` columns are one feature,
    ``history``, whose baseline is the empty history (all 0). The
    contribution is ``score - score_with_baseline``, in probability units. A
    column the model ignores has contribution exactly 0. Contributions are
    one-at-a-time occlusions: they need not add up to the score.

    **History.** The items listed are the user's training items
    (``FeatureBuilder.seen_items_``: every item of the user's training rows,
    positive or not). What ``contribution`` means depends on the model, given
    by ``history_method`` and chosen in this order:

    - ``"exact"``, for EASE (a final estimator with ``B_`` and
      ``user_items_``): ``B[j, i]`` when ``j`` is one of the user's training
      positives, else 0. The score before the probability map is exactly the
      sum of these terms (``raw_score``), so each one is also what removing
      ``j`` from the user's history would take away from it.
    - ``"occlusion"``, when the FeatureBuilder has a history feature
      (``history_length > 0``): ``score - score`` with the history columns
      rebuilt from the user's stored positives (before the row's time, if
      ``context`` gives one) without ``j``; a model that reads the history
      changes its score, one that ignores it gives 0. An item outside the
      last ``history_length`` positives (or never a positive) does not change
      the history columns: 0.
    - ``"similarity"``, when the history enters the model only through
      training but the model has learned item embeddings (NCF's ``gmf_item``
      and ``mlp_item`` layers, concatenated, or an estimator's
      ``_item_embeddings()`` hook returning an ``(n_items + 1, d)`` array
      indexed like the FeatureBuilder's items): the cosine similarity of the
      embeddings of ``j`` and of the explained item, in [-1, 1]: how alike
      the model holds them, not a change of score.
    - ``"none"`` otherwise: contributions are NaN.

    Tables are sorted by absolute contribution, largest first (NaN last),
    ties in item-index or column order, so results are deterministic.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.pipeline import make_pipeline
    >>> from skrec import FeatureBuilder
    >>> from skrec import explain
    >>> from skrec.models import EASEClassifier
    >>> log = pd.DataFrame({
    ...     "user_id": ["ann", "ann", "bob", "bob", "bob", "eve", "eve"],
    ...     "item_id": ["tv", "radio", "tv", "radio", "cable", "tv", "cable"],
    ... })
    >>> y = [1, 1, 1, 1, 1, 1, 0]
    >>> model = make_pipeline(FeatureBuilder(), EASEClassifier(l2=1.0)).fit(log, y)
    >>> why = explain(model, "ann", "cable")
    >>> why
    Explanation(user='ann', item='cable', score=0.3333, raw_score=0.375, model=EASEClassifier)
    history (exact EASE terms B[j, i]; they sum to raw_score):
      item_id  contribution
        radio          0.25
           tv         0.125
    features (score - score with the feature at its baseline):
      feature side kind value encoded baseline  contribution
      user_id user   id   ann       1        0        0.1667
      item_id item   id cable       3        0        0.1667

    Ann's score for the cable comes from her radio more than her TV (Bob,
    the cable's only buyer, had both; the TV is also Eve's). The tidy form:

    >>> why.to_frame().round(4)
        source     name  contribution
    0  history    radio        0.2500
    1  history       tv        0.1250
    2  feature  user_id        0.1667
    3  feature  item_id        0.1667
    """
    builder, position = _builder_of(model)
    top = _check_top(top)
    context = _check_context(model, builder, context)
    steps = model.steps
    estimator = steps[-1][1]

    catalogue = builder.item_catalogue_
    item_row = catalogue.index.get_indexer([item])[0]
    if item_row < 0:
        raise ValueError(
            f"explain: item {item!r} is not in the fitted item catalogue; only "
            "catalogue items (items seen in fit) can be explained."
        )
    profiles = builder.user_profiles_
    known_user = builder.user_vocabulary_.get_indexer([user])[0] >= 0
    if known_user:
        user_attrs = profiles.iloc[profiles.index.get_indexer([user])]
    else:  # missing attributes: unknown categories, numeric fill values
        user_attrs = pd.DataFrame(np.nan, index=[0], columns=profiles.columns, dtype=object)
    columns = list(getattr(model, "feature_names_in_", builder.feature_names_in_))
    raw = _candidate_frame(
        builder,
        columns,
        [user],
        catalogue.index[[item_row]],
        catalogue.iloc[[item_row]],
        user_attrs,
        context,
    )

    before = raw
    for _, step in steps[:position]:
        if step is not None and step != "passthrough":
            before = step.transform(before)
    encoded = builder.transform(before)
    user_index = int(encoded[builder.user_col].iloc[0])
    item_index = int(encoded[builder.item_col].iloc[0])

    groups = _feature_groups(builder, encoded, raw)
    seen = builder.seen_items_.tocsr()
    history_items = seen.indices[seen.indptr[user_index] : seen.indptr[user_index + 1]]
    history_items = np.unique(history_items[history_items > 0]).astype(np.int64)
    method = _history_method(estimator, builder)

    windows, window_of = [], {}
    sequence = [e["name"] for e in builder.schema_ if e["kind"] == "sequence"]
    if method == "occlusion":
        stored = _stored_history(builder, before, user_index)
        shown = set(_window(stored, len(sequence)).tolist())
        for j in history_items:
            if j in shown:
                window_of[j] = len(windows)
                windows.append(_window(stored[stored != j], len(sequence)))

    variants = _variants(encoded, groups, sequence, windows)
    transformed = variants
    for _, step in steps[position + 1 : -1]:
        if step is not None and step != "passthrough":
            transformed = step.transform(transformed)
    proba = np.asarray(estimator.predict_proba(transformed), dtype=np.float64)
    scores = proba[:, _positive_column(model)]
    score = float(scores[0])

    raw_score = None
    if method == "exact":
        raw_score = float(np.asarray(estimator.decision_function(transformed[:1]))[0])
        positives = estimator.user_items_[user_index].toarray().ravel() > 0
        contributions = np.where(
            positives[history_items], estimator.B_[history_items, item_index], 0.0
        )
    elif method == "occlusion":
        first = 1 + len(groups)
        contributions = np.array(
            [
                score - scores[first + window_of[j]] if j in window_of else 0.0
                for j in history_items
            ],
            dtype=np.float64,
        )
    elif method == "similarity":
        embeddings = _item_embeddings(estimator, builder)
        contributions = _cosine(embeddings[history_items], embeddings[item_index])
    else:
        contributions = np.full(history_items.size, np.nan)

    history = pd.DataFrame(
        {
            "item_id": builder.item_vocabulary_[history_items - 1],
            "contribution": contributions,
        }
    )
    features = pd.DataFrame(
        {
            "feature": pd.Series([g["name"] for g in groups], dtype=object),
            "side": [g["side"] for g in groups],
            "kind": [g["kind"] for g in groups],
            "value": pd.Series([g["value"] for g in groups], dtype=object),
            "encoded": pd.Series([g["encoded"] for g in groups], dtype=object),
            "baseline": pd.Series([g["baseline_shown"] for g in groups], dtype=object),
            "contribution": score - scores[1 : 1 + len(groups)],
        }
    )
    notes = []
    if not known_user:
        notes.append(
            f"user {user!r} is unknown to the pipeline: explained with an empty "
            "history, the unknown-user index and missing user attributes."
        )
    if item_index in history_items:
        notes.append(f"item {item!r} is itself in the user's training history.")
    return Explanation(
        user=user,
        item=catalogue.index[item_row],
        score=score,
        raw_score=raw_score,
        known_user=bool(known_user),
        history_method=method,
        history=_strongest(history, top),
        features=_strongest(features, top),
        notes=notes,
        estimator_name=type(estimator).__name__,
    )


# ---------------------------------------------------------------- helpers
def _builder_of(model):
    """The pipeline's FeatureBuilder and its step position (errors say explain)."""
    try:
        builder = _find_builder(model)
    except ValueError as error:
        message = str(error).replace("recommend", "explain")
        raise type(error)(message) from None
    position = next(p for p, (_, step) in enumerate(model.steps) if step is builder)
    return builder, position


def _check_top(top):
    if top is None:
        return None
    if isinstance(top, (bool, np.bool_)) or not isinstance(top, numbers.Integral) or top < 1:
        raise ValueError(f"explain: top must be a positive integer or None, got {top!r}.")
    return int(top)


def _check_context(model, builder, context):
    if context is not None and not isinstance(context, dict):
        raise ValueError(
            "explain: context must be a dict of column -> value or None, got "
            f"{type(context).__name__}."
        )
    context = dict(context or {})
    columns = list(getattr(model, "feature_names_in_", builder.feature_names_in_))
    allowed = _context_columns(builder, columns)
    unknown = [c for c in context if c not in allowed]
    if unknown:
        raise ValueError(
            f"explain: context columns {unknown} are not context columns of the "
            f"pipeline's input; its context columns are {allowed}."
        )
    return context


def _feature_groups(builder, encoded, raw):
    """One occlusion per output column; the history columns are one group."""
    groups = []
    sequence = []
    for entry in builder.schema_:
        name, kind = entry["name"], entry["kind"]
        if kind == "sequence":
            sequence.append(name)
            continue
        if kind in ("id", "categorical"):
            baseline = 0
        elif name in builder.numeric_stats_:
            stats = builder.numeric_stats_[name]
            # Standardised columns: the training mean encodes to 0.
            baseline = 0.0 if builder.scale_numeric else stats["fill"]
        else:  # a declared boolean feature
            baseline = 0.0
        if name in raw.columns:
            value = raw[name].iloc[0]
        else:
            value = encoded[name].iloc[0]
        groups.append(
            {
                "name": name,
                "side": entry["side"],
                "kind": kind,
                "columns": [name],
                "baselines": [baseline],
                "baseline_shown": baseline,
                "value": value,
                "encoded": encoded[name].iloc[0].item(),
            }
        )
    if sequence:
        window = encoded[sequence].iloc[0].to_numpy(dtype=np.int64)
        shown = window[window > 0]
        groups.append(
            {
                "name": "history",
                "side": "context",
                "kind": "sequence",
                "columns": sequence,
                "baselines": [0] * len(sequence),
                "baseline_shown": (0,) * len(sequence),
                "value": tuple(builder.item_vocabulary_[shown - 1]),
                "encoded": tuple(window.tolist()),
            }
        )
    return groups


def _history_method(estimator, builder):
    n_items = builder.schema_[1]["vocabulary_size"]
    weights = getattr(estimator, "B_", None)
    if (
        weights is not None
        and hasattr(estimator, "user_items_")
        and hasattr(estimator, "decision_function")
        and np.shape(weights) == (n_items, n_items)
    ):
        return "exact"
    if any(entry["kind"] == "sequence" for entry in builder.schema_):
        return "occlusion"
    if _item_embeddings(estimator, builder) is not None:
        return "similarity"
    return "none"


def _item_embeddings(estimator, builder):
    """``(n_item_index, d)`` item embeddings of the estimator, or None."""
    hook = getattr(estimator, "_item_embeddings", None)
    if callable(hook):
        embeddings = hook()
    else:
        network = getattr(estimator, "model_", None)
        if network is None or not hasattr(network, "get_layer"):
            return None
        tables = []
        for name in _ITEM_EMBEDDING_LAYERS:
            try:
                layer = network.get_layer(name)
            except ValueError:
                continue
            tables.append(np.asarray(layer.get_weights()[0], dtype=np.float64))
        embeddings = np.concatenate(tables, axis=1) if tables else None
    if embeddings is None:
        return None
    embeddings = np.asarray(embeddings, dtype=np.float64)
    n_items = builder.schema_[1]["vocabulary_size"]
    if embeddings.ndim != 2 or embeddings.shape[0] != n_items:
        return None
    return embeddings


def _cosine(rows, target):
    norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(target)
    dots = rows @ target
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def _stored_history(builder, frame, user_index):
    """The user's stored positives the row may see (before its time, if any)."""
    start, end = builder.history_indptr_[user_index : user_index + 2]
    items = builder.history_items_[start:end]
    if builder._timestamp_col in frame.columns:
        times, missing, kind = builder._event_times(frame)
        if kind is not None and not missing[0]:
            stored = builder.history_times_[start:end]
            if stored.dtype.kind == "M":
                stored = stored.view(np.int64)
            items = items[stored < times[0]]
    return np.asarray(items, dtype=np.int64)


def _window(items, length):
    """The last ``length`` items, oldest first, left-padded with 0."""
    last = items[max(items.size - length, 0) :]
    return np.concatenate([np.zeros(length - last.size, dtype=np.int64), last])


def _variants(encoded, groups, sequence, windows):
    """The encoded row, then one occluded copy per group, then per history window."""
    n = 1 + len(groups) + len(windows)
    data = {name: np.repeat(encoded[name].to_numpy(), n) for name in encoded.columns}
    for row, group in enumerate(groups, start=1):
        for name, baseline in zip(group["columns"], group["baselines"]):
            data[name][row] = baseline
    for row, window in enumerate(windows, start=1 + len(groups)):
        for name, value in zip(sequence, window):
            data[name][row] = value
    variants = pd.DataFrame(data, columns=encoded.columns)
    variants.attrs[SCHEMA_ATTR] = [dict(entry) for entry in encoded.attrs[SCHEMA_ATTR]]
    return variants


def _strongest(table, top):
    order = np.argsort(-np.abs(table["contribution"].to_numpy()), kind="stable")
    nan_last = np.isnan(table["contribution"].to_numpy()[order])
    order = np.concatenate([order[~nan_last], order[nan_last]])
    if top is not None:
        order = order[:top]
    return table.iloc[order].reset_index(drop=True)


def _table(frame):
    return frame.to_string(
        index=False, float_format=lambda v: f"{v:.4g}", max_colwidth=40
    )


def _indent(text):
    return "\n".join("  " + line for line in text.splitlines())
