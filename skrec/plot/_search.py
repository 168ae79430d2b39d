"""Search heatmaps: a hyper-parameter search's mean test score over two parameters."""

import difflib
import numbers

import numpy as np
import pandas as pd

from ._matplotlib import resolve_ax

_WHO = "SearchHeatmapDisplay"


class SearchHeatmapDisplay:
    """Heatmap of a search's mean cross-validated score over two parameters.

    Build it with :meth:`from_search` from a fitted
    :class:`~sklearn.model_selection.GridSearchCV` or
    :class:`~sklearn.model_selection.RandomizedSearchCV`, or from a table of
    scores and call :meth:`plot`. Each cell is annotated with its score; the
    best cell's text is bold.

    Parameters
    ----------
    scores : pandas.DataFrame
        Mean test scores: one row per value of the ``y`` parameter (the
        index), one column per value of the ``x`` parameter; NaN for a pair
        that was not evaluated.
    x_param, y_param : str
        Names of the parameters on the horizontal and vertical axes.
    score_name : str, default="score"
        Name of the score, shown on the colour bar.

    Attributes
    ----------
    im_ : matplotlib AxesImage
        The heatmap; ``im_.get_array()`` is ``scores`` (masked where NaN).
    text_ : ndarray of matplotlib Text or None, shape (n_y, n_x)
        The annotation of each cell (None for a NaN cell, or without
        annotations).
    colorbar_ : matplotlib Colorbar or None
        The colour bar.
    ax_ : matplotlib Axes
        Axes with the heatmap.
    figure_ : matplotlib Figure
        Figure containing the heatmap.

    See Also
    --------
    sklearn.model_selection.GridSearchCV : The search it reads.
    MetricAtKDisplay : Compare the chosen models at several cut-offs.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from skrec import FeatureBuilder, InteractionNormalizer, make_interactions
    >>> from skrec.models import EASEClassifier
    >>> from skrec.plot import SearchHeatmapDisplay
    >>> X, y = make_interactions(n_users=60, n_items=40, n_interactions=1500,
    ...                          random_state=0, return_X_y=True)
    >>> pipe = make_pipeline(InteractionNormalizer(), FeatureBuilder(), EASEClassifier())
    >>> grid = {"easeclassifier__l2": [1.0, 10.0, 100.0],
    ...         "interactionnormalizer__strategy": ["log1p", "binary"]}
    >>> search = GridSearchCV(pipe, grid, cv=2, scoring="roc_auc").fit(X, y)
    >>> display = SearchHeatmapDisplay.from_search(
    ...     search, x="easeclassifier__l2", y="interactionnormalizer__strategy")
    >>> display.scores.shape
    (2, 3)
    >>> display.colorbar_.ax.get_ylabel()
    'mean test roc_auc'
    """

    def __init__(self, *, scores, x_param, y_param, score_name="score"):
        self.scores = scores
        self.x_param = x_param
        self.y_param = y_param
        self.score_name = score_name

    def plot(self, ax=None, *, cmap="viridis", annotate=True, fmt=".3f", colorbar=True,
             **kwargs):
        """Draw the heatmap.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        cmap : str or matplotlib Colormap, default="viridis"
            Colour map of the scores.
        annotate : bool, default=True
            Write each cell's score in it.
        fmt : str, default=".3f"
            Format specification of the annotations.
        colorbar : bool, default=True
            Add a colour bar labelled with the score name.
        **kwargs : dict
            Keyword arguments of :meth:`matplotlib.axes.Axes.imshow`.

        Returns
        -------
        display : SearchHeatmapDisplay
            ``self``, with :attr:`im_`, :attr:`text_`, :attr:`colorbar_`,
            :attr:`ax_` and :attr:`figure_`.
        """
        scores = pd.DataFrame(self.scores)
        ax, figure = resolve_ax(ax, _WHO)
        values = np.ma.masked_invalid(scores.to_numpy(dtype=np.float64))
        style = {"cmap": cmap, "origin": "lower", "aspect": "auto", **kwargs}
        im = ax.imshow(values, **style)
        n_y, n_x = values.shape
        ax.set_xticks(np.arange(n_x), [_tick(v) for v in scores.columns])
        ax.set_yticks(np.arange(n_y), [_tick(v) for v in scores.index])
        ax.set_xlabel(self.x_param)
        ax.set_ylabel(self.y_param)
        text = np.full((n_y, n_x), None, dtype=object)
        if annotate and values.count():
            best = np.unravel_index(np.ma.argmax(values), values.shape)
            missing = np.ma.getmaskarray(values)
            for row in range(n_y):
                for col in range(n_x):
                    if missing[row, col]:
                        continue
                    value = float(values[row, col])
                    text[row, col] = ax.text(
                        col,
                        row,
                        format(value, fmt),
                        ha="center",
                        va="center",
                        color=_text_colour(im.cmap(im.norm(value))),
                        fontweight="bold" if (row, col) == best else "normal",
                    )
        self.colorbar_ = None
        if colorbar:
            self.colorbar_ = figure.colorbar(im, ax=ax)
            self.colorbar_.set_label(f"mean test {self.score_name}")
        self.im_, self.text_, self.ax_, self.figure_ = im, text, ax, figure
        return self

    @classmethod
    def from_search(cls, search, *, x, y, metric=None, ax=None, **kwargs):
        """Plot a fitted search's mean test score over two of its parameters.

        When the search also varies other parameters, each cell shows the
        **best** mean test score over them (scikit-learn scores are
        greater-is-better; losses are negated). Candidates that do not set
        ``x`` or ``y`` (a list of grids) are left out. Numeric parameter values
        are shown in increasing order, others in the order the search tried
        them; a pair never tried is an empty cell.

        Parameters
        ----------
        search : GridSearchCV or RandomizedSearchCV
            A fitted search (it has ``cv_results_``).
        x, y : str
            Names of two searched parameters, as in ``param_grid``
            (e.g. ``"ncfclassifier__embedding_dim"``); ``x`` on the horizontal
            axis, ``y`` on the vertical one.
        metric : str, default=None
            With multi-metric scoring, the scorer whose mean test score is
            shown; None: the one named by ``refit``. With a single scorer,
            None, ``"score"`` or the ``scoring`` string.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        **kwargs : dict
            Keyword arguments of :meth:`plot` (``cmap``, ``annotate``,
            ``fmt``, ``colorbar``) and of :meth:`matplotlib.axes.Axes.imshow`.

        Returns
        -------
        display : SearchHeatmapDisplay

        Raises
        ------
        ValueError
            If ``x`` or ``y`` is not a searched parameter, if they are equal, or
            if ``metric`` is not one of the search's scorers.
        """
        results = getattr(search, "cv_results_", None)
        if results is None:
            raise ValueError(
                f"{_WHO}: {type(search).__name__} has no cv_results_; pass a fitted "
                "GridSearchCV or RandomizedSearchCV."
            )
        searched = [key[len("param_"):] for key in results if key.startswith("param_")]
        for role, name in (("x", x), ("y", y)):
            if name not in searched:
                raise ValueError(
                    f"{_WHO}: {role}={name!r} is not a searched parameter"
                    f"{_did_you_mean(name, searched)}; searched parameters: {searched}."
                )
        if x == y:
            raise ValueError(
                f"{_WHO}: x and y are both {x!r}; pass two different parameters "
                f"among {searched}."
            )
        key, score_name = _score_key(search, results, metric)
        x_column, y_column = results[f"param_{x}"], results[f"param_{y}"]
        table = pd.DataFrame(
            {
                "x": _param_values(x_column),
                "y": _param_values(y_column),
                "score": np.asarray(results[key], dtype=np.float64),
            }
        )
        # Masked: the candidate's grid does not set the parameter (a list of grids).
        unset = np.ma.getmaskarray(x_column) | np.ma.getmaskarray(y_column)
        table = table[~unset]
        if table.empty:
            raise ValueError(
                f"{_WHO}: no candidate of the search sets both {x!r} and {y!r} (they "
                "come from different grids); pick two parameters of one grid."
            )
        x_values, x_codes = _axis(table["x"])
        y_values, y_codes = _axis(table["y"])
        grid = np.full((len(y_values), len(x_values)), np.nan)
        for row, col, score in zip(y_codes, x_codes, table["score"]):
            if np.isfinite(score) and not score <= grid[row, col]:
                grid[row, col] = score
        scores = pd.DataFrame(
            grid,
            index=pd.Index(y_values, name=y, dtype=object),
            columns=pd.Index(x_values, name=x, dtype=object),
        )
        display = cls(scores=scores, x_param=x, y_param=y, score_name=score_name)
        return display.plot(ax=ax, **kwargs)


