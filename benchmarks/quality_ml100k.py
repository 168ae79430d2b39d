"""Benchmark: ranking quality of skrec models on MovieLens-100k (P1 and P2).

The two evaluation protocols of PRODUCT.md, built only from skrec's own
splitters, pipeline and ranking scorers (no ad-hoc metric code here):

- **P1, full ranking** (Microsoft Recommenders' MovieLens-100k table): every
  rating is an implicit positive; ``UserHoldout(test_size=0.25)`` splits each
  user's ratings 75/25 at random; each user's held-out items are ranked among
  all items the user has not rated in train; MAP@10, nDCG@10, Precision@10
  and Recall@10 (``make_ranking_scorer([...], k=10)``, one ranking pass).
- **P2, sampled ranking** (the NCF paper's protocol): each user's latest
  rating is held out (``LeaveLatestOut(tie_break="item_id")``: of ratings made
  in the same second, the larger item id counts as the latest); the held-out
  item is ranked among 99 sampled unseen items; HR@10 and NDCG@10
  (``make_ranking_scorer(..., candidates=99)``). The candidates depend on the
  sampling seed, so P2 is reported as the mean (and standard deviation) over
  ``--seeds`` seeds; every model sees the same candidates for a given seed.

Every model is ``make_pipeline(FeatureBuilder(<ids only>), model)`` fitted on
the training fold: the popularity and EASE baselines, and the deep models.
Training time is the pipeline's ``fit``; evaluation time is one scorer call
(P1: every user x every unseen item through the fitted pipeline).

Sanity anchors measured with independent code (PRODUCT.md): P1 popularity
nDCG@10 0.246 and EASE (l2=500) 0.477; P2 popularity 0.311 / 0.165 and EASE
0.612 / 0.333.

Usage::

    python benchmarks/quality_ml100k.py [--data PATH] [--models pop,ease,ncf,...]
                                        [--protocols p1,p2] [--seeds 5]
                                        [--epochs N] [--quick]

Without ``--data``, ``../shared/data/ml-100k`` (relative to the repository
root) is read; when it is missing the script says so and exits with status 0
(the data set's terms forbid shipping it). ``--quick`` runs every model on a
small synthetic log from ``make_interactions`` with 2 epochs (a smoke test).
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

import skrec
from skrec import FeatureBuilder, load_movielens, make_interactions
from skrec.metrics import make_ranking_scorer
from skrec.model_selection import LeaveLatestOut, UserHoldout
from skrec.models import EASEClassifier, NCFClassifier, PopularityClassifier
from _report import print_table  # noqa: E402  (benchmarks/_report.py)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "ml-100k"
K = 10
P1_METRICS = ["map", "ndcg", "precision", "recall"]
P2_METRICS = ["hit_rate", "ndcg"]
SPLIT_SEED = 42  # Microsoft Recommenders' python_stratified_split seed
SEED = 0
MODEL_NAMES = ["pop", "ease", "mf", "ncf", "widedeep", "deepfm", "twotower", "cnn", "gru",
               "ae"]
# Run only when named in --models: the sequence models without history
# dropout, for the trade-off between P1 and P2 (docs/models.md).
EXTRA_NAMES = ["cnn-next", "gru-next"]


HISTORY_LENGTH = 20  # recent items fed to the sequence models (CNN, GRU)


def make_models(epochs):
    """Name -> (label, history_length, unfitted final estimator) of every model.

    The deep models run with their **default settings and early stopping**
    (on by default from 10,000 training positives; this split has 75k), the
    only settings given being ``negative_ratio=4`` (the log holds positives
    only) and ``random_state``; the sequence models keep the settings below.
    ``epochs`` (None: that) trains every deep model a fixed number of epochs
    instead, without early stopping (the previous protocol).
    """
    from skrec.models import (
        AutoencoderClassifier,
        CNNClassifier,
        DeepFMClassifier,
        GRUClassifier,
        MFClassifier,
        TwoTowerClassifier,
        WideDeepClassifier,
    )

    fixed = {} if epochs is None else {"epochs": epochs, "early_stopping": False}
    how = "defaults, early stopping" if epochs is None else f"defaults, {epochs} ep"
    common = dict(negative_ratio=4, random_state=SEED, **fixed)
    # The sequence models run their network on a 20-step history per row:
    # bigger batches keep an epoch short on 2 cores, and a higher rate and
    # more epochs give the user embedding the updates it needs.
    # history_dropout=0.9 hides the history of 90% of the training rows, so
    # the user embedding learns to rank alone (P1 holds out items from all
    # along the timeline); the "-next" variants keep every history (0.0), the
    # papers' next-item training.
    sequence = dict(common, batch_size=1024, learning_rate=1e-2, l2=1e-5)
    sequence.setdefault("epochs", 20)
    seq = (f"last {HISTORY_LENGTH}, l2 1e-5, batch 1024, lr 1e-2, "
           + ("early stopping" if epochs is None else f"{epochs} ep"))
    return {
        "pop": ("popularity", 0, PopularityClassifier()),
        "ease": ("EASE (l2=500)", 0, EASEClassifier(l2=500.0)),
        "mf": (f"MF ({how})", 0, MFClassifier(**common)),
        "ncf": (f"NCF ({how})", 0, NCFClassifier(**common)),
        "widedeep": (f"Wide & Deep ({how})", 0, WideDeepClassifier(**common)),
        "deepfm": (f"DeepFM ({how})", 0, DeepFMClassifier(**common)),
        "twotower": (f"two-tower ({how})", 0, TwoTowerClassifier(**common)),
        "cnn": (
            f"CNN / Caser ({seq}, history dropout 0.9)",
            HISTORY_LENGTH,
            CNNClassifier(history_dropout=0.9, **sequence),
        ),
        "gru": (
            f"GRU4Rec ({seq}, own history table, history dropout 0.9)",
            HISTORY_LENGTH,
            GRUClassifier(history_dropout=0.9, share_item_embedding=False, **sequence),
        ),
        "cnn-next": (
            f"CNN / Caser ({seq}, no history dropout)",
            HISTORY_LENGTH,
            CNNClassifier(**sequence),
        ),
        "gru-next": (
            f"GRU4Rec ({seq}, own history table, no history dropout)",
            HISTORY_LENGTH,
            GRUClassifier(share_item_embedding=False, **sequence),
        ),
        "ae": (
            f"autoencoder / Mult-DAE ({how})",
            0,
            AutoencoderClassifier(random_state=SEED, **fixed),
        ),
    }


def ids_only_builder(history_length=0):
    """A FeatureBuilder using only the ids (as the anchors do), plus history."""
    return FeatureBuilder(
        user_features=[], item_features=[], context_features=[],
        history_length=history_length,
    )


def load_log(args):
    """Return (log with user_id, item_id, timestamp; description) or None."""
    if args.quick:
        log = make_interactions(
            n_users=200, n_items=150, n_interactions=8_000, random_state=SEED
        )
        return log[["user_id", "item_id", "timestamp"]], "synthetic (--quick)"
    path = Path(args.data) if args.data else DEFAULT_DATA
    if not path.is_dir():
        return None, str(path)
    log = load_movielens(path)
    return log[["user_id", "item_id", "timestamp"]], f"MovieLens-100k ({path})"


def evaluate(estimator, X, y, split, scorers):
    """Fit on the split's train rows; score on its test rows with each scorer.

    Returns (fit seconds, [(eval seconds, {metric: score}) per scorer]).
    """
    train, test = split
    started = time.perf_counter()
    estimator.fit(X.iloc[train], y.iloc[train])
    fit_s = time.perf_counter() - started
    results = []
    for scorer in scorers:
        started = time.perf_counter()
        scores = scorer(estimator, X.iloc[test], y.iloc[test])
        results.append((time.perf_counter() - started, scores))
    return fit_s, results


def run_p1(X, y, models):
    cv = UserHoldout(test_size=0.25, random_state=SPLIT_SEED)
    split = next(cv.split(X))
    summary = cv.split_summary_
    print(
        f"\nP1: UserHoldout(test_size=0.25, random_state={SPLIT_SEED}): "
        f"train {summary['n_train_rows']:,} rows, test {summary['n_test_rows']:,} rows, "
        f"{summary['n_users_in_test']} users held out "
        f"({summary['n_users_train_only']} train-only)"
    )
    scorer = make_ranking_scorer(P1_METRICS, k=K)
    header = ["model", *(f"{m}@{K}" for m in P1_METRICS), "epochs (best)", "fit s",
              "eval s"]
    rows = []
    for label, history, model in models:
        pipe = make_pipeline(ids_only_builder(history), model)
        fit_s, [(eval_s, scores)] = evaluate(pipe, X, y, split, [scorer])
        rows.append(
            [label, *(f"{scores[f'{m}@{K}']:.4f}" for m in P1_METRICS),
             epochs_run(pipe[-1]), f"{fit_s:.1f}", f"{eval_s:.1f}"]
        )
        print(f"  done: {label}", flush=True)
    print_table(header, rows)


def epochs_run(model):
    """``"12 (7)"``: epochs trained and the one early stopping kept; "" for baselines."""
    n_iter = getattr(model, "n_iter_", None)
    if n_iter is None:
        return ""
    best = getattr(model, "best_iteration_", None)
    return f"{n_iter}" + ("" if best is None else f" ({best})")


def run_p2(X, y, models, n_seeds):
    cv = LeaveLatestOut(tie_break="item_id")
    split = next(cv.split(X))
    summary = cv.split_summary_
    print(
        f"\nP2: LeaveLatestOut(tie_break='item_id'), 99 sampled candidates, "
        f"{n_seeds} sampling seeds: train {summary['n_train_rows']:,} rows, "
        f"{summary['n_users_in_test']} users held out "
        f"({summary['n_users_train_only']} train-only)"
    )
    scorers = [
        make_ranking_scorer(P2_METRICS, k=K, candidates=99, random_state=seed)
        for seed in range(n_seeds)
    ]
    header = ["model", *(f"{m}@{K} mean ± sd" for m in P2_METRICS),
              f"{P2_METRICS[0]}@{K} seed 0", "epochs (best)", "fit s", "eval s (1 seed)"]
    rows = []
    for label, history, model in models:
        pipe = make_pipeline(ids_only_builder(history), model)
        fit_s, results = evaluate(pipe, X, y, split, scorers)
        table = np.array([[scores[f"{m}@{K}"] for m in P2_METRICS] for _, scores in results])
        sd = table.std(axis=0, ddof=1) if len(table) > 1 else np.zeros(table.shape[1])
        rows.append(
            [label,
             *(f"{mean:.4f} ± {dev:.4f}" for mean, dev in zip(table.mean(axis=0), sd)),
             f"{table[0, 0]:.4f}", epochs_run(pipe[-1]), f"{fit_s:.1f}",
             f"{results[0][0]:.1f}"]
        )
        print(f"  done: {label}", flush=True)
    print_table(header, rows)




def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None,
                        help="the ml-100k directory (default: ../shared/data/ml-100k)")
    parser.add_argument("--models", default=",".join(MODEL_NAMES),
                        help="comma-separated subset of: "
                             + ", ".join(MODEL_NAMES + EXTRA_NAMES)
                             + f" (default: {','.join(MODEL_NAMES)})")
    parser.add_argument("--protocols", default="p1,p2", help="p1, p2 or p1,p2")
    parser.add_argument("--seeds", type=int, default=5,
                        help="P2 candidate-sampling seeds to average over")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs of every deep model (default: each "
                             "model's setting; 2 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="every model on a small synthetic log, 2 epochs")
    args = parser.parse_args(argv)
    if args.epochs is None and args.quick:
        args.epochs = 2
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    args.protocols = [p.strip().lower() for p in args.protocols.split(",") if p.strip()]
    if not args.models or set(args.models) - set(MODEL_NAMES + EXTRA_NAMES):
        parser.error(f"--models must name some of {', '.join(MODEL_NAMES + EXTRA_NAMES)}")
    if not args.protocols or set(args.protocols) - {"p1", "p2"}:
        parser.error("--protocols must be p1, p2 or p1,p2")
    if (args.epochs is not None and args.epochs < 1) or args.seeds < 1:
        parser.error("--epochs and --seeds must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    log, source = load_log(args)
    if log is None:
        print(f"quality_ml100k: no MovieLens-100k at {source}; skipped "
              "(pass --data PATH, or --quick for a synthetic smoke test).")
        return 0
    X = log.reset_index(drop=True)
    y = pd.Series(np.ones(len(X), dtype=np.int64), name="label")
    print(f"data: {source}: {len(X):,} interactions, {X['user_id'].nunique()} users, "
          f"{X['item_id'].nunique()} items; every interaction a positive")
    print(f"skrec {skrec.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load {'/'.join(f'{v:.1f}' for v in os.getloadavg())}")
    registry = make_models(args.epochs)
    models = [registry[name] for name in args.models]
    if "p1" in args.protocols:
        run_p1(X, y, models)
    if "p2" in args.protocols:
        run_p2(X, y, [(label, h, clone(model)) for label, h, model in models], args.seeds)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
