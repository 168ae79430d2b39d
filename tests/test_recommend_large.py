"""recommend over large catalogues: blocks of users, chunks of items, bounded memory."""

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skrec import FeatureBuilder, InteractionNormalizer, make_interactions
from skrec._recommend import _RunningTopK, recommend

IDS_ONLY = dict(user_features=[], item_features=[], context_features=[])
# working_memory in MiB: 1e-5 is 10 bytes, one score per block (one user by one
# item on the row paths); 4e-4 is 13 scores; the default 64 holds every test
# request in one block.
CHUNKED = [1e-5, 4e-4, 3e-3]


class _TiedLogistic(LogisticRegression):
    """Probabilities rounded to one decimal: many ties, broken by candidate order."""

    def predict_proba(self, X):
        return np.round(super().predict_proba(X), 1)


class _AdditiveLogistic(LogisticRegression):
    """A user part plus an item part: scores every pair at once (the fast path)."""

    decimals = None

    def _pairwise_scorer(self, item_rows):
        sides = np.array([entry["side"] for entry in item_rows.attrs["skrec_schema"]])
        weights, item = self.coef_[0], sides == "item"
        item_part = item_rows.to_numpy(dtype=float)[:, item] @ weights[item]

        def score(user_rows):
            user_part = user_rows.to_numpy(dtype=float)[:, ~item] @ weights[~item]
            logits = user_part[:, None] + item_part[None, :] + self.intercept_[0]
            proba = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
            return proba if self.decimals is None else np.round(proba, self.decimals)

        return score


@pytest.fixture(scope="module")
def log():
    X, y = make_interactions(
        n_users=50, n_items=40, n_interactions=1200, random_state=2, return_X_y=True
    )
    return X, y


@pytest.fixture(scope="module")
def models(log):
    X, y = log
    tied_hook = _AdditiveLogistic()
    tied_hook.decimals = 1
    return {
        # encoded pairs through predict_proba
        "pairs": make_pipeline(FeatureBuilder(**IDS_ONLY), _TiedLogistic()).fit(X, y),
        # raw candidate rows: the per-item zscore makes the context item-dependent
        "rows": make_pipeline(
            InteractionNormalizer(strategy="zscore", group_by="item"),
            FeatureBuilder(),
            _TiedLogistic(),
        ).fit(X, y),
        "hook": make_pipeline(InteractionNormalizer(), FeatureBuilder(), _AdditiveLogistic()).fit(
            X, y
        ),
        "hook-ties": make_pipeline(FeatureBuilder(), tied_hook).fit(X, y),
    }


def _reference(model, X, users, k, exclude_seen):
    """Top-k by a stable argsort of the full users x items matrix (pairs model only)."""
    # ties are broken by catalogue order (each item's last row in the log)
    candidates = model.named_steps["featurebuilder"].item_catalogue_.index
    history = X.groupby("user_id")["item_id"].agg(set)
    rows = []
    for user in users:
        frame = pd.DataFrame({c: 0 for c in X.columns}, index=range(len(candidates)))
        frame["user_id"], frame["item_id"] = user, candidates
        frame["timestamp"] = pd.NaT
        scores = model.predict_proba(frame[X.columns])[:, 1]
        seen = candidates.isin(history[user]) if exclude_seen else np.zeros(len(candidates), bool)
        order = np.argsort(-np.where(seen, -np.inf, scores), kind="stable")
        order = order[: min(k, int((~seen).sum()))]
        rows += [(user, candidates[i], scores[i], r + 1) for r, i in enumerate(order)]
    expected = pd.DataFrame(rows, columns=["user_id", "item_id", "score", "rank"])
    return expected.astype({"user_id": object, "item_id": candidates.dtype})


@pytest.mark.parametrize("working_memory", CHUNKED)
@pytest.mark.parametrize("exclude_seen", [True, False])
def test_chunked_equals_full_ranking(log, models, working_memory, exclude_seen):
    X, _ = log
    users = list(X["user_id"].unique()[:6])
    got = recommend(
        models["pairs"], users, k=7, exclude_seen=exclude_seen, working_memory=working_memory
    )
    expected = _reference(models["pairs"], X, users, 7, exclude_seen)
    pd.testing.assert_frame_equal(got[expected.columns], expected)


@pytest.mark.parametrize("name", ["pairs", "rows", "hook", "hook-ties"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"k": 5},
        {"k": 40, "exclude_seen": False},
        {"k": 3, "items": "every third"},
        {"k": 60, "items": "every third", "exclude_seen": True},
        {"k": 1, "batch_size": 7},
    ],
)
def test_chunked_equals_unchunked(log, models, name, kwargs):
    X, _ = log
    # the row paths call predict_proba once per block: fewer users keep them quick
    n_users = 50 if name.startswith("hook") else 12
    users = ["ghost", *X["user_id"].unique()[:n_users], "new-user"]
    if kwargs.get("items") == "every third":
        kwargs = {**kwargs, "items": list(X["item_id"].unique()[::3])}
    whole = recommend(models[name], users, **kwargs)
    assert whole["fallback"].sum() == 2 * len(whole[whole["user_id"] == "ghost"])
    for working_memory in CHUNKED if name.startswith("hook") else CHUNKED[1:]:
        chunked = recommend(models[name], users, working_memory=working_memory, **kwargs)
        pd.testing.assert_frame_equal(chunked, whole)