def _score_key(search, results, metric):
    """``(cv_results_ key, score name)`` of the requested mean test score."""
    names = [key[len("mean_test_"):] for key in results if key.startswith("mean_test_")]
    multimetric = getattr(search, "multimetric_", names != ["score"])
    if not multimetric:
        label = _scoring_name(getattr(search, "scoring", None))
        if metric in (None, "score", label):
            return "mean_test_score", label
        raise ValueError(
            f"{_WHO}: metric={metric!r} is not a scorer of this search; it has one "
            f"scorer, {label!r}: pass metric=None."
        )
    if metric is None:
        refit = getattr(search, "refit", None)
        if not isinstance(refit, str):
            raise ValueError(
                f"{_WHO}: the search has several scorers and refit={refit!r} names "
                f"none of them; pass metric=, one of {names}."
            )
        metric = refit
    if metric not in names:
        raise ValueError(
            f"{_WHO}: metric={metric!r} is not a scorer of this search"
            f"{_did_you_mean(metric, names)}; its scorers: {names}."
        )
    return f"mean_test_{metric}", metric


def _scoring_name(scoring):
    """``"roc_auc"`` for a named scorer, ``"ndcg@10"`` for a RankingScorer, else "score"."""
    if isinstance(scoring, str):
        return scoring
    metric, k = getattr(scoring, "metric", None), getattr(scoring, "k", None)
    if isinstance(metric, str) and isinstance(k, numbers.Integral):
        return f"{metric}@{k}"
    return "score"


