"""Splitting interaction logs for honest offline evaluation.

Cross-validators that keep per-user and temporal structure, usable as
``cv=`` in :class:`~sklearn.model_selection.GridSearchCV` and
:func:`~sklearn.model_selection.cross_validate`.
"""

from ._split import LeaveLatestOut, TemporalSplit, UserHoldout

__all__ = ["LeaveLatestOut", "TemporalSplit", "UserHoldout"]
