"""Tests for skrec.preprocessing.clean_interactions and CleaningReport."""

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from skrec.preprocessing._cleaning import CleaningReport, clean_interactions


@pytest.fixture
def log():
    """u1 views i1 three times (out of time order); rows g and h are broken."""
    return pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u2", "u1", None, "u3"],
            "item_id": ["i1", "i1", "i1", "i1", "i2", "i1", "i1", np.nan],
            "user_behavior": [1.0, 3.0, 2.0, 5.0, np.nan, 3.0, 1.0, 1.0],
            "timestamp": [30, 10, 20, 5, 7, 10, 1, 2],
            "clicked": [0, 1, 0, 1, 0, 1, 0, 1],
            "device": ["web", "app", "tv", "app", "web", "app", "web", "web"],
        },
        index=list("abcdefgh"),
    )


def accounted_for(report):
    return report.n_output + sum(report.dropped.values()) + report.merged


def test_drops_exact_duplicates_and_missing_ids(log):
    clean, report = clean_interactions(log)
    # f duplicates b exactly; g has no user, h has no item
    assert list(clean.index) == ["a", "b", "c", "d", "e"]
    assert report.dropped == {"missing_user": 1, "missing_item": 1, "duplicate": 1}
    assert (report.n_input, report.n_output, report.merged) == (8, 5, 0)
    assert accounted_for(report) == report.n_input
    assert_frame_equal(clean, log.loc[["a", "b", "c", "d", "e"]])


def test_rows_differing_in_any_column_are_not_duplicates(log):
    clean, _ = clean_interactions(log.assign(timestamp=range(8)))
    assert "f" in clean.index


def test_drop_duplicates_can_be_turned_off(log):
    clean, report = clean_interactions(log, drop_duplicates=False)
    assert "f" in clean.index and "duplicate" not in report.dropped
    assert report.n_output == 6


def test_missing_ids_of_every_kind():
    frame = pd.DataFrame(
        {
            "user_id": pd.array([1, pd.NA, 3, 4], dtype="Int64"),
            "item_id": [10.0, 20.0, np.nan, 40.0],
        }
    )
    clean, report = clean_interactions(frame)
    assert list(clean["user_id"]) == [1, 4]
    assert report.dropped["missing_user"] == 1
    assert report.dropped["missing_item"] == 1


def test_row_missing_both_ids_is_counted_once():
    frame = pd.DataFrame({"user_id": [None, "u"], "item_id": [None, "i"]})
    _, report = clean_interactions(frame)
    assert report.dropped["missing_user"] == 1 and report.dropped["missing_item"] == 0
    assert accounted_for(report) == 2


def test_aggregate_sum(log):
    clean, report = clean_interactions(log, aggregate="sum", label_col="clicked")
    # u1/i1: strengths 1 + 3 + 2 (f was an exact duplicate of b); latest event is a
    u1 = clean.loc["a"]
    assert u1["user_behavior"] == 6.0
    assert u1["clicked"] == 1  # max label
    assert (u1["timestamp"], u1["device"]) == (30, "web")  # from the latest event
    assert list(clean.index) == ["a", "d", "e"]
    assert np.isnan(clean.loc["e", "user_behavior"])  # all missing stays missing
    assert report.merged == 2
    assert accounted_for(report) == report.n_input == 8


def test_aggregate_max(log):
    clean, _ = clean_interactions(log, aggregate="max", label_col="clicked")
    assert clean.loc["a", "user_behavior"] == 3.0
    assert clean.loc["a", "clicked"] == 1
    assert clean.loc["d", "user_behavior"] == 5.0


def test_aggregate_last_follows_timestamp_not_row_order(log):
    clean, _ = clean_interactions(log, aggregate="last", label_col="clicked")
    # latest u1/i1 event is a (t=30) although c is the last row of the three
    row = clean.loc["a"]
    assert (row["user_behavior"], row["timestamp"], row["device"]) == (1.0, 30, "web")
    assert row["clicked"] == 1


def test_aggregate_first(log):
    clean, _ = clean_interactions(log, aggregate="first", label_col="clicked")
    assert list(clean.index) == ["b", "d", "e"]
    row = clean.loc["b"]
    assert (row["user_behavior"], row["timestamp"], row["device"]) == (3.0, 10, "app")


def test_aggregate_without_timestamp_uses_row_order_and_says_so(log):
    clean, report = clean_interactions(
        log.drop(columns="timestamp"), aggregate="last", timestamp_col="timestamp"
    )
    assert clean.loc["c", "user_behavior"] == 2.0
    assert any("row order" in note for note in report.notes)


