"""GRUClassifier: a recurrent sequence recommender (GRU4Rec, Hidasi et al. 2016)."""

from .._tf import keras
from ._base import DeepRecommenderClassifier
from ._params import check_bool, check_int, check_non_negative, check_rate
from ._sequence import HistoryDropout, SequencePairwiseMixin, check_has_history, score_item


class GRUClassifier(SequencePairwiseMixin, DeepRecommenderClassifier):
    """GRU4Rec-style recommender: a GRU reads the user's recent items.

    Each row's history (the user's last ``N`` positive items before the row,
    oldest first, from ``FeatureBuilder(history_length=N)``) is embedded and
    read by a GRU of ``units`` units. The history is left-padded, so padding
    comes first and is masked: the GRU skips it and its final state is
    its state after the most recent item. A row with no history keeps the
    initial (zero) state.

    The final state, concatenated with the user embedding when
    ``use_user=True``, is projected linearly to a ``d``-dimensional sequence
    vector ``s``. The logit of a positive interaction with item ``i`` is
    ``s . q_i + b_i`` with the item's embedding ``q_i`` and bias ``b_i``;
    categorical side features and numeric features add a term
    ``MLP(side features)`` to it (see :class:`CNNClassifier` for why the item
    is scored by a dot product and the side features by a separate term).

    Parameters
    ----------
    embedding_dim : int, default=16
        Size ``d`` of the item and user embeddings and of the sequence vector.
    units : int, default=32
        Size of the GRU state.
    use_user : bool, default=True
        Concatenate the user embedding with the GRU state (False: a purely
        session-based model whose user is its history).
    share_item_embedding : bool, default=True
        Embed the history with the item embedding ``q`` (both index the item
        vocabulary), so an item is one vector wherever it appears: fewer
        parameters, and a history item is embedded usefully even when it
        was rarely the scored item. False: a separate history table.
    feature_embedding_dim : int, default=8
        Size of each categorical side-feature embedding.
    dropout : float, default=0.0
        Dropout rate on the history embeddings and on the GRU state.
    history_dropout : float, default=0.0
        Fraction of the training rows (drawn anew each batch) whose GRU state
        is zeroed before it meets the user embedding, so that those rows are
        scored from the user and the item alone; at prediction every row
        uses its history. See :class:`CNNClassifier` (Notes) for when to
        raise it. Needs ``use_user=True``.
    l2 : float, default=0.0
        L2 penalty on the embeddings and on the kernels.
    negative_ratio : int, default=0
        Negatives sampled per positive each epoch (0: use ``y`` as given).
        A negative keeps its positive's history.
    optimizer : str or keras optimizer, default="adam"
    learning_rate : float, default=1e-3
    epochs : int, default=10
    batch_size : int, default=256
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, dropout, shuffling and negative sampling:
        the same seed gives the same predictions.
    verbose : int, default=0
    **kwargs
        Further :class:`~skrec.models.DeepRecommenderClassifier` and scikeras
        parameters (``unknown_id_rate``, ``jit_compile``,
        ``steps_per_execution``, ``predict_batch_size``, ``callbacks``,
        ``optimizer__*``, ``fit__*``, ``predict__*``).

    Attributes
    ----------
    model_ : keras.Model
        The trained network.
    history_ : dict of list
        Training loss (and metrics) per epoch.
    classes_ : ndarray of shape (2,)
        The two labels.
    input_schema_ : list of dict
        The columns the network was built for.

    See Also
    --------
    CNNClassifier : Convolutions over the same history (Caser).
    skrec.preprocessing.FeatureBuilder : Produces this model's input; its
        ``history_length`` is ``N``.

    Notes
    -----
    GRU4Rec [1]_ trains session-parallel mini-batches on next-item
    prediction; here the same network is trained as a classifier of (user,
    history, item) rows, with negatives sampled by ``negative_ratio`` or
    given in ``y``.

    References
    ----------
    .. [1] Hidasi, B., Karatzoglou, A., Baltrunas, L. and Tikk, D.
       "Session-based Recommendations with Recurrent Neural Networks".
       ICLR 2016.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skrec.datasets import make_interactions
    >>> from skrec.models import GRUClassifier
    >>> from skrec.preprocessing import FeatureBuilder
    >>> X, y = make_interactions(n_users=50, n_items=40, n_interactions=2000,
    ...                          random_state=0, return_X_y=True)
    >>> pipe = make_pipeline(FeatureBuilder(history_length=5),
    ...                      GRUClassifier(epochs=2, random_state=0))
    >>> pipe.fit(X, y).predict_proba(X.head(3)).shape
    (3, 2)
    """

    def __init__(
        self,
        *,
        embedding_dim=16,
        units=32,
        use_user=True,
        share_item_embedding=True,
        feature_embedding_dim=8,
        dropout=0.0,
        history_dropout=0.0,
        l2=0.0,
        negative_ratio=0,
        optimizer="adam",
        learning_rate=1e-3,
        epochs=10,
        batch_size=256,
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        super().__init__(
            negative_ratio=negative_ratio,
            optimizer=optimizer,
            learning_rate=learning_rate,
            epochs=epochs,
            batch_size=batch_size,
            random_state=random_state,
            verbose=verbose,
            **kwargs,
        )
        self.embedding_dim = embedding_dim
        self.units = units
        self.use_user = use_user
        self.share_item_embedding = share_item_embedding
        self.feature_embedding_dim = feature_embedding_dim
        self.dropout = dropout
        self.history_dropout = history_dropout
        self.l2 = l2

    def _check_fit_input(self, X, y):
        self._check_params()
        check_has_history(type(self).__name__, X)
        return super()._check_fit_input(X, y)

    def _check_params(self):
        super()._check_params()
        who = type(self).__name__
        for name in ("embedding_dim", "units", "feature_embedding_dim"):
            check_int(who, name, getattr(self, name), 1)
        check_rate(who, "dropout", self.dropout)
        check_rate(who, "history_dropout", self.history_dropout)
        if self.history_dropout > 0 and not self.use_user:
            raise ValueError(
                f"{who}: history_dropout={self.history_dropout!r} hides the history "
                "of some rows so that the user embedding scores them alone, but "
                "use_user=False has no user embedding; set use_user=True or "
                "history_dropout=0."
            )
        check_non_negative(who, "l2", self.l2)
        for name in ("use_user", "share_item_embedding"):
            check_bool(who, name, getattr(self, name))

    def _build_network(self, features):
        regularizer = keras.regularizers.L2(self.l2) if self.l2 > 0 else None
        dim = self.embedding_dim
        n_items, item = features.item
        item_table = keras.layers.Embedding(
            n_items, dim, embeddings_regularizer=regularizer, name="item_embedding"
        )
        history_table = item_table if self.share_item_embedding else keras.layers.Embedding(
            n_items, dim, embeddings_regularizer=regularizer, name="history_embedding"
        )
        _, history = features.history
        # An explicit mask rather than mask_zero=True: the table may be shared
        # with the item input, whose index 0 is the (unmasked) unknown item.
        present = keras.ops.greater(history, 0)
        sequence = history_table(history)
        if self.dropout > 0:
            sequence = keras.layers.Dropout(self.dropout, name="history_dropout")(sequence)
        state = keras.layers.GRU(
            self.units,
            kernel_regularizer=regularizer,
            recurrent_regularizer=regularizer,
            name="gru",
        )(sequence, mask=present)
        if self.dropout > 0:
            state = keras.layers.Dropout(self.dropout, name="state_dropout")(state)
        if self.history_dropout > 0:
            state = HistoryDropout(self.history_dropout, name="history_row_dropout")(state)
        if self.use_user:
            n_users, user = features.user
            user_vector = keras.layers.Embedding(
                n_users, dim, embeddings_regularizer=regularizer, name="user_embedding"
            )(user)
            state = keras.layers.Concatenate(name="state_and_user")([state, user_vector])
        query = keras.layers.Dense(dim, kernel_regularizer=regularizer, name="sequence_vector")(
            state
        )
        return score_item(self, features, query, item_table(item), regularizer)
