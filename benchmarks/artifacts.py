"""Benchmark: size, save time and load time of saved skrec models.

For each model, a pipeline ``FeatureBuilder(<ids only>) -> model`` is fitted
(one epoch for the deep models: the file size does not depend on training
length) on the MovieLens-100k ratings (every rating a positive), then saved
with ``skrec.save`` in both formats:

- ``.joblib``: the plain pickle ``joblib.load`` reads (runs code on load);
- ``.skrec``: the safe archive (allow-listed pickle + Keras ``.keras``
  networks, ``safe_mode=True``).

Printed per model and format: file size, save time, load time (median of
``--repeats`` loads, each in the same process), and the time of the first
``predict_proba`` on 1,000 rows after loading (it traces the prediction
graph). The ratio column is ``.skrec`` / ``.joblib`` load time, measured in
the same process.

Usage::

    python benchmarks/artifacts.py [--data PATH] [--models ncf,ease,...]
                                   [--repeats 5] [--quick]

Without ``--data``, ``../shared/data/ml-100k`` (relative to the repository
root) is read; when it is missing the script says so and uses a synthetic
log of the same size. ``--quick`` uses a small synthetic log (smoke test).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from sklearn.pipeline import make_pipeline  # noqa: E402

import skrec  # noqa: E402
from skrec import FeatureBuilder, load_movielens, make_interactions  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "ml-100k"
MODELS = ["pop", "ease", "ncf", "widedeep", "deepfm", "twotower", "cnn", "gru", "ae"]


def make_model(name):
    """(history_length, unfitted estimator) of a model name."""
    from skrec import models

    common = dict(epochs=1, negative_ratio=4, random_state=0)
    return {
        "pop": (0, models.PopularityClassifier()),
        "ease": (0, models.EASEClassifier(l2=500.0)),
        "ncf": (0, models.NCFClassifier(**common)),
        "widedeep": (0, models.WideDeepClassifier(**common)),
        "deepfm": (0, models.DeepFMClassifier(**common)),
        "twotower": (0, models.TwoTowerClassifier(**common)),
        "cnn": (20, models.CNNClassifier(batch_size=1024, **common)),
        "gru": (20, models.GRUClassifier(batch_size=1024, **common)),
        "ae": (0, models.AutoencoderClassifier(epochs=1, random_state=0)),
    }[name]


def load_log(args):
    if args.quick:
        return make_interactions(
            n_users=200, n_items=150, n_interactions=8_000, random_state=0
        )[["user_id", "item_id", "timestamp"]], "synthetic (--quick)"
    path = Path(args.data) if args.data else DEFAULT_DATA
    if path.is_dir():
        return load_movielens(path)[["user_id", "item_id", "timestamp"]], f"MovieLens-100k ({path})"
    print(f"{path} not found: using a synthetic log of MovieLens-100k's size instead")
    log = make_interactions(n_users=943, n_items=1682, n_interactions=100_000, random_state=0)
    return log[["user_id", "item_id", "timestamp"]], "synthetic (943 x 1682, 100k rows)"


def measure(pipe, X, path, repeats):
    started = time.perf_counter()
    skrec.save(pipe, path)
    save_s = time.perf_counter() - started
    loads = []
    for _ in range(repeats):
        started = time.perf_counter()
        loaded = skrec.load(path, trusted=True)
        loads.append(time.perf_counter() - started)
    started = time.perf_counter()
    loaded.predict_proba(X.head(1000))
    first_predict = time.perf_counter() - started
    return os.path.getsize(path), save_s, statistics.median(loads), first_predict


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    log, source = load_log(args)
    X = log
    y = log["user_id"].map(lambda _: 1)
    print(f"data: {source}, {len(X):,} rows; skrec {skrec.__version__}, "
          f"Python {sys.version.split()[0]}")
    header = (f"{'model':<9} {'format':<7} {'size':>9} {'save s':>7} {'load s':>7} "
              f"{'1st predict s':>13} {'load ratio':>10}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            history, model = make_model(name)
            pipe = make_pipeline(
                FeatureBuilder(user_features=[], item_features=[], context_features=[],
                               history_length=history),
                model,
            ).fit(X, y)
            results = {}
            for fmt in ("joblib", "skrec"):
                results[fmt] = measure(pipe, X, Path(tmp) / f"{name}.{fmt}", args.repeats)
            for fmt, (size, save_s, load_s, predict_s) in results.items():
                ratio = (f"{load_s / results['joblib'][2]:.2f}x" if fmt == "skrec" else "")
                print(f"{name:<9} {fmt:<7} {size / 1e6:>7.2f}MB {save_s:>7.2f} {load_s:>7.3f} "
                      f"{predict_s:>13.2f} {ratio:>10}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
