"""Benchmark: training and recommendation speed of every skrec deep model.

For each deep model (NCF, Wide & Deep, DeepFM, two-tower, CNN, GRU, autoencoder)
this script measures, on the MovieLens-100k P1 training set:

1. **training throughput** through skrec, next to the *same network* trained
   in plain Keras, and the ratio skrec / plain;
2. **the time of one skrec training epoch**, against the goal of issue 4:
   under 30 s per epoch on 2 cores for every model (PASS / FAIL);
3. **the time of prediction**: the fitted network on the encoded training
   rows (the training users' vectors for the autoencoder) through skrec's
   prediction path (a private single-threaded session per batch, batches
   side by side: ``skrec.models._inference``) against one ``tf.function`` in
   the process's thread pools on the same batches, and the ratio;
4. **the time of ``skrec.recommend``** top-10 for every user
   (``exclude_seen=True``) with the fitted pipeline: the first call (which
   traces the prediction graph) and a second call, reported apart.

Protocol
--------
- data: MovieLens-100k, every rating an implicit positive; split P1 as in
  ``quality_ml100k.py``: ``UserHoldout(test_size=0.25, random_state=42)``,
  only the training rows (~75k positives) are used;
- skrec: ``make_pipeline(FeatureBuilder(<ids only>[, history_length=20]),
  model)`` with the settings of ``quality_ml100k.py`` (4 sampled negatives per
  positive, batch 256, adam 1e-3, l2 1e-5; CNN and GRU in batches of 1024 at
  adam 1e-2 with history dropout 0.9, the GRU with its own history table; the
  autoencoder with l2 1e-2).
  The FeatureBuilder is fitted once; the classifier then trains one epoch per
  ``partial_fit`` call, timed whole (input validation, negative sampling,
  building the tf.data batches and ``fit``); epoch 1 also builds the network
  and traces the training graph;
- plain Keras: ``keras.models.clone_model(<fitted skrec model_>)`` (the
  identical network, fresh weights), ``model.compile("adam",
  "binary_crossentropy")`` with default settings (so no
  ``steps_per_execution``), trained with ``model.fit(inputs, y,
  batch_size=<skrec's>, epochs=1, shuffle=True)`` per epoch on the same encoded
  positives (the fitted estimator's ``feature_encoder_.transform`` of the
  FeatureBuilder output) plus 4 fresh negatives per positive drawn uniformly
  in NumPy among the training items, never one of the user's positives (a
  negative copies its positive's other inputs, e.g. the history). Only
  ``model.fit`` is timed; the NumPy sampling is timed apart;
- autoencoder: it trains per user (one example = one user's interaction
  vector, batch 32 users, no sampled negatives). Its plain-Keras side is the
  cloned network compiled with ``"adam"`` and the same multinomial
  log-likelihood loss (``binary_crossentropy`` would be a different model),
  trained with ``model.fit(X, X, batch_size=32, epochs=1, shuffle=True)`` on
  the dense user x item matrix of the training users. Its throughput is in
  users/s (the interactions/s are printed too);
- throughput = training examples / wall time of one epoch (positives +
  negatives; users for the autoencoder). Epochs are interleaved (skrec epoch
  e, then plain epoch e, model by model) so that machine noise hits both
  alike; the steady state is the median of epochs 2..N (epoch 1 alone when
  N = 1), the ratio is the median of the per-epoch ratios;
- epoch time: the median skrec epoch time (epochs 2..N), compared with 30 s;
  epoch 1 (build + trace + train) is printed next to it.

Usage::

    python benchmarks/speed.py [--data PATH] [--models ncf,widedeep,...]
                               [--epochs 3] [--quick]

Without ``--data``, ``../shared/data/ml-100k`` (relative to the repository
root) is read; when it is missing the script says so and uses
``make_interactions(n_users=943, n_items=1682, n_interactions=100_000)``
instead. ``--quick`` runs 1 epoch on a small synthetic log (a smoke test,
about a minute). Timings on a shared machine are noisy: compare numbers of
one run, not across runs.
"""

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import make_pipeline

# skrec first: it imports TensorFlow quietly; keras below then reuses that import.
import skrec
from skrec import FeatureBuilder, load_movielens, make_interactions, recommend
from skrec.model_selection import UserHoldout
from skrec.models import (
    AutoencoderClassifier,
    CNNClassifier,
    DeepFMClassifier,
    GRUClassifier,
    NCFClassifier,
    TwoTowerClassifier,
    WideDeepClassifier,
)
from skrec.models._autoencoder import MultinomialLogLikelihood
from skrec.models._inference import batched_predict  # skrec's prediction path
from skrec.models._inputs import input_name  # the Keras input name of a column

