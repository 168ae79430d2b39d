"""skrec.save / skrec.load: metadata, version warnings, and refusing tampered files."""

import hashlib
import json
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

import skrec
from skrec import FeatureBuilder, InteractionNormalizer
from skrec._artifact import library_versions
from skrec.exceptions import UnsafeArtifactError, VersionMismatchWarning
from skrec.models import CNNClassifier, EASEClassifier, NCFClassifier, TwoTowerClassifier


@pytest.fixture(scope="module")
def small_xy(log_xy):
    X, y = log_xy
    return X.iloc[:2000], y.iloc[:2000]


@pytest.fixture(scope="module")
def fitted(small_xy):
    X, y = small_xy
    return make_pipeline(
        InteractionNormalizer(), FeatureBuilder(), NCFClassifier(epochs=1, random_state=0)
    ).fit(X, y)


@pytest.mark.parametrize(
    "make_model, history",
    [
        (lambda: TwoTowerClassifier(epochs=1, random_state=0), 0),
        (lambda: CNNClassifier(epochs=1, random_state=0), 3),
        (lambda: CNNClassifier(history_dropout=0.5, epochs=1, random_state=0), 3),
        (EASEClassifier, 0),
    ],
)
def test_safe_round_trip_gives_identical_predictions(small_xy, tmp_path, make_model, history):
    X, y = small_xy
    pipe = make_pipeline(FeatureBuilder(history_length=history), make_model()).fit(X, y)
    path = tmp_path / "model.skrec"
    skrec.save(pipe, path)
    loaded = skrec.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    users = X["user_id"].unique()[:5]
    expected = skrec.recommend(pipe, users, k=5)
    assert skrec.recommend(loaded, users, k=5).equals(expected)


def test_metadata_is_saved_and_readable_without_loading(fitted, small_xy, tmp_path):
    X, y = small_xy
    path = tmp_path / "model.skrec"
    returned = skrec.save(fitted, path, evaluation={"ndcg@10": 0.25})
    metadata = skrec.read_metadata(path)
    assert metadata == json.loads(json.dumps(returned))
    assert metadata["versions"] == library_versions()
    assert metadata["estimator"]["steps"] == [
        "InteractionNormalizer", "FeatureBuilder", "NCFClassifier"
    ]
    assert metadata["estimator"]["params"]["epochs"] == 1
    assert metadata["input_columns"] == list(X.columns)
    assert [entry["name"] for entry in metadata["schema"]][:2] == ["user_id", "item_id"]
    training = metadata["training_data"]
    assert training["n_rows"] == len(X)
    assert training["n_users"] == X["user_id"].nunique()
    assert training["fingerprint"] == fitted.named_steps["featurebuilder"].data_fingerprint_
    assert metadata["evaluation"] == {"ndcg@10": 0.25}
    assert skrec.load(path).skrec_metadata_["evaluation"] == {"ndcg@10": 0.25}


def test_fingerprint_follows_the_data(small_xy):
    X, y = small_xy
    a = FeatureBuilder().fit(X, y).data_fingerprint_
    assert FeatureBuilder().fit(X.copy(), y.copy()).data_fingerprint_ == a
    changed = X.copy()
    changed.iloc[0, changed.columns.get_loc("item_price")] += 1.0
    assert FeatureBuilder().fit(changed, y).data_fingerprint_ != a
    assert FeatureBuilder().fit(X, 1 - y).data_fingerprint_ != a


def test_joblib_format_carries_metadata_and_needs_trust(fitted, small_xy, tmp_path):
    X, _ = small_xy
    path = tmp_path / "model.joblib"
    skrec.save(fitted, path, evaluation={"auc": 0.7})
    assert "skrec_metadata_" not in vars(fitted)  # the caller's object is left as it was
    plain = joblib.load(path)
    assert plain.skrec_metadata_["evaluation"] == {"auc": 0.7}
    with pytest.raises(UnsafeArtifactError, match="trusted=True"):
        skrec.load(path)
    loaded = skrec.load(path, trusted=True)
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    assert skrec.read_metadata(path, trusted=True)["evaluation"] == {"auc": 0.7}


