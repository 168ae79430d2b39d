"""Benchmark: ranking quality and cost at real scale, on the Gowalla check-in log (P3).

Protocol (``../shared/data/gowalla/README.md``): 29,858 users, 40,981 items;
fit on ``train.txt`` + ``valid.txt`` (810,128 interactions, every one an
implicit positive), rank every item the user has not had there, and score
the ``test.txt`` items with Recall@20 and NDCG@20 (binary relevance; NDCG's
ideal is ``min(|test items|, 20)`` hits), averaged over users.

Every model is ``make_pipeline(FeatureBuilder(<ids only>), model)`` with the
model's **default settings and early stopping**; the only setting given is
``negative_ratio=4`` for the models that sample negatives (their default, 0,
reads ``y`` as explicit labels, and this log has positives only), and
``random_state=0``. Recommendations are ``skrec.recommend(pipe, users, k=20)``,
the path a user would take. Each model runs in a fresh process so that its
peak resident memory (``ru_maxrss``) is its own.

Reference figures on this split (README there, independent NumPy code):
popularity 0.0416 / 0.0317; implicit ALS (128 factors) 0.1611 / 0.1365.

Usage::

    python benchmarks/gowalla.py [--data PATH] [--models pop,mf,ncf,twotower,ae]
                                 [--users N]

``--users N`` keeps a random N users (a smoke test; figures are then not
comparable with the references). Without ``--data``, ``../shared/data/gowalla``
is read; when it is missing the script says so and exits with status 0.
"""

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "gowalla"
K = 20
SEED = 0
MODEL_NAMES = ["pop", "mf", "ncf", "twotower", "ae"]
REFERENCES = [("item popularity (README)", 0.0416, 0.0317),
              ("implicit ALS, 128 factors (README)", 0.1611, 0.1365)]


def make_model(name):
    """(label, unfitted estimator): defaults, early stopping, seed 0."""
    from skrec.models import (
        AutoencoderClassifier,
        MFClassifier,
        NCFClassifier,
        PopularityClassifier,
        TwoTowerClassifier,
    )

    sampled = dict(negative_ratio=4, random_state=SEED)
    return {
        "pop": ("popularity", PopularityClassifier()),
        "mf": ("matrix factorisation, defaults", MFClassifier(**sampled)),
        "ncf": ("NCF (NeuMF), defaults", NCFClassifier(**sampled)),
        "twotower": ("two-tower, defaults", TwoTowerClassifier(**sampled)),
        "ae": ("autoencoder (Mult-DAE), defaults", AutoencoderClassifier(random_state=SEED)),
    }[name]


def read_split(path, name):
    """One of train/valid/test.txt as a (user_id, item_id) frame."""
    users, items = [], []
    with open(path / f"{name}.txt") as lines:
        for line in lines:
            ids = line.split()
            if len(ids) > 1:
                users.extend([int(ids[0])] * (len(ids) - 1))
                items.extend(int(i) for i in ids[1:])
    return pd.DataFrame({"user_id": users, "item_id": items})


def load(path, n_users=None):
    """``(train log, test items per user)``; ``n_users`` keeps a random subset."""
    train = pd.concat([read_split(path, "train"), read_split(path, "valid")],
                      ignore_index=True).drop_duplicates(ignore_index=True)
    test = read_split(path, "test")
    if n_users:
        rng = np.random.default_rng(SEED)
        kept = rng.choice(train["user_id"].unique(), n_users, replace=False)
        train = train[train["user_id"].isin(kept)].reset_index(drop=True)
        test = test[test["user_id"].isin(kept)]
    return train, test.groupby("user_id")["item_id"].apply(set)


def ranking_figures(recs, test_items):
    """Mean Recall@K and NDCG@K of top-K lists against each user's test items."""
    discounts = 1.0 / np.log2(np.arange(K) + 2.0)
    ideal = np.cumsum(discounts)
    lists = recs.groupby("user_id", sort=False)["item_id"].apply(list)
    recall, ndcg = [], []
    for user, relevant in test_items.items():
        ranked = lists.get(user, [])
        hits = np.array([item in relevant for item in ranked[:K]], dtype=float)
        recall.append(hits.sum() / len(relevant))
        ndcg.append((hits * discounts[: hits.size]).sum() / ideal[min(len(relevant), K) - 1])
    return float(np.mean(recall)), float(np.mean(ndcg))