import keras  # noqa: E402  (after skrec on purpose)
import tensorflow as tf  # noqa: E402
from _report import cpus, load_average, print_table  # noqa: E402  (benchmarks/_report.py)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "ml-100k"
SPLIT_SEED = 42
SEED = 0
NEGATIVES = 4
BATCH_SIZE = 256
SEQUENCE_BATCH_SIZE = 1024  # CNN and GRU, as in quality_ml100k.py
HISTORY_LENGTH = 20
GOAL_S = 30.0  # issue 4: one training epoch under 30 s on 2 cores
K = 10
MODEL_NAMES = ["ncf", "widedeep", "deepfm", "twotower", "cnn", "gru", "ae"]


def make_model(name):
    """(label, history_length, unfitted estimator trained one epoch per call)."""
    common = dict(negative_ratio=NEGATIVES, batch_size=BATCH_SIZE, learning_rate=1e-3,
                  l2=1e-5, epochs=1, random_state=SEED)
    sequence = dict(common, batch_size=SEQUENCE_BATCH_SIZE, learning_rate=1e-2,
                    history_dropout=0.9)
    return {
        "ncf": ("NCF (NeuMF)", 0,
                lambda: NCFClassifier(embedding_dim=16, hidden_units=(64, 32, 16),
                                      **common)),
        "widedeep": ("Wide & Deep", 0, lambda: WideDeepClassifier(**common)),
        "deepfm": ("DeepFM", 0, lambda: DeepFMClassifier(**common)),
        "twotower": ("two-tower", 0, lambda: TwoTowerClassifier(**common)),
        "cnn": (f"CNN / Caser (last {HISTORY_LENGTH}, batch {SEQUENCE_BATCH_SIZE})",
                HISTORY_LENGTH, lambda: CNNClassifier(**sequence)),
        "gru": (f"GRU4Rec (last {HISTORY_LENGTH}, batch {SEQUENCE_BATCH_SIZE})",
                HISTORY_LENGTH,
                lambda: GRUClassifier(share_item_embedding=False, **sequence)),
        "ae": ("autoencoder (Mult-DAE)", 0,
               lambda: AutoencoderClassifier(l2=1e-2, epochs=1, random_state=SEED)),
    }[name]


# --------------------------------------------------------------------- data
def load_log(args):
    """Return (log with user_id, item_id, timestamp; description)."""
    if args.quick:
        log = make_interactions(n_users=200, n_items=300, n_interactions=8_000,
                                random_state=SEED)
        return log[["user_id", "item_id", "timestamp"]], \
            "synthetic (--quick): make_interactions(200, 300, 8k)"
    path = Path(args.data) if args.data else DEFAULT_DATA
    if path.is_dir():
        log = load_movielens(path)
        return log[["user_id", "item_id", "timestamp"]], f"MovieLens-100k ({path})"
    print(f"note: no MovieLens-100k at {path}; using a synthetic log of similar size "
          "(make_interactions(n_users=943, n_items=1682, n_interactions=100_000)), "
          "so figures are NOT MovieLens ones.")
    log = make_interactions(n_users=943, n_items=1682, n_interactions=100_000,
                            random_state=SEED)
    return log[["user_id", "item_id", "timestamp"]], \
        "synthetic: make_interactions(943, 1682, 100k)"


# ------------------------------------------------------------- plain Keras
class PlainNegatives:
    """Uniform negatives in NumPy, as a plain Keras user would draw them.

    Items are drawn among the training items, never one of the user's
    positives; a negative copies the other inputs of its positive.
    """

    def __init__(self, inputs, user_key, item_key, rng):
        self.inputs, self.user_key, self.item_key, self.rng = inputs, user_key, item_key, rng
        users = inputs[user_key].astype(np.int64)
        items = inputs[item_key].astype(np.int64)
        self.n_items = int(items.max()) + 1
        self.item_pool = np.unique(items)
        self.positive_keys = np.unique(users * self.n_items + items)

    def epoch(self, ratio):
        n = len(self.inputs[self.user_key])
        rows = np.repeat(np.arange(n), ratio)
        users = self.inputs[self.user_key][rows].astype(np.int64)
        items = self.item_pool[self.rng.integers(self.item_pool.size, size=rows.size)]
        todo = np.arange(rows.size)  # redraw only the rows that hit a positive
        for _ in range(100):
            keys = users[todo] * self.n_items + items[todo]
            pos = np.minimum(np.searchsorted(self.positive_keys, keys),
                             self.positive_keys.size - 1)
            todo = todo[self.positive_keys[pos] == keys]
            if not todo.size:
                break
            items[todo] = self.item_pool[self.rng.integers(self.item_pool.size,
                                                           size=todo.size)]
        keep = np.ones(rows.size, dtype=bool)
        keep[todo] = False
        rows, items = rows[keep], items[keep]
        x = {}
        for key, value in self.inputs.items():
            negative = items.astype(value.dtype) if key == self.item_key else value[rows]
            x[key] = np.concatenate([value, negative])
        y = np.concatenate([np.ones(n), np.zeros(rows.size)]).astype(np.float32)
        return x, y


