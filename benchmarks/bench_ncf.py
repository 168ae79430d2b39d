"""Benchmark: skrec's NCFClassifier against the same NeuMF written in plain Keras.

Three contenders train the same network on MovieLens-100k (every rating an
implicit positive), with 4 fresh uniformly sampled negatives per positive each
epoch, compared on training throughput and on ranking quality (NCF paper
protocol):

- split: leave-latest-out per user (the user's last interaction by timestamp is
  held out, ties broken by the larger item id), train on the rest;
- **skrec**: ``make_pipeline(FeatureBuilder(<ids only>), NCFClassifier(
  negative_ratio=4, random_state=0))`` with its default settings otherwise,
  trained one epoch per ``partial_fit`` call (``--batch-size`` overrides its
  batch size);
- **plain Keras, defaults**: the same NeuMF network (GMF tower + MLP tower
  64/32/16, sigmoid output), ``model.compile("adam", "binary_crossentropy")``
  and ``model.fit(x, y, epochs=1, shuffle=True)`` per epoch, Keras' default
  batch size (32) included;
- **plain Keras, XLA**: the best plain Keras we know on this hardware: the
  same network compiled with ``jit_compile=True, steps_per_execution=32``,
  ``model.fit(..., batch_size=1024, shuffle=True)``;
- throughput: (positives + negatives) / wall time of one epoch's fit; epochs of
  the contenders are interleaved (skrec epoch e, then the plain ones) so machine
  noise hits all alike; the steady state is the median of epochs 2..N and a
  ratio is the median of the per-epoch ratios;
- quality: HR@10 and NDCG@10 of the held-out item ranked among 99 items the
  user never interacted with, sampled uniformly with a fixed seed (the same
  candidates for every model), with a popularity baseline as a sanity anchor.

Usage::

    python benchmarks/bench_ncf.py [--data PATH] [--epochs N] [--batch-size B]
                                   [--negatives 4] [--eval-every K] [--quick]

Without ``--data``, MovieLens-100k is read from ``../shared/data/ml-100k``
(relative to the repository root) when present; otherwise a synthetic log of
similar size from ``skrec.make_interactions`` is used, with a printed note.
``--quick`` runs 2 epochs on a small synthetic log (a smoke test).
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

# skrec first: it imports TensorFlow quietly; keras below then reuses that import.
import skrec
from skrec import FeatureBuilder, NCFClassifier, load_movielens, make_interactions
from sklearn.pipeline import make_pipeline

import keras  # noqa: E402  (after skrec on purpose)
import tensorflow as tf  # noqa: E402
from _report import load_average  # noqa: E402  (benchmarks/_report.py)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "ml-100k"
EMBEDDING_DIM = 16
HIDDEN_UNITS = (64, 32, 16)
LEARNING_RATE = 1e-3
N_CANDIDATES = 99  # sampled negatives ranked with each held-out item
PLAIN_BATCH = 32  # Keras' default batch size
XLA_BATCH = 1024  # the XLA contender's (its best measured on 2 cores)
CONTENDERS = [("skrec", "skrec NCFClassifier"), ("plain", "plain Keras, defaults"),
              ("xla", "plain Keras, XLA")]
K = 10
SEED = 0


# --------------------------------------------------------------------- data
def load_data(args):
    """Return (log with user_id, item_id, timestamp; description)."""
    if args.quick:
        log = make_interactions(
            n_users=300, n_items=500, n_interactions=20_000, random_state=SEED
        )
        return _implicit(log), "synthetic (--quick): make_interactions(300, 500, 20k)"
    path = Path(args.data) if args.data else DEFAULT_DATA
    if path.is_dir():
        log = load_movielens(path, positive_threshold=1)
        return _implicit(log), f"MovieLens-100k ({path})"
    if args.data:
        sys.exit(f"bench_ncf: --data {str(path)!r} is not a directory (ml-100k).")
    print(
        f"note: {path} not found; using a synthetic log of similar size "
        "(make_interactions(943, 1682, 100k)), so figures are NOT MovieLens ones."
    )
    log = make_interactions(
        n_users=943, n_items=1682, n_interactions=100_000, random_state=SEED
    )
    return _implicit(log), "synthetic: make_interactions(943, 1682, 100k)"


def _implicit(log):
    """Keep ids and time; one row per (user, item) pair (its latest event);
    drop users with fewer than 2 items (nothing would be left to train on)."""
    log = log[["user_id", "item_id", "timestamp"]]
    log = log.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    log = log.drop_duplicates(["user_id", "item_id"], keep="last")
    counts = log["user_id"].map(log["user_id"].value_counts())
    return log[counts >= 2].reset_index(drop=True)


def leave_latest_out(log):
    """Split off each user's latest interaction (ties: the larger item id)."""
    ordered = log.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    is_last = ~ordered["user_id"].duplicated(keep="last")
    test = ordered[is_last].reset_index(drop=True)
    train = ordered[~is_last].reset_index(drop=True)
    return train, test


