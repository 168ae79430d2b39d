"""Statistics that can be updated one chunk at a time (out-of-core fitting)."""

import numpy as np


class RunningMoments:
    """Count, mean and sum of squared deviations, merged chunk by chunk.

    Chan et al.'s pairwise update, exact up to rounding: after any sequence
    of :meth:`update` calls the figures equal those of one pass over the
    concatenated values.

    Examples
    --------
    >>> import numpy as np
    >>> from skrec.utils._streaming import RunningMoments
    >>> moments = RunningMoments()
    >>> moments.update(np.array([1.0, 2.0])).update(np.array([3.0, 4.0, 5.0]))
    RunningMoments(count=5, mean=3.0)
    >>> round(moments.var, 12)
    2.0
    """

    def __init__(self):
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0

    def update(self, values):
        """Merge the moments of ``values`` (1-d float array, no NaN)."""
        n = values.size
        if n == 0:
            return self
        mean = float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total
        return self

    @property
    def var(self):
        """Population variance (``ddof=0``); 0 when empty."""
        return self.m2 / self.count if self.count else 0.0

    def __repr__(self):
        return f"RunningMoments(count={self.count}, mean={self.mean!r})"


class Reservoir:
    """A uniform random sample of fixed size from a stream of values.

    Used for quantiles (the fill median) of data seen one chunk at a time: the
    sample's median estimates the stream's within about
    ``1 / sqrt(capacity)`` in rank. Seeded, so the same stream gives the same
    sample.

    Parameters
    ----------
    capacity : int, default=100_000
    seed : int, default=0

    Examples
    --------
    >>> import numpy as np
    >>> from skrec.utils._streaming import Reservoir
    >>> sample = Reservoir(capacity=1000)
    >>> for start in range(0, 100_000, 10_000):
    ...     _ = sample.update(np.arange(start, start + 10_000, dtype=float))
    >>> sample.seen, sample.values.size
    (100000, 1000)
    >>> abs(float(np.median(sample.values)) - 50_000) < 5_000
    True
    """

    def __init__(self, capacity=100_000, seed=0):
        self.capacity = capacity
        self.values = np.empty(0, dtype=np.float64)
        self.seen = 0
        self._rng = np.random.default_rng(seed)

    def update(self, values):
        """Offer ``values`` (1-d float array) to the sample."""
        values = np.asarray(values, dtype=np.float64)
        room = max(self.capacity - self.values.size, 0)
        if room:
            self.values = np.concatenate([self.values, values[:room]])
        rest = values[room:]
        if rest.size:
            # Algorithm R, vectorised: value number t replaces a random slot
            # with probability capacity / (t + 1).
            t = self.seen + room + np.arange(rest.size)
            slots = (self._rng.random(rest.size) * (t + 1)).astype(np.int64)
            keep = slots < self.capacity
            self.values[slots[keep]] = rest[keep]
        self.seen += values.size
        return self
