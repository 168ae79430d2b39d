"""The ``skrec`` command line: train, evaluate, recommend, info; errors and verbosity."""

import json
import subprocess
import sys

import pandas as pd
import pytest

import skrec
from skrec._cli import main


@pytest.fixture(scope="module")
def log_csv(tmp_path_factory, log_xy):
    X, y = log_xy
    path = tmp_path_factory.mktemp("cli") / "log.csv"
    X.assign(label=y).iloc[:3000].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(log_csv):
    out = log_csv.parent / "model.skrec"
    code = main(["train", str(log_csv), "--model", "ncf", "--param", "epochs=2",
                 "-o", str(out), "--validate", "p1", "-q"])
    assert code == 0
    return out


def test_train_saves_a_model_with_validation_figures(trained, log_csv):
    metadata = skrec.read_metadata(trained)
    assert metadata["estimator"]["steps"] == ["FeatureBuilder", "NCFClassifier"]
    assert metadata["estimator"]["params"]["epochs"] == 2
    assert metadata["training_data"]["n_rows"] == 3000
    evaluation = metadata["evaluation"]
    assert evaluation["protocol"] == "p1"
    assert 0 <= evaluation["ndcg@10"] <= 1


def test_train_prints_epoch_progress_unless_quiet(log_csv, tmp_path, capsys):
    out = tmp_path / "m.joblib"
    assert main(["train", str(log_csv), "--model", "ncf", "--param", "epochs=2",
                 "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "loss" in err
    assert main(["train", str(log_csv), "--model", "pop", "-o", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_recommend_matches_the_library(trained, log_xy, capsys, fmt):
    X, _ = log_xy
    users = list(X["user_id"].iloc[:2])
    argv = ["recommend", "--model", str(trained), "-k", "3", "--format", fmt, "-q"]
    for user in users:
        argv += ["--user", str(user)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    expected = skrec.recommend(skrec.load(trained), users, k=3)
    if fmt == "json":
        got = pd.DataFrame(json.loads(out))
    elif fmt == "csv":
        from io import StringIO

        got = pd.read_csv(StringIO(out))
    else:
        got = pd.read_csv(__import__("io").StringIO(out), sep=r"\s+")
    assert got["item_id"].tolist() == expected["item_id"].tolist()
    assert got["user_id"].astype(str).tolist() == expected["user_id"].astype(str).tolist()


def test_recommend_unknown_user_gets_marked_fallback(trained, capsys):
    assert main(["recommend", "--model", str(trained), "--user", "nobody", "-k", "2",
                 "--format", "json"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert [row["fallback"] for row in rows] == [True, True]
    assert "1 unknown user(s)" in captured.err


def test_evaluate_prints_a_table_for_several_models(log_csv, capsys):
    assert main(["evaluate", str(log_csv), "--model", "pop,ease", "--protocol", "p2",
                 "--format", "json", "-q"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["model"] for row in rows] == ["popularity", "ease"]
    assert {"hit_rate@10", "ndcg@10", "users"} <= set(rows[0])


def test_evaluate_in_chunks_equals_one_scorer_pass(log_csv, capsys):
    from sklearn.pipeline import make_pipeline

    from skrec import FeatureBuilder
    from skrec.metrics import make_ranking_scorer
    from skrec.model_selection import UserHoldout
    from skrec.models import EASEClassifier

    assert main(["evaluate", str(log_csv), "--model", "ease", "--format", "json",
                 "--random-state", "3", "-q"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    log = pd.read_csv(log_csv)
    X, y = log.drop(columns="label"), log["label"]
    train, test = next(UserHoldout(test_size=0.25, random_state=3).split(X, y))
    pipe = make_pipeline(FeatureBuilder(), EASEClassifier()).fit(X.iloc[train], y.iloc[train])
    scores = make_ranking_scorer(["ndcg", "map"], k=10)(pipe, X.iloc[test], y.iloc[test])
    assert row["ndcg@10"] == pytest.approx(scores["ndcg@10"], abs=1e-9)
    assert row["map@10"] == pytest.approx(scores["map@10"], abs=1e-9)


def test_config_file_maps_columns_and_model(log_xy, tmp_path, capsys):
    X, y = log_xy
    renamed = X.assign(stars=(y * 4 + 1)).rename(columns={"user_id": "who", "item_id": "what"})
    renamed.iloc[:2000].to_parquet(tmp_path / "log.parquet")
    (tmp_path / "skrec.toml").write_text(
        '[data]\nuser_col = "who"\nitem_col = "what"\nrating_col = "stars"\n'
        'positive_threshold = 4\nfeatures = "none"\n\n'
        '[model]\nname = "ease"\nparams = { l2 = 50.0 }\n'
    )
    out = tmp_path / "m.skrec"
    assert main(["train", str(tmp_path / "log.parquet"), "--config",
                 str(tmp_path / "skrec.toml"), "-o", str(out), "-q"]) == 0
    metadata = skrec.read_metadata(out)
    assert metadata["estimator"]["params"] == {"l2": 50.0}
    assert metadata["input_columns"][:2] == ["who", "what"]
    assert "stars" not in metadata["input_columns"]  # the label's source is no feature


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "{csv}", "--model", "nope", "-o", "m.skrec"], "unknown model 'nope'"),
        (["train", "{csv}", "--model", "ncf", "--param", "foo=1", "-o", "m.skrec"],
         "has no parameter(s) ['foo']"),
        (["train", "missing.csv", "--model", "ncf", "-o", "m.skrec"], "does not exist"),
        (["train", "{csv}", "--model", "ncf", "--user-col", "uid", "-o", "m.skrec"],
         "column 'uid' (the user id) is not in the data"),
        (["train", "{csv}", "--model", "ncf", "--rating-col", "item_price", "-o", "m.skrec"],
         "needs --positive-threshold"),
        (["train", "{csv}", "--model", "ncf", "--label-col", "item_price", "-o", "m.skrec"],
         "must hold binary labels 0/1"),
        (["train", "{csv}", "--model", "pop", "-o", "m.pkl"],
         "output 'm.pkl' from its suffix '.pkl'"),
        (["recommend", "--model", "missing.skrec", "--user", "1"], "does not exist"),
        (["recommend", "--model", "{model}", "--user", "1", "-k", "0"], "positive integer"),
        (["recommend", "--model", "{model}"], "--user"),
        (["evaluate", "{csv}", "--model", "pop,ncf", "--param", "zzz=1"], "['zzz']"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(argv, message, log_csv, trained, tmp_path,
                                            monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = [a.format(csv=log_csv, model=trained) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"skrec {argv[0]}: error: ")
    assert message in err
    assert "Traceback" not in err


def test_info_prints_the_metadata(trained, capsys):
    assert main(["info", str(trained)]) == 0
    out = capsys.readouterr().out
    assert "FeatureBuilder -> NCFClassifier" in out and "ndcg@10" in out
    assert main(["info", str(trained), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["training_data"]["n_rows"] == 3000


def test_python_dash_m_and_console_script_agree():
    result = subprocess.run([sys.executable, "-m", "skrec", "--version"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stdout.strip() == f"skrec {skrec.__version__}"
    assert result.stderr == ""