class Indexer:
    """Dense 0-based indices of users and of the whole item catalogue."""

    def __init__(self, log):
        self.users = pd.Index(np.unique(log["user_id"]))
        self.items = pd.Index(np.unique(log["item_id"]))

    def user(self, values):
        return self.users.get_indexer(values).astype(np.int64)

    def item(self, values):
        return self.items.get_indexer(values).astype(np.int64)


def eval_candidates(index, train, test, rng):
    """Per test user: [held-out item, 99 sampled items never interacted with].

    Returns (user index per row, item index per row) of shape (n_users * 100,),
    grouped by user, held-out item first in each group.
    """
    n_items = len(index.items)
    train_u, train_i = index.user(train["user_id"]), index.item(train["item_id"])
    seen = np.zeros((len(index.users), n_items), dtype=bool)
    seen[train_u, train_i] = True
    test_u, test_i = index.user(test["user_id"]), index.item(test["item_id"])
    seen[test_u, test_i] = True
    users, items = [], []
    for u, i in zip(test_u, test_i):
        pool = np.flatnonzero(~seen[u])
        sampled = rng.choice(pool, size=min(N_CANDIDATES, pool.size), replace=False)
        if sampled.size < N_CANDIDATES:  # tiny catalogues only: pad by repeating
            sampled = np.resize(sampled, N_CANDIDATES)
        users.append(np.full(N_CANDIDATES + 1, u))
        items.append(np.concatenate([[i], sampled]))
    return np.concatenate(users), np.concatenate(items)


def hr_ndcg(scores):
    """HR@K and NDCG@K from scores of shape (n_users, 100), positive in column 0.

    Ties with the positive count against it (pessimistic rank), so a constant
    scorer gets HR@K = 0, not 1.
    """
    scores = np.asarray(scores, dtype=np.float64)
    rank = (scores[:, 1:] >= scores[:, :1]).sum(axis=1)  # 0-based
    hit = rank < K
    return float(hit.mean()), float(np.where(hit, 1.0 / np.log2(rank + 2), 0.0).mean())


# ------------------------------------------------------------- plain Keras
def plain_neumf(n_users, n_items, **compile_kwargs):
    """NeuMF in plain Keras, the same layers and sizes as NCFClassifier."""
    user = keras.Input(shape=(), dtype="int32", name="user")
    item = keras.Input(shape=(), dtype="int32", name="item")
    gmf = keras.layers.Multiply()(
        [
            keras.layers.Embedding(n_users, EMBEDDING_DIM)(user),
            keras.layers.Embedding(n_items, EMBEDDING_DIM)(item),
        ]
    )
    hidden = keras.layers.Concatenate()(
        [
            keras.layers.Embedding(n_users, EMBEDDING_DIM)(user),
            keras.layers.Embedding(n_items, EMBEDDING_DIM)(item),
        ]
    )
    for units in HIDDEN_UNITS:
        hidden = keras.layers.Dense(units, activation="relu")(hidden)
    joined = keras.layers.Concatenate()([gmf, hidden])
    output = keras.layers.Dense(1, activation="sigmoid")(joined)
    model = keras.Model([user, item], output)
    # Keras' default Adam learning rate is 1e-3, the same as skrec's.
    model.compile("adam", "binary_crossentropy", **compile_kwargs)
    return model


