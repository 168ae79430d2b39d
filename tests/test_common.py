"""scikit-learn's estimator checks on FeatureBuilder and NCFClassifier.

InteractionNormalizer runs the same checks in tests/preprocessing/test_normalizer.py.
Every expected failure is listed with its reason.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skrec.models import NCFClassifier
from skrec.preprocessing import FeatureBuilder

FEATURE_BUILDER_XFAIL = {
    "check_estimators_pickle": (
        "the check puts NaN into every column, including column 0, which holds "
        "user ids; a missing id is refused by design (it cannot be recommended to)"
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


def _expected_failures(estimator):
    if isinstance(estimator, FeatureBuilder):
        return FEATURE_BUILDER_XFAIL
    return NCF_XFAIL


@parametrize_with_checks(
    [FeatureBuilder(user_col=0, item_col=1)],
    expected_failed_checks=_expected_failures,
)
def test_feature_builder_conforms(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(
    [NCFClassifier(epochs=2, batch_size=32, random_state=0)],
    expected_failed_checks=_expected_failures,
)
def test_ncf_classifier_conforms(estimator, check):
    # On plain input: column 0 user ids, column 1 item ids, the rest numeric.
    check(estimator)
