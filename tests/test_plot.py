"""Tests of skrec.plot: the drawn data equals the model's numbers."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

import skrec._recommend  # noqa: E402
from skrec import FeatureBuilder, make_interactions  # noqa: E402
from skrec.metrics import hit_rate_at_k, make_ranking_scorer, ndcg_at_k  # noqa: E402
from skrec.model_selection import UserHoldout  # noqa: E402
from skrec.models import EASEClassifier, NCFClassifier, PopularityClassifier  # noqa: E402
from skrec.plot import (  # noqa: E402
    MetricAtKDisplay,
    SearchHeatmapDisplay,
    TrainingCurveDisplay,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def split():
    X, y = make_interactions(
        n_users=60, n_items=40, n_interactions=1500, random_state=0, return_X_y=True
    )
    train, test = next(UserHoldout(test_size=0.25, random_state=0).split(X))
    return X.iloc[train], y.iloc[train], X.iloc[test], y.iloc[test]


@pytest.fixture(scope="module")
def models(split):
    X_train, y_train, _, _ = split
    ncf = NCFClassifier(
        epochs=2, validation_split=0.2, metrics=["auc"], batch_size=128, random_state=0
    )
    pipes = {
        "popularity": make_pipeline(FeatureBuilder(), PopularityClassifier()),
        "EASE": make_pipeline(FeatureBuilder(), EASEClassifier(l2=10.0)),
        "NCF": make_pipeline(FeatureBuilder(), ncf),
    }
    return {name: pipe.fit(X_train, y_train) for name, pipe in pipes.items()}


@pytest.fixture(scope="module")
def tree_data():
    return make_classification(n_samples=120, n_features=5, random_state=0)


@pytest.fixture(scope="module")
def tree_search(tree_data):
    """A fast search over three parameters (the third varies within each cell)."""
    grid = {
        "max_depth": [3, 1, 2],
        "min_samples_leaf": [1, 8],
        "criterion": ["gini", "entropy"],
    }
    search = GridSearchCV(DecisionTreeClassifier(random_state=0), grid, cv=3)
    return search.fit(*tree_data)


# ------------------------------------------------------------ training curves


def test_training_curves_plot_history_values(models):
    history = models["NCF"][-1].history_
    assert set(history) == {"loss", "val_loss", "a_u_c", "val_auc"}
    display = TrainingCurveDisplay.from_estimator(models["NCF"])
    assert set(display.lines_) == set(history)
    for key, values in history.items():
        line = display.lines_[key]
        np.testing.assert_array_equal(line.get_xdata(), [1, 2])
        np.testing.assert_allclose(line.get_ydata(), values)
    # A training series and its validation twin: one colour, the twin dashed.
    lines = display.lines_
    assert lines["a_u_c"].get_color() == lines["val_auc"].get_color()
    assert lines["loss"].get_color() == lines["val_loss"].get_color()
    assert lines["loss"].get_color() != lines["a_u_c"].get_color()
    assert lines["val_loss"].get_linestyle() == "--"
    assert lines["loss"].get_linestyle() == "-"
    labels = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert labels == ["loss", "val_loss", "auc", "val_auc"]
    assert display.ax_.get_title() == "NCFClassifier"
    assert display.ax_.get_xlabel() == "epoch"


def test_training_curves_bare_model_and_series_subset(models):
    model = models["NCF"][-1]
    display = TrainingCurveDisplay.from_estimator(
        model, series=["loss", "val_loss"], name="NCF", linewidth=3
    )
    assert list(display.lines_) == ["loss", "val_loss"]
    np.testing.assert_allclose(display.lines_["val_loss"].get_ydata(), model.history_["val_loss"])
    assert display.lines_["loss"].get_linewidth() == 3
    assert display.ax_.get_title() == "NCF"
    assert display.ax_.get_ylabel() == "loss"


def test_training_curves_from_history_dict():
    display = TrainingCurveDisplay(history={"loss": [0.7, 0.5, 0.4]}).plot(ls=":")
    np.testing.assert_allclose(display.lines_["loss"].get_ydata(), [0.7, 0.5, 0.4])
    np.testing.assert_array_equal(display.lines_["loss"].get_xdata(), [1, 2, 3])
    assert display.lines_["loss"].get_linestyle() == ":"
    assert display.ax_.get_title() == ""


def test_training_curves_of_a_search_best_estimator(models):
    search = GridSearchCV(models["NCF"], {"ncfclassifier__epochs": [2]})
    search.best_estimator_ = models["NCF"]  # as fit would set it, without the fits
    display = TrainingCurveDisplay.from_estimator(search)
    np.testing.assert_allclose(
        display.lines_["loss"].get_ydata(), models["NCF"][-1].history_["loss"]
    )


def test_training_curves_unknown_series(models):
    with pytest.raises(ValueError, match=r"\['val_acc'\] not recorded.*'val_loss'"):
        TrainingCurveDisplay.from_estimator(models["NCF"], series=["loss", "val_acc"])


@pytest.mark.parametrize("name", ["popularity", "EASE"])
def test_training_curves_baselines_have_no_history(models, name):
    cls = type(models[name][-1]).__name__
    with pytest.raises(ValueError, match=f"{cls} records no training history.*deep"):
        TrainingCurveDisplay.from_estimator(models[name])


def test_training_curves_unfitted_model():
    with pytest.raises(NotFittedError, match="NCFClassifier is not fitted"):
        TrainingCurveDisplay.from_estimator(NCFClassifier())


# ----------------------------------------------------------------- metric at k


@pytest.mark.parametrize(
    "metric, candidates", [("ndcg", "all"), ("map", "all"), ("hit_rate", 5)]
)
def test_metric_at_k_equals_ranking_scorer(models, split, metric, candidates):
    _, _, X_test, y_test = split
    ks = (1, 3, 10)
    display = MetricAtKDisplay.from_estimators(
        models, X_test, y_test, metric=metric, ks=ks, candidates=candidates
    )
    assert list(display.scores.columns) == list(models)
    assert list(display.scores.index) == list(ks)
    for name, pipe in models.items():
        expected = [
            make_ranking_scorer(metric, k=k, candidates=candidates)(pipe, X_test, y_test)
            for k in ks
        ]
        np.testing.assert_allclose(display.scores[name], expected, rtol=1e-12)
        np.testing.assert_allclose(display.lines_[name].get_ydata(), expected, rtol=1e-12)
        np.testing.assert_array_equal(display.lines_[name].get_xdata(), ks)
    labels = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert labels == list(models)


def test_metric_at_k_ranks_once_per_model(models, split, monkeypatch):
    _, _, X_test, y_test = split
    calls = []
    original = skrec._recommend.recommend

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(skrec._recommend, "recommend", counting)
    MetricAtKDisplay.from_estimators(models, X_test, y_test, ks=(1, 5, 10, 20))
    assert len(calls) == len(models)


def test_metric_at_k_sorts_and_dedupes_ks(models, split):
    _, _, X_test, y_test = split
    pipes = {"EASE": models["EASE"]}
    display = MetricAtKDisplay.from_estimators(pipes, X_test, y_test, ks=[10, 1, 10, 5])
    assert list(display.scores.index) == [1, 5, 10]
    assert display.ax_.get_ylabel() == "NDCG@k"


def test_metric_at_k_from_predictions_equals_metric_functions():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(20), 10)
    y_true = (rng.random(200) < 0.2).astype(int)
    scores = {"a": rng.random(200), "b": rng.random(200)}
    display = MetricAtKDisplay.from_predictions(y_true, scores, users, ks=(1, 2, 5))
    for name, score in scores.items():
        expected = [ndcg_at_k(y_true, score, users, k=k) for k in (1, 2, 5)]
        np.testing.assert_allclose(display.scores[name], expected)
    display = MetricAtKDisplay.from_predictions(
        y_true, scores, users, metric="hit_rate", ks=3
    )
    assert display.scores.loc[3, "b"] == hit_rate_at_k(y_true, scores["b"], users, k=3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"metric": "auc"}, r"metric='auc' is not a ranking metric.*'ndcg'"),
        ({"ks": [0, 5]}, r"ks must be a non-empty sequence of integers >= 1"),
        ({"ks": []}, r"ks must be a non-empty sequence"),
        ({"ks": [1.5]}, r"ks must be"),
        ({"candidates": 0}, r"candidates must be 'all' or an integer >= 1"),
    ],
)
def test_metric_at_k_bad_options(models, split, kwargs, match):
    _, _, X_test, y_test = split
    with pytest.raises(ValueError, match=match):
        MetricAtKDisplay.from_estimators({"EASE": models["EASE"]}, X_test, y_test, **kwargs)


def test_metric_at_k_bad_estimators(models, split):
    _, _, X_test, y_test = split
    with pytest.raises(ValueError, match=r"estimators must be a non-empty dict"):
        MetricAtKDisplay.from_estimators([models["EASE"]], X_test, y_test)
    with pytest.raises(ValueError, match=r"estimators must be a non-empty dict"):
        MetricAtKDisplay.from_estimators({}, X_test, y_test)
    no_builder = make_pipeline(StandardScaler(), DecisionTreeClassifier())
    with pytest.raises(ValueError, match=r"estimators\['tree'\]:.*no FeatureBuilder"):
        MetricAtKDisplay.from_estimators({"tree": no_builder}, X_test, y_test)


# ---------------------------------------------------------------- heatmap


def test_heatmap_equals_cv_results_pivot(tree_search):
    display = SearchHeatmapDisplay.from_search(
        tree_search, x="max_depth", y="min_samples_leaf"
    )
    results = pd.DataFrame(tree_search.cv_results_)
    expected = results.pivot_table(
        index="param_min_samples_leaf",
        columns="param_max_depth",
        values="mean_test_score",
        aggfunc="max",
    )
    # Numeric values in increasing order: the pivot's order, not the grid's [3, 1, 2].
    assert list(display.scores.columns) == [1, 2, 3]
    assert list(display.scores.index) == [1, 8]
    np.testing.assert_allclose(display.scores.to_numpy(), expected.to_numpy())
    np.testing.assert_allclose(display.im_.get_array(), expected.to_numpy())
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == ["1", "2", "3"]
    assert display.ax_.get_xlabel() == "max_depth"
    assert display.ax_.get_ylabel() == "min_samples_leaf"
    # Annotations: each cell's score; the best one in bold.
    best = np.unravel_index(np.argmax(expected.to_numpy()), expected.shape)
    for (row, col), value in np.ndenumerate(expected.to_numpy()):
        text = display.text_[row, col]
        assert text.get_text() == format(value, ".3f")
        assert (text.get_fontweight() == "bold") == ((row, col) == best)
    assert display.colorbar_.ax.get_ylabel() == "mean test score"


def test_heatmap_multimetric(tree_data):
    grid = {"max_depth": [1, 2], "min_samples_leaf": [1, 8]}
    search = GridSearchCV(
        DecisionTreeClassifier(random_state=0),
        grid,
        cv=3,
        scoring={"acc": "accuracy", "auc": "roc_auc"},
        refit="auc",
    ).fit(*tree_data)
    results = search.cv_results_
    display = SearchHeatmapDisplay.from_search(search, x="max_depth", y="min_samples_leaf")
    assert display.score_name == "auc"
    np.testing.assert_allclose(
        display.scores.to_numpy().T.ravel(), results["mean_test_auc"]
    )
    display = SearchHeatmapDisplay.from_search(
        search, x="min_samples_leaf", y="max_depth", metric="acc"
    )
    np.testing.assert_allclose(display.scores.to_numpy().ravel(), results["mean_test_acc"])
    with pytest.raises(ValueError, match=r"metric='f1' is not a scorer.*\['acc', 'auc'\]"):
        SearchHeatmapDisplay.from_search(search, x="max_depth", y="min_samples_leaf",
                                         metric="f1")
    search.set_params(refit=False).fit(*tree_data)
    with pytest.raises(ValueError, match=r"refit=False names none.*\['acc', 'auc'\]"):
        SearchHeatmapDisplay.from_search(search, x="max_depth", y="min_samples_leaf")


def test_heatmap_single_scorer_names(tree_data):
    grid = {"max_depth": [1, 2], "min_samples_leaf": [1, 8]}
    search = GridSearchCV(DecisionTreeClassifier(random_state=0), grid, cv=3,
                          scoring="roc_auc").fit(*tree_data)
    for metric in (None, "score", "roc_auc"):
        display = SearchHeatmapDisplay.from_search(
            search, x="max_depth", y="min_samples_leaf", metric=metric, colorbar=False
        )
        assert display.score_name == "roc_auc"
        assert display.colorbar_ is None
    with pytest.raises(ValueError, match=r"metric='accuracy' is not a scorer.*'roc_auc'"):
        SearchHeatmapDisplay.from_search(search, x="max_depth", y="min_samples_leaf",
                                         metric="accuracy")


def test_heatmap_bad_parameters(tree_search):
    with pytest.raises(
        ValueError,
        match=r"x='max_dept' is not a searched parameter \(did you mean 'max_depth'\?\);"
        r" searched parameters: \['criterion', 'max_depth', 'min_samples_leaf'\]",
    ):
        SearchHeatmapDisplay.from_search(tree_search, x="max_dept", y="criterion")
    with pytest.raises(ValueError, match=r"y='l2' is not a searched parameter"):
        SearchHeatmapDisplay.from_search(tree_search, x="max_depth", y="l2")
    with pytest.raises(ValueError, match=r"x and y are both 'max_depth'"):
        SearchHeatmapDisplay.from_search(tree_search, x="max_depth", y="max_depth")
    unfitted = GridSearchCV(DecisionTreeClassifier(), {"max_depth": [1]})
    with pytest.raises(ValueError, match=r"GridSearchCV has no cv_results_"):
        SearchHeatmapDisplay.from_search(unfitted, x="max_depth", y="criterion")


def test_heatmap_suggests_full_pipeline_name():
    search = GridSearchCV(
        make_pipeline(FeatureBuilder(), EASEClassifier()), {"easeclassifier__l2": [1.0]}
    )
    search.cv_results_ = {"param_easeclassifier__l2": np.ma.array([1.0]),
                          "mean_test_score": np.array([0.5])}
    with pytest.raises(ValueError, match=r"did you mean 'easeclassifier__l2'"):
        SearchHeatmapDisplay.from_search(search, x="l2", y="easeclassifier__l2")


def test_heatmap_list_of_grids_and_none_values(tree_data):
    grids = [
        {"max_depth": [None, 2], "criterion": ["gini", "entropy"]},
        {"min_samples_leaf": [4]},  # sets neither max_depth nor criterion: left out
    ]
    search = GridSearchCV(DecisionTreeClassifier(random_state=0), grids, cv=3)
    search.fit(*tree_data)
    display = SearchHeatmapDisplay.from_search(search, x="max_depth", y="criterion")
    assert list(display.scores.columns) == [None, 2]  # not numeric: grid order
    assert list(display.scores.index) == ["gini", "entropy"]
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == ["None", "2"]
    np.testing.assert_allclose(
        display.scores.to_numpy().ravel(), search.cv_results_["mean_test_score"][:4]
    )


def test_heatmap_parameters_of_different_grids(tree_data):
    grids = [{"max_depth": [1, 2]}, {"min_samples_leaf": [1, 8]}]
    search = GridSearchCV(DecisionTreeClassifier(random_state=0), grids, cv=3)
    search.fit(*tree_data)
    with pytest.raises(ValueError, match=r"no candidate .* sets both 'max_depth' and"):
        SearchHeatmapDisplay.from_search(search, x="max_depth", y="min_samples_leaf")


def test_heatmap_missing_pairs_are_empty_cells():
    scores = pd.DataFrame([[0.5, np.nan], [0.7, 0.6]], index=[1, 2], columns=["a", "b"])
    display = SearchHeatmapDisplay(scores=scores, x_param="x", y_param="y").plot()
    assert display.text_[0, 1] is None
    assert bool(display.im_.get_array().mask[0, 1])
    assert display.text_[1, 0].get_fontweight() == "bold"


# ------------------------------------------------------------- axes, matplotlib


def test_displays_draw_on_given_axes(models, split, tree_search):
    _, _, X_test, y_test = split
    figure, axes = plt.subplots(1, 3)
    training = TrainingCurveDisplay.from_estimator(models["NCF"], ax=axes[0])
    at_k = MetricAtKDisplay.from_estimators(
        {"EASE": models["EASE"]}, X_test, y_test, ks=(1, 5), ax=axes[1]
    )
    heatmap = SearchHeatmapDisplay.from_search(
        tree_search, x="max_depth", y="criterion", ax=axes[2]
    )
    for display, ax in zip((training, at_k, heatmap), axes):
        assert display.ax_ is ax
        assert display.figure_ is figure
    # Re-plotting a computed display on other axes: no recomputation, same data.
    other_figure, other_ax = plt.subplots()
    at_k.plot(ax=other_ax)
    assert at_k.ax_ is other_ax and at_k.figure_ is other_figure
    np.testing.assert_allclose(at_k.lines_["EASE"].get_ydata(), at_k.scores["EASE"])
    assert len(plt.get_fignums()) == 2


def test_missing_matplotlib_names_the_extra(models, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "skrec-deep\[plot\]"'):
        TrainingCurveDisplay.from_estimator(models["NCF"])
    with pytest.raises(ImportError, match=r"SearchHeatmapDisplay draws with matplotlib"):
        SearchHeatmapDisplay(scores=pd.DataFrame([[1.0]]), x_param="a", y_param="b").plot()


def test_importing_skrec_plot_does_not_import_matplotlib():
    code = "import sys, skrec.plot; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
