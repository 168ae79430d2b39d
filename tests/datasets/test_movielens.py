"""Tests for skrec.datasets.load_movielens."""

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skrec.datasets import load_movielens

REAL_DATA = Path(__file__).parents[2].parent / "shared/data/ml-100k"

# ends with a blank line, as the real u.genre does
GENRES = "unknown|0\nAction|1\nComedy|2\nDrama|3\n\n"
USERS = "1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|T8H1N\n"
ITEMS = (
    "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy|0|0|1|0\n"
    "2|Misérables, Les (1995)|01-Jan-1995||http://us.imdb.com/M/x|0|0|0|1\n"
    "3|unknown||||1|0|0|0\n"
    "4|Heat (1995)|01-Jan-1995||http://us.imdb.com/M/y|0|1|0|1\n"
)
RATINGS = (
    "1\t1\t5\t881250949\n"
    "1\t2\t3\t881250950\n"
    "2\t4\t4\t891717742\n"
    "3\t3\t1\t878887116\n"
    "2\t2\t2\t891717743\n"
)


def write_dataset(root, *, genres=GENRES, users=USERS, items=ITEMS, ratings=RATINGS):
    root.mkdir(parents=True, exist_ok=True)
    (root / "u.genre").write_bytes(genres.encode("latin-1"))
    (root / "u.user").write_bytes(users.encode("latin-1"))
    (root / "u.item").write_bytes(items.encode("latin-1"))
    (root / "u.data").write_bytes(ratings.encode("latin-1"))
    return root


@pytest.fixture
def dataset(tmp_path):
    return write_dataset(tmp_path / "ml-100k")


def test_parses_every_column(dataset):
    log = load_movielens(dataset)
    assert list(log.columns) == [
        "user_id", "item_id", "timestamp", "user_age", "user_gender",
        "user_occupation", "title", "item_category", "item_genres",
        "rating", "label",
    ]
    assert log.shape == (5, 11)
    assert log["user_id"].tolist() == [1, 1, 2, 3, 2]
    assert log["item_id"].tolist() == [1, 2, 4, 3, 2]
    assert log["rating"].tolist() == [5, 3, 4, 1, 2]
    assert log["label"].tolist() == [1, 0, 1, 0, 0]
    assert log["timestamp"].iloc[0] == pd.Timestamp("1997-12-04 15:55:49")
    assert log["user_age"].tolist() == [24, 24, 53, 23, 53]
    assert log["user_gender"].tolist() == ["M", "M", "F", "M", "F"]
    assert log["user_occupation"].tolist()[2:4] == ["other", "writer"]
    assert log["title"].iloc[1] == "Misérables, Les (1995)"  # latin-1 byte 0xe9
    assert log["item_category"].tolist() == [
        "Comedy", "Drama", "Action", "unknown", "Drama"
    ]
    assert log["item_genres"].tolist() == [
        "Comedy", "Drama", "Action|Drama", "unknown", "Drama"
    ]


def test_dtypes(dataset):
    log = load_movielens(dataset)
    for column in ("user_id", "item_id", "user_age", "rating", "label"):
        assert log[column].dtype == np.int64, column
    assert log["timestamp"].dtype == "datetime64[ns]"
    text = ["user_gender", "user_occupation", "title", "item_category"]
    for column in text + ["item_genres"]:
        assert pd.api.types.is_string_dtype(log[column]), column
    assert isinstance(log.index, pd.RangeIndex)


@pytest.mark.parametrize(
    "threshold, expected",
    [(1, [1, 1, 1, 1, 1]), (3, [1, 1, 1, 0, 0]), (4.5, [1, 0, 0, 0, 0])],
)
def test_positive_threshold(dataset, threshold, expected):
    log = load_movielens(dataset, positive_threshold=threshold)
    assert log["label"].tolist() == expected


def test_return_X_y_drops_the_rating_that_defines_the_label(dataset):
    X, y = load_movielens(dataset, return_X_y=True)
    assert "rating" not in X.columns and "label" not in X.columns
    assert X.shape == (5, 9)
    assert y.name == "label" and y.tolist() == [1, 0, 1, 0, 0]
    full = load_movielens(dataset)
    pd.testing.assert_frame_equal(X, full.drop(columns=["rating", "label"]))


def test_accepts_str_path(dataset):
    assert load_movielens(str(dataset)).shape == (5, 11)


def test_missing_directory_says_where_to_get_the_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*grouplens.org"):
        load_movielens(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["u.data", "u.item", "u.user", "u.genre"])
def test_missing_file_is_named(dataset, name):
    (dataset / name).unlink()
    with pytest.raises(FileNotFoundError, match=rf"{name}.*not found.*grouplens.org"):
        load_movielens(dataset)


def test_parent_directory_hint(dataset):
    with pytest.raises(FileNotFoundError, match="pass that directory as path"):
        load_movielens(dataset.parent)


def test_file_instead_of_directory(dataset):
    with pytest.raises(NotADirectoryError, match="pass the 'ml-100k' directory"):
        load_movielens(dataset / "u.data")


