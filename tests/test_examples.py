"""Every script in examples/ runs to the end, at smoke-test sizes.

Convention for example authors: with ``SKREC_SMOKE=1`` in the environment a
script uses tiny sizes (it is a check that the code runs, not a result) and
finishes well within ``TIMEOUT_S``. Scripts are found by glob, so a new
example is tested without editing this file; files starting with ``_`` are
helpers and are not run.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
TIMEOUT_S = 180


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    env = dict(
        os.environ,
        SKREC_SMOKE="1",
        TF_CPP_MIN_LOG_LEVEL="3",
        MPLBACKEND="Agg",  # files only, no window
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    try:
        result = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr or ""
        if isinstance(stderr, bytes):
            stderr = stderr.decode(errors="replace")
        pytest.fail(
            f"examples/{script.name} did not finish in {TIMEOUT_S} s with SKREC_SMOKE=1 "
            f"(use tiny sizes under SKREC_SMOKE).\nstderr:\n{stderr[-4000:]}"
        )
    assert result.returncode == 0, (
        f"examples/{script.name} exited with {result.returncode}\n"
        f"stdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-6000:]}"
    )