def test_unknown_suffix_and_format_are_refused(fitted, tmp_path):
    with pytest.raises(ValueError, match=r"'\.skrec'.*'\.joblib'"):
        skrec.save(fitted, tmp_path / "model.pkl")
    with pytest.raises(ValueError, match="format='zip'"):
        skrec.save(fitted, tmp_path / "model.skrec", format="zip")


def _rewrite(path, member, data, update_hash):
    """Replace one member of a .skrec archive (as an attacker would)."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[member] = data
    if update_hash:
        metadata = json.loads(members["metadata.json"])
        metadata["sha256"][member] = hashlib.sha256(data).hexdigest()
        members["metadata.json"] = json.dumps(metadata).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)


class _Payload:
    """Unpickling this calls os.system: what a malicious model file does."""

    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > pwned.txt",))


def test_tampered_file_is_refused_and_runs_nothing(fitted, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "model.skrec"
    skrec.save(fitted, path)
    evil = pickle.dumps(_Payload(), protocol=5)
    # An attacker who also rewrites the recorded hash: the allow-list refuses.
    _rewrite(path, "estimator.pkl", evil, update_hash=True)
    with pytest.raises(UnsafeArtifactError, match=r"names (posix|nt|os)\.system"):
        skrec.load(path)
    assert not (tmp_path / "pwned.txt").exists()
    # Any change without the hash: refused before unpickling.
    skrec.save(fitted, path)
    _rewrite(path, "estimator.pkl", evil, update_hash=False)
    with pytest.raises(UnsafeArtifactError, match="modified after the file was saved"):
        skrec.load(path)
    assert not (tmp_path / "pwned.txt").exists()


def test_tampered_network_is_refused_by_keras_safe_mode(fitted, tmp_path):
    from skrec._tf import keras

    path = tmp_path / "model.skrec"
    skrec.save(fitted, path)
    # A Lambda layer stores Python bytecode: the classic way to run code on load.
    inputs = keras.Input(shape=(1,))
    evil = keras.Model(inputs, keras.layers.Lambda(lambda x: x + 1)(inputs))
    evil.save(tmp_path / "evil.keras")
    _rewrite(path, "networks/0.keras", (tmp_path / "evil.keras").read_bytes(), update_hash=True)
    with pytest.raises(UnsafeArtifactError, match="safe mode") as refused:
        skrec.load(path)
    assert "lambda" in str(refused.value).lower()


def test_not_an_archive_is_refused(tmp_path):
    path = tmp_path / "model.skrec"
    path.write_bytes(b"not a zip")
    with pytest.raises(UnsafeArtifactError, match="not a .skrec archive"):
        skrec.load(path)


def test_custom_estimator_cannot_be_saved_safely(small_xy, tmp_path):
    X, y = small_xy
    pipe = make_pipeline(FeatureBuilder(), EASEClassifier()).fit(X, y)
    pipe.named_steps["featurebuilder"].note_ = _Payload()
    with pytest.raises(UnsafeArtifactError, match="allow-list"):
        skrec.save(pipe, tmp_path / "model.skrec")
    assert not (tmp_path / "model.skrec").exists()


def test_version_mismatch_warns_clearly(fitted, tmp_path):
    path = tmp_path / "model.skrec"
    skrec.save(fitted, path)
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    metadata["versions"]["keras"] = "2.0.0"
    metadata["versions"]["skrec"] = "0.0.1"
    members = {}
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["metadata.json"] = json.dumps(metadata).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    with pytest.warns(VersionMismatchWarning, match=r"skrec 0\.0\.1 \(now .*keras 2\.0\.0 \(now"):
        skrec.load(path)
    skrec.save(fitted, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", VersionMismatchWarning)
        skrec.load(path)