class PlainTrainer:
    """The fitted skrec network cloned with fresh weights, trained in plain Keras."""

    def __init__(self, clf, Xt):
        keras.utils.set_random_seed(SEED + 1)
        self.model = keras.models.clone_model(clf.model_)
        self.autoencoder = isinstance(clf, AutoencoderClassifier)
        self.batch_size = clf.batch_size  # the same batches as skrec's
        if self.autoencoder:
            matrix = clf.user_items_[np.flatnonzero(np.diff(clf.user_items_.indptr))]
            self.x = matrix.toarray().astype(np.float32)
            self.interactions = matrix.nnz
            self.model.compile("adam", MultinomialLogLikelihood())
        else:
            inputs = clf.feature_encoder_.transform(Xt)
            schema = clf.feature_encoder_.schema_
            keys = {}
            for position, entry in enumerate(schema):
                if entry["kind"] == "id":
                    keys[entry["side"]] = input_name(position)
            self.sampler = PlainNegatives(inputs, keys["user"], keys["item"],
                                          np.random.default_rng(SEED + 2))
            self.model.compile("adam", "binary_crossentropy")

    def epoch(self):
        """Train one epoch; return (examples, fit seconds, sampling seconds)."""
        if self.autoencoder:
            t0 = time.perf_counter()
            self.model.fit(self.x, self.x, batch_size=32, epochs=1, shuffle=True,
                           verbose=0)
            return len(self.x), time.perf_counter() - t0, 0.0
        t0 = time.perf_counter()
        x, y = self.sampler.epoch(NEGATIVES)
        sampling = time.perf_counter() - t0
        t0 = time.perf_counter()
        self.model.fit(x, y, batch_size=self.batch_size, epochs=1, shuffle=True,
                       verbose=0)
        return y.size, time.perf_counter() - t0, sampling


# --------------------------------------------------------------------- run
def per_row(estimator):
    """The same estimator trained by rows: the engine before grouped training.

    A sequence model normally trains a twin of its network that encodes a
    positive's history once for the positive and its negatives; this copy
    trains its prediction network row by row, every row's history encoded
    (skrec's engine before issue 14), for a before/after in one process.
    """
    class RowByRow(type(estimator)):
        def _training_network(self):
            return self.model_

    RowByRow.__name__ = type(estimator).__name__
    twin = RowByRow.__new__(RowByRow)
    twin.__dict__.update(estimator.__dict__)
    return twin


def skrec_examples(clf, y_train):
    """Training examples of one skrec epoch (and interactions, autoencoder)."""
    if isinstance(clf, AutoencoderClassifier):
        counts = np.diff(clf.user_items_.indptr)
        return int((counts > 0).sum()), int(clf.user_items_.nnz)
    return len(y_train) * (1 + NEGATIVES), None