@pytest.mark.parametrize(
    "file, content, line",
    [
        ("u.data", RATINGS.replace("1\t2\t3\t881250950", "1\t2\t3"), 2),
        ("u.data", RATINGS.replace("2\t4\t4\t", "2\t4\tfour\t"), 3),
        ("u.data", RATINGS.replace("3\t3\t1\t", "3\t3\t1.5\t"), 4),
        ("u.data", RATINGS + "9\t9\t9\t9\t9\n", 6),
        ("u.item", ITEMS.replace("|0|0|0|1\n", "|0|0|1\n"), 2),
        ("u.item", ITEMS.replace("|0|1|0|1\n", "|0|1|0|yes\n"), 4),
        ("u.item", ITEMS.replace("3|unknown", "three|unknown"), 3),
        ("u.user", USERS.replace("2|53|F", "2|fifty|F"), 2),
        ("u.user", USERS.replace("|writer|T8H1N", "|writer"), 3),
        ("u.genre", GENRES.replace("Comedy|2", "Comedy"), 3),
    ],
)
def test_malformed_line_is_named(dataset, file, content, line):
    (dataset / file).write_bytes(content.encode("latin-1"))
    with pytest.raises(ValueError, match=rf"malformed line {line} of .*{file}"):
        load_movielens(dataset)


def test_duplicate_ids_are_rejected(dataset):
    (dataset / "u.user").write_text(USERS + "2|30|F|artist|12345\n")
    message = "line 4 .*repeats user id 2 .*first on line 2"
    with pytest.raises(ValueError, match=message):
        load_movielens(dataset)


def test_genre_indices_must_be_contiguous(dataset):
    (dataset / "u.genre").write_text("unknown|0\nAction|1\nComedy|2\nDrama|5\n")
    with pytest.raises(ValueError, match="genre indices"):
        load_movielens(dataset)


def test_unknown_ids_are_dropped_with_a_warning(dataset):
    extra = "1\t99\t4\t881250999\n7\t1\t5\t881251000\n"
    (dataset / "u.data").write_text(RATINGS + extra)
    message = (
        r"dropped 2 of 7 ratings.*1 with a user id missing from u.user \(e\.g\. 7\)"
        r".*1 with an item id missing from u.item \(e\.g\. 99\)"
    )
    with pytest.warns(UserWarning, match=message):
        log = load_movielens(dataset)
    assert len(log) == 5
    assert not log["item_id"].eq(99).any() and not log["user_id"].eq(7).any()


def test_no_warning_when_nothing_is_dropped(dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_movielens(dataset)


def test_blank_lines_and_crlf_are_tolerated(dataset):
    crlf = RATINGS.replace("\n", "\r\n") + "\r\n\r\n"
    (dataset / "u.data").write_bytes(crlf.encode())
    assert load_movielens(dataset)["rating"].tolist() == [5, 3, 4, 1, 2]


@pytest.mark.parametrize(
    "params",
    [{"positive_threshold": 0}, {"positive_threshold": 6}, {"return_X_y": "yes"}],
)
def test_invalid_parameters(dataset, params):
    with pytest.raises(ValueError, match="parameter of load_movielens"):
        load_movielens(dataset, **params)


def test_invalid_path_type():
    with pytest.raises(TypeError, match="'path' parameter of load_movielens"):
        load_movielens(None)


@pytest.mark.skipif(
    not (REAL_DATA / "u.data").is_file(),
    reason=f"MovieLens-100k not found at {REAL_DATA}; unzip ml-100k.zip from "
    "https://grouplens.org/datasets/movielens/100k/ there to run this test",
)
def test_real_movielens_100k():
    md5sums = REAL_DATA / "MD5SUMS"
    if md5sums.is_file():  # lines of "<md5>  <file name>"
        expected = dict(line.split()[::-1] for line in md5sums.read_text().splitlines())
        digest = hashlib.md5((REAL_DATA / "u.data").read_bytes()).hexdigest()
        assert digest == expected["u.data"]

    log = load_movielens(REAL_DATA)
    assert log.shape == (100_000, 11)
    assert log["user_id"].nunique() == 943
    assert log["item_id"].nunique() == 1682
    assert log["rating"].between(1, 5).all()
    assert log["label"].mean() == pytest.approx(0.55375)  # share of ratings >= 4
    assert log["timestamp"].min() >= pd.Timestamp("1997-09-19")
    assert log["timestamp"].max() <= pd.Timestamp("1998-04-23")
    toy_story = log.loc[log["item_id"] == 1].iloc[0]
    assert toy_story["title"] == "Toy Story (1995)"
    assert toy_story["item_genres"] == "Animation|Children's|Comedy"
    assert toy_story["item_category"] == "Animation"
    les_miserables = log.loc[log["item_id"] == 543, "title"].iloc[0]
    assert les_miserables == "Misérables, Les (1995)"
    assert log["user_gender"].isin(["M", "F"]).all()