def run_one(name, args):
    """Fit, recommend and score one model; print its figures as JSON."""
    from sklearn.pipeline import make_pipeline

    from skrec import FeatureBuilder, recommend

    train, test_items = load(Path(args.data), args.users)
    label, model = make_model(name)
    pipe = make_pipeline(
        FeatureBuilder(user_features=[], item_features=[], context_features=[]), model
    )
    y = np.ones(len(train), dtype=np.int64)
    started = time.perf_counter()
    pipe.fit(train, y)
    fit_s = time.perf_counter() - started
    users = test_items.index.to_numpy()
    started = time.perf_counter()
    recs = recommend(pipe, users, k=K, exclude_seen=True)
    recommend_s = time.perf_counter() - started
    recall, ndcg = ranking_figures(recs, test_items)
    fitted = pipe[-1]
    print(json.dumps({
        "name": name, "label": label, "recall": recall, "ndcg": ndcg,
        "fit_s": fit_s, "recommend_s": recommend_s,
        "epochs": getattr(fitted, "n_iter_", None),
        "best_epoch": getattr(fitted, "best_iteration_", None),
        "max_epochs": getattr(fitted, "epochs", None),
        "validation": getattr(fitted, "validation_scores_", None),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "n_train": len(train), "n_users": len(users),
    }))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help="the gowalla directory (default: ../shared/data/gowalla)")
    parser.add_argument("--models", default=",".join(MODEL_NAMES),
                        help="comma-separated subset of: " + ", ".join(MODEL_NAMES))
    parser.add_argument("--users", type=int, default=None,
                        help="keep a random N users (smoke test)")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not args.models or set(args.models) - set(MODEL_NAMES):
        parser.error(f"--models must name some of {', '.join(MODEL_NAMES)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.one:
        run_one(args.one, args)
        return 0
    if not Path(args.data).is_dir():
        print(f"no Gowalla data at {args.data}: nothing to measure (see the docstring)")
        return 0
    sys.path.insert(0, str(Path(__file__).parent))
    from _report import cpus, load_average, print_table

    import skrec

    started = time.perf_counter()
    print(f"data: Gowalla ({args.data}), fit on train + valid, test on test.txt"
          + (f", {args.users} random users" if args.users else ""))
    print(f"machine: {cpus()}, load average {load_average()} at start; "
          f"{platform.processor() or platform.machine()}; skrec {skrec.__version__}")
    results = []
    for name in args.models:
        command = [sys.executable, __file__, "--data", args.data, "--one", name]
        if args.users:
            command += ["--users", str(args.users)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"  {name}: failed\n{done.stderr[-3000:]}")
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(result)
        print(f"  {name}: Recall@{K} {result['recall']:.4f}, NDCG@{K} {result['ndcg']:.4f}, "
              f"epochs {result['epochs']} (best {result['best_epoch']}), fit "
              f"{result['fit_s']:.0f} s, recommend {result['recommend_s']:.0f} s, "
              f"peak RSS {result['peak_rss_gb']:.1f} GB", flush=True)
    print(f"\nresults (defaults + early stopping; {results[0]['n_train']:,} training "
          f"interactions, {results[0]['n_users']:,} test users)\n" if results else "")
    header = ["model", f"Recall@{K}", f"NDCG@{K}", "vs popularity", "epochs (best / max)",
              "fit s", "recommend s", "peak RSS GB"]
    pop = next((r["recall"] for r in results if r["name"] == "pop"), None)
    rows = [[label, f"{recall:.4f}", f"{ndcg:.4f}", "", "", "", "", ""]
            for label, recall, ndcg in REFERENCES]
    for r in results:
        epochs = "" if r["epochs"] is None else (
            f"{r['epochs']} ({r['best_epoch'] or '-'} / {r['max_epochs']})")
        rows.append([
            r["label"], f"{r['recall']:.4f}", f"{r['ndcg']:.4f}",
            f"{r['recall'] / pop:.2f}x" if pop else "", epochs, f"{r['fit_s']:.0f}",
            f"{r['recommend_s']:.0f}", f"{r['peak_rss_gb']:.1f}",
        ])
    print_table(header, rows)
    print(f"\nload average {load_average()} at the end; total wall time "
          f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