def run_model(name, X_train, y_train, all_users, n_epochs):
    label, history, factory = make_model(name)
    builder = FeatureBuilder(user_features=[], item_features=[], context_features=[],
                             history_length=history)
    clf = factory()
    pipe = make_pipeline(builder, clf)
    t0 = time.perf_counter()
    Xt = builder.fit(X_train, y_train).transform(X_train)
    features_s = time.perf_counter() - t0

    skrec_s, plain_s, sampling_s, ratios = [], [], [], []
    rows_clf = per_row(factory()) if history else None
    rows_s = []
    plain = None
    n_skrec = n_plain = interactions = None
    for epoch in range(1, n_epochs + 1):
        t0 = time.perf_counter()
        clf.partial_fit(Xt, y_train)
        skrec_s.append(time.perf_counter() - t0)
        if rows_clf is not None:
            t0 = time.perf_counter()
            rows_clf.partial_fit(Xt, y_train)
            rows_s.append(time.perf_counter() - t0)
            print(f"  {name:<9} epoch {epoch}: per-row engine {rows_s[-1]:6.2f} s "
                  f"(grouped / per-row {skrec_s[-1] / rows_s[-1]:.2f}x)", flush=True)
        n_skrec, interactions = skrec_examples(clf, y_train)
        if plain is None:
            plain = PlainTrainer(clf, Xt)
        n_plain, fit_s, samp_s = plain.epoch()
        plain_s.append(fit_s)
        sampling_s.append(samp_s)
        ratios.append((n_skrec / skrec_s[-1]) / (n_plain / fit_s))
        print(f"  {name:<9} epoch {epoch}: skrec {skrec_s[-1]:6.2f} s "
              f"({n_skrec / skrec_s[-1]:>9,.0f}/s), plain {fit_s:6.2f} s "
              f"({n_plain / fit_s:>9,.0f}/s), loss skrec "
              f"{clf.history_['loss'][-1]:.4f}", flush=True)

    steady = slice(1, None) if n_epochs > 1 else slice(0, None)
    epoch_s = statistics.median(skrec_s[steady])
    result = dict(
        name=name, label=label, features_s=features_s,
        first_s=skrec_s[0], epoch_s=epoch_s,
        skrec_rate=n_skrec / epoch_s,
        plain_rate=n_plain / statistics.median(plain_s[steady]),
        ratio=statistics.median(ratios[steady]),
        sampling_s=statistics.median(sampling_s),
        examples=n_skrec, interactions=interactions,
        rows_speedup=statistics.median(
            [r / g for r, g in zip(rows_s[steady], skrec_s[steady])]) if rows_s else None,
    )
    result.update(predict_speed(clf, Xt))
    print(f"  {name:<9} predict {result['predict_rows']:,} rows: skrec "
          f"{result['predict_s']:.3f} s, process-pool tf.function "
          f"{result['predict_pool_s']:.3f} s ({result['predict_ratio']:.2f}x)", flush=True)
    for key in ("rec_first_s", "rec_second_s"):
        t0 = time.perf_counter()
        recs = recommend(pipe, all_users, k=K, exclude_seen=True)
        result[key] = time.perf_counter() - t0
    result["rec_rows"] = len(recs)
    print(f"  {name:<9} recommend top-{K} for {len(all_users)} users: "
          f"{result['rec_first_s']:.2f} s (first), {result['rec_second_s']:.2f} s "
          f"(second), {len(recs):,} rows", flush=True)
    return result








