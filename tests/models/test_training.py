"""The training engine: one Keras fit per fit, fresh epochs, early stopping."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from skrec._tf import keras
from skrec.models import AutoencoderClassifier, NCFClassifier
from skrec.models import _training
from skrec.preprocessing import FeatureBuilder


def _implicit(n=3000, n_users=60, n_items=40, seed=0):
    """Implicit feedback with structure: users like the items of their group."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    items = (users % 4) * (n_items // 4) + rng.integers(0, n_items // 4, n)
    X = np.unique(np.c_[users, items], axis=0).astype(float)
    return X, np.ones(len(X), dtype=int)


class _Count(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append("train")

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(epoch)


def test_one_keras_fit_draws_fresh_negatives_every_epoch(monkeypatch):
    X, y = _implicit()
    drawn = []
    epoch = _training.EpochSampler.epoch

    def spy(self, sample_weight):
        arrays = epoch(self, sample_weight)
        drawn.append(arrays[0][self.item_key].copy())
        return arrays

    monkeypatch.setattr(_training.EpochSampler, "epoch", spy)
    count = _Count()
    clf = NCFClassifier(epochs=3, negative_ratio=2, early_stopping=False, random_state=0)
    clf.fit(X, y, callbacks=[count])
    assert count.events == ["train", 0, 1, 2]  # one Keras fit, three epochs
    assert len(drawn) == 3 and len(clf.history_["loss"]) == 3 and clf.n_iter_ == 3
    assert not np.array_equal(np.sort(drawn[0]), np.sort(drawn[1]))  # fresh negatives
    # partial_fit stays one epoch, and counts on.
    clf.partial_fit(X, y)
    assert len(drawn) == 4 and clf.n_iter_ == 4


def test_a_keras_early_stopping_callback_stops_the_fit():
    X, y = _implicit()
    # min_delta no epoch can reach: stops after patience + 1 epochs.
    stop = keras.callbacks.EarlyStopping(monitor="loss", min_delta=10.0, patience=1,
                                         restore_best_weights=True)
    clf = NCFClassifier(epochs=20, negative_ratio=2, early_stopping=False,
                        callbacks=[stop], random_state=0).fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.history_["loss"]) == 2
    assert stop.stopped_epoch == 1


def test_early_stopping_keeps_the_best_epoch_and_stops(monkeypatch):
    X, y = _implicit()
    monitors = []
    init = _training.EarlyStoppingMonitor.__init__

    def spy(self, *args, **kwargs):
        init(self, *args, **kwargs)
        monitors.append(self)

    monkeypatch.setattr(_training.EarlyStoppingMonitor, "__init__", spy)
    clf = NCFClassifier(epochs=60, negative_ratio=2, learning_rate=3e-2, early_stopping=True,
                        n_iter_no_change=3, random_state=0).fit(X, y)
    assert clf.n_iter_ < 60  # stopped
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.history_["val_score"])
    assert clf.best_iteration_ == int(np.argmax(clf.validation_scores_)) + 1
    assert clf.n_iter_ - clf.best_iteration_ >= 3
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_validation_score_ > 0.3  # the groups are learnable (chance ~0.1)
    # The kept weights are the best epoch's: they score the best score again.
    [monitor] = monitors
    assert monitor.score_fn(clf.model_, {}) == pytest.approx(clf.best_validation_score_)
    # Same seed, same stop and same predictions.
    again = NCFClassifier(epochs=60, negative_ratio=2, learning_rate=3e-2, early_stopping=True,
                          n_iter_no_change=3, random_state=0).fit(X, y)
    assert again.validation_scores_ == clf.validation_scores_
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def _record_validation(monkeypatch):
    """Record (validation (user, item) pairs, training epochs' pairs) of each fit."""
    fits = []
    hold_out = _training.hold_out_users
    epoch = _training.EpochSampler.epoch

    def spy_hold_out(who, users, positive, fraction, rng):
        held = hold_out(who, users, positive, fraction, rng)
        fits.append({"held": held, "epochs": []})
        return held

    def spy_epoch(self, sample_weight):
        arrays = epoch(self, sample_weight)
        X, labels = arrays[0], arrays[1].ravel()
        fits[-1]["epochs"].append({
            label: set(zip(X[self.user_key][labels == label].tolist(),
                           X[self.item_key][labels == label].tolist()))
            for label in (0, 1)
        })
        return arrays

    monkeypatch.setattr(_training, "hold_out_users", spy_hold_out)
    monkeypatch.setattr("skrec.models._base.hold_out_users", spy_hold_out)
    monkeypatch.setattr(_training.EpochSampler, "epoch", spy_epoch)
    return fits


def test_validation_rows_never_reach_training(monkeypatch):
    X, y = _implicit()
    fits = _record_validation(monkeypatch)
    clf = NCFClassifier(epochs=3, negative_ratio=3, unknown_id_rate=0.0, early_stopping=True,
                        validation_fraction=0.1, random_state=0).fit(X, y)
    [fit] = fits
    encoded = clf.feature_encoder_.transform(X)
    users = encoded["index_0"][fit["held"]].tolist()
    items = encoded["index_1"][fit["held"]].tolist()
    held = set(zip(users, items))
    assert len(held) > 50 and len(set(users)) >= 2
    drawn_as_negatives = set()
    for pairs in fit["epochs"]:
        assert not held & pairs[1]  # never trained on as positives
        drawn_as_negatives |= held & pairs[0]
    # Like test items, they are fair game for the negatives: sparing them would
    # single them out, and the validation score would reward overfitting.
    assert drawn_as_negatives