class NegativeSampler:
    """Uniform negatives among the training items, never a user's positive."""

    def __init__(self, users, items, n_items, rng):
        self.users, self.items, self.n_items, self.rng = users, items, n_items, rng
        self.item_pool = np.unique(items)
        self.positive_keys = np.unique(users * n_items + items)

    def epoch(self, ratio):
        """Positives plus ``ratio`` fresh negatives each: (user, item, label)."""
        users = np.repeat(self.users, ratio)
        items = self.item_pool[self.rng.integers(self.item_pool.size, size=users.size)]
        todo = np.arange(users.size)  # rows still to check (only clashes are redrawn)
        for _ in range(100):
            keys = users[todo] * self.n_items + items[todo]
            pos = np.minimum(
                np.searchsorted(self.positive_keys, keys), self.positive_keys.size - 1
            )
            todo = todo[self.positive_keys[pos] == keys]
            if not todo.size:
                break
            draw = self.rng.integers(self.item_pool.size, size=todo.size)
            items[todo] = self.item_pool[draw]
        keep = np.ones(users.size, dtype=bool)
        keep[todo] = False  # users holding (nearly) every item: drop the rest
        users, items = users[keep], items[keep]
        u = np.concatenate([self.users, users]).astype(np.int32)
        i = np.concatenate([self.items, items]).astype(np.int32)
        y = np.concatenate([np.ones(self.users.size), np.zeros(users.size)])
        return u, i, y.astype(np.float32)


