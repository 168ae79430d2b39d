"""Ranking metrics against hand-worked cases and a brute-force per-user reference."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import ndcg_score, roc_auc_score

from skrec.metrics import (
    catalogue_coverage,
    gauc,
    hit_rate_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
)

TOP_K = {
    "hit_rate_at_k": hit_rate_at_k,
    "precision_at_k": precision_at_k,
    "recall_at_k": recall_at_k,
    "map_at_k": map_at_k,
    "mrr_at_k": mrr_at_k,
    "ndcg_at_k": ndcg_at_k,
}


# ------------------------------------------------------- brute-force reference


def _ranked_lists(y_true, y_score, groups):
    """{user: relevances in rank order}; ties: less relevant first, then row order."""
    rows = {}
    for i, (rel, score, user) in enumerate(zip(y_true, y_score, groups)):
        rows.setdefault(user, []).append((-score, rel, i))
    return {user: [rel for _, rel, _ in sorted(items)] for user, items in rows.items()}


def _reference(name, ranked, k, gains="exponential"):
    n_rel = sum(1 for r in ranked if r > 0)
    if n_rel == 0:
        return None
    top = ranked[:k]
    hits = sum(1 for r in top if r > 0)
    if name == "hit_rate_at_k":
        return 1.0 if hits else 0.0
    if name == "precision_at_k":
        return hits / k
    if name == "recall_at_k":
        return hits / n_rel
    if name == "map_at_k":
        total, seen = 0.0, 0
        for r, rel in enumerate(top, start=1):
            if rel > 0:
                seen += 1
                total += seen / r
        return total / min(k, n_rel)
    if name == "mrr_at_k":
        for r, rel in enumerate(top, start=1):
            if rel > 0:
                return 1.0 / r
        return 0.0
    if name == "ndcg_at_k":
        def gain(rel):
            return rel if gains == "linear" else 2.0**rel - 1.0

        dcg = sum(gain(rel) / math.log2(r + 1) for r, rel in enumerate(top, start=1))
        ideal = sorted(ranked, reverse=True)[:k]
        idcg = sum(gain(rel) / math.log2(r + 1) for r, rel in enumerate(ideal, start=1))
        return dcg / idcg
    raise AssertionError(name)


def _reference_mean(name, y_true, y_score, groups, k, **kw):
    lists = _ranked_lists(y_true, y_score, groups).values()
    values = [_reference(name, ranked, k, **kw) for ranked in lists]
    values = [v for v in values if v is not None]
    return sum(values) / len(values)


def _reference_auc(y_true, y_score, groups):
    """{user: (auc, n_rows)} by counting every positive-negative pair."""
    by_user = {}
    for rel, score, user in zip(y_true, y_score, groups):
        by_user.setdefault(user, []).append((rel > 0, score))
    out = {}
    for user, rows in by_user.items():
        pos = [s for p, s in rows if p]
        neg = [s for p, s in rows if not p]
        if not pos or not neg:
            continue
        wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
        out[user] = (wins / (len(pos) * len(neg)), len(rows))
    return out


def _random_log(seed, graded):
    rng = np.random.default_rng(seed)
    n_users = 40
    sizes = rng.integers(1, 25, size=n_users)
    groups = np.repeat([f"u{i}" for i in range(n_users)], sizes)
    rng.shuffle(groups)  # users interleaved, not contiguous
    n = len(groups)
    y_score = rng.integers(0, 6, size=n) / 5.0  # few distinct values: many ties
    if graded:
        y_true = rng.choice([0, 0, 0, 1, 2, 3], size=n).astype(float)
    else:
        y_true = (rng.random(n) < 0.25).astype(float)
    return y_true, y_score, groups


# ------------------------------------------------------------- hand-worked


# user a: ranked scores 0.9(rel) 0.8 0.7(rel) 0.6 ; user b: 0.5 0.4(rel) ; user c: no relevant
HAND = dict(
    y_true=[1, 0, 1, 0, 0, 1, 0],
    y_score=[0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3],
    groups=["a", "a", "a", "a", "b", "b", "c"],
)


@pytest.mark.parametrize(
    "name, k, expected_a, expected_b",
    [
        ("hit_rate_at_k", 1, 1.0, 0.0),
        ("hit_rate_at_k", 2, 1.0, 1.0),
        ("precision_at_k", 2, 1 / 2, 1 / 2),
        ("precision_at_k", 3, 2 / 3, 1 / 3),
        ("recall_at_k", 2, 1 / 2, 1.0),
        ("recall_at_k", 3, 1.0, 1.0),
        ("map_at_k", 2, (1 / 1) / 2, (1 / 2) / 1),
        ("map_at_k", 3, (1 / 1 + 2 / 3) / 2, (1 / 2) / 1),
        ("mrr_at_k", 1, 1.0, 0.0),
        ("mrr_at_k", 3, 1.0, 0.5),
        ("ndcg_at_k", 3, (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)), 1 / math.log2(3)),
    ],
)
def test_hand_worked(name, k, expected_a, expected_b):
    per_user = TOP_K[name](**HAND, k=k, return_per_user=True)
    assert per_user.name == name
    assert list(per_user.index) == ["a", "b", "c"]
    assert per_user["a"] == pytest.approx(expected_a, abs=1e-12)
    assert per_user["b"] == pytest.approx(expected_b, abs=1e-12)
    assert np.isnan(per_user["c"])  # no relevant item: excluded
    mean = TOP_K[name](**HAND, k=k)
    assert mean == pytest.approx((expected_a + expected_b) / 2, abs=1e-12)


def test_ndcg_graded_hand_worked():
    # ranked relevances 0, 3, 1; ideal 3, 1, 0
    y_true, y_score, groups = [3, 0, 1], [0.5, 0.9, 0.1], [1, 1, 1]
    exp = (7 / math.log2(3) + 1 / 2) / (7 + 1 / math.log2(3))
    lin = (3 / math.log2(3) + 1 / 2) / (3 + 1 / math.log2(3))
    assert ndcg_at_k(y_true, y_score, groups) == pytest.approx(exp, abs=1e-12)
    assert ndcg_at_k(y_true, y_score, groups, gains="exponential") == pytest.approx(exp, abs=1e-12)
    assert ndcg_at_k(y_true, y_score, groups, gains="linear") == pytest.approx(lin, abs=1e-12)
    # k=1: only the irrelevant top item counts
    assert ndcg_at_k(y_true, y_score, groups, k=1) == 0.0


def test_ties_are_pessimistic():
    # constant scores with the relevant row listed first get no credit from row order
    y_true, y_score, groups = [1, 0, 0, 0], [0.5] * 4, ["u"] * 4
    assert hit_rate_at_k(y_true, y_score, groups, k=3) == 0.0
    assert mrr_at_k(y_true, y_score, groups, k=4) == 0.25
    assert ndcg_at_k(y_true, y_score, groups, k=4) == pytest.approx(1 / math.log2(5), abs=1e-12)
    # graded ties: the lower grade goes first
    assert ndcg_at_k([2, 1], [0.5, 0.5], [0, 0], gains="linear") == pytest.approx(
        (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)), abs=1e-12
    )
    # among equally relevant tied rows, original row order decides (no effect on values)
    assert precision_at_k([1, 1, 0], [0.2, 0.2, 0.9], [0, 0, 0], k=2) == 0.5


def test_gauc_hand_worked():
    y_true = [1, 0, 0, 1, 0, 1, 0, 1, 1]
    y_score = [0.9, 0.5, 0.1, 0.2, 0.6, 0.3, 0.3, 0.4, 0.8]
    users = ["a", "a", "a", "b", "b", "b", "b", "c", "c"]  # c: one class only
    per_user = gauc(y_true, y_score, users, return_per_user=True)
    assert per_user["a"] == 1.0
    assert per_user["b"] == 0.125  # only the tie 0.3 vs 0.3 counts, as 1/2 of 4 pairs
    assert np.isnan(per_user["c"])
    assert gauc(y_true, y_score, users) == pytest.approx((3 * 1.0 + 4 * 0.125) / 7, abs=1e-12)
    assert gauc(y_true, y_score, users, weighting="uniform") == pytest.approx(0.5625, abs=1e-12)


# --------------------------------------------------- brute-force comparisons


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("graded", [False, True])
@pytest.mark.parametrize("k", [1, 3, 10, 30])
def test_top_k_metrics_match_brute_force(seed, graded, k):
    y_true, y_score, groups = _random_log(seed, graded)
    for name, metric in TOP_K.items():
        expected = _reference_mean(name, y_true, y_score, groups, k)
        assert metric(y_true, y_score, groups, k=k) == pytest.approx(expected, abs=1e-9), name
        ranked = _ranked_lists(y_true, y_score, groups)
        per_user = metric(y_true, y_score, groups, k=k, return_per_user=True)
        for user, rels in ranked.items():
            ref = _reference(name, rels, k)
            if ref is None:
                assert np.isnan(per_user[user])
            else:
                assert per_user[user] == pytest.approx(ref, abs=1e-9), (name, user)
    linear = _reference_mean("ndcg_at_k", y_true, y_score, groups, k, gains="linear")
    ours = ndcg_at_k(y_true, y_score, groups, k=k, gains="linear")
    assert ours == pytest.approx(linear, abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_gauc_matches_brute_force_and_sklearn(seed):
    y_true, y_score, groups = _random_log(seed, graded=True)
    ref = _reference_auc(y_true, y_score, groups)
    per_user = gauc(y_true, y_score, groups, return_per_user=True)
    for user, (auc, _) in ref.items():
        assert per_user[user] == pytest.approx(auc, abs=1e-9)
        mask = groups == user
        sk_auc = roc_auc_score(y_true[mask] > 0, y_score[mask])
        assert per_user[user] == pytest.approx(sk_auc, abs=1e-9)
    assert per_user.notna().sum() == len(ref)
    rows = sum(a * n for a, n in ref.values()) / sum(n for _, n in ref.values())
    uniform = sum(a for a, _ in ref.values()) / len(ref)
    assert gauc(y_true, y_score, groups) == pytest.approx(rows, abs=1e-9)
    assert gauc(y_true, y_score, groups, weighting="uniform") == pytest.approx(uniform, abs=1e-9)


def test_ndcg_linear_matches_sklearn_without_ties():
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 4, size=(5, 12)).astype(float)
    y_true[:, 0] = 1.0  # every user has a relevant item
    y_score = rng.random((5, 12))  # continuous: no ties
    groups = np.repeat(np.arange(5), 12)
    ours = ndcg_at_k(y_true.ravel(), y_score.ravel(), groups, k=5, gains="linear")
    assert ours == pytest.approx(ndcg_score(y_true, y_score, k=5), abs=1e-9)


# ----------------------------------------------------------------- edge cases


def test_k_larger_than_candidates_and_single_user():
    y_true, y_score, groups = [0, 1, 1], [0.3, 0.2, 0.1], ["solo"] * 3
    assert precision_at_k(y_true, y_score, groups, k=10) == pytest.approx(2 / 10)
    assert recall_at_k(y_true, y_score, groups, k=10) == 1.0
    assert map_at_k(y_true, y_score, groups, k=10) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert ndcg_at_k(y_true, y_score, groups, k=10) == pytest.approx(
        (1 / math.log2(3) + 1 / 2) / (1 + 1 / math.log2(3))
    )
    assert hit_rate_at_k(y_true, y_score, groups, k=10) == 1.0


def test_map_divisor_is_min_k_n_relevant():
    # 3 relevant, all in top 2 positions that exist: AP@2 = (1 + 1) / min(2, 3) = 1
    assert map_at_k([1, 1, 1], [0.9, 0.8, 0.7], [0, 0, 0], k=2) == 1.0


def test_no_eligible_user_warns_and_returns_nan():
    with pytest.warns(UndefinedMetricWarning, match="no user has a relevant item"):
        assert np.isnan(ndcg_at_k([0, 0], [0.1, 0.2], [1, 2]))
    with pytest.warns(UndefinedMetricWarning, match="relevant and irrelevant"):
        assert np.isnan(gauc([1, 0], [0.1, 0.2], [1, 2]))


def test_groups_accept_series_and_integer_ids():
    groups = pd.Series([10, 10, 20, 20], name="user_id")
    per_user = recall_at_k([1, 0, 0, 1], [0.9, 0.1, 0.8, 0.2], groups, k=1, return_per_user=True)
    assert per_user.index.name == "user_id"
    assert per_user.to_dict() == {10: 1.0, 20: 0.0}


@pytest.mark.parametrize("name", list(TOP_K))
def test_input_validation(name):
    metric = TOP_K[name]
    with pytest.raises(ValueError, match="same length"):
        metric([1, 0], [0.1, 0.2, 0.3], [1, 1, 1])
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        metric([1, 0], [0.1, 0.2], [1, 1], k=0)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        metric([1, 0], [0.1, 0.2], [1, 1], k=2.5)
    with pytest.raises(ValueError, match="y_score has 1 NaN"):
        metric([1, 0], [0.1, np.nan], [1, 1])
    with pytest.raises(ValueError, match="negative"):
        metric([1, -1], [0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="missing user id"):
        metric([1, 0], [0.1, 0.2], ["a", None])
    with pytest.raises(ValueError, match="0 rows"):
        metric([], [], [])
    with pytest.raises(ValueError, match="return_per_user"):
        metric([1, 0], [0.1, 0.2], [1, 1], return_per_user="yes")


def test_option_validation():
    with pytest.raises(ValueError, match="gains must be"):
        ndcg_at_k([1], [0.1], [1], gains="log")
    with pytest.raises(ValueError, match="weighting must be 'rows' or 'uniform'"):
        gauc([1, 0], [0.1, 0.2], [1, 1], weighting="users")
    with pytest.raises(ValueError, match="same length"):
        gauc([1, 0], [0.1], [1, 1])


# --------------------------------------------------------- coverage, novelty


def test_catalogue_coverage():
    assert catalogue_coverage(["a", "b", "a"], catalogue=4) == 0.5
    assert catalogue_coverage(np.array([[1, 2], [2, 3]]), catalogue=[1, 2, 3, 4, 4, 5]) == 0.6
    assert catalogue_coverage(pd.Series(["x"]), catalogue=pd.Index(["x", "y"])) == 0.5
    with pytest.raises(ValueError, match="not in the catalogue, e.g. \\['z'\\]"):
        catalogue_coverage(["a", "z"], catalogue=["a", "b"])
    with pytest.raises(ValueError, match="catalogue size is 1"):
        catalogue_coverage(["a", "b"], catalogue=1)
    with pytest.raises(ValueError, match="empty"):
        catalogue_coverage([], catalogue=3)


def test_novelty():
    popularity = pd.Series({"tv": 2, "book": 1, "pen": 1})  # shares 1/2, 1/4, 1/4
    expected = (1 + 2 + 2 + 2) / 4
    assert novelty(["tv", "book", "pen", "pen"], popularity) == pytest.approx(expected, abs=1e-12)
    assert novelty(np.array([["tv"], ["tv"]]), dict(popularity)) == 1.0
    with pytest.raises(ValueError, match="no training interactions .* e.g. \\['cup'\\]"):
        novelty(["tv", "cup"], popularity)
    with pytest.raises(TypeError, match="value_counts"):
        novelty(["tv"], [2, 1, 1])


def test_vectorised_scale():
    # 20,000 users x 50 candidates in well under a second
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(20_000), 50)
    y_true = (rng.random(len(groups)) < 0.05).astype(float)
    y_score = rng.random(len(groups))
    value = ndcg_at_k(y_true, y_score, groups, k=10)
    assert 0.0 < value < 1.0
    assert 0.4 < gauc(y_true, y_score, groups) < 0.6
