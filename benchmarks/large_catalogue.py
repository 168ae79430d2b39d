"""Benchmark: ``skrec.recommend`` top-10 over a 100,000-item catalogue (issue 6).

``recommend`` scores users in blocks and, where it helps, candidates in chunks,
so that no ``users x items`` score matrix is ever built: a block holds at most
``working_memory`` MiB of scores (64 by default) and keeps only its users'
running top-k. This script measures what that costs and saves at 10,000 users
x 100,000 items.

Protocol
--------
- data: ``make_interactions(n_users=10_000, n_items=120_000,
  n_interactions=1_000_000, random_state=0)``, then only the rows of the
  100,000 smallest item ids that occur (item popularity is Zipf-like, so
  about 5% of the ids never occur): a catalogue of exactly 100,000 items and
  about 950,000 rows;
- models, each fitted for one epoch (quality is not the point; scoring cost
  does not depend on training length): ``TwoTowerClassifier(batch_size=1024)``
  behind a default ``FeatureBuilder()`` (item tower over the id, category,
  brand and price; user tower over the id and interest), and
  ``AutoencoderClassifier()`` and ``NCFClassifier(batch_size=1024)`` behind
  an ids-only ``FeatureBuilder``. Fit times are printed apart;
- each row times one call ``recommend(pipe, users, k=10)`` (``exclude_seen``
  on) after a 2-user call that traces the prediction graphs. users/s and
  scores/s count every (user, candidate) pair ranked, seen ones included;
- memory, two figures per row: *RSS +MiB*, the highest resident set size
  sampled every 5 ms by a thread during the timed call minus the RSS just
  before it (the whole process: TensorFlow's buffers included, but memory
  the allocator kept from earlier phases is reused without showing), and
  *traced MiB*, the peak of ``tracemalloc`` (every NumPy and Python
  allocation, not TensorFlow's) during a second, identical call on the first
  1,000 users (tracing slows NumPy code down, so that call is not timed; the
  peak does not depend on the number of users);
- baseline, in the same process: the same ``recommend`` with a
  ``working_memory`` large enough to score the first 1,000 users in one
  block, i.e. the dense ``users x items`` product and its top-k at once; the
  ratio lines compare it with the default. ``--legacy FILE`` adds a row for
  a saved copy of an earlier ``skrec/_recommend.py`` (e.g. ``git show
  a612488:skrec/_recommend.py > /tmp/recommend_a612488.py``) on the first 300
  users;
- NCF runs its network on every unseen (user, item) pair, so it is timed on
  the first 20 users only and the time for all users is extrapolated.

Usage::

    python benchmarks/large_catalogue.py [--models twotower,ae,ncf]
                                         [--legacy FILE] [--quick]

``--quick`` runs 1,000 users x 10,000 items (a smoke test, about a minute).
Timings on a shared machine are noisy: compare the rows of one run.
"""

import argparse
import importlib.util
import os
import platform
import sys
import threading
import time
import tracemalloc

import numpy as np
from sklearn.pipeline import make_pipeline

# skrec first: it imports TensorFlow quietly.
import skrec
from skrec import FeatureBuilder, make_interactions, recommend
from skrec.models import AutoencoderClassifier, NCFClassifier, TwoTowerClassifier

SEED = 0
K = 10
IDS_ONLY = dict(user_features=[], item_features=[], context_features=[])
MODEL_NAMES = ["twotower", "ae", "ncf"]
SIZES = {  # n_users, n_items, n_interactions, traced users, dense users, NCF users
    "full": (10_000, 100_000, 1_000_000, 1_000, 1_000, 20),
    "quick": (1_000, 10_000, 100_000, 300, 200, 20),
}


def make_log(n_users, n_items, n_interactions):
    """Log whose catalogue is exactly ``n_items`` items, and its labels."""
    log = make_interactions(
        n_users=n_users,
        n_items=int(n_items * 1.2),
        n_interactions=n_interactions,
        random_state=SEED,
    )
    kept = np.sort(log["item_id"].unique())[:n_items]
    log = log[log["item_id"].isin(kept)].reset_index(drop=True)
    return log.drop(columns="label"), log["label"]


def make_models(names):
    models = {
        "twotower": (
            "two-tower",
            FeatureBuilder(),
            TwoTowerClassifier(epochs=1, batch_size=1024, random_state=SEED),
        ),
        "ae": (
            "autoencoder",
            FeatureBuilder(**IDS_ONLY),
            AutoencoderClassifier(epochs=1, random_state=SEED),
        ),
        "ncf": (
            "NCF",
            FeatureBuilder(**IDS_ONLY),
            NCFClassifier(epochs=1, batch_size=1024, random_state=SEED),
        ),
    }
    return {name: models[name] for name in names}


# ------------------------------------------------------------------ memory
def _rss_bytes():
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):  # pragma: no cover - not Linux
        return None


class RssPeak:
    """Highest RSS above the starting one while the ``with`` block runs (bytes)."""

    def __enter__(self):
        self.start = self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        if self.start is not None:
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_bytes())

    def __exit__(self, *exc):
        self._stop.set()
        if self.start is not None:
            self._thread.join()
            self.peak = max(self.peak, _rss_bytes())

    @property
    def increase_mib(self):
        return None if self.start is None else (self.peak - self.start) / 2**20


