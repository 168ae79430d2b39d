"""Fit a skrec pipeline on Parquet files larger than memory, one chunk at a time."""

import numbers
import sys
import threading
import time
from pathlib import Path
from queue import Full, Queue

import numpy as np
from sklearn.pipeline import Pipeline

__all__ = ["fit_out_of_core"]


def fit_out_of_core(
    pipeline,
    source,
    *,
    label=None,
    columns=None,
    chunk_rows=500_000,
    shuffle_row_groups=True,
    verbose=0,
):
    """Fit a pipeline on Parquet data larger than memory, streaming it in chunks.

    The data is read in chunks of at most ``chunk_rows`` rows and never held
    whole. One pass per preprocessing step learns its statistics with
    ``partial_fit`` (vocabularies, counts, moments: the first pass learns the
    first step, the next pass the second step on the first step's output,
    ...); then each training epoch streams the chunks again through the
    fitted steps into the model's ``partial_fit``, which trains one epoch
    over the chunk (its negatives drawn inside the chunk). Peak memory is
    set by ``chunk_rows`` and by what the steps keep (vocabularies, the seen
    (user, item) pairs), not by the number of rows.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Unfitted pipeline whose steps all have ``partial_fit``:
        :class:`~skrec.InteractionNormalizer` (any strategy but ``bm25``),
        :class:`~skrec.FeatureBuilder` (``history_length=0``) and a deep
        recommender such as :class:`~skrec.NCFClassifier`. The final
        estimator's ``epochs`` sets the number of training passes.
    source : str, path or list of them
        A Parquet file, a directory of Parquet files (read in name order) or
        a list of files.
    label : str or None, default=None
        Column holding the binary label (kept out of the features). None:
        every row is an implicit positive (the model then needs
        ``negative_ratio > 0``).
    columns : list of str or None, default=None
        Feature columns to read; None reads every column but ``label``.
    chunk_rows : int, default=500_000
        Most rows per chunk (a chunk never spans two row groups).
    shuffle_row_groups : bool, default=True
        Train on the row groups in a new random order each epoch (seeded by
        the model's ``random_state``); rows are shuffled within each chunk.
        Logs are often sorted by time, and SGD on time-ordered chunks drifts
        toward the last ones.
    verbose : int, default=0
        1 prints one line per pass to stderr.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        The same pipeline, fitted: ``predict_proba``, :func:`skrec.recommend`,
        :func:`skrec.save` work as after ``fit``.

    See Also
    --------
    skrec.FeatureBuilder.partial_fit : What a streamed FeatureBuilder keeps.

    Notes
    -----
    The result is close to, not equal to, ``pipeline.fit`` on the whole log:
    rows are shuffled within chunks rather than across the log, a sampled
    negative avoids the user's positives of its own chunk only, and
    ``FeatureBuilder(numeric_missing="median")`` fills with an estimated
    median. Reading Parquet needs pyarrow (``pip install "skrec-deep[parquet]"``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.pipeline import make_pipeline
    >>> from skrec import FeatureBuilder, NCFClassifier, make_interactions
    >>> from skrec import fit_out_of_core, recommend
    >>> log = make_interactions(n_users=50, n_items=30, n_interactions=2000, random_state=0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "log.parquet"
    >>> log.to_parquet(path, row_group_size=500)
    >>> pipe = make_pipeline(FeatureBuilder(),
    ...                      NCFClassifier(epochs=1, random_state=0))
    >>> pipe = fit_out_of_core(pipe, path, label="label", chunk_rows=400)
    >>> pipe[0].n_samples_fit_
    2000
    >>> recommend(pipe, ["u0001"], k=3)["rank"].tolist()
    [1, 2, 3]
    """
    steps = _check_pipeline(pipeline)
    if (not isinstance(chunk_rows, numbers.Integral) or isinstance(chunk_rows, bool)
            or chunk_rows < 1):
        raise ValueError(
            f"fit_out_of_core: chunk_rows={chunk_rows!r} is invalid; use an integer "
            ">= 1, e.g. 500_000 (it bounds the rows held in memory at once)."
        )
    reader = _ParquetChunks(source, label=label, columns=columns, chunk_rows=int(chunk_rows))
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if verbose else (lambda text: None)
    say(f"fit_out_of_core: {reader.n_rows:,} rows in {len(reader.units)} row group(s) "
        f"of {len(reader.files)} file(s), chunks of at most {chunk_rows:,} rows")
    transformers, model = steps[:-1], steps[-1]
    for j, step in enumerate(transformers):
        started = time.perf_counter()
        for X, y in _prefetched(reader.chunks(), transformers[:j]):
            step.partial_fit(X, y)
        say(f"  pass {j + 1}: {type(step).__name__}.partial_fit "
            f"({time.perf_counter() - started:.1f} s)")
    epochs = getattr(model, "epochs", 1) or 1
    seed = getattr(model, "random_state", None)
    rng = np.random.default_rng(seed if isinstance(seed, numbers.Integral) else None)
    for epoch in range(epochs):
        started = time.perf_counter()
        order = rng.permutation(len(reader.units)) if shuffle_row_groups else None
        n_rows = 0
        for X, y in _prefetched(reader.chunks(order), transformers):
            model.partial_fit(X, y, classes=np.array([0, 1]))
            n_rows += len(y)
        elapsed = time.perf_counter() - started
        say(f"  epoch {epoch + 1}/{epochs}: {n_rows:,} rows in {elapsed:.1f} s "
            f"({n_rows / max(elapsed, 1e-9):,.0f} rows/s)")
    return pipeline


