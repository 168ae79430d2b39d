"""``distribute=``: training under a ``tf.distribute`` strategy.

The ``MirroredStrategy`` checks need two logical CPU devices, which TensorFlow
accepts only before it initialises, and earlier tests of the same pytest
worker have initialised it: so they run this file as a script in a fresh
interpreter (``python tests/models/test_distribute.py NCFClassifier`` prints
the figures as JSON). The scikit-learn contracts (clone, pickling, grid search, errors)
are checked in-process with a one-device strategy.
"""

import copy
import json
import os
import pickle
import subprocess
import sys
import time
import warnings
from pathlib import Path
from unittest import mock

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV

import skrec.models
from skrec import FeatureBuilder, NCFClassifier, TwoTowerClassifier, make_interactions
from skrec._tf import tf
from skrec.models import AutoencoderClassifier, DeepRecommenderClassifier

MODELS = {"NCFClassifier": NCFClassifier, "TwoTowerClassifier": TwoTowerClassifier}
# 1500 rows in batches of 255: five full batches and one of 225, none a
# multiple of 2 replicas, so every batch is padded (the hard case).
# l2=0: the row penalty (skrec/models/_layers.py) is a Keras activity penalty,
# averaged over every row of a replica's batch, padding rows included (they
# weigh 0 in the loss, not in the penalty), so with l2 > 0 one device and two
# replicas differ by the padding rows' share (measured: up to 6e-3 here, where
# every batch is padded; one row in 1024 at the default batch size).
FIT = dict(epochs=2, batch_size=255, learning_rate=0.01, l2=0.0, random_state=0)


def _data():
    X, y = make_interactions(
        n_users=60, n_items=40, n_interactions=1500, random_state=0, return_X_y=True
    )
    return FeatureBuilder().fit_transform(X, y), y


@pytest.fixture(scope="module")
def data():
    return _data()


# ----------------------------------------------------------- in-process
def test_every_deep_model_takes_distribute():
    classes = [
        cls for cls in vars(skrec.models).values()
        if isinstance(cls, type) and issubclass(cls, DeepRecommenderClassifier)
        and cls is not DeepRecommenderClassifier
    ]
    assert len(classes) >= 7
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    for cls in classes:
        assert cls().get_params()["distribute"] is None
        assert cls(distribute="mirrored").get_params()["distribute"] == "mirrored"
        assert cls().set_params(distribute=strategy).distribute is strategy


@pytest.mark.parametrize("value", ["gpu", 2, tf.distribute])
def test_invalid_distribute_names_value_and_fix(data, value):
    X, y = data
    with pytest.raises(ValueError, match=r"NCFClassifier: distribute=.* is not a "
                       r"tf.distribute.Strategy; pass .*MirroredStrategy\(\).*'mirrored'"):
        NCFClassifier(distribute=value).fit(X, y)


def test_multi_worker_strategy_needs_the_same_seed_everywhere(data):
    X, y = data
    # Two workers of two devices each, without starting a cluster.
    strategy = mock.NonCallableMock(spec=tf.distribute.MultiWorkerMirroredStrategy)
    strategy.num_replicas_in_sync = 4
    strategy.extended.worker_devices = ("/gpu:0", "/gpu:1")
    with pytest.raises(ValueError, match="spans 2 workers but random_state is None"):
        NCFClassifier(distribute=strategy).fit(X, y)


def test_model_with_its_own_batches_refuses_several_replicas(data):
    X, y = data
    # The autoencoder batches users itself, without even splits.
    strategy = mock.NonCallableMock(spec=tf.distribute.MirroredStrategy)
    strategy.num_replicas_in_sync = 2
    strategy.extended.worker_devices = ("/gpu:0", "/gpu:1")
    with pytest.raises(ValueError, match="AutoencoderClassifier: distribute=MirroredStrategy "
                       "with 2 replicas is not supported.*Use distribute=None"):
        AutoencoderClassifier(distribute=strategy).fit(X, y)


def test_clone_and_deepcopy_share_the_strategy_pickling_drops_it():
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    model = NCFClassifier(embedding_dim=4, distribute=strategy)
    assert clone(model).distribute is strategy  # not a deep copy of it
    assert clone(model).embedding_dim == 4
    assert copy.deepcopy(model).distribute is strategy
    with pytest.raises(TypeError):
        pickle.dumps(strategy)
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.distribute is None and loaded.embedding_dim == 4
    assert model.distribute is strategy  # pickling leaves the original alone
    # The string is a recipe, resolved by fit on whatever machine runs it.
    named = NCFClassifier(distribute="mirrored")
    assert pickle.loads(pickle.dumps(named)).distribute == "mirrored"
    assert clone(named).distribute == "mirrored"


