"""Benchmark: out-of-core training from Parquet, peak memory as the log grows.

For each size (default 1M, 5M and 20M rows) a ``make_interactions`` log
(20,000 users, 5,000 items, random_state=0) is written to Parquet (row groups
of 1M rows; generated once and cached in ``--data-dir``), then a fresh Python
process fits

    make_pipeline(InteractionNormalizer(), FeatureBuilder(),
                  NCFClassifier(epochs=1, batch_size=1024, random_state=0))

with :func:`skrec.fit_out_of_core` (chunks of ``--chunk-rows`` rows) and
reports its training time and peak RSS (``VmHWM`` of that process: the
interpreter, TensorFlow, the model and everything the fit held). A second
fresh process per size (up to ``--in-memory-max`` rows) fits the same
pipeline in memory (``pd.read_parquet`` + ``pipeline.fit``) as the baseline.
Each process also reports its RSS right after importing TensorFlow, the
floor no fit goes below.

Goal (issue 6): the peak RSS of the largest out-of-core fit at most 1.5x that
of the smallest.

Usage::

    python benchmarks/out_of_core.py [--sizes 1000000,5000000,20000000]
        [--chunk-rows 500000] [--in-memory-max 5000000] [--data-dir DIR] [--quick]

``--quick`` runs sizes 50k and 200k with 20k-row chunks (a smoke test).
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

N_USERS, N_ITEMS = 20_000, 5_000
ROW_GROUP = 1_000_000


def _rss_mb():
    """Peak RSS of this process image, MB.

    ``/proc/self/status`` VmHWM, not ``ru_maxrss``: on Linux the latter keeps
    the parent's RSS at the moment of ``fork`` across ``exec``, so a child of
    a big parent would report the parent's size.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def _current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _pipeline():
    from sklearn.pipeline import make_pipeline

    from skrec import FeatureBuilder, InteractionNormalizer, NCFClassifier

    return make_pipeline(
        InteractionNormalizer(),
        FeatureBuilder(),
        NCFClassifier(epochs=1, batch_size=1024, random_state=0),
    )


def child(path, mode, chunk_rows):
    """Run in a fresh process: fit one way, print one JSON line."""
    from skrec._tf import tf  # noqa: F401  (the floor: interpreter + TensorFlow)

    floor = _current_rss_mb()
    from skrec import fit_out_of_core

    pipe = _pipeline()
    started = time.perf_counter()
    if mode == "stream":
        fit_out_of_core(pipe, path, label="label", chunk_rows=chunk_rows)
    else:
        import pandas as pd

        log = pd.read_parquet(path)
        y = log.pop("label").to_numpy()
        pipe.fit(log, y)
    fit_s = time.perf_counter() - started
    fb = pipe[1]
    print(json.dumps({
        "rows": int(fb.n_samples_fit_),
        "fit_s": fit_s,
        "peak_mb": _rss_mb(),
        "floor_mb": floor,
        "seen_pairs": int(fb.seen_items_.nnz),
    }))


def _write_log(path, n_rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from skrec import make_interactions

    # Generated in slices of <= 5M rows with one seed per slice, so that
    # generating 20M rows does not need 20M rows of memory at once.
    writer = None
    part = 0
    for start in range(0, n_rows, 5_000_000):
        n = min(5_000_000, n_rows - start)
        log = make_interactions(n_users=N_USERS, n_items=N_ITEMS, n_interactions=n,
                                random_state=part)
        table = pa.Table.from_pandas(log, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=ROW_GROUP)
        part += 1
        del log, table
    writer.close()


def _run_child(path, mode, chunk_rows):
    command = [sys.executable, __file__, "--child", str(path), "--mode", mode,
               "--chunk-rows", str(chunk_rows)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{mode} fit of {path} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000000,5000000,20000000")
    parser.add_argument("--chunk-rows", type=int, default=500_000)
    parser.add_argument("--in-memory-max", type=int, default=5_000_000,
                        help="largest size also fitted in memory (the baseline)")
    parser.add_argument("--data-dir", default=os.path.join(
        os.environ.get("TMPDIR", "/tmp"), "skrec_out_of_core"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="stream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.mode, args.chunk_rows)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    chunk_rows = args.chunk_rows
    if args.quick:
        sizes, chunk_rows, args.in_memory_max = [50_000, 200_000], 20_000, 200_000
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    import skrec
    from skrec._tf import tf

    print(f"machine: {os.cpu_count()} CPUs, {platform.machine()}; skrec {skrec.__version__}, "
          f"tensorflow {tf.__version__}")
    print(f"data: make_interactions({N_USERS:,} users, {N_ITEMS:,} items), Parquet row groups "
          f"of {ROW_GROUP:,} rows in {data_dir}; chunks of {chunk_rows:,} rows")
    rows = []
    for n in sizes:
        path = data_dir / f"interactions_{n}.parquet"
        if not path.exists():
            started = time.perf_counter()
            _write_log(path, n)
            print(f"  wrote {path.name} ({path.stat().st_size / 2**20:.0f} MB) in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
        for mode in ("stream", "memory"):
            if mode == "memory" and n > args.in_memory_max:
                continue
            result = _run_child(path, mode, chunk_rows)
            result.update(mode=mode, size=n, file_mb=path.stat().st_size / 2**20)
            rows.append(result)
            print(f"  done: {n:,} rows, {mode} ({result['fit_s']:.0f} s)", flush=True)
    smallest = min(r["peak_mb"] for r in rows if r["mode"] == "stream" and r["size"] == sizes[0])
    print()
    print("| fit | rows | Parquet MB | seen pairs | fit s | rows/s | peak RSS MB "
          "| floor MB | peak / smallest out-of-core |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        name = "fit_out_of_core" if r["mode"] == "stream" else "in memory (baseline)"
        print(f"| {name} | {r['rows']:,} | {r['file_mb']:.0f} | {r['seen_pairs']:,} "
              f"| {r['fit_s']:.0f} | {r['rows'] / r['fit_s']:,.0f} | {r['peak_mb']:,.0f} "
              f"| {r['floor_mb']:,.0f} | {r['peak_mb'] / smallest:.2f}x |")
    largest = max((r for r in rows if r["mode"] == "stream"), key=lambda r: r["size"])
    ratio = largest["peak_mb"] / smallest
    print(f"\ngoal: peak RSS of the largest out-of-core fit <= 1.5x the smallest: "
          f"{ratio:.2f}x ({'met' if ratio <= 1.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
