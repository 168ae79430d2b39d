"""Tests of skrec._recommend.recommend (top-k with popularity fallback)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skrec import FeatureBuilder, InteractionNormalizer, make_interactions
from skrec._recommend import recommend

COLUMNS = ["user_id", "item_id", "score", "rank", "fallback"]


@pytest.fixture(scope="module")
def fitted():
    from skrec.models import NCFClassifier

    X, y = make_interactions(
        n_users=60, n_items=40, n_interactions=1500, random_state=0, return_X_y=True
    )
    model = make_pipeline(
        InteractionNormalizer(),
        FeatureBuilder(),
        NCFClassifier(epochs=1, random_state=0),
    )
    model.fit(X, y)
    return model, X


def _builder(model):
    return model.named_steps["featurebuilder"]


def _some_users(X, n=5):
    return list(X["user_id"].drop_duplicates().iloc[:n])


def test_shape_columns_and_ranks(fitted):
    model, X = fitted
    users = _some_users(X)
    recs = recommend(model, users, k=7)
    assert list(recs.columns) == COLUMNS
    assert recs.shape == (7 * len(users), len(COLUMNS))
    assert list(recs["user_id"].drop_duplicates()) == users
    assert recs.groupby("user_id").size().eq(7).all()
    for _, group in recs.groupby("user_id", sort=False):
        assert group["rank"].tolist() == list(range(1, 8))
        assert np.all(np.diff(group["score"].to_numpy()) <= 0)
        assert group["item_id"].is_unique
    assert not recs["fallback"].any()
    assert recs["score"].between(0, 1).all()
    assert recs["rank"].dtype == np.int64 and recs["fallback"].dtype == bool


def test_exclude_seen_uses_training_history(fitted):
    model, X = fitted
    users = _some_users(X, 10)
    history = X.groupby("user_id")["item_id"].agg(set)
    n_items = X["item_id"].nunique()
    recs = recommend(model, users, k=n_items)
    for user, group in recs.groupby("user_id"):
        assert not set(group["item_id"]) & history[user]
        # every unseen item is returned when k is large enough
        assert len(group) == n_items - len(history[user])


def test_include_seen_can_return_history(fitted):
    model, X = fitted
    users = _some_users(X, 10)
    history = X.groupby("user_id")["item_id"].agg(set)
    n_items = X["item_id"].nunique()
    recs = recommend(model, users, k=n_items, exclude_seen=False)
    assert recs.groupby("user_id").size().eq(n_items).all()
    assert any(set(g["item_id"]) & history[u] for u, g in recs.groupby("user_id"))


def test_items_restricts_candidates(fitted):
    model, X = fitted
    items = list(X["item_id"].drop_duplicates().iloc[:6])
    recs = recommend(model, _some_users(X), k=3, items=items, exclude_seen=False)
    assert set(recs["item_id"]) <= set(items)
    assert recs.groupby("user_id").size().eq(3).all()


def test_unknown_items_raise_and_name_them(fitted):
    model, X = fitted
    with pytest.raises(ValueError, match="nope"):
        recommend(model, _some_users(X), items=[X["item_id"].iloc[0], "nope"])


def test_unknown_user_gets_popularity_fallback(fitted):
    model, X = fitted
    recs = recommend(model, ["new-user"], k=5)
    assert recs["fallback"].all()
    assert recs["rank"].tolist() == [1, 2, 3, 4, 5]
    counts = X["item_id"].value_counts()
    assert recs["item_id"].map(counts).tolist() == sorted(counts.iloc[:5].tolist(), reverse=True)
    assert recs["score"].tolist() == pytest.approx((counts.iloc[:5] / len(X)).tolist())


def test_mixed_known_unknown_keeps_request_order(fitted):
    model, X = fitted
    known = _some_users(X, 2)
    users = [known[0], "ghost", known[1], known[0], "ghost"]
    recs = recommend(model, pd.Series(users), k=4)
    assert list(recs["user_id"].drop_duplicates()) == [known[0], "ghost", known[1]]
    assert len(recs) == 12
    fallback = recs.groupby("user_id", sort=False)["fallback"].agg(["all", "any"])
    assert fallback.loc["ghost", "all"]
    assert not fallback.loc[known, "any"].any()


def test_scores_equal_predict_proba_of_candidate_rows(fitted):
    model, X = fitted
    builder = _builder(model)
    user = _some_users(X, 1)[0]
    catalogue = builder.item_catalogue_.reset_index()
    rows = catalogue.copy()
    rows["user_id"] = user
    for column in builder.user_profiles_.columns:
        rows[column] = builder.user_profiles_.loc[user, column]
    rows["user_behavior"] = 0
    rows["timestamp"] = 0
    expected = pd.Series(
        model.predict_proba(rows[list(builder.feature_names_in_)])[:, 1],
        index=rows["item_id"],
    )
    recs = recommend(model, [user], k=len(catalogue), exclude_seen=False, batch_size=7)
    got = recs.set_index("item_id")["score"]
    np.testing.assert_allclose(got.to_numpy(), expected[got.index].to_numpy(), rtol=1e-5)
    # ties broken by catalogue order, otherwise descending by score
    order = expected.reset_index(drop=True).sort_values(ascending=False, kind="stable")
    assert got.index.tolist() == rows["item_id"].iloc[order.index].tolist()


def test_batch_size_does_not_change_results(fitted):
    model, X = fitted
    users = _some_users(X, 6)
    a = recommend(model, users, k=5, batch_size=13)
    b = recommend(model, users, k=5)
    pd.testing.assert_frame_equal(a.drop(columns="score"), b.drop(columns="score"))
    np.testing.assert_allclose(a["score"], b["score"], rtol=1e-5)


def test_single_id_and_array_input(fitted):
    model, X = fitted
    user = _some_users(X, 1)[0]
    a = recommend(model, user, k=3)
    b = recommend(model, np.array([user, user]), k=3)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 3


def test_empty_users(fitted):
    model, _ = fitted
    recs = recommend(model, [], k=3)
    assert list(recs.columns) == COLUMNS and len(recs) == 0


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "3"])
def test_invalid_k(fitted, k):
    model, X = fitted
    with pytest.raises(ValueError, match="k must be a positive integer"):
        recommend(model, _some_users(X), k=k)


def test_model_without_feature_builder():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    model = make_pipeline(LogisticRegression()).fit(X, [0, 1, 0, 1])
    with pytest.raises(ValueError, match="no FeatureBuilder"):
        recommend(model, ["u"])
    with pytest.raises(ValueError, match="Pipeline"):
        recommend(LogisticRegression(), ["u"])


def test_context_override_and_unknown_context(fitted):
    model, X = fitted
    users = _some_users(X, 2)
    recs = recommend(model, users, k=3, context={"timestamp": pd.Timestamp("2024-06-01")})
    assert len(recs) == 6
    with pytest.raises(ValueError, match="item_price"):
        recommend(model, users, context={"item_price": 1.0})


def test_sklearn_classifier_pipeline_and_small_catalogue():
    log = pd.DataFrame(
        {
            "user_id": ["ann", "ann", "bob", "bob", "eve"],
            "item_id": ["tv", "book", "tv", "pen", "tv"],
            "item_price": [300.0, 12.0, 300.0, 2.0, 300.0],
        }
    )
    model = make_pipeline(FeatureBuilder(), LogisticRegression()).fit(log, [1, 0, 1, 0, 1])
    recs = recommend(model, ["ann", "bob", "zoe"], k=5)
    # ann has seen 2 of 3 items, bob 2 of 3: one candidate each; zoe gets all 3
    assert recs.groupby("user_id", sort=False).size().tolist() == [1, 1, 3]
    assert recs.loc[recs["user_id"] == "ann", "item_id"].tolist() == ["pen"]
    assert recs.loc[recs["user_id"] == "zoe", "item_id"].tolist()[0] == "tv"


# ------------------------------------------------- the _pairwise_scorer hook
class _AdditiveLogistic(LogisticRegression):
    """A linear model is a user part plus an item part: it can score all pairs at once."""

    def _pairwise_scorer(self, item_rows):
        sides = np.array([entry["side"] for entry in item_rows.attrs["skrec_schema"]])
        weights = self.coef_[0]
        item = sides == "item"
        item_part = item_rows.to_numpy(dtype=float)[:, item] @ weights[item]

        def score(user_rows):
            user_part = user_rows.to_numpy(dtype=float)[:, ~item] @ weights[~item]
            logits = user_part[:, None] + item_part[None, :] + self.intercept_[0]
            return 1.0 / (1.0 + np.exp(-logits))

        return score


@pytest.fixture(scope="module")
def additive():
    X, y = make_interactions(
        n_users=60, n_items=40, n_interactions=1500, random_state=0, return_X_y=True
    )
    model = make_pipeline(InteractionNormalizer(), FeatureBuilder(), _AdditiveLogistic())
    return model.fit(X, y), X, y


@pytest.mark.parametrize(
    "kwargs",
    [
        {"k": 5},
        {"k": 40, "exclude_seen": False},
        {"k": 4, "batch_size": 90},  # blocks of two users
        {"k": 2, "items": "some"},
        {"k": 3, "context": {"user_behavior": 3}},
    ],
)
def test_pairwise_hook_gives_the_row_path_results(additive, monkeypatch, kwargs):
    model, X, _ = additive
    users = [X["user_id"].iloc[0], "ghost"] + list(X["user_id"].unique())
    if kwargs.get("items") == "some":
        kwargs = {**kwargs, "items": list(X["item_id"].unique()[1::4])}
    calls = []
    hook = _AdditiveLogistic._pairwise_scorer
    monkeypatch.setattr(
        _AdditiveLogistic,
        "_pairwise_scorer",
        lambda self, item_rows: calls.append(len(item_rows)) or hook(self, item_rows),
    )
    fast = recommend(model, users, **kwargs)
    n_candidates = len(kwargs.get("items", X["item_id"].unique()))
    assert calls == [n_candidates]  # item rows encoded once, whatever the blocks
    monkeypatch.setattr(_AdditiveLogistic, "_pairwise_scorer", lambda self, rows: None)
    rows = recommend(model, users, **kwargs)
    pd.testing.assert_frame_equal(fast.drop(columns="score"), rows.drop(columns="score"))
    np.testing.assert_allclose(fast["score"], rows["score"], rtol=1e-9)


def test_pairwise_hook_replaces_predict_proba(additive, monkeypatch):
    model, X, _ = additive

    def fail(self, X):
        raise AssertionError("predict_proba called although the hook is offered")

    monkeypatch.setattr(_AdditiveLogistic, "predict_proba", fail)
    recs = recommend(model, _some_users(X, 8), k=3, batch_size=50)
    assert len(recs) == 24 and recs["score"].between(0, 1).all()


def test_pairwise_hook_skipped_when_positive_class_is_not_last(additive, monkeypatch):
    _, X, y = additive
    # Labels 1 (the positive class recommend ranks by) and 2: P(1) is column 0.
    model = make_pipeline(FeatureBuilder(), _AdditiveLogistic()).fit(X, np.where(y == 1, 1, 2))

    def fail(self, item_rows):
        raise AssertionError("hook used for a positive class that is not the last column")

    monkeypatch.setattr(_AdditiveLogistic, "_pairwise_scorer", fail)
    assert len(recommend(model, _some_users(X, 2), k=3)) == 6


def test_history_pipeline_recommends_from_the_latest_items():
    # Without a time in ``context``, candidate rows carry no timestamp: each user's
    # history columns hold their latest items (not an empty or wrong history).
    log = pd.DataFrame(
        {
            "user_id": ["ann", "ann", "ann", "bob", "bob", "eve"],
            "item_id": ["tv", "book", "pen", "tv", "cup", "pen"],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-01",
                 "2024-01-05", "2024-01-02"]
            ),
        }
    )
    builder = FeatureBuilder(history_length=2)
    model = make_pipeline(builder, LogisticRegression()).fit(log, [1, 1, 1, 1, 0, 1])
    seen = []
    original = builder.transform
    builder.transform = lambda X: seen.append(original(X)) or seen[-1]
    recs = recommend(model, ["ann", "bob"], k=3)
    assert set(recs["user_id"]) == {"ann", "bob"} and not recs["fallback"].any()
    rows = pd.concat(seen)
    user = builder.user_vocabulary_.get_loc  # encoded index = position + 1 (0: unknown)
    item = builder.item_vocabulary_.get_loc
    ann = rows.loc[rows["user_id"] == user("ann") + 1, ["history_1", "history_2"]]
    bob = rows.loc[rows["user_id"] == user("bob") + 1, ["history_1", "history_2"]]
    assert len(ann) and len(bob)
    assert (ann.to_numpy() == [item("book") + 1, item("pen") + 1]).all()
    # bob's "cup" was a negative: only "tv" is history, left-padded with 0
    assert (bob.to_numpy() == [0, item("tv") + 1]).all()


# ------------------------------------------- encoded pairs instead of raw rows
@pytest.mark.parametrize(
    "kwargs",
    [{"k": 5}, {"k": 40, "exclude_seen": False, "batch_size": 90},
     {"k": 3, "context": {"user_behavior": 3}}],
)
def test_encoded_pairs_give_the_raw_row_results(fitted, monkeypatch, kwargs):
    import skrec._recommend as rec

    model, X = fitted
    users = ["ghost"] + list(X["user_id"].unique()[:12])
    calls = []
    original = rec._pair_scorer
    monkeypatch.setattr(
        rec, "_pair_scorer", lambda *a: calls.append(1) or original(*a)
    )
    encoded = recommend(model, users, **kwargs)
    assert calls
    monkeypatch.setattr(rec, "_pair_scorer", lambda *a: None)  # raw candidate rows
    raw = recommend(model, users, **kwargs)
    pd.testing.assert_frame_equal(encoded.drop(columns="score"), raw.drop(columns="score"))
    np.testing.assert_allclose(encoded["score"], raw["score"], rtol=1e-6)


def test_item_dependent_context_falls_back_to_raw_rows():
    import skrec._recommend as rec

    X, y = make_interactions(
        n_users=40, n_items=30, n_interactions=800, random_state=1, return_X_y=True
    )
    for group_by, fast in [("item", False), ("user", True)]:
        model = make_pipeline(
            InteractionNormalizer(strategy="zscore", group_by=group_by),
            FeatureBuilder(),
            LogisticRegression(),
        ).fit(X, y)
        builder = _builder(model)
        users = pd.Index(X["user_id"].unique()[:3])
        got = rec._pair_scorer(
            model, builder, list(builder.feature_names_in_), users,
            builder.item_catalogue_.index, np.arange(len(builder.item_catalogue_)),
            builder.user_profiles_.index.get_indexer(users), {}, 1,
        )
        # zscore per item maps the default context 0 to a different value per item
        assert (got is not None) == fast
        assert len(recommend(model, users, k=3)) == 9
