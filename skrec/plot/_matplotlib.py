"""Lazy matplotlib access shared by the displays of :mod:`skrec.plot`."""

_INSTALL = 'pip install "skrec-deep[plot]"'


def import_pyplot(who):
    """Return ``matplotlib.pyplot``, or an ImportError that names the fix.

    matplotlib is an optional dependency: it is imported here, when a plot is
    drawn, never when :mod:`skrec.plot` is imported.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{who} draws with matplotlib, which is not installed; install the plot "
            f"extra with: {_INSTALL}  (or: pip install matplotlib)"
        ) from exc
    return plt


def resolve_ax(ax, who):
    """``(ax, figure)``: the given Axes, or a new figure's single Axes."""
    plt = import_pyplot(who)
    if ax is None:
        _, ax = plt.subplots()
    return ax, ax.figure


def line_style(defaults, user):
    """Merge user Line2D keyword arguments over ``defaults``, aliases included.

    ``ls="--"`` replaces a default ``linestyle`` instead of clashing with it.
    """
    from matplotlib import cbook
    from matplotlib.lines import Line2D

    return {**defaults, **cbook.normalize_kwargs(user or {}, Line2D)}