def predict_speed(clf, Xt, repeats=5):
    """skrec's prediction path against a ``tf.function`` in the process's pools.

    Both run the fitted network on the same encoded inputs in batches of
    ``predict_batch_size``: skrec through its private single-threaded
    session (``skrec.models._inference``, batches side by side), the other
    through one ``tf.function`` with an unknown batch dimension in the
    process's thread pools (skrec's path before issue 19). Interleaved;
    the median of the per-repeat ratios (skrec time / pool time).
    """
    if isinstance(clf, AutoencoderClassifier):  # the network reads user vectors
        users = np.flatnonzero(np.diff(clf.user_items_.indptr))
        inputs = clf.user_items_[users].toarray().astype(np.float32)
    else:
        inputs = clf.feature_encoder_.transform(Xt)
    arrays = inputs if isinstance(inputs, dict) else {None: inputs}
    specs = {key: tf.TensorSpec((None, *value.shape[1:]), tf.as_dtype(value.dtype))
             for key, value in arrays.items()}
    model, batch = clf.model_, clf.predict_batch_size
    function = tf.function(lambda x: model(x, training=False),
                           input_signature=[specs[None] if None in specs else specs])
    n_rows = len(next(iter(arrays.values())))

    def pool_path():
        for start in range(0, n_rows, batch):
            part = {key: value[start:start + batch] for key, value in arrays.items()}
            np.asarray(function(part[None] if None in part else part))

    times = {"skrec": [], "pool": []}
    for _ in range(repeats + 1):  # the first repeat traces both: dropped
        for key, run in (("skrec", lambda: batched_predict(model, inputs, batch)),
                         ("pool", pool_path)):
            t0 = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - t0)
    ratios = [a / b for a, b in zip(times["skrec"][1:], times["pool"][1:])]
    return dict(predict_rows=n_rows, predict_s=statistics.median(times["skrec"][1:]),
                predict_pool_s=statistics.median(times["pool"][1:]),
                predict_ratio=statistics.median(ratios))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None,
                        help="the ml-100k directory (default: ../shared/data/ml-100k)")
    parser.add_argument("--models", default=",".join(MODEL_NAMES),
                        help="comma-separated subset of: " + ", ".join(MODEL_NAMES))
    parser.add_argument("--epochs", type=int, default=None,
                        help="interleaved epochs per model (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="1 epoch on a small synthetic log (smoke test)")
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 1 if args.quick else 3
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not args.models or set(args.models) - set(MODEL_NAMES):
        parser.error(f"--models must name some of {', '.join(MODEL_NAMES)}")
    if args.epochs < 1:
        parser.error("--epochs must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    log, source = load_log(args)
    X = log.reset_index(drop=True)
    y = pd.Series(np.ones(len(X), dtype=np.int64), name="label")
    train, _ = next(UserHoldout(test_size=0.25, random_state=SPLIT_SEED).split(X))
    X_train, y_train = X.iloc[train].reset_index(drop=True), y.iloc[train].to_numpy()
    all_users = pd.unique(X["user_id"])
    print(f"data: {source}: {len(X):,} interactions, {len(all_users)} users, "
          f"{X['item_id'].nunique()} items")
    print(f"      P1 train: UserHoldout(test_size=0.25, random_state={SPLIT_SEED}) -> "
          f"{len(X_train):,} positives + {NEGATIVES} sampled negatives each "
          f"= {len(X_train) * (1 + NEGATIVES):,} examples/epoch")
    print(f"machine: {cpus()}, load average {load_average()} at start; "
          f"{platform.processor() or platform.machine()}")
    print(f"         skrec {skrec.__version__} | tensorflow {tf.__version__} | "
          f"keras {keras.__version__} | python {platform.python_version()}")
    print(f"protocol: {args.epochs} interleaved epoch(s) per model (skrec, then plain "
          "Keras); throughput = median of epochs 2..N (epoch 1 when N = 1)\n")

    results = []
    for name in args.models:
        results.append(run_model(name, X_train, y_train, all_users, args.epochs))

    print(f"\nresults ({args.epochs} epoch(s); goal: one skrec epoch < {GOAL_S:.0f} s)\n")
    header = ["model", "skrec /s", "plain Keras /s", "skrec/plain", "epoch 1 s",
              "epoch s", f"< {GOAL_S:.0f} s", "predict s", "skrec/pool",
              "recommend 1st s", "recommend 2nd s"]
    rows = []
    for r in results:
        unit = " users" if r["interactions"] is not None else ""
        rows.append([
            r["label"], f"{r['skrec_rate']:,.0f}{unit}", f"{r['plain_rate']:,.0f}{unit}",
            f"{r['ratio']:.2f}x", f"{r['first_s']:.1f}", f"{r['epoch_s']:.1f}",
            "PASS" if r["epoch_s"] < GOAL_S else "FAIL",
            f"{r['predict_s']:.3f}", f"{r['predict_ratio']:.2f}x",
            f"{r['rec_first_s']:.2f}", f"{r['rec_second_s']:.2f}",
        ])
    print_table(header, rows)
    print("\nnotes: /s = training examples per second of one epoch (positives + sampled "
          "negatives; users for the autoencoder);")
    print("       skrec time is the whole partial_fit call; plain time is model.fit "
          "only (NumPy sampling apart, median "
          f"{statistics.median(r['sampling_s'] for r in results):.2f} s/epoch);")
    print("       epoch s = median skrec epoch (epochs 2..N); epoch 1 also builds "
          "the network and traces the graph.")
    print("       predict s = skrec's prediction of the training rows (users for the "
          "autoencoder) in batches of predict_batch_size; skrec/pool = its time over a "
          "tf.function in the process's thread pools on the same batches (median of 5).")
    for r in results:
        if r["rows_speedup"] is not None:
            print(f"       {r['label']}: an epoch of the per-row engine (every row's history "
                  f"encoded) took {r['rows_speedup']:.2f}x the grouped epoch's time "
                  "(median of per-epoch ratios).")
        if r["interactions"] is not None:
            print(f"       {r['label']}: {r['examples']} users, {r['interactions']:,} "
                  f"interactions per epoch -> {r['interactions'] / r['epoch_s']:,.0f} "
                  "interactions/s through skrec.")
    print(f"       load average {load_average()} at the end; total wall time "
          f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
