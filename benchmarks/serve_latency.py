"""Benchmark: latency and throughput of examples/serve.py under a bounded local load.

A fitted pipeline is served in this process by ``examples/serve.py``
(``make_server`` on a free localhost port, one thread per connection), and
client threads send ``GET /recommend?user=U&k=10`` requests for random known
users over keep-alive ``http.client`` connections. Each load run is bounded:
``--requests`` requests split evenly over its client threads.

Rows of the table:

- ``recommend() direct``: the same-process baseline, ``skrec.recommend(model,
  [user], k=10)`` called in a loop by one thread with the same users;
- ``HTTP, 1 client``: one connection, one request at a time: the cost of
  HTTP, JSON and the handler on top of ``recommend``;
- ``HTTP, C clients, lock``: the server as shipped (model calls serialized by
  a lock), ``--concurrency`` clients at once;
- ``HTTP, C clients, parallel``: the same load on a server started with
  ``serialize=False`` (``--parallel``): model calls overlap.

Latency is measured by the client, from sending a request to having read its
whole answer (so it includes waiting for the lock); p50/p90/p99 are over all
requests of a row, requests/s is requests / wall time of the row. The ratio
column is the row's p50 over the direct p50. A few answers are checked
against ``recommend`` before timing, and non-200 answers are counted.

Model (unless ``--model PATH`` loads a saved pipeline):
``make_pipeline(FeatureBuilder(<ids only>), NCFClassifier(embedding_dim=16,
hidden_units=(64, 32, 16), negative_ratio=4, batch_size=256, l2=1e-5,
epochs=1, random_state=0))`` fitted on every MovieLens-100k rating as an
implicit positive (latency does not depend on how well the model is
trained). ``recommend`` for one user scores all 1,682 items minus those seen.

Usage::

    python benchmarks/serve_latency.py [--model PATH] [--data PATH]
                                       [--requests 2000] [--concurrency 8]
                                       [--epochs 1] [--quick]

Without ``--data``, ``../shared/data/ml-100k`` (relative to the repository
root) is read; when it is missing the script says so and uses
``make_interactions(n_users=943, n_items=1682, n_interactions=100_000)``
instead. ``--quick`` serves a model of a small synthetic log with 200
requests per row (a smoke test, about 30 s).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported

import argparse  # noqa: E402
import http.client  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

import skrec  # noqa: E402
from skrec import FeatureBuilder, load_movielens, make_interactions, recommend  # noqa: E402
from _report import cpus, load_average, print_table  # noqa: E402  (benchmarks/_report.py)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "ml-100k"
SEED = 0
K = 10
N_CHECKED = 20  # answers compared with recommend() before timing


def _import_serve():
    spec = importlib.util.spec_from_file_location("skrec_serve_example",
                                                  REPO_ROOT / "examples" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve = _import_serve()


def load_log(args):
    """Return (log with user_id, item_id, timestamp; description)."""
    if args.quick:
        log = make_interactions(n_users=200, n_items=150, n_interactions=8_000,
                                random_state=SEED)
        return log[["user_id", "item_id", "timestamp"]], "synthetic (--quick)"
    path = Path(args.data) if args.data else DEFAULT_DATA
    if path.is_dir():
        log = load_movielens(path)
        return log[["user_id", "item_id", "timestamp"]], f"MovieLens-100k ({path})"
    print(f"serve_latency: no MovieLens-100k at {path}; using make_interactions instead "
          "(figures are not MovieLens ones).")
    log = make_interactions(n_users=943, n_items=1682, n_interactions=100_000,
                            random_state=SEED)
    return log[["user_id", "item_id", "timestamp"]], "synthetic make_interactions(943, 1682)"


def build_model(args):
    """(fitted pipeline, description, fit seconds)."""
    if args.model:
        started = time.perf_counter()
        model = serve.load_model(args.model)
        return model, f"{args.model} (loaded)", time.perf_counter() - started
    from skrec.models import NCFClassifier

    log, source = load_log(args)
    X = log.reset_index(drop=True)
    y = np.ones(len(X), dtype=np.int64)  # every interaction an implicit positive
    pipe = make_pipeline(
        FeatureBuilder(user_features=[], item_features=[], context_features=[]),
        NCFClassifier(embedding_dim=16, hidden_units=(64, 32, 16), negative_ratio=4,
                      batch_size=256, l2=1e-5, epochs=args.epochs, random_state=SEED),
    )
    started = time.perf_counter()
    pipe.fit(X, y)
    description = (f"{source}: {len(X):,} interactions, {X['user_id'].nunique()} users, "
                   f"{X['item_id'].nunique()} items; NCF, {args.epochs} epoch(s)")
    return pipe, description, time.perf_counter() - started


def run_direct(model, users):
    """Latencies (s) of recommend() for each user, one caller; and wall seconds."""
    latencies = np.empty(len(users))
    started = time.perf_counter()
    for n, user in enumerate(users):
        t0 = time.perf_counter()
        recommend(model, [user], k=K)
        latencies[n] = time.perf_counter() - t0
    return latencies, time.perf_counter() - started


def run_http(server, users, concurrency):
    """Latencies (s) of GET /recommend for each user over ``concurrency`` clients.

    Returns (latencies, wall seconds, number of non-200 answers).
    """
    host, port = server.server_address[:2]
    shares = [users[c::concurrency] for c in range(concurrency)]
    latencies = [np.empty(len(share)) for share in shares]
    errors = [0] * concurrency
    ready = threading.Barrier(concurrency + 1)

    def client(c):
        connection = http.client.HTTPConnection(host, port, timeout=60)
        try:
            connection.connect()
            ready.wait()
            for n, user in enumerate(shares[c]):
                t0 = time.perf_counter()
                connection.request("GET", f"/recommend?user={user}&k={K}")
                response = connection.getresponse()
                response.read()
                latencies[c][n] = time.perf_counter() - t0
                errors[c] += response.status != 200
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(concurrency)]
    for t in threads:
        t.start()
    ready.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return np.concatenate(latencies), time.perf_counter() - started, sum(errors)


def check_answers(server, model, users):
    """Compare a few HTTP answers with recommend(); raise on a difference."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        for user in users:
            connection.request("GET", f"/recommend?user={user}&k={K}")
            response = connection.getresponse()
            body = json.loads(response.read())
            expected = recommend(model, [user], k=K)
            got = [item["item_id"] for item in body.get("items", [])]
            if response.status != 200 or got != expected["item_id"].tolist():
                raise AssertionError(
                    f"serve_latency: the server's answer for user {user!r} differs from "
                    f"recommend(): {response.status} {body}"
                )
    finally:
        connection.close()