def test_grid_search_validates_on_the_training_fold_only(monkeypatch):
    X, y = _implicit()
    # ROC AUC on the test folds needs negatives: one unseen item per positive.
    rows = np.r_[X, np.c_[X[:, 0], (X[:, 1] + 20) % 40]]
    labels = np.r_[y, np.zeros(len(y), dtype=int)]
    folds = list(KFold(3, shuffle=True, random_state=0).split(rows))
    fits = _record_validation(monkeypatch)
    GridSearchCV(
        NCFClassifier(epochs=2, negative_ratio=2, unknown_id_rate=0.0, early_stopping=True,
                      random_state=0),
        {"embedding_dim": [4, 8]}, cv=folds, scoring="roc_auc", refit=False,
    ).fit(rows, labels)
    assert len(fits) == 6
    for fit in fits:
        # The mask covers the rows fit was given: one training fold, never its test rows.
        train, test = next(f for f in folds if f[0].size == fit["held"].size)
        held_rows = train[fit["held"]]
        assert held_rows.size > 0 and not np.isin(held_rows, test).any()
        assert (labels[held_rows] == 1).all()


def test_autoencoder_stops_early_and_keeps_every_item_for_prediction():
    X, y = _implicit(n=4000)
    clf = AutoencoderClassifier(epochs=80, early_stopping=True, n_iter_no_change=3,
                                learning_rate=1e-2, random_state=0).fit(X, y)
    assert clf.n_iter_ < 80
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_iteration_ == int(np.argmax(clf.validation_scores_)) + 1
    # The held-out items are back in the users' vectors once training is over.
    assert clf.user_items_.nnz == len(np.unique(X, axis=0))
    off = AutoencoderClassifier(epochs=2, random_state=0).fit(X, y)
    assert off.validation_scores_ is None and off.n_iter_ == 2


def test_early_stopping_auto_turns_on_from_ten_thousand_positives():
    X, y = _implicit(n=30000, n_users=400, n_items=400)
    assert len(X) >= 10_000
    on = NCFClassifier(epochs=2, negative_ratio=1, random_state=0).fit(X, y)
    assert on.validation_scores_ is not None and len(on.validation_scores_) == 2
    small, y_small = _implicit()
    off = NCFClassifier(epochs=2, negative_ratio=1, random_state=0).fit(small, y_small)
    assert off.validation_scores_ is None


def test_validation_loss_as_the_score():
    X, y = _implicit()
    clf = NCFClassifier(epochs=4, negative_ratio=2, early_stopping=True, scoring="loss",
                        random_state=0).fit(X, y)
    assert clf.validation_scores_ == pytest.approx([-v for v in clf.history_["val_loss"]])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"validation_fraction": 0.0}, r"validation_fraction=0.0 is invalid; use a number between 0 and 1"),
        ({"validation_fraction": 1.5}, r"validation_fraction=1.5 is invalid"),
        ({"n_iter_no_change": 0}, r"n_iter_no_change=0 is invalid; use an integer >= 1"),
        ({"tol": -1.0}, r"tol=-1.0 is invalid"),
        ({"early_stopping": "yes"}, r"early_stopping='yes' is invalid; use 'auto', True or False"),
        ({"scoring": "auc"}, r"scoring='auc' is not a validation score; pass 'ndcg@K'"),
        ({"validation_split": 0.2}, r"early_stopping=True holds out validation users itself"),
    ],
)
def test_bad_early_stopping_parameters_are_named(params, message):
    X, y = _implicit()
    with pytest.raises(ValueError, match=message):
        params = {"early_stopping": True, **params}
        NCFClassifier(epochs=1, negative_ratio=1, **params).fit(X, y)


def test_a_validation_set_too_small_is_refused_with_the_fix():
    one_user = np.c_[np.zeros(30), np.arange(30)].astype(float)
    with pytest.raises(ValueError, match=r"at least 2 users.*holds out positives of 1 user"):
        NCFClassifier(epochs=1, negative_ratio=1, early_stopping=True, random_state=0).fit(
            one_user, np.ones(30, dtype=int)
        )
    X, y = _implicit(n=300)
    with pytest.raises(ValueError, match=r"validation_fraction=0.001 holds out positives of [01] user"):
        NCFClassifier(epochs=1, negative_ratio=1, early_stopping=True,
                      validation_fraction=0.001, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="early_stopping=False"):
        AutoencoderClassifier(epochs=1, early_stopping=True, random_state=0).fit(
            one_user, np.ones(30, int)
        )


@pytest.mark.parametrize("scoring", ["ndcg@20", "loss"])
def test_sequence_models_validate_with_their_prediction_network(scoring):
    # They train a grouped twin; validation scores the per-row network.
    from skrec import make_interactions
    from skrec.models import GRUClassifier

    X, y = make_interactions(n_users=80, n_items=60, n_interactions=3000, random_state=0,
                             return_X_y=True)
    pipe = make_pipeline(FeatureBuilder(history_length=5),
                         GRUClassifier(epochs=3, negative_ratio=2, early_stopping=True,
                                       scoring=scoring, random_state=0))
    pipe.fit(X, y)
    scores = pipe[-1].validation_scores_
    assert len(scores) == pipe[-1].n_iter_ <= 3
    if scoring == "loss":
        assert scores == pytest.approx([-v for v in pipe[-1].history_["val_loss"]])
    else:
        assert all(0 <= score <= 1 for score in scores)