def _did_you_mean(name, options):
    if not isinstance(name, str):
        return ""
    by_suffix = [option for option in options if option.endswith(f"__{name}")]
    close = by_suffix or difflib.get_close_matches(name, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _param_values(column):
    """A parameter's values, one per candidate, as an object Series."""
    return pd.Series(list(np.ma.getdata(column)), dtype=object)


def _text_colour(rgba):
    """Black on light cells, white on dark ones."""
    red, green, blue = rgba[:3]
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"


def _axis(values):
    """Distinct values of one axis, in display order, and each row's position."""
    keys = [_key(value) for value in values]
    distinct = {}
    for key, value in zip(keys, values):
        distinct.setdefault(key, value)
    ordered = list(distinct)
    if all(_is_number(distinct[key]) for key in ordered):
        ordered.sort(key=lambda key: distinct[key])
    position = {key: i for i, key in enumerate(ordered)}
    return [distinct[key] for key in ordered], np.array(
        [position[key] for key in keys], dtype=np.intp
    )


def _key(value):
    """A hashable stand-in for a parameter value (lists and dicts are not)."""
    try:
        hash(value)
    except TypeError:
        return ("unhashable", repr(value))
    return (type(value).__name__, value) if isinstance(value, bool) else value


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _tick(value):
    if _is_number(value) and not isinstance(value, numbers.Integral):
        return format(value, "g")
    if hasattr(value, "get_params"):  # an estimator as a parameter value
        return type(value).__name__
    return str(value)