def test_last_and_first_need_no_strength_column(log):
    bare = log.drop(columns="user_behavior")
    clean, _ = clean_interactions(bare, aggregate="last")
    assert list(clean.index) == ["a", "d", "e"]
    with pytest.raises(ValueError, match=r"\['user_behavior'\] not found"):
        clean_interactions(bare, aggregate="sum")


def test_sum_keeps_integer_dtype():
    frame = pd.DataFrame(
        {"user_id": [1, 1, 2], "item_id": [7, 7, 7], "user_behavior": [2, 5, 1]}
    )
    clean, _ = clean_interactions(frame, aggregate="sum")
    assert clean["user_behavior"].tolist() == [7, 1]
    assert clean["user_behavior"].dtype == np.int64


def test_fill_strength_with_a_number(log):
    clean, report = clean_interactions(log, fill_strength=0)
    assert clean.loc["e", "user_behavior"] == 0.0
    assert report.filled == {"user_behavior": 1}
    assert "filled 1 missing value(s) in 'user_behavior'" in str(report)


def test_fill_strength_drop(log):
    clean, report = clean_interactions(log, fill_strength="drop")
    assert "e" not in clean.index
    assert report.dropped["missing_strength"] == 1
    assert accounted_for(report) == report.n_input


def test_missing_label_rows_are_dropped(log):
    unlabelled = log.assign(clicked=[0, 1, np.nan, 1, 0, 1, 0, 1])
    clean, report = clean_interactions(unlabelled, label_col="clicked")
    assert "c" not in clean.index
    assert report.dropped["missing_label"] == 1


def test_auto_strength_columns(log):
    _, report = clean_interactions(
        log, aggregate="sum", strength_cols="auto", label_col="clicked"
    )
    assert "strength_cols='auto' picked ['user_behavior']" in report.notes


def test_counts_add_up_when_every_rule_fires(log):
    clean, report = clean_interactions(
        log, aggregate="sum", label_col="clicked", fill_strength="drop"
    )
    assert report.dropped == {
        "missing_user": 1,
        "missing_item": 1,
        "missing_label": 0,
        "missing_strength": 1,
        "duplicate": 1,
    }
    assert report.merged == 2 and report.n_output == len(clean) == 2
    assert accounted_for(report) == report.n_input == len(log)


def test_input_is_not_mutated(log):
    original = log.copy()
    for aggregate in (None, "sum", "max", "last", "first"):
        clean, _ = clean_interactions(
            log, aggregate=aggregate, label_col="clicked", fill_strength=0
        )
        clean.iloc[0, 2] = -99.0
        assert_frame_equal(log, original)
    clean, _ = clean_interactions(log.iloc[:3])
    assert clean is not log


def test_report_text_and_repr():
    report = CleaningReport(
        n_input=5, n_output=3, dropped={"duplicate": 1, "missing_user": 0}, merged=1
    )
    text = str(report)
    assert text.splitlines()[0] == "clean_interactions: 5 rows in, 3 rows out"
    assert "duplicate" in text and "missing_user" not in text
    assert repr(report).startswith("CleaningReport(n_input=5, n_output=3")


def test_empty_log():
    clean, report = clean_interactions(pd.DataFrame({"user_id": [], "item_id": []}))
    assert clean.empty and report.n_input == report.n_output == 0


def test_missing_id_column_names_column_and_fix(log):
    with pytest.raises(ValueError, match=r"'user' not found.*user_col="):
        clean_interactions(log, user_col="user")
    with pytest.raises(ValueError, match=r"'item_id' not found.*item_col="):
        clean_interactions(log.drop(columns="item_id"))


def test_other_errors(log):
    with pytest.raises(TypeError, match="DataFrame"):
        clean_interactions(log.to_numpy())
    with pytest.raises(ValueError, match="aggregate='mean'"):
        clean_interactions(log, aggregate="mean")
    with pytest.raises(ValueError, match=r"\['rating'\] not found.*strength_cols="):
        clean_interactions(log, aggregate="sum", strength_cols=["rating"])
    with pytest.raises(ValueError, match="includes the id or label"):
        clean_interactions(
            log, aggregate="sum", strength_cols=["clicked"], label_col="clicked"
        )
    with pytest.raises(ValueError, match="fill_strength='zero'"):
        clean_interactions(log, fill_strength="zero")
    with pytest.raises(ValueError, match=r"\['label'\] not found.*label_col="):
        clean_interactions(log, label_col="label")
