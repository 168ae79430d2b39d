"""Parameter descriptions the models share, written once.

A class docstring holds a placeholder line such as ``    {{training}}``;
:func:`fill_shared_docs` replaces it with the text below (indented for a
class docstring), so the models' docs cannot drift apart.
"""

__all__ = ["SHARED", "fill_shared_docs"]

SHARED = {
    # The row models' training parameters (MF, NCF, Wide & Deep, DeepFM, two-tower).
    "training": """\
    negative_ratio : int, default=0
        Negatives sampled per positive each epoch (0: use ``y`` as given).
    optimizer : str or keras optimizer, default="adam"
    learning_rate : float, default=1e-3
    epochs : int, default=30
        Passes over the data; an upper bound under early stopping (on by
        default from 10,000 positives), which on MovieLens-100k P1 kept
        epoch 8 to 22 of these models.
    batch_size : int, default=1024
        Training rows (positives and sampled negatives) per gradient step.
        On MovieLens-100k P1 1024 gave the quality of 256 or better in half
        the fit time (``benchmarks/quality_ml100k.py``), and the throughput
        of the best plain Keras we know (``benchmarks/bench_ncf.py``).
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, shuffling, negative sampling and dropout
        (where the model has it): the same seed gives the same predictions.
""",
}


def fill_shared_docs(cls):
    """Class decorator: replace each ``{{name}}`` line of the docstring."""
    doc = cls.__doc__
    if doc:
        for name, text in SHARED.items():
            doc = doc.replace(f"    {{{{{name}}}}}\n", text)
        cls.__doc__ = doc
    return cls
