"""scikit-learn's estimator checks on FeatureBuilder and every deep model.

InteractionNormalizer runs the same checks in tests/preprocessing/test_normalizer.py.
Every expected failure is listed with its reason.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skrec.models import (
    AutoencoderClassifier,
    DeepFMClassifier,
    MFClassifier,
    NCFClassifier,
    TwoTowerClassifier,
    WideDeepClassifier,
)
from skrec.preprocessing import FeatureBuilder

FEATURE_BUILDER_XFAIL = {
    "check_estimators_pickle": (
        "the check puts NaN into every column, including column 0, which holds "
        "user ids; a missing id is refused by design (it cannot be recommended to)"
    ),
    "check_fit_score_takes_y": (
        "the check calls partial_fit on a builder fitted with fit(); partial_fit "
        "continues a streamed fit only (fit keeps no mergeable counts) and refuses "
        "with an error that says to start from a clone"
    ),
}

NCF_XFAIL = {
    "check_estimator_tags_renamed": (
        "scikeras' BaseWrapper defines _more_tags without __sklearn_tags__; our "
        "subclass defines __sklearn_tags__, but the check inspects every class in the MRO"
    ),
    "check_mixin_order": (
        "scikeras' KerasClassifier lists ClassifierMixin after BaseEstimator; a "
        "subclass cannot reorder them (MRO error). Tags are fixed in _scikeras_compat"
    ),
    "check_sample_weight_equivalence_on_dense_data": (
        "stochastic mini-batch training: weighting a row is not bit-identical to "
        "repeating it"
    ),
}


AUTOENCODER_XFAIL = {
    **NCF_XFAIL,
    "check_classifiers_one_label": (
        "positives only is the autoencoder's normal input (implicit feedback): "
        "y of ones gives classes [0, 1], and items a user is unlikely to pick "
        "are predicted 0, not the single label seen in fit"
    ),
}


def _expected_failures(estimator):
    if isinstance(estimator, FeatureBuilder):
        return FEATURE_BUILDER_XFAIL
    if isinstance(estimator, AutoencoderClassifier):
        return AUTOENCODER_XFAIL
    return NCF_XFAIL


# The checks feed plain arrays (column 0 user ids, column 1 item ids, the rest
# numeric), which carry no history: CNNClassifier and GRUClassifier refuse
# them by design (they need FeatureBuilder(history_length=N)); their
# behaviour is covered by tests/models/test_family.py and their own tests.
# run_eagerly=True: on the checks' tiny arrays, tracing a training graph for
# each of the ~60 fits costs far more than the training itself (140 s against
# 40 s per model); the graph-mode path is what every other test runs.
_FAST = {"epochs": 1, "batch_size": 32, "random_state": 0, "run_eagerly": True}
DEEP_MODELS = [
    WideDeepClassifier(**_FAST),
    DeepFMClassifier(**_FAST),
    TwoTowerClassifier(**_FAST),
    MFClassifier(**_FAST),
    AutoencoderClassifier(**_FAST),
]


@parametrize_with_checks(
    [FeatureBuilder(user_col=0, item_col=1)],
    expected_failed_checks=_expected_failures,
)
def test_feature_builder_conforms(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(
    [NCFClassifier(**_FAST)],
    expected_failed_checks=_expected_failures,
)
def test_ncf_classifier_conforms(estimator, check):
    # On plain input: column 0 user ids, column 1 item ids, the rest numeric.
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(DEEP_MODELS, expected_failed_checks=_expected_failures)
def test_deep_models_conform(estimator, check):
    check(estimator)
