"""Tests of skrec._explain.explain (history and feature attributions)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from skrec import FeatureBuilder, InteractionNormalizer, make_interactions
from skrec._explain import Explanation, explain
from skrec._recommend import recommend


@pytest.fixture(scope="module")
def log():
    return make_interactions(
        n_users=60, n_items=40, n_interactions=1500, random_state=0, return_X_y=True
    )


@pytest.fixture(scope="module")
def ease(log):
    from skrec.models import EASEClassifier

    X, y = log
    model = make_pipeline(InteractionNormalizer(), FeatureBuilder(), EASEClassifier(l2=10.0))
    return model.fit(X, y)


@pytest.fixture(scope="module")
def history_lr(log):
    """A model that reads the history columns: logistic regression on them."""
    X, y = log
    model = make_pipeline(FeatureBuilder(history_length=3), LogisticRegression(max_iter=500))
    return model.fit(X, y)


def _user_with_mixed_history(X, y, min_positives=4):
    """A user with at least ``min_positives`` positives and one negative-only item."""
    frame = X.assign(label=y)
    for user, rows in frame.groupby("user_id", sort=True):
        best = rows.groupby("item_id")["label"].max()
        if (best == 1).sum() >= min_positives and (best == 0).any():
            return user
    raise AssertionError("no suitable user in the test log")


def _raw_row(model, user, item, **context):
    """The pipeline input row for (user, item), built from the fitted catalogue."""
    builder = next(s for _, s in model.steps if isinstance(s, FeatureBuilder))
    row = {"user_id": user, "item_id": item, "timestamp": pd.NaT, "user_behavior": 0}
    if user in builder.user_profiles_.index:
        row.update(builder.user_profiles_.loc[user].to_dict())
    row.update(builder.item_catalogue_.loc[item].to_dict())
    row.update(context)
    return pd.DataFrame([row], columns=list(builder.feature_names_in_))


# ------------------------------------------------------------------ EASE: exact
def test_ease_history_terms_are_exact_and_sum_to_raw_score(ease, log):
    X, y = log
    user = _user_with_mixed_history(X, y)
    item = "i0003"
    why = explain(ease, user, item, top=None)
    builder, clf = ease.named_steps["featurebuilder"], ease.named_steps["easeclassifier"]

    assert isinstance(why, Explanation) and why.history_method == "exact"
    assert set(why.history["item_id"]) == set(X.loc[X["user_id"] == user, "item_id"])
    i = builder.item_vocabulary_.get_loc(item) + 1
    u = builder.user_vocabulary_.get_loc(user) + 1
    positives = set(X.loc[(X["user_id"] == user) & (y == 1), "item_id"])
    for item_id, value in why.history.itertuples(index=False):
        j = builder.item_vocabulary_.get_loc(item_id) + 1
        assert value == (clf.B_[j, i] if item_id in positives else 0.0)  # exact
    encoded = ease[:-1].transform(_raw_row(ease, user, item))
    assert why.raw_score == clf.decision_function(encoded)[0]
    np.testing.assert_allclose(why.history["contribution"].sum(), why.raw_score, rtol=1e-12)
    np.testing.assert_allclose(
        why.raw_score, (clf.user_items_[u] @ clf.B_[:, i]).item(), rtol=1e-12
    )
    # Sorted strongest first.
    strength = np.abs(why.history["contribution"].to_numpy())
    assert np.all(np.diff(strength) <= 0)


def test_score_is_the_pipeline_score(ease, log):
    X, _ = log
    user, item = X["user_id"].iloc[0], "i0005"
    why = explain(ease, user, item)
    expected = recommend(ease, [user], k=1, items=[item], exclude_seen=False)["score"]
    assert why.score == pytest.approx(expected.iloc[0], abs=1e-15)
    assert why.score == ease.predict_proba(_raw_row(ease, user, item))[0, 1]
    # EASE reads only ids: the other columns contribute exactly 0.
    features = why.features.set_index("feature")["contribution"]
    assert (features.drop(["user_id", "item_id"]) == 0).all()
    assert features["item_id"] == pytest.approx(why.score - 1 / 6)  # EASE p(0) = 1/6


def test_top_limits_rows_and_to_frame_is_tidy(ease, log):
    X, _ = log
    user = X["user_id"].value_counts().index[0]
    why = explain(ease, user, "i0002", top=3)
    assert len(why.history) == 3 and len(why.features) == 3
    full = explain(ease, user, "i0002", top=None)
    pd.testing.assert_frame_equal(why.history, full.history.head(3))
    frame = why.to_frame()
    assert list(frame.columns) == ["source", "name", "contribution"]
    assert frame["source"].tolist() == ["history"] * 3 + ["feature"] * 3
    text = repr(why)
    assert "exact EASE terms" in text and repr(user) in text


# ------------------------------------------------------ features (any classifier)
def test_planted_feature_has_the_largest_attribution(log):
    X, _ = log
    # The label depends on the price only (a logistic of the log price).
    price = np.log(X["item_price"])
    logit = 2.0 * (price - price.mean()) / price.std()
    rng = np.random.default_rng(0)
    y = (rng.random(len(X)) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    model = make_pipeline(FeatureBuilder(), LogisticRegression(max_iter=2000)).fit(X, y)
    expensive = (X["item_price"] - X["item_price"].quantile(0.9)).abs().idxmin()
    why = explain(model, X["user_id"].iloc[0], X.loc[expensive, "item_id"])
    strength = why.features["contribution"].abs().to_numpy()
    assert why.features["feature"].iloc[0] == "item_price"
    assert why.features["contribution"].iloc[0] > 0.1
    assert strength[0] > 5 * strength[1]
    assert why.history_method == "none" and why.history["contribution"].isna().all()


def test_ignored_column_contributes_exactly_zero(log):
    X, _ = log
    y = (X["item_price"] > X["item_price"].median()).astype(int)
    only_price = ColumnTransformer([("price", "passthrough", ["item_price"])])
    model = make_pipeline(FeatureBuilder(), only_price, LogisticRegression())
    model.fit(X, y)
    item = X.loc[X["item_price"].idxmin(), "item_id"]
    why = explain(model, X["user_id"].iloc[0], item, top=None)
    features = why.features.set_index("feature")["contribution"]
    assert features["item_price"] < 0  # cheap item: the price lowers the score
    assert (features.drop("item_price") == 0.0).all()
    assert why.features["feature"].iloc[0] == "item_price"


def test_one_batched_predict_proba_call(history_lr, log, monkeypatch):
    X, y = log
    clf = history_lr[-1]
    calls = []
    original = clf.predict_proba

    def counting(data):
        calls.append(len(data))
        return original(data)

    monkeypatch.setattr(clf, "predict_proba", counting)
    user = _user_with_mixed_history(X, y)
    why = explain(history_lr, user, "i0001", top=None)
    n_features = len(why.features)
    n_windows = int((why.history["contribution"] != 0).sum())
    assert len(calls) == 1
    assert calls[0] >= 1 + n_features + n_windows > 1 + n_features


# ----------------------------------------------------- history input: occlusion
def _last_positives(X, y, user, length, before=None):
    rows = X.assign(label=np.asarray(y), order=np.arange(len(X)))
    rows = rows[(rows["user_id"] == user) & (rows["label"] == 1)]
    if before is not None:
        rows = rows[rows["timestamp"] < before]
    rows = rows.sort_values(["timestamp", "order"], kind="stable")
    return list(rows["item_id"])[-length:]


@pytest.mark.parametrize("at_time", [False, True])
def test_history_occlusion_rebuilds_the_history_columns(history_lr, log, at_time):
    X, y = log
    user = _user_with_mixed_history(X, y, min_positives=5)
    item = "i0007"
    builder, clf = history_lr[0], history_lr[-1]
    context = {}
    if at_time:  # the row's time: only positives strictly before it
        times = X.loc[(X["user_id"] == user) & (y == 1), "timestamp"].sort_values()
        context = {"timestamp": times.iloc[4]}
    why = explain(history_lr, user, item, top=None, context=context)
    assert why.history_method == "occlusion"

    window = _last_positives(X, y, user, 3, before=context.get("timestamp"))
    shown = why.features.set_index("feature").loc["history", "value"]
    assert list(shown) == window

    encoded = builder.transform(_raw_row(history_lr, user, item, **context))
    names = ["history_1", "history_2", "history_3"]
    assert [builder.item_vocabulary_[k - 1] for k in encoded[names].iloc[0] if k] == window
    stored = _last_positives(X, y, user, 10_000, before=context.get("timestamp"))
    contributions = why.history.set_index("item_id")["contribution"]
    for item_id, value in contributions.items():
        if item_id not in window:
            assert value == 0.0
            continue
        kept = [v for v in stored if v != item_id][-3:]
        indices = [0] * (3 - len(kept)) + [builder.item_vocabulary_.get_loc(v) + 1 for v in kept]
        occluded = encoded.copy()
        occluded.loc[:, names] = np.asarray(indices)[None, :]
        expected = why.score - clf.predict_proba(occluded)[0, 1]
        assert value == pytest.approx(expected, abs=1e-12)
        assert value != 0.0
    history_feature = why.features.set_index("feature").loc["history"]
    empty = encoded.copy()
    empty.loc[:, names] = 0
    assert history_feature["contribution"] == pytest.approx(
        why.score - clf.predict_proba(empty)[0, 1], abs=1e-12
    )


# ------------------------------------------------------ embeddings: similarity
def test_ncf_end_to_end_uses_item_embedding_similarity(log):
    from skrec.models import NCFClassifier

    X, y = log
    model = make_pipeline(
        InteractionNormalizer(), FeatureBuilder(), NCFClassifier(epochs=1, random_state=0)
    ).fit(X, y)
    user, item = X["user_id"].iloc[0], "i0003"
    why = explain(model, user, item, top=None)
    again = explain(model, user, item, top=None)
    assert why.history_method == "similarity"
    pd.testing.assert_frame_equal(why.history, again.history)
    pd.testing.assert_frame_equal(why.features, again.features)

    network, builder = model[-1].model_, model[1]
    table = np.concatenate(
        [network.get_layer(n).get_weights()[0] for n in ("gmf_item", "mlp_item")], axis=1
    )
    target = table[builder.item_vocabulary_.get_loc(item) + 1]
    for item_id, value in why.history.itertuples(index=False):
        row = table[builder.item_vocabulary_.get_loc(item_id) + 1]
        cosine = row @ target / np.linalg.norm(row) / np.linalg.norm(target)
        assert value == pytest.approx(cosine, abs=1e-6)
    assert why.history["contribution"].between(-1 - 1e-9, 1 + 1e-9).all()
    expected = recommend(model, [user], k=1, items=[item], exclude_seen=False)["score"]
    assert why.score == pytest.approx(expected.iloc[0], abs=1e-6)
    assert set(why.features["feature"]) == {c["name"] for c in builder.schema_}
    assert "cosine similarity" in repr(why)


class _EmbeddingLogisticRegression(LogisticRegression):
    """A classifier exposing the ``_item_embeddings`` hook."""

    def _item_embeddings(self):
        return self.item_table


def test_item_embeddings_hook_is_used(log):
    X, y = log
    model = make_pipeline(FeatureBuilder(), _EmbeddingLogisticRegression(max_iter=500))
    model.fit(X, y)
    n_item_index = len(model[0].item_vocabulary_) + 1
    table = np.zeros((n_item_index, 2))
    table[:, 0] = 1.0
    target = model[0].item_vocabulary_.get_loc("i0004") + 1
    table[target] = [0.0, 1.0]  # orthogonal to every other item
    model[-1].item_table = table
    user = X.loc[X["item_id"] != "i0004", "user_id"].iloc[0]
    why = explain(model, user, "i0004", top=None)
    assert why.history_method == "similarity"
    assert (why.history["contribution"][why.history["item_id"] != "i0004"] == 0).all()
    model[-1].item_table = table[:-1]  # wrong shape: ignored, graceful fallback
    assert explain(model, user, "i0004").history_method == "none"


# --------------------------------------------------------- unknowns and errors
def test_unknown_user_is_explained_with_an_empty_history(ease):
    why = explain(ease, "nobody", "i0003")
    assert not why.known_user
    assert why.history.empty and list(why.history.columns) == ["item_id", "contribution"]
    assert why.raw_score == 0.0 and why.score == pytest.approx(1 / 6)
    assert any("unknown" in note for note in why.notes)
    assert "unknown to the pipeline" in repr(why)
    assert len(why.features) > 0


def test_unknown_item_is_refused_by_name(ease):
    with pytest.raises(ValueError, match=r"item 'nothing' is not in the fitted item "
                       r"catalogue; only catalogue items"):
        explain(ease, "u0001", "nothing")


def test_pipeline_without_feature_builder_is_refused(log):
    X, y = log
    with pytest.raises(ValueError, match="explain: the pipeline has no FeatureBuilder"):
        explain(Pipeline([("clf", LogisticRegression())]), "u0001", "i0001")
    with pytest.raises(ValueError, match="explain: model must be a fitted sklearn Pipeline"):
        explain(LogisticRegression(), "u0001", "i0001")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"top": 0}, "top must be a positive integer or None"),
        ({"top": True}, "top must be a positive integer or None"),
        ({"context": ["x"]}, "context must be a dict"),
        ({"context": {"item_price": 3.0}}, r"context columns \['item_price'\]"),
    ],
)
def test_bad_arguments(ease, kwargs, message):
    with pytest.raises(ValueError, match=message):
        explain(ease, "u0001", "i0001", **kwargs)
