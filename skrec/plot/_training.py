"""Training curves: the per-epoch history a fitted deep recommender recorded."""

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ._matplotlib import line_style, resolve_ax

_WHO = "TrainingCurveDisplay"


class TrainingCurveDisplay:
    """Training curves of a deep recommender: every recorded series per epoch.

    Build it with :meth:`from_estimator` from a fitted deep model (or a
    Pipeline ending in one); it reads the model's ``history_``, the loss and
    whatever else Keras recorded per epoch (``val_loss`` with
    ``validation_split``, metrics passed as ``metrics=[...]``). Or build it
    from a history dict directly and call :meth:`plot`.

    A training series and its validation twin (``loss`` and ``val_loss``)
    share a colour; the validation line is dashed.

    Parameters
    ----------
    history : dict of str to array-like
        Per-epoch values by series name, as in the ``history_`` of a fitted
        skrec deep model; epoch ``e`` (1-based) is entry ``e - 1``.
    estimator_name : str, default=None
        Name of the model, used as the title of the plot.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The line of each plotted series, keyed by its ``history`` name.
    ax_ : matplotlib Axes
        Axes with the curves.
    figure_ : matplotlib Figure
        Figure containing the curves.

    See Also
    --------
    MetricAtKDisplay : A ranking metric at several cut-offs, several models.
    SearchHeatmapDisplay : Cross-validated score over two searched parameters.

    Notes
    -----
    scikeras stores the training value of a Keras metric under the snake case
    of the metric's class name, letter by letter for acronyms (``AUC`` is
    recorded as ``a_u_c``) but the validation value under Keras' own name
    (``val_auc``). The legend therefore reads runs of single letters as one
    word (``a_u_c`` is labelled ``auc``), so that the pair lines up;
    :attr:`lines_` keeps the ``history`` names.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skrec import FeatureBuilder, NCFClassifier, make_interactions
    >>> from skrec.plot import TrainingCurveDisplay
    >>> X, y = make_interactions(n_users=30, n_items=20, n_interactions=300,
    ...                          random_state=0, return_X_y=True)
    >>> model = NCFClassifier(epochs=2, validation_split=0.2, random_state=0)
    >>> pipe = make_pipeline(FeatureBuilder(), model).fit(X, y)
    >>> display = TrainingCurveDisplay.from_estimator(pipe)
    >>> sorted(display.lines_)
    ['loss', 'val_loss']
    >>> display.lines_["loss"].get_xdata().tolist()
    [1, 2]
    """

    def __init__(self, *, history, estimator_name=None):
        self.history = history
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, series=None, name=None, **kwargs):
        """Plot the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        series : list of str, default=None
            Names of the ``history`` series to draw, e.g.
            ``["loss", "val_loss"]``; all of them when None.
        name : str, default=None
            Title of the plot; ``estimator_name`` when None.
        **kwargs : dict
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot`, applied to
            every line (e.g. ``linewidth=2``).

        Returns
        -------
        display : TrainingCurveDisplay
            ``self``, with :attr:`lines_`, :attr:`ax_` and :attr:`figure_`.
        """
        history = _check_history(self.history)
        keys = _check_series(series, history)
        ax, figure = resolve_ax(ax, _WHO)
        from matplotlib import rcParams
        from matplotlib.ticker import MaxNLocator

        colors = rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
        colour_of = {}
        for key in _ordered(keys):
            twin = _train_twin(key, keys)
            if twin not in colour_of:
                colour_of[twin] = colors[len(colour_of) % len(colors)]
            colour_of[key] = colour_of[twin]
        lines = {}
        for key in _ordered(keys):
            values = history[key]
            defaults = {
                "color": colour_of[key],
                "linestyle": "--" if key.startswith("val_") else "-",
                "marker": "o" if len(values) <= 30 else None,
                "markersize": 4,
                "label": _readable(key),
            }
            (lines[key],) = ax.plot(
                np.arange(1, len(values) + 1), values, **line_style(defaults, kwargs)
            )
        ax.set_xlabel("epoch")
        only_losses = all(_readable(key).removeprefix("val_") == "loss" for key in keys)
        ax.set_ylabel("loss" if only_losses else "value")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        title = self.estimator_name if name is None else name
        if title:
            ax.set_title(title)
        ax.legend()
        self.lines_, self.ax_, self.figure_ = lines, ax, figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, series=None, name=None, ax=None, **kwargs):
        """Plot the training curves of a fitted deep recommender.

        Parameters
        ----------
        estimator : estimator or Pipeline
            A fitted skrec deep model (a
            :class:`~skrec.models.DeepRecommenderClassifier` such as
            :class:`~skrec.NCFClassifier`), or a fitted Pipeline whose last
            step is one; for a fitted search (e.g. ``GridSearchCV``), its
            ``best_estimator_``. Its ``history_`` holds one value per epoch of
            each recorded series.
        series : list of str, default=None
            Names of the series to draw; all recorded ones when None.
        name : str, default=None
            Title of the plot; the class name of the model when None.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        **kwargs : dict
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : TrainingCurveDisplay

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        ValueError
            If the model records no training history (the baselines
            :class:`~skrec.PopularityClassifier` and
            :class:`~skrec.EASEClassifier` are fitted in one step), or
            ``series`` names a series that was not recorded.
        """
        model = _final_step(estimator)
        model_name = type(model).__name__
        try:
            check_is_fitted(model)
        except NotFittedError as exc:
            raise NotFittedError(
                f"{_WHO}: this {model_name} is not fitted yet; fit it (or the "
                "pipeline around it) before plotting its training curves."
            ) from exc
        history = getattr(model, "history_", None)
        if history is None:
            raise ValueError(
                f"{_WHO}: {model_name} records no training history (it has no "
                "history_ attribute); only skrec's deep Keras models "
                "(DeepRecommenderClassifier subclasses such as NCFClassifier) "
                "record one value per epoch. Baselines such as PopularityClassifier "
                "and EASEClassifier are fitted in one step."
            )
        if not history:
            raise ValueError(
                f"{_WHO}: {model_name}.history_ is empty; no epoch has been "
                "recorded. Fit the model with epochs >= 1."
            )
        display = cls(
            history={key: np.asarray(values, dtype=np.float64) for key, values in history.items()},
            estimator_name=model_name,
        )
        return display.plot(ax=ax, series=series, name=name, **kwargs)