def test_loaded_model_predicts_and_warns_when_refitted_on_one_device(data, tmp_path):
    X, y = data
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    model = NCFClassifier(epochs=1, random_state=0, distribute=strategy).fit(X, y)
    assert model.model_.distribute_strategy is strategy
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    assert loaded.distribute is None
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-6)
    with pytest.warns(UserWarning, match=r"pickled with distribute=OneDeviceStrategy"
                      r"\(1 replicas\).*runs on one device.*set_params\(distribute="):
        loaded.partial_fit(X, y)
    loaded.set_params(distribute=None)  # the user's answer: one device is fine
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        loaded.partial_fit(X, y)


def test_grid_search_shares_the_strategy(data):
    X, y = data
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    halves = np.arange(len(y)) % 2 == 0
    search = GridSearchCV(  # one split: two candidates and the refit
        NCFClassifier(epochs=1, batch_size=512, random_state=0, distribute=strategy),
        {"embedding_dim": [4, 8]},
        cv=[(np.flatnonzero(halves), np.flatnonzero(~halves))],
        scoring="roc_auc",
    ).fit(X, y)
    best = search.best_estimator_
    assert best.distribute is strategy
    assert best.model_.distribute_strategy is strategy
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


# ------------------------------------------ MirroredStrategy, 2 CPU replicas
@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_mirrored_strategy_on_two_cpu_replicas(name):
    root = Path(__file__).resolve().parents[2]
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    run = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), name],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["num_replicas_in_sync"] == 2
    assert figures["model_strategy"] == "MirroredStrategy"
    assert figures["values_per_variable"] == 2  # every weight lives on both devices
    assert figures["steps_per_execution"] == 1
    # The 225-row last batch is padded to 226 and split 113 + 113.
    assert figures["last_batch_per_replica"] == [113, 113]
    assert figures["proba_shape"] == [1500, 2]
    assert 0 < figures["proba_min"] <= figures["proba_max"] < 1
    assert figures["loss"][1] < figures["loss"][0]
    assert figures["auc"] > 0.7  # chance is 0.5
    if name == "NCFClassifier":
        assert figures["same_seed_max_diff"] == 0.0  # bit for bit
    # One device and two replicas compute the same update (rounding aside).
    assert figures["one_device_max_diff"] < 1e-5
    # A strategy object is not pickled; the string is.
    assert figures["loaded_distribute"] == (None if name == "NCFClassifier" else "mirrored")
    assert figures["loaded_max_diff"] < 1e-6


def _mirrored_figures(name):
    """Fit ``name`` under MirroredStrategy on two logical CPUs; return the figures."""
    from skrec.models._training import batched_dataset as _batched_dataset

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    X, y = _data()
    cls = MODELS[name]
    # NCF gets a strategy object, the other model the string.
    strategy = tf.distribute.MirroredStrategy()
    distribute = strategy if name == "NCFClassifier" else "mirrored"
    start = time.process_time()
    model = cls(**FIT, distribute=distribute).fit(X, y)
    cpu_seconds = [time.process_time() - start]
    proba = model.predict_proba(X)
    again = None
    if name == "NCFClassifier":  # a strategy fit is the slow step: once is enough
        again = cls(**FIT, distribute=distribute).fit(X, y).predict_proba(X)
    start = time.process_time()
    one_device = cls(**FIT).fit(X, y).predict_proba(X)
    cpu_seconds.append(time.process_time() - start)
    loaded = pickle.loads(pickle.dumps(model))
    used = model.model_.distribute_strategy
    variable = model.model_.trainable_variables[0].value
    encoded = model._encoded_inputs(X)
    *_, last = iter(used.experimental_distribute_dataset(
        _batched_dataset(encoded, np.asarray(y, "float32").reshape(-1, 1), None, 255, 2)
    ))
    return {
        "num_replicas_in_sync": used.num_replicas_in_sync,
        "model_strategy": type(used).__name__,
        "values_per_variable": len(used.experimental_local_results(variable)),
        "steps_per_execution": model.model_.steps_per_execution,
        "last_batch_per_replica": [
            int(part.shape[0]) for part in used.experimental_local_results(last[1])
        ],
        "proba_shape": list(proba.shape),
        "proba_min": float(proba.min()),
        "proba_max": float(proba.max()),
        "loss": [float(v) for v in model.history_["loss"]],
        "auc": float(roc_auc_score(y, proba[:, 1])),
        "same_seed_max_diff": None if again is None else float(np.abs(again - proba).max()),
        "one_device_max_diff": float(np.abs(one_device - proba).max()),
        "loaded_distribute": loaded.distribute,
        "loaded_max_diff": float(np.abs(loaded.predict_proba(X) - proba).max()),
        "fit_cpu_seconds_two_replicas_one_device": [round(t, 1) for t in cpu_seconds],
    }


if __name__ == "__main__":
    print(json.dumps(_mirrored_figures(sys.argv[1])))
