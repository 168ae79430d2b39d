"""The one list of skrec's recommenders.

Read by :mod:`skrec` (its lazily imported names), :mod:`skrec.models`
(``__all__``), the command line (``--model`` names and aliases), the docs
(``tests/test_docs.py`` checks that ``docs/api.rst`` lists every public name)
and the test battery (``tests/test_common.py`` runs scikit-learn's estimator
checks on every entry; ``tests/models/test_family.py`` covers every deep
model). Adding a model is one file under ``skrec/models/`` plus one line
here. Pure Python: importing it does not import TensorFlow.
"""

from dataclasses import dataclass

__all__ = ["ModelEntry", "MODELS", "find"]


@dataclass(frozen=True)
class ModelEntry:
    """One recommender.

    Attributes
    ----------
    name : str
        The command-line name (``skrec train --model NAME``).
    class_name : str
        The class in :mod:`skrec.models` (and at the top level of :mod:`skrec`).
    kind : {"deep", "sequence", "baseline"}
        A Keras model, a Keras model that reads the user's recent items
        (``FeatureBuilder(history_length=N)``), or a non-neural baseline.
    aliases : tuple of str
        Other accepted command-line names.
    """

    name: str
    class_name: str
    kind: str
    aliases: tuple = ()


MODELS = (
    ModelEntry("mf", "MFClassifier", "deep"),
    ModelEntry("ncf", "NCFClassifier", "deep"),
    ModelEntry("widedeep", "WideDeepClassifier", "deep", ("wide_deep",)),
    ModelEntry("deepfm", "DeepFMClassifier", "deep"),
    ModelEntry("twotower", "TwoTowerClassifier", "deep", ("two_tower",)),
    ModelEntry("cnn", "CNNClassifier", "sequence", ("caser",)),
    ModelEntry("gru", "GRUClassifier", "sequence", ("gru4rec",)),
    ModelEntry("autoencoder", "AutoencoderClassifier", "deep", ("ae",)),
    ModelEntry("popularity", "PopularityClassifier", "baseline", ("pop",)),
    ModelEntry("ease", "EASEClassifier", "baseline"),
)


def find(name):
    """The entry whose name or alias is ``name`` (case-insensitive), or None."""
    key = str(name).strip().lower()
    for entry in MODELS:
        if key == entry.name or key in entry.aliases:
            return entry
    return None
