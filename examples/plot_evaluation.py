"""Evaluation plots: training curves, NDCG@k of three recommenders, a grid-search heatmap.

Holds out a quarter of each user's interactions of the built-in synthetic log
(``UserHoldout``), fits item popularity, EASE and NCF on the purchases of the
rest as implicit feedback (NCF samples 4 negatives per purchase each epoch),
and draws the three displays of :mod:`skrec.plot` into PNG files:

- ``training_curves.png``: NCF's loss and AUC per epoch, on its training rows
  and on a 10 % validation split (``TrainingCurveDisplay``);
- ``ndcg_at_k.png``: NDCG@k of the three models for k = 1 .. 20, each ranking
  every catalogue item the user has not bought, the held-out purchases being
  the relevant items (``MetricAtKDisplay``);
- ``search_heatmap.png``: a ``GridSearchCV`` over NCF's embedding size and
  number of sampled negatives, scored by NDCG@10 on a per-user validation
  holdout (``SearchHeatmapDisplay``).

Run with ``python examples/plot_evaluation.py [--out DIR]`` (about two minutes
on 2 CPU cores; the files go to a new temporary directory unless ``--out`` is
given, and their paths are printed). With ``SKREC_SMOKE=1`` in the environment
it runs on tiny data in well under a minute (a smoke test; the plots are then
not meaningful). Needs matplotlib: ``pip install "skrec-deep[plot]"``.
"""

import argparse
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from skrec import FeatureBuilder, make_interactions  # noqa: E402
from skrec.metrics import make_ranking_scorer  # noqa: E402
from skrec.model_selection import UserHoldout  # noqa: E402
from skrec.models import EASEClassifier, NCFClassifier, PopularityClassifier  # noqa: E402
from skrec.plot import (  # noqa: E402
    MetricAtKDisplay,
    SearchHeatmapDisplay,
    TrainingCurveDisplay,
)

SIZES = {
    "full": dict(n_users=400, n_items=200, n_interactions=16_000, epochs=12,
                 grid={"ncfclassifier__embedding_dim": [4, 8, 16],
                       "ncfclassifier__negative_ratio": [1, 2, 4]},
                 grid_epochs=8),
    "smoke": dict(n_users=50, n_items=30, n_interactions=1_000, epochs=2,
                  grid={"ncfclassifier__embedding_dim": [4, 8],
                        "ncfclassifier__negative_ratio": [1, 4]},
                  grid_epochs=1),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="directory for the PNG files (default: a new temporary one)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="skrec-plots-"))
    out.mkdir(parents=True, exist_ok=True)
    size = SIZES["smoke" if os.environ.get("SKREC_SMOKE") == "1" else "full"]

    # 1. A synthetic impression log (label 1 = purchase), a quarter of each user held out.
    X, y = make_interactions(n_users=size["n_users"], n_items=size["n_items"],
                             n_interactions=size["n_interactions"],
                             random_state=0, return_X_y=True)
    train, test = next(UserHoldout(test_size=0.25, random_state=0).split(X))
    X_test, y_test = X.iloc[test], y.iloc[test]  # relevant items: the y == 1 rows
    # Implicit feedback: train on purchases only (an impression is not "seen").
    bought = train[y.iloc[train].to_numpy() == 1]
    X_train, y_train = X.iloc[bought], y.iloc[bought]

    # 2. Three recommenders, one pipeline each.
    ncf = NCFClassifier(epochs=size["epochs"], negative_ratio=4, validation_split=0.1,
                        metrics=["auc"], random_state=0)
    models = {
        "popularity": make_pipeline(FeatureBuilder(), PopularityClassifier()),
        "EASE": make_pipeline(FeatureBuilder(), EASEClassifier(l2=50.0)),
        "NCF": make_pipeline(FeatureBuilder(), ncf),
    }
    for model in models.values():
        model.fit(X_train, y_train)

    paths = []

    def save(display, name):
        path = out / name
        display.figure_.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(display.figure_)
        paths.append(path)

    # 3. Training curves of the deep model (its history_, one value per epoch).
    save(TrainingCurveDisplay.from_estimator(models["NCF"]), "training_curves.png")

    # 4. NDCG at k = 1 .. 20 from one ranking pass per model (unbought items only).
    display = MetricAtKDisplay.from_estimators(models, X_test, y_test, metric="ndcg",
                                               ks=(1, 2, 5, 10, 15, 20))
    display.ax_.set_title("held-out purchases, ranked among all unbought items")
    save(display, "ndcg_at_k.png")

    # 5. Tune NCF for NDCG@10 on a per-user holdout of the training rows.
    search = GridSearchCV(
        make_pipeline(FeatureBuilder(),
                      NCFClassifier(epochs=size["grid_epochs"], random_state=0)),
        size["grid"],
        scoring=make_ranking_scorer("ndcg", k=10),
        cv=UserHoldout(test_size=0.25, random_state=1),
    ).fit(X_train, y_train)
    display = SearchHeatmapDisplay.from_search(
        search, x="ncfclassifier__negative_ratio", y="ncfclassifier__embedding_dim")
    display.ax_.set_title("NCF grid search: NDCG@10 on a validation holdout")
    save(display, "search_heatmap.png")

    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
