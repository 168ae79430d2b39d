"""Serve recommendations over HTTP: a saved skrec pipeline behind a small JSON service.

The model is loaded once at start; every request is answered by
:func:`skrec.recommend` on it. Only the standard library's ``http.server`` is
used, so the example runs anywhere skrec does.

Run it on a pipeline saved with ``joblib.dump`` (or ``skrec.save``)::

    python examples/serve.py --model recommender.joblib [--host 127.0.0.1] [--port 8000]
    curl 'http://127.0.0.1:8000/recommend?user=7&k=5'
    curl 'http://127.0.0.1:8000/health'

Endpoints (GET only; every answer is JSON):

- ``/health``: ``{"status": "ok", "model": "NCFClassifier", "n_users": 943,
  "n_items": 1682}``.
- ``/recommend?user=U[&k=10][&fallback=popular][&exclude_seen=false]``:
  ``{"user": 7, "k": 5, "fallback": false, "items": [{"item_id": 50,
  "score": 0.93, "rank": 1}, ...]}``, the user's ``k`` best unseen items.
  The user id is matched to the training ids' type (``user=7`` finds the
  integer id 7). A user unknown to the model gets 404 unless
  ``fallback=popular`` asks for the most popular items (``"fallback": true``).

Errors are ``{"error": "..."}`` (plus ``"parameter"`` for a bad parameter):
400 for a missing or invalid parameter, 404 for an unknown user or path, 405
for a method other than GET, 500 for a failure inside the model (the
traceback goes to the server's log, never to the client). Per-request log
lines are printed only with ``--verbose``.

A ``.joblib`` file runs code from the file when it is loaded: serve only
files you trust (``skrec.save(model, "m.skrec")`` writes a format that loads
without running code from the file; this script serves both).
``ThreadingHTTPServer`` is a development-grade server (no TLS, no
authentication, a thread per connection): in production put it behind a
reverse proxy, or move the handler's logic into a WSGI/ASGI application.

With ``SKREC_SMOKE=1`` in the environment and no ``--model``, the script
trains a tiny model, serves it on a free port, sends itself a ``/health`` and
a ``/recommend`` request, prints the answers and exits (a self-test, about
20 s on 2 CPU cores).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from http import HTTPStatus  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import parse_qs, urlsplit  # noqa: E402

import joblib  # noqa: E402

import skrec  # noqa: E402
from skrec import FeatureBuilder, recommend  # noqa: E402

__all__ = ["RecommenderServer", "load_model", "main", "make_server", "to_user_id"]

logger = logging.getLogger("skrec.serve")

DEFAULT_K = 10
DEFAULT_MAX_K = 1000
PARAMETERS = ("user", "k", "fallback", "exclude_seen")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
_USAGE = "GET /health, GET /recommend?user=U&k=10"


class RequestError(Exception):
    """A client mistake: the HTTP status and the message sent back as JSON."""

    def __init__(self, status, message, parameter=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter


def find_builder(model):
    """The pipeline's first FeatureBuilder (the one :func:`skrec.recommend` uses).

    Parameters
    ----------
    model : sklearn.pipeline.Pipeline
        A fitted pipeline.

    Returns
    -------
    builder : FeatureBuilder

    Raises
    ------
    ValueError
        If ``model`` is not a pipeline with a fitted FeatureBuilder before its
        final step.
    """
    steps = getattr(model, "steps", None)
    builders = [s for _, s in (steps or [])[:-1] if isinstance(s, FeatureBuilder)]
    if not builders or not hasattr(builders[0], "user_vocabulary_"):
        raise ValueError(
            f"serve: the model must be a fitted Pipeline with a FeatureBuilder step before "
            f"its final estimator; got {type(model).__name__}"
            + (f" with steps {[name for name, _ in steps]}" if steps else "") + "."
        )
    return builders[0]


def load_model(path):
    """Load a fitted pipeline saved with ``joblib.dump`` or ``skrec.save``.

    Parameters
    ----------
    path : str or path-like
        A ``.joblib`` file (``joblib.dump`` or ``skrec.save``) or a ``.skrec``
        file (``skrec.save``).

    Returns
    -------
    model : sklearn.pipeline.Pipeline

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ValueError
        If the file's suffix is neither ``.joblib`` nor ``.skrec``, or it does
        not hold a pipeline with a fitted FeatureBuilder.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"serve: model file {str(path)!r} does not exist.")
    # The operator names the file to serve; unpickling a .joblib runs its code.
    # skrec.load also warns when the file was saved under other library versions.
    model = skrec.load(path, trusted=True)
    find_builder(model)
    return model