def summary(label, latencies, wall_s, errors, direct_p50):
    ms = np.percentile(latencies, [50, 90, 99]) * 1000
    ratio = "1.00x" if direct_p50 is None else f"{ms[0] / direct_p50:.2f}x"
    return [label, f"{len(latencies):,}", f"{ms[0]:.1f}", f"{ms[1]:.1f}", f"{ms[2]:.1f}",
            f"{len(latencies) / wall_s:,.0f}", ratio, str(errors)]








def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None,
                        help="serve this saved pipeline (.joblib or .skrec) instead of "
                             "training one")
    parser.add_argument("--data", default=None,
                        help="the ml-100k directory (default: ../shared/data/ml-100k)")
    parser.add_argument("--requests", type=int, default=None,
                        help="requests (and direct calls) per row (default 2000; 200 "
                             "with --quick)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="client threads of the concurrent rows (default 8)")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="a small synthetic log and 200 requests per row (smoke test)")
    args = parser.parse_args(argv)
    if args.requests is None:
        args.requests = 200 if args.quick else 2000
    if args.requests < 1 or args.concurrency < 1 or args.epochs < 1:
        parser.error("--requests, --concurrency and --epochs must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    from skrec._tf import keras, tf

    model, description, fit_s = build_model(args)
    builder = serve.find_builder(model)
    rng = np.random.default_rng(SEED)
    users = rng.choice(np.asarray(builder.user_vocabulary_), size=args.requests).tolist()
    print(f"model: {description} ({'load' if args.model else 'fit'} {fit_s:.1f} s)")
    print(f"machine: {cpus()}, load average {load_average()} at start; "
          f"{platform.processor() or platform.machine()}")
    print(f"         skrec {skrec.__version__} | tensorflow {tf.__version__} | "
          f"keras {keras.__version__} | python {platform.python_version()}")
    print(f"protocol: {args.requests:,} GET /recommend?user=U&k={K} per row, random known "
          f"users (seed {SEED}), keep-alive http.client connections; server and clients "
          "in this process\n")

    rows = []
    recommend(model, [users[0]], k=K)  # trace the prediction graph before timing
    direct, wall_s = run_direct(model, users)
    direct_p50 = np.percentile(direct, 50) * 1000
    rows.append(summary("recommend() direct, 1 caller", direct, wall_s, 0, None))

    runs = [("HTTP, 1 client, lock", True, 1),
            (f"HTTP, {args.concurrency} clients, lock", True, args.concurrency),
            (f"HTTP, {args.concurrency} clients, parallel", False, args.concurrency)]
    for label, serialize, concurrency in runs:
        server = serve.make_server(model, port=0, serialize=serialize)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            check_answers(server, model, users[:N_CHECKED])
            latencies, wall_s, errors = run_http(server, users, concurrency)
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
        rows.append(summary(label, latencies, wall_s, errors, direct_p50))
        print(f"  done: {label}", flush=True)

    print()
    print_table(["run", "requests", "p50 ms", "p90 ms", "p99 ms", "requests/s",
                 "p50 / direct", "errors"], rows)
    print(f"\nnotes: latency = client-side send-to-last-byte (HTTP rows) or the recommend() "
          f"call (direct row);\n       lock = model calls serialized (the server's "
          f"default), parallel = serialize=False;\n       {N_CHECKED} answers per server "
          f"checked against recommend() before timing.")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