# --------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="the ml-100k directory (default: %(default)s)",
                        default=None)
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default 10; 2 with --quick)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="skrec's batch size (default: NCFClassifier's)")
    parser.add_argument("--negatives", type=int, default=4,
                        help="sampled negatives per positive per epoch")
    parser.add_argument("--eval-every", type=int, default=5,
                        help="also evaluate every K epochs (0: only at the end)")
    parser.add_argument("--quick", action="store_true",
                        help="2 epochs on a small synthetic log (smoke test)")
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 2 if args.quick else 10
    if args.epochs < 1 or (args.batch_size or 1) < 1 or args.negatives < 1:
        parser.error("--epochs, --batch-size and --negatives must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    log, source = load_data(args)
    train, test = leave_latest_out(log)
    index = Indexer(log)
    n_users, n_items = len(index.users), len(index.items)
    print(f"data: {source}")
    cold = int((~test["item_id"].isin(train["item_id"])).sum())
    print(
        f"      {len(log):,} interactions, {n_users} users, {n_items} items; "
        f"train {len(train):,}, held out {len(test):,} (leave-latest-out; "
        f"{cold} held-out items never seen in train)"
    )
    skrec_batch = args.batch_size or NCFClassifier().batch_size
    print(
        f"setup: NeuMF dim={EMBEDDING_DIM} mlp={HIDDEN_UNITS} adam lr={LEARNING_RATE}, "
        f"{args.negatives} negatives/positive/epoch, {args.epochs} epochs; batch: skrec "
        f"{skrec_batch}, plain defaults {PLAIN_BATCH}, plain XLA {XLA_BATCH}"
    )
    print(
        f"       skrec {skrec.__version__} | tensorflow {tf.__version__} | "
        f"keras {keras.__version__} | python {platform.python_version()} | "
        f"{os.cpu_count()} CPUs, load average {load_average()} at start"
    )

    # Evaluation candidates, fixed once for every model.
    cand_u, cand_i = eval_candidates(index, train, test, np.random.default_rng(SEED))
    cand_frame = pd.DataFrame(
        {"user_id": index.users[cand_u], "item_id": index.items[cand_i]}
    )
    n_eval_users = len(test)

    def evaluate(scores):
        return hr_ndcg(np.asarray(scores).reshape(n_eval_users, N_CANDIDATES + 1))

    # Popularity baseline (training counts).
    popularity = np.bincount(index.item(train["item_id"]), minlength=n_items)
    pop_hr, pop_ndcg = evaluate(popularity[cand_i])

    # skrec: FeatureBuilder on ids only, then NCFClassifier one epoch per call.
    X_train = train[["user_id", "item_id"]]
    y_train = np.ones(len(X_train), dtype=np.int64)
    pipe = make_pipeline(
        FeatureBuilder(user_features=[], item_features=[], context_features=[]),
        NCFClassifier(
            embedding_dim=EMBEDDING_DIM,
            hidden_units=HIDDEN_UNITS,
            negative_ratio=args.negatives,
            learning_rate=LEARNING_RATE,
            batch_size=skrec_batch,
            random_state=SEED,
        ),
    )
    features, clf = pipe[0], pipe[-1]
    Xt_train = features.fit(X_train).transform(X_train)

    # Plain Keras on the same positives: defaults, and the XLA contender.
    keras.utils.set_random_seed(SEED)
    plain = {
        "plain": (plain_neumf(n_users, n_items), PLAIN_BATCH),
        "xla": (plain_neumf(n_users, n_items, jit_compile=True, steps_per_execution=32),
                XLA_BATCH),
    }
    sampler = NegativeSampler(
        index.user(train["user_id"]), index.item(train["item_id"]), n_items,
        np.random.default_rng(SEED + 1),
    )

    print()
    print(f"{'epoch':>5} " + " ".join(f"{name + ' /s':>12}" for name, _ in CONTENDERS)
          + "   " + " ".join(f"{name + ' loss':>11}" for name, _ in CONTENDERS)
          + "  HR@10 " + " / ".join(name for name, _ in CONTENDERS))
    rates = {name: [] for name, _ in CONTENDERS}
    quality = {}
    sampling_s = []
    for epoch in range(1, args.epochs + 1):
        losses = {}
        # ---- skrec epoch (negatives sampled inside partial_fit, timed with it)
        t0 = time.perf_counter()
        clf.partial_fit(Xt_train, y_train)
        skrec_s = time.perf_counter() - t0
        rates["skrec"].append(len(y_train) * (1 + args.negatives) / skrec_s)
        losses["skrec"] = clf.history_["loss"][-1]

        # ---- plain Keras epochs (negatives sampled beforehand, fit timed alone)
        for name, (network, batch_size) in plain.items():
            t0 = time.perf_counter()
            u, i, y = sampler.epoch(args.negatives)
            sampling_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            hist = network.fit(
                {"user": u, "item": i}, y, batch_size=batch_size, epochs=1,
                shuffle=True, verbose=0,
            )
            rates[name].append(y.size / (time.perf_counter() - t0))
            losses[name] = hist.history["loss"][-1]

        line = (f"{epoch:>5} " + " ".join(f"{rates[n][-1]:>12,.0f}" for n, _ in CONTENDERS)
                + "   " + " ".join(f"{losses[n]:>11.4f}" for n, _ in CONTENDERS))
        if epoch == args.epochs or (args.eval_every and epoch % args.eval_every == 0):
            quality = {"skrec": evaluate(pipe.predict_proba(cand_frame)[:, 1])}
            for name, (network, _) in plain.items():
                quality[name] = evaluate(network.predict(
                    {"user": cand_u.astype(np.int32), "item": cand_i.astype(np.int32)},
                    batch_size=8192, verbose=0,
                ).ravel())
            line += "  " + " / ".join(f"{quality[n][0]:.4f}" for n, _ in CONTENDERS)
        print(line, flush=True)

    steady = slice(1, None) if args.epochs > 1 else slice(0, None)
    print()
    print(f"results after {args.epochs} epochs (throughput: median of epochs "
          f"{'2' if args.epochs > 1 else '1'}..{args.epochs})")
    print(f"{'model':<26} {'batch':>6} {'samples/s':>10} {'range':>20} "
          f"{'HR@10':>7} {'NDCG@10':>8}")
    print(f"{'popularity (train counts)':<26} {'-':>6} {'-':>10} {'-':>20} "
          f"{pop_hr:>7.4f} {pop_ndcg:>8.4f}")
    batches = {"skrec": skrec_batch, "plain": PLAIN_BATCH, "xla": XLA_BATCH}
    for name, label in CONTENDERS:
        hr, ndcg = quality[name]
        spread = rates[name][steady]
        span = f"{min(spread):,.0f}-{max(spread):,.0f}"
        print(f"{label:<26} {batches[name]:>6} {statistics.median(spread):>10,.0f} "
              f"{span:>20} {hr:>7.4f} {ndcg:>8.4f}")
    for name, label in CONTENDERS[1:]:
        paired = [s / p for s, p in zip(rates["skrec"][steady], rates[name][steady])]
        print(f"throughput skrec / {label}: {statistics.median(paired):.2f}x "
              "(median of per-epoch ratios)")
    print("notes: skrec time is the whole partial_fit call (validation, negative "
          "sampling, fit);")
    print(f"       plain time is model.fit only (its numpy sampling took "
          f"{statistics.median(sampling_s):.2f} s/epoch more).")
    print(f"       load average {load_average()} at the end; "
          f"total wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
