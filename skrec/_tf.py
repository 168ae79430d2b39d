"""Import TensorFlow and Keras without flooding the user's console.

TensorFlow >= 2.17 writes C++ log lines (oneDNN notice, CUDA probing) to file
descriptor 2 while it is imported, before any Python-level setting can silence
them; ``TF_CPP_MIN_LOG_LEVEL`` no longer covers them. We point descriptor 2 at
a temporary file for the duration of the import and replay it only if the
import fails, so genuine errors are never hidden.

We also set ``TF_OVERRIDE_GLOBAL_THREADPOOL=1`` (unless the environment sets
it): TensorFlow then gives each session its own intra-op thread pool instead
of the process-wide one, which lets predictions run single-threaded kernels
whatever the process's thread settings (:mod:`skrec.models._inference`).
TensorFlow reads the variable when it starts its runtime (the first
operation), so it has no effect when TensorFlow ran before skrec was
imported: ``STARTED_BEFORE_SKREC`` records that case (predictions warn).
"""

import contextlib
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _runtime_started():
    """True when TensorFlow's eager runtime already runs in this process."""
    if "tensorflow" not in sys.modules:
        return False
    try:
        from tensorflow.python.eager import context
    except ImportError:  # pragma: no cover - another TensorFlow layout
        return True
    return context.context()._context_handle is not None


# True when TensorFlow ran before skrec could set the variable (a warning's cue).
STARTED_BEFORE_SKREC = False
if "TF_OVERRIDE_GLOBAL_THREADPOOL" not in os.environ:
    if _runtime_started():
        STARTED_BEFORE_SKREC = True
    else:
        os.environ["TF_OVERRIDE_GLOBAL_THREADPOOL"] = "1"


@contextlib.contextmanager
def _quiet_fd2():
    if os.environ.get("SKREC_VERBOSE_TF"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real descriptor (e.g. some notebooks)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            os.write(2, sink.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _import():
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return sys.modules["tensorflow"], sys.modules["keras"]
    with _quiet_fd2():
        import tensorflow as tf
        import keras

    tf.get_logger().setLevel("ERROR")
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover - absl ships with tensorflow
        pass
    return tf, keras


tf, keras = _import()
