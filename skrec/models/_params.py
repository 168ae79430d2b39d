"""Parameter checks shared by the deep recommenders' ``_check_params``.

Each raises a ``ValueError`` naming the estimator, the parameter, the value
and what is expected. Integers may be Python or NumPy integers (parameter
grids often hold ``np.int64``); booleans are refused.
"""

import numbers

import numpy as np


def is_int(value):
    """True for a Python or NumPy integer that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value):
    """True for a Python or NumPy real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(who, name, value, low):
    """``value`` must be an integer >= ``low``."""
    if not is_int(value) or value < low:
        raise ValueError(f"{who}: {name}={value!r} must be an integer >= {low}.")


def check_positive_int(who, name, value):
    """``value`` must be an integer >= 1."""
    check_int(who, name, value, 1)


def check_bool(who, name, value):
    """``value`` must be True or False (NumPy booleans included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{who}: {name}={value!r} must be True or False.")


def check_hidden_units(who, units, example="(64, 32, 16)", name="hidden_units"):
    """``units`` must be a sequence of integers >= 1 (possibly empty)."""
    try:
        valid = not isinstance(units, str) and all(is_int(u) and u >= 1 for u in units)
    except TypeError:  # not iterable
        valid = False
    if not valid:
        raise ValueError(
            f"{who}: {name}={units!r} must be a sequence of positive integers, "
            f"e.g. {example}."
        )


def check_rate(who, name, value):
    """``value`` must be a number in [0, 1) (a dropout rate)."""
    if not is_real(value) or not 0 <= value < 1:
        raise ValueError(f"{who}: {name}={value!r} must be a number in [0, 1).")


def check_non_negative(who, name, value):
    """``value`` must be a number >= 0 (a penalty)."""
    if not is_real(value) or not value >= 0:
        raise ValueError(f"{who}: {name}={value!r} must be a number >= 0.")