def test_items_and_users_are_encoded_once(log, models, monkeypatch):
    X, _ = log
    model = models["hook"]
    builder = model.named_steps["featurebuilder"]
    hook_calls, transforms = [], []
    hook = _AdditiveLogistic._pairwise_scorer
    monkeypatch.setattr(
        _AdditiveLogistic,
        "_pairwise_scorer",
        lambda self, rows: hook_calls.append(len(rows)) or hook(self, rows),
    )
    transform = builder.transform
    monkeypatch.setattr(builder, "transform", lambda Z: transforms.append(len(Z)) or transform(Z))
    users = list(X["user_id"].unique())
    recommend(model, users, k=3, working_memory=1e-5)  # one user per block
    n_items = X["item_id"].nunique()
    assert hook_calls == [n_items]
    # one transform for the candidates, one for every user at once
    assert transforms == [n_items, len(users)]


def test_running_top_k_matches_stable_argsort():
    rng = np.random.default_rng(0)
    for trial in range(60):
        n_rows, n_items, k = rng.integers(1, 6), rng.integers(1, 80), rng.integers(1, 30)
        scores = rng.integers(0, 6, size=(n_rows, n_items)).astype(float)  # many ties
        scores[rng.random(scores.shape) < 0.2] = -np.inf
        top = _RunningTopK(n_rows, k)
        lo = 0
        while lo < n_items:
            width = int(rng.integers(1, 2 * k + 3))
            top.add(scores[:, lo : lo + width], lo)
            lo += width
        expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(top.items, expected, err_msg=f"trial {trial}")
        np.testing.assert_array_equal(top.scores, np.take_along_axis(scores, expected, 1))


def test_running_top_k_ranks_nan_last_and_reports_it():
    top = _RunningTopK(1, 3)
    top.add(np.array([[0.5, np.nan, 0.7]]), 0)
    top.add(np.array([[0.1, 0.9]]), 3)
    assert top.items.tolist() == [[4, 2, 0]]
    top = _RunningTopK(1, 3)
    top.add(np.array([[np.nan, 0.2, np.nan, np.nan]]), 0)
    assert top.items.tolist() == [[1, 0, 2]] and np.isnan(top.scores[0, 1])


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), True, "64", None])
def test_invalid_working_memory(log, models, value):
    X, _ = log
    with pytest.raises(ValueError, match="working_memory must be a positive number of MiB"):
        recommend(models["hook"], list(X["user_id"].unique()[:2]), working_memory=value)


# ------------------------------------------------------------- memory bound
@pytest.fixture(scope="module")
def large():
    X, y = make_interactions(
        n_users=400, n_items=30_000, n_interactions=60_000, random_state=0, return_X_y=True
    )
    X = X[["user_id", "item_id"]]
    pairs = make_pipeline(FeatureBuilder(), LogisticRegression()).fit(X, y)
    hook = make_pipeline(FeatureBuilder(), _AdditiveLogistic()).fit(X, y)
    return X, {"pairs": pairs, "hook": hook}


def _traced_peak_mib(model, users, **kwargs):
    tracemalloc.start()
    try:
        recommend(model, users, k=10, **kwargs)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", ["pairs", "hook"])
def test_memory_is_bounded_by_working_memory(large, name):
    X, models = large
    model = models[name]
    users = X["user_id"].unique()
    n_items = X["item_id"].nunique()
    assert n_items > 10_000
    # one float64 users x items matrix would take 46 MiB
    assert len(users) * n_items * 8 / 2**20 > 40
    bounds = dict(working_memory=2, batch_size=20_000)
    recommend(model, users[:5], k=10, **bounds)  # first-call allocations
    few = _traced_peak_mib(model, users[:50], **bounds)
    many = _traced_peak_mib(model, users, **bounds)
    # 2 MiB of blocks, plus the encoded candidates, predict_proba's batch of
    # 20,000 rows and bookkeeping: about 1 MiB here
    assert many < 2 + 3, many
    assert many - few < 2, (few, many)  # does not grow with the number of users


def test_two_tower_chunked_equals_unchunked(log):
    from skrec.models import TwoTowerClassifier

    X, y = log
    model = make_pipeline(
        FeatureBuilder(), TwoTowerClassifier(embedding_dim=8, epochs=1, random_state=0)
    ).fit(X, y)
    users = ["ghost", *X["user_id"].unique()]
    whole = recommend(model, users, k=6)
    for working_memory in (1e-5, 2e-3):  # one user, then 65 scores, per block
        pd.testing.assert_frame_equal(
            recommend(model, users, k=6, working_memory=working_memory), whole
        )