def _final_step(estimator):
    """The model at the end of a Pipeline (a search's best one), or the estimator."""
    estimator = getattr(estimator, "best_estimator_", estimator)
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        return steps[-1][1]
    return estimator


def _check_history(history):
    if not hasattr(history, "items") or not history:
        raise ValueError(
            f"{_WHO}: history must be a non-empty dict of per-epoch values "
            f"(e.g. model.history_), got {history!r}."
        )
    checked = {}
    for key, values in history.items():
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(
                f"{_WHO}: history[{key!r}] must be 1-d (one value per epoch), "
                f"got shape {values.shape}."
            )
        checked[str(key)] = values
    return checked


def _check_series(series, history):
    available = list(history)
    if series is None:
        return available
    if isinstance(series, str):
        series = [series]
    series = list(series)
    unknown = [key for key in series if key not in history]
    if unknown or not series:
        raise ValueError(
            f"{_WHO}: series {unknown or series!r} not recorded in the history; "
            f"recorded series: {available}."
        )
    return list(dict.fromkeys(series))


def _readable(key):
    """Join runs of single letters: scikeras records Keras' ``AUC`` as ``a_u_c``."""
    parts, out, run = key.split("_"), [], []
    for part in parts + [""]:
        if len(part) == 1:
            run.append(part)
            continue
        if run:
            out.append("".join(run))
            run = []
        if part:
            out.append(part)
    return "_".join(out)


def _train_twin(key, keys):
    """The training series a ``val_`` series belongs to (itself otherwise)."""
    if not key.startswith("val_"):
        return key
    wanted = _readable(key)[len("val_"):]
    for other in keys:
        if not other.startswith("val_") and _readable(other) == wanted:
            return other
    return key


def _ordered(keys):
    """Loss first, then the other series in recorded order; each before its ``val_`` twin."""
    ordered = []
    for key in sorted(keys, key=lambda key: _readable(key) != "loss"):
        if key.startswith("val_") and _train_twin(key, keys) != key:
            continue
        ordered.append(key)
        ordered.extend(
            other for other in keys if other.startswith("val_") and other != key
            and _train_twin(other, keys) == key
        )
    return ordered
