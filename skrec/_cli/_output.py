"""What the command line prints: progress on stderr, results on stdout."""

import json
import sys
import time


class CLIError(Exception):
    """A user mistake: printed as one line, exit status 2, no traceback."""


class Reporter:
    """Progress messages on stderr at a verbosity level (0 quiet, 1 normal, 2 verbose)."""

    def __init__(self, level=1, stream=None):
        self.level = level
        self.stream = sys.stderr if stream is None else stream

    def say(self, message):
        if self.level >= 1:
            print(message, file=self.stream, flush=True)

    def detail(self, message):
        if self.level >= 2:
            print(message, file=self.stream, flush=True)

    def epoch_callbacks(self, total):
        """Keras callbacks printing one line per training epoch (none when quiet)."""
        if self.level < 1:
            return []
        from .._tf import keras

        reporter = self

        class EpochProgress(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self._started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                seconds = time.perf_counter() - self._started
                figures = "  ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items())
                reporter.say(f"  epoch {epoch + 1}/{total}  {figures}  ({seconds:.1f} s)")

        return [EpochProgress()]


def print_frame(frame, fmt, stream=None, float_digits=4):
    """Print a DataFrame as an aligned table, JSON records or CSV."""
    stream = sys.stdout if stream is None else stream
    if fmt == "json":
        records = json.loads(frame.to_json(orient="records", double_precision=10))
        print(json.dumps(records, indent=2), file=stream)
    elif fmt == "csv":
        frame.to_csv(stream, index=False, float_format=f"%.{float_digits + 2}g")
    else:
        print(frame.round(float_digits).to_string(index=False), file=stream)