def traced_peak_mib(function):
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------------- runs
def measure(label, run, pipe, users, n_items, traced_users, rank=recommend, **kwargs):
    """One table row: ``rank`` timed on ``users``, then traced on ``traced_users``."""
    with RssPeak() as rss:
        started = time.perf_counter()
        recs = rank(pipe, users, k=K, **kwargs)
        wall = time.perf_counter() - started
    traced = None
    if traced_users is not None:
        traced = traced_peak_mib(lambda: rank(pipe, traced_users, k=K, **kwargs))
    assert len(recs) == K * len(users) and not recs["fallback"].any()
    return {
        "model": label,
        "run": run,
        "users": len(users),
        "wall": wall,
        "users_s": len(users) / wall,
        "scores_s": len(users) * n_items / wall,
        "rss": rss.increase_mib,
        "traced": traced,
        "recs": recs,
    }


def load_legacy(path):
    """An earlier ``skrec/_recommend.py``, imported as a module of the skrec package."""
    spec = importlib.util.spec_from_file_location("skrec._recommend_legacy", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.recommend


def _mib(value):
    return "n/a" if value is None else f"{value:,.0f}"


def print_table(rows, n_users):
    header = ["model", "run", "users", "wall s", "users/s", "scores/s", "RSS +MiB",
              "traced MiB", f"all {n_users:,} users"]
    table = [header]
    for r in rows:
        total = n_users / r["users_s"]
        total = f"{total:,.1f}" if total < 100 else f"{total:,.0f}"
        table.append([
            r["model"], r["run"], f"{r['users']:,}", f"{r['wall']:.1f}",
            f"{r['users_s']:,.0f}", f"{r['scores_s'] / 1e6:,.1f}M", _mib(r["rss"]),
            _mib(r["traced"]),
            f"{total} s" if r["users"] == n_users else f"~{total} s (est.)",
        ])
    widths = [max(len(row[j]) for row in table) for j in range(len(header))]
    for i, row in enumerate(table):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODEL_NAMES),
                        help=f"comma-separated subset of {','.join(MODEL_NAMES)}")
    parser.add_argument("--legacy", metavar="FILE",
                        help="an earlier skrec/_recommend.py to time on 300 users")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 users x 10,000 items (smoke test)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(MODEL_NAMES))
    if unknown:
        parser.error(f"unknown models {unknown}; choose among {MODEL_NAMES}")
    n_users, n_items, n_rows, n_traced, n_dense, n_ncf = SIZES[
        "quick" if args.quick else "full"
    ]
    started = time.perf_counter()
    print(f"skrec {skrec.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.machine()}")

    t = time.perf_counter()
    X, y = make_log(n_users, n_items, n_rows)
    users = X["user_id"].unique()
    assert X["item_id"].nunique() == n_items
    print(f"data: {len(X):,} rows, {len(users):,} users, {n_items:,} items "
          f"({time.perf_counter() - t:.1f} s)")

    rows = []
    for name, (label, builder, estimator) in make_models(names).items():
        t = time.perf_counter()
        pipe = make_pipeline(builder, estimator).fit(X, y)
        print(f"{label}: fitted (1 epoch) in {time.perf_counter() - t:.0f} s", flush=True)
        recommend(pipe, users[:2], k=K)  # traces the prediction graphs
        traced = users[:n_traced]
        if name == "ncf":
            rows.append(measure(label, "recommend, pairs", pipe, users[:n_ncf], n_items,
                                None))
            continue
        default = measure(label, "recommend (64 MiB)", pipe, users, n_items, traced)
        rows.append(default)
        if name != "twotower":
            continue
        rows.append(measure(label, "recommend, working_memory=16", pipe, users, n_items,
                            traced, working_memory=16))
        # One block for the whole request: the dense users x items product.
        dense_mib = n_dense * n_items * 32 / 2**20 + 1
        dense = measure(label, f"one dense block of {n_dense:,} users", pipe,
                        users[:n_dense], n_items, users[:n_dense], working_memory=dense_mib)
        rows.append(dense)
        blocked = default["recs"].iloc[: K * n_dense]
        same = (blocked["item_id"].to_numpy() == dense["recs"]["item_id"].to_numpy()).mean()
        print(f"{label}: {same:.2%} of the first {n_dense:,} users' rows identical "
              "between blocks and one dense block")
        if args.legacy:
            legacy = load_legacy(args.legacy)
            legacy(pipe, users[:2], k=K)
            rows.append(measure(label, "pre-change recommend", pipe, users[:300], n_items,
                                None, rank=legacy))

    print()
    print_table(rows, len(users))
    print()
    by_run = {(r["model"], r["run"]): r for r in rows}
    chunked = by_run.get(("two-tower", "recommend (64 MiB)"))
    dense = next((r for r in rows if r["run"].startswith("one dense block")), None)
    if chunked and dense:
        dense_gib = len(users) * n_items * 4 / 2**30
        print(f"two-tower, blocks of 64 MiB vs one dense block: "
              f"{chunked['users_s'] / dense['users_s']:.2f}x the users/s; traced peak "
              f"{chunked['traced']:,.0f} MiB vs {dense['traced']:,.0f} MiB for "
              f"{dense['users']:,} users (x{len(users) / dense['users']:.0f} for all: the "
              f"float32 {len(users):,} x {n_items:,} matrix alone is {dense_gib:.2g} GiB).")
    legacy = by_run.get(("two-tower", "pre-change recommend"))
    if chunked and legacy:
        print(f"two-tower, now vs pre-change: {chunked['users_s'] / legacy['users_s']:.1f}x "
              "the users/s.")
    print(f"load average {_load()} at the end; total wall time "
          f"{time.perf_counter() - started:.0f} s")
    return 0


def _load():
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "n/a"


if __name__ == "__main__":
    sys.exit(main())
