"""Layers the models share: embeddings with a per-row L2 penalty.

A Keras ``embeddings_regularizer`` penalises the whole table at every step,
so every row of a 40,000-item table decays at each batch, whether the batch
looks it up or not; with Adam, which rescales that small gradient to a full
step, a row that few batches touch (a user with 20 interactions in a log of
a million) is pulled to zero between its updates. On the Gowalla log
(``benchmarks/gowalla.py``) matrix factorisation with ``l2=1e-5`` on the
tables stopped at epoch 2 at popularity's quality. The penalty here is the
one of the matrix-factorisation literature (BPR, LightGCN): the squared norm
of the vectors each training row looks up, averaged over the batch (Keras
divides an activity penalty by the batch size), so a row is penalised when
it is trained, in proportion to how often.
"""

from .._tf import keras

__all__ = ["embedding", "row_l2"]


def row_l2(l2):
    """The per-row L2 penalty of strength ``l2`` (None for 0)."""
    return keras.regularizers.L2(float(l2)) if l2 > 0 else None


def embedding(size, dim, name, l2=0.0, **kwargs):
    """``keras.layers.Embedding`` whose looked-up vectors carry ``row_l2(l2)``."""
    return keras.layers.Embedding(size, dim, activity_regularizer=row_l2(l2), name=name,
                                  **kwargs)