def _prefetched(chunks, transformers):
    """Chunks passed through fitted ``transformers``, one chunk read ahead.

    A background thread reads and transforms the next chunk while the caller
    works on the current one (TensorFlow and Parquet decoding release the
    GIL), so at most two chunks are in memory. Errors are re-raised here.
    """

    def produce():
        try:
            for X, y in chunks:
                for step in transformers:
                    X = step.transform(X)
                if not put((X, y)):
                    return
            put(_DONE)
        except BaseException as error:  # handed to the consumer
            put(error)

    def put(item):
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    queue, stop = Queue(maxsize=1), threading.Event()
    worker = threading.Thread(target=produce, name="skrec-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


_DONE = object()


def _check_pipeline(pipeline):
    if not isinstance(pipeline, Pipeline):
        raise TypeError(
            f"fit_out_of_core: expected a sklearn Pipeline, got {type(pipeline).__name__}; "
            "wrap the steps with sklearn.pipeline.make_pipeline(...)."
        )
    steps = [step for _, step in pipeline.steps if step not in (None, "passthrough")]
    missing = [type(step).__name__ for step in steps if not hasattr(step, "partial_fit")]
    if missing:
        raise ValueError(
            f"fit_out_of_core: step(s) {missing} have no partial_fit, so they cannot "
            "learn from chunks; use InteractionNormalizer, FeatureBuilder and a deep "
            "recommender (NCFClassifier, TwoTowerClassifier, ...), or fit in memory."
        )
    return steps


class _ParquetChunks:
    """Chunks ``(X, y)`` of Parquet files as pandas objects, row group by row group."""

    def __init__(self, source, *, label, columns, chunk_rows):
        try:
            import pyarrow.parquet as pq
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError(
                "fit_out_of_core reads Parquet with pyarrow: pip install "
                '"skrec-deep[parquet]" (or pip install pyarrow).'
            ) from error
        self.files = _parquet_files(source)
        self.label = label
        self.chunk_rows = chunk_rows
        self._pq = pq
        schema = pq.read_schema(self.files[0])
        names = list(schema.names)
        if label is not None and label not in names:
            raise ValueError(
                f"fit_out_of_core: label column {label!r} is not in {str(self.files[0])!r} "
                f"(columns {names}); pass label='<your label column>', or label=None "
                "when every row is a positive."
            )
        if columns is None:
            columns = [c for c in names if c != label and not c.startswith("__index_level_")]
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise ValueError(
                f"fit_out_of_core: column(s) {unknown} are not in {str(self.files[0])!r} "
                f"(columns {names}); fix columns=."
            )
        self.columns = list(columns)
        self.units = []
        self.n_rows = 0
        for path in self.files:
            metadata = pq.ParquetFile(path).metadata
            for group in range(metadata.num_row_groups):
                self.units.append((path, group))
                self.n_rows += metadata.row_group(group).num_rows

    def chunks(self, order=None):
        read = self.columns + ([self.label] if self.label is not None else [])
        units = self.units if order is None else [self.units[i] for i in order]
        handles = {}
        for path, group in units:
            handle = handles.get(path)
            if handle is None:
                handles.clear()  # one open file at a time
                handle = handles[path] = self._pq.ParquetFile(path)
            for batch in handle.iter_batches(
                batch_size=self.chunk_rows, row_groups=[group], columns=read
            ):
                frame = batch.to_pandas()
                if self.label is None:
                    y = np.ones(len(frame), dtype=np.int64)
                else:
                    y = frame.pop(self.label).to_numpy()
                    if np.issubdtype(y.dtype, np.floating) and np.isnan(y).any():
                        raise ValueError(
                            f"fit_out_of_core: label column {self.label!r} has missing "
                            f"values in {str(path)!r} (row group {group}); drop or fill "
                            "those rows first."
                        )
                yield frame, y


def _parquet_files(source):
    sources = source if isinstance(source, (list, tuple)) else [source]
    files = []
    for item in sources:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in (".parquet", ".pq"))
            if not found:
                raise ValueError(
                    f"fit_out_of_core: directory {str(path)!r} holds no .parquet files."
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(
                f"fit_out_of_core: {str(path)!r} does not exist; pass a Parquet file, a "
                "directory of them, or a list of files."
            )
    return files