def to_user_id(text, vocabulary):
    """A user id from the query string, as the type of the training ids.

    Parameters
    ----------
    text : str
        The ``user`` parameter.
    vocabulary : pandas.Index
        ``FeatureBuilder.user_vocabulary_``.

    Returns
    -------
    user : str, int or float
        ``text``, or ``text`` as an integer (integer or object vocabulary,
        digits only) or a float (float or object vocabulary): the first of
        these found in ``vocabulary``; when none is, the conversion to the
        vocabulary's type where it parses, else ``text``.
    """
    kind = vocabulary.dtype.kind
    candidates = [text]
    if kind in "iuO" and re.fullmatch(r"[+-]?[0-9]+", text):
        candidates.append(int(text))
    if kind in "fO":
        with contextlib.suppress(ValueError):
            candidates.append(float(text))
    for candidate in candidates:
        if vocabulary.get_indexer([candidate])[0] >= 0:
            return candidate
    return candidates[1] if kind in "iuf" and len(candidates) > 1 else text


class RecommenderServer(ThreadingHTTPServer):
    """An HTTP server answering recommendation requests for one fitted pipeline.

    Parameters
    ----------
    address : tuple of (str, int)
        Host and port to listen on; port 0 picks a free port (see
        ``server_address`` after construction).
    model : sklearn.pipeline.Pipeline
        A fitted pipeline with a FeatureBuilder (see :func:`skrec.recommend`).
    max_k : int, default=1000
        The largest ``k`` a request may ask for.
    serialize : bool, default=True
        Run one model call at a time (see Notes).
    verbose : bool, default=False
        Log one line per request (logger ``skrec.serve``, level INFO).

    Notes
    -----
    Thread safety. After the first call the prediction path of skrec's Keras
    models only reads Python state: ``recommend`` builds new frames, the
    FeatureBuilder's transform and the estimator's input checks set no
    attribute, and the network runs through a ``tf.function`` cached per
    model (``skrec/models/_scikeras_compat.py``) or a sub-network cached per
    model (``_sequence.py``, ``_two_tower.py``), both safe to call from
    several threads once built. The first calls are not: two threads can
    both miss a cache and build and trace their own copy (wasted work, the
    last one is kept). And FeatureBuilder's history transform enters
    ``warnings.catch_warnings``, which swaps process-wide state, on every
    call (harmless for the results). Eight threads calling
    unwarmed NCF, two-tower and GRU models gave the same rankings as serial
    calls, but that is a test, not a guarantee (nor one for other estimators
    in a pipeline), so by default model calls hold a lock and run one at a
    time. TensorFlow already spreads one call over the cores: on a shared
    2-core machine, letting calls overlap gained 0-20 % throughput in
    ``benchmarks/serve_latency.py`` (MovieLens-100k, NCF, 8 clients) from one
    run to the next. ``serialize=False`` lets calls overlap;
    either way the server makes one call before serving (warm-up), so the
    caches are built by then.
    """

    def __init__(self, address, model, *, max_k=DEFAULT_MAX_K, serialize=True, verbose=False):
        self.model = model
        self.builder = find_builder(model)
        self.max_k = int(max_k)
        self.verbose = verbose
        self.model_name = type(model.steps[-1][1]).__name__
        self._lock = threading.Lock() if serialize else contextlib.nullcontext()
        super().__init__(address, RecommendHandler)

    @property
    def url(self):
        """The server's base URL, e.g. ``http://127.0.0.1:8000``."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def health(self):
        """The ``/health`` answer."""
        return {
            "status": "ok",
            "model": self.model_name,
            "n_users": len(self.builder.user_vocabulary_),
            "n_items": len(self.builder.item_vocabulary_),
        }

    def recommend(self, user, k, *, exclude_seen=True):
        """``skrec.recommend(model, [user], k=k)`` under the model lock."""
        with self._lock:
            return recommend(self.model, [user], k=k, exclude_seen=exclude_seen)

    def warm_up(self):
        """Score one known user, so the first request does not trace the graph."""
        vocabulary = self.builder.user_vocabulary_
        if len(vocabulary):
            self.recommend(vocabulary[0], 1)


def make_server(model, host="127.0.0.1", port=0, *, max_k=DEFAULT_MAX_K, serialize=True,
                verbose=False, warm_up=True):
    """A :class:`RecommenderServer` bound to ``host:port``, ready to ``serve_forever``.

    Parameters
    ----------
    model : sklearn.pipeline.Pipeline
        A fitted pipeline with a FeatureBuilder.
    host : str, default="127.0.0.1"
        Interface to listen on (``"0.0.0.0"``: every interface).
    port : int, default=0
        Port to listen on; 0 picks a free one (read it from ``server.url``).
    max_k : int, default=1000
        The largest ``k`` a request may ask for.
    serialize : bool, default=True
        One model call at a time (see :class:`RecommenderServer`).
    verbose : bool, default=False
        Log one line per request.
    warm_up : bool, default=True
        Score one user before returning (builds the prediction graph).

    Returns
    -------
    server : RecommenderServer
        Call ``serve_forever()`` (e.g. in a thread), then ``shutdown()`` and
        ``server_close()``.
    """
    server = RecommenderServer(
        (host, port), model, max_k=max_k, serialize=serialize, verbose=verbose
    )
    if warm_up:
        try:
            server.warm_up()
        except BaseException:
            server.server_close()
            raise
    return server


class RecommendHandler(BaseHTTPRequestHandler):
    """Answers ``GET /health`` and ``GET /recommend`` with JSON."""

    protocol_version = "HTTP/1.1"  # keep-alive: a client can reuse its connection
    # Headers and body are two writes: with Nagle's algorithm the body waits for
    # the client's delayed ACK (about 40 ms per request on Linux).
    disable_nagle_algorithm = True
    server_version = f"skrec-serve/{skrec.__version__}"

    def do_GET(self):  # noqa: N802 - the name http.server dispatches to
        try:
            parts = urlsplit(self.path)
            if parts.path == "/health":
                self._send_json(HTTPStatus.OK, self.server.health())
            elif parts.path == "/recommend":
                self._send_json(HTTPStatus.OK, self._recommend(parts.query))
            else:
                raise RequestError(
                    HTTPStatus.NOT_FOUND,
                    f"no endpoint {parts.path!r}; the endpoints are {_USAGE}.",
                )
        except RequestError as exc:
            body = {"error": exc.message}
            if exc.parameter is not None:
                body["parameter"] = exc.parameter
            self._send_json(exc.status, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away; nothing to answer
        except Exception:
            # Details stay in the server's log: a traceback can leak internals.
            logger.exception("error while answering GET %s", self.path)
            self._send_json(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"error": "internal server error while answering the request; "
                          "the details are in the server's log."},
            )

    def _method_not_allowed(self):
        # Leftover request body would be read as the next request: close.
        self.close_connection = True
        self._send_json(
            HTTPStatus.METHOD_NOT_ALLOWED,
            {"error": f"method {self.command} is not allowed; use {_USAGE}."},
            headers={"Allow": "GET", "Connection": "close"},
            body=self.command != "HEAD",
        )

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _method_not_allowed

    def _recommend(self, query):
        params = _parse_query(query)
        server = self.server
        text = params.get("user")
        if text is None:
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                "missing query parameter 'user': name the user to recommend to, "
                "e.g. /recommend?user=7&k=10.",
                "user",
            )
        if not text.strip():
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                "query parameter 'user' is empty: give a user id, e.g. user=7.",
                "user",
            )
        k = _parse_k(params.get("k"), server.max_k)
        fallback = params.get("fallback")
        if fallback not in (None, "popular"):
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                f"query parameter fallback={fallback!r} is not supported: use "
                "fallback=popular (the most popular items for unknown users) or leave "
                "it out.",
                "fallback",
            )
        exclude_seen = _parse_bool(params.get("exclude_seen"), "exclude_seen", True)
        vocabulary = server.builder.user_vocabulary_
        user = to_user_id(text, vocabulary)
        known = vocabulary.get_indexer([user])[0] >= 0
        if not known and fallback is None:
            raise RequestError(
                HTTPStatus.NOT_FOUND,
                f"unknown user {text!r}: not one of the model's {len(vocabulary):,} "
                "training users. Add &fallback=popular to get the most popular items "
                "instead.",
            )
        top = server.recommend(user, k, exclude_seen=exclude_seen)
        return {
            "user": _plain(user),
            "k": k,
            "fallback": not known,
            "items": [
                {"item_id": item, "score": score, "rank": rank}
                for item, score, rank in zip(
                    top["item_id"].tolist(), top["score"].tolist(), top["rank"].tolist()
                )
            ],
        }

    def _send_json(self, status, payload, *, headers=None, body=True):
        data = json.dumps(payload, default=_plain).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        # Quiet by default: a log line per request slows a busy server down.
        if self.server.verbose:
            logger.info("%s %s", self.address_string(), format % args)


def _parse_query(query):
    """Query string -> {name: value}; unknown or repeated names are a 400."""
    try:
        pairs = parse_qs(query, keep_blank_values=True, strict_parsing=False,
                         max_num_fields=20)
    except ValueError:
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            f"too many query parameters; the parameters are {', '.join(PARAMETERS)}.",
        ) from None
    params = {}
    for name, values in pairs.items():
        if name not in PARAMETERS:
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                f"unknown query parameter {name!r} (value {values[0]!r}); the parameters "
                f"are {', '.join(PARAMETERS)}.",
                name,
            )
        if len(values) > 1:
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                f"query parameter {name!r} is given {len(values)} times "
                f"({', '.join(map(repr, values))}); give it once (one user per request).",
                name,
            )
        params[name] = values[0]
    return params


def _parse_k(text, max_k):
    if text is None:
        return min(DEFAULT_K, max_k)
    # Digits only: int() would also take " 5", "+5" and "1_0".
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < 1:
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            f"query parameter k={text!r} is not a positive integer: give the number "
            f"of items to return, from 1 to {max_k}, e.g. k=10.",
            "k",
        )
    if int(text) > max_k:
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            f"query parameter k={text} is above the limit of this server: ask for at "
            f"most k={max_k} items.",
            "k",
        )
    return int(text)


def _parse_bool(text, name, default):
    if text is None:
        return default
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise RequestError(
        HTTPStatus.BAD_REQUEST,
        f"query parameter {name}={text!r} is not a boolean: use {name}=true or "
        f"{name}=false.",
        name,
    )


def _plain(value):
    """NumPy scalars and other ids -> JSON-ready Python values."""
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


# ------------------------------------------------------------------ script
def _serve_in_thread(server):
    thread = threading.Thread(target=server.serve_forever, name="skrec-serve", daemon=True)
    thread.start()
    return thread


def _get(url):
    """(status, JSON body) of a GET, for the smoke test."""
    # No proxy: an http_proxy setting must not route localhost requests away.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.load(exc)


def run_smoke():
    """Train a tiny model, serve it on a free port, query it, print the answers."""
    from sklearn.pipeline import make_pipeline

    from skrec import NCFClassifier, make_interactions

    started = time.perf_counter()
    X, y = make_interactions(
        n_users=50, n_items=40, n_interactions=2000, random_state=0, return_X_y=True
    )
    pipe = make_pipeline(FeatureBuilder(), NCFClassifier(epochs=1, random_state=0)).fit(X, y)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recommender.joblib"
        joblib.dump(pipe, path)
        model = load_model(path)
    server = make_server(model, port=0)
    thread = _serve_in_thread(server)
    try:
        user = _plain(server.builder.user_vocabulary_[0])
        print(f"smoke test: serving a tiny NCF model on {server.url}")
        for url in (f"{server.url}/health",
                    f"{server.url}/recommend?user={user}&k=5",
                    f"{server.url}/recommend?user=no-such-user&k=3"):
            status, body = _get(url)
            print(f"GET {url[len(server.url):]} -> {status}\n  {json.dumps(body)}")
            expected = 404 if "no-such-user" in url else 200
            if status != expected:
                print(f"smoke test: expected status {expected}", file=sys.stderr)
                return 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    print(f"smoke test passed in {time.perf_counter() - started:.1f} s")
    return 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Serve top-k recommendations of a saved skrec pipeline over HTTP.",
        epilog="example: python examples/serve.py --model recommender.joblib, then "
               "curl 'http://127.0.0.1:8000/recommend?user=7&k=5'",
    )
    parser.add_argument("--model", help="the fitted pipeline: a .joblib or .skrec file")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1; 0.0.0.0: all)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--max-k", type=int, default=DEFAULT_MAX_K,
                        help=f"largest k a request may ask for (default {DEFAULT_MAX_K})")
    parser.add_argument("--parallel", action="store_true",
                        help="let requests call the model concurrently (default: one "
                             "model call at a time)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if args.model is None and os.environ.get("SKREC_SMOKE") != "1":
        parser.error("--model PATH is required (a pipeline saved with joblib.dump or "
                     "skrec.save); or set SKREC_SMOKE=1 to run the self-test.")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be between 0 and 65535, got {args.port}.")
    if args.max_k < 1:
        parser.error(f"--max-k must be a positive integer, got {args.max_k}.")
    return args


def main(argv=None):
    """Run the server until Ctrl-C (or the smoke test); returns the exit status."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    if args.model is None:
        return run_smoke()
    started = time.perf_counter()
    try:
        model = load_model(args.model)
        server = make_server(model, args.host, args.port, max_k=args.max_k,
                             serialize=not args.parallel, verbose=args.verbose)
    except (FileNotFoundError, ValueError, OSError) as exc:
        print(f"serve: error: {exc}", file=sys.stderr)
        return 2
    health = server.health()
    print(f"serving {args.model} ({health['model']}, {health['n_users']:,} users, "
          f"{health['n_items']:,} items; ready in {time.perf_counter() - started:.1f} s) "
          f"on {server.url}; Ctrl-C stops", flush=True)
    # SIGTERM (docker stop, systemd) stops the server as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("serve: stopped", flush=True)
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
