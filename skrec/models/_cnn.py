"""CNNClassifier: a convolutional sequence recommender (Caser, Tang & Wang 2018)."""

from .._tf import keras
from ._base import DeepRecommenderClassifier
from ._params import check_bool, check_int, check_non_negative, check_rate
from ._sequence import HistoryDropout, SequencePairwiseMixin, check_has_history, score_item


class CNNClassifier(SequencePairwiseMixin, DeepRecommenderClassifier):
    """Caser recommender: convolutions over the embedded sequence of recent items.

    Each row's history (the user's last ``N`` positive items before the row,
    from ``FeatureBuilder(history_length=N)``) is embedded as an ``N x d``
    "image", padding rows set to zero. Two kinds of filters read it:

    - horizontal filters of heights ``1 .. min(max_filter_height, N)`` span
      the full embedding width and slide over time, so a filter of height
      ``h`` detects a union-level pattern of ``h`` consecutive items; each
      feature map goes through batch normalisation and is max-pooled over
      time;
    - vertical filters are ``N x 1``: each is a learned weighted sum of the
      ``N`` item embeddings (a point-level pattern).

    Their outputs, after dropout, go through a ReLU layer of
    ``embedding_dim`` units (batch normalisation and dropout again), are
    concatenated with the user embedding and projected linearly to a
    ``d``-dimensional sequence vector ``s``. The logit of a positive
    interaction with item ``i`` is ``s . q_i + b_i`` with the item's own
    embedding ``q_i`` and bias ``b_i``, the form of the Caser paper [1]_;
    categorical side features and numeric features add a term
    ``MLP(side features)`` to it.

    The dot product, rather than an MLP over ``[s, q_i]``, scores the item:
    it is what Caser trains, an MLP learns a dot product poorly from little
    data [2]_, and ``s`` depends on the user and the history only, so ranking
    a catalogue for one user computes it once. Item-side features cannot
    interact with ``s`` through the dot product, so they enter the separate
    additive term, whose hidden layer can still learn crosses such as the
    user's stated interest matching the item's category.

    Parameters
    ----------
    embedding_dim : int, default=16
        Size ``d`` of the history, user and item embeddings and of the
        sequence vector.
    horizontal_filters : int, default=16
        Horizontal filters of each height.
    max_filter_height : int, default=4
        Tallest horizontal filter (heights ``1 .. min(max_filter_height, N)``).
    vertical_filters : int, default=4
        Number of vertical (``N x 1``) filters; 0 disables them.
    feature_embedding_dim : int, default=8
        Size of each categorical side-feature embedding.
    dropout : float, default=0.25
        Dropout rate on the convolution outputs and on the dense layer.
    batch_norm : bool, default=True
        Batch-normalise the horizontal feature maps (before pooling) and the
        dense layer, where the classic Conv -> BatchNorm -> MaxPool -> Dropout
        -> Dense stack puts it.
    share_item_embedding : bool, default=False
        Embed the history with the item embedding ``q`` instead of a separate
        table (Caser keeps them separate).
    history_dropout : float, default=0.0
        Fraction of the training rows (drawn anew each batch) whose sequence
        features are zeroed before they meet the user embedding, so that those
        rows are scored from the user and the item alone; at prediction every
        row uses its history. It trains the user embedding to rank on its own,
        which matters when the items to find are spread over the user's whole
        past rather than following the latest ones (see Notes).
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
    GRUClassifier : A recurrent network over the same history.
    skrec.preprocessing.FeatureBuilder : Produces this model's input; its
        ``history_length`` is ``N``.

    Notes
    -----
    A row with no history (all padding) gets the same, finite sequence
    features as any other empty history, so its score rests on the user,
    the item and the side features.

    Trained on each row's preceding items, the network learns what a user
    picks *next*, and it learns that faster than the user embedding learns
    the user's taste as a whole. Ranking from the latest items then favours
    what would follow the end of the user's log. That suits next-item
    recommendation; to find items from anywhere in the user's tastes (a
    random hold-out, a catalogue page), set ``history_dropout`` high (0.9
    on MovieLens-100k, with more epochs) so the user embedding carries the
    ranking and the history adjusts it.

    References
    ----------
    .. [1] Tang, J. and Wang, K. "Personalized Top-N Sequential
       Recommendation via Convolutional Sequence Embedding". WSDM 2018.
    .. [2] Rendle, S., Krichene, W., Zhang, L. and Anderson, J. "Neural
       Collaborative Filtering vs. Matrix Factorization Revisited".
       RecSys 2020.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skrec.datasets import make_interactions
    >>> from skrec.models import CNNClassifier
    >>> from skrec.preprocessing import FeatureBuilder
    >>> X, y = make_interactions(n_users=50, n_items=40, n_interactions=2000,
    ...                          random_state=0, return_X_y=True)
    >>> pipe = make_pipeline(FeatureBuilder(history_length=5),
    ...                      CNNClassifier(epochs=2, random_state=0))
    >>> pipe.fit(X, y).predict_proba(X.head(3)).shape
    (3, 2)
    """

    def __init__(
        self,
        *,
        embedding_dim=16,
        horizontal_filters=16,
        max_filter_height=4,
        vertical_filters=4,
        feature_embedding_dim=8,
        dropout=0.25,
        batch_norm=True,
        share_item_embedding=False,
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
        self.horizontal_filters = horizontal_filters
        self.max_filter_height = max_filter_height
        self.vertical_filters = vertical_filters
        self.feature_embedding_dim = feature_embedding_dim
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.share_item_embedding = share_item_embedding
        self.history_dropout = history_dropout
        self.l2 = l2

    def _check_fit_input(self, X, y):
        self._check_params()
        check_has_history(type(self).__name__, X)
        return super()._check_fit_input(X, y)

    def _check_params(self):
        super()._check_params()
        who = type(self).__name__
        for name, low in [
            ("embedding_dim", 1),
            ("horizontal_filters", 1),
            ("max_filter_height", 1),
            ("vertical_filters", 0),
            ("feature_embedding_dim", 1),
        ]:
            check_int(who, name, getattr(self, name), low)
        check_rate(who, "dropout", self.dropout)
        check_rate(who, "history_dropout", self.history_dropout)
        check_non_negative(who, "l2", self.l2)
        for name in ("batch_norm", "share_item_embedding"):
            check_bool(who, name, getattr(self, name))

    def _build_network(self, features):
        regularizer = keras.regularizers.L2(self.l2) if self.l2 > 0 else None
        dim = self.embedding_dim
        n_users, user = features.user
        n_items, item = features.item
        item_table = keras.layers.Embedding(
            n_items, dim, embeddings_regularizer=regularizer, name="item_embedding"
        )
        history_table = item_table if self.share_item_embedding else keras.layers.Embedding(
            n_items, dim, embeddings_regularizer=regularizer, name="history_embedding"
        )
        _, history = features.history
        length = history.shape[1]
        # Padding (0) rows of the "image" are zero, whatever embedding 0 holds.
        present = keras.ops.expand_dims(keras.ops.cast(history > 0, "float32"), -1)
        sequence = keras.layers.Multiply(name="masked_history")(
            [history_table(history), present]
        )

        parts = []
        for height in range(1, min(self.max_filter_height, length) + 1):
            maps = keras.layers.Conv1D(
                self.horizontal_filters,
                height,
                activation="relu",
                kernel_regularizer=regularizer,
                name=f"horizontal_{height}",
            )(sequence)
            if self.batch_norm:
                maps = keras.layers.BatchNormalization(name=f"horizontal_{height}_bn")(maps)
            parts.append(keras.layers.GlobalMaxPooling1D(name=f"horizontal_{height}_pool")(maps))
        if self.vertical_filters:
            # An N x 1 filter is a weighted sum over the N positions: a Dense
            # layer on the time axis of the transposed (d, N) sequence.
            by_time = keras.layers.Permute((2, 1), name="vertical_transpose")(sequence)
            vertical = keras.layers.Dense(
                self.vertical_filters,
                use_bias=False,
                kernel_regularizer=regularizer,
                name="vertical",
            )(by_time)
            parts.append(keras.layers.Flatten(name="vertical_flat")(vertical))
        if len(parts) == 1:
            hidden = parts[0]
        else:
            hidden = keras.layers.Concatenate(name="convolutions")(parts)
        if self.dropout > 0:
            hidden = keras.layers.Dropout(self.dropout, name="conv_dropout")(hidden)
        hidden = keras.layers.Dense(
            dim, activation="relu", kernel_regularizer=regularizer, name="dense"
        )(hidden)
        if self.batch_norm:
            hidden = keras.layers.BatchNormalization(name="dense_bn")(hidden)
        if self.dropout > 0:
            hidden = keras.layers.Dropout(self.dropout, name="dense_dropout")(hidden)
        if self.history_dropout > 0:
            hidden = HistoryDropout(self.history_dropout, name="history_row_dropout")(hidden)
        user_vector = keras.layers.Embedding(
            n_users, dim, embeddings_regularizer=regularizer, name="user_embedding"
        )(user)
        joined = keras.layers.Concatenate(name="sequence_and_user")([hidden, user_vector])
        query = keras.layers.Dense(dim, kernel_regularizer=regularizer, name="sequence_vector")(
            joined
        )
        return score_item(self, features, query, item_table(item), regularizer)


# ------------------------------------------------- shared by sequence models
