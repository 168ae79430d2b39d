"""The documentation site: it builds with warnings as errors and covers the public API.

The build itself is slow (it imports TensorFlow and renders every page); the
other checks read files only.
"""

import ast
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# Folders of docs/ that hold no pages of their own (build output, generated API stubs,
# templates, the gallery extension).
NOT_PAGES = {"_build", "generated", "_templates", "_ext"}
PUBLIC_PACKAGES = [
    "skrec",
    "skrec.models",
    "skrec.preprocessing",
    "skrec.metrics",
    "skrec.model_selection",
    "skrec.datasets",
    "skrec.plot",
    "skrec.parallel",
]

needs_docs = pytest.mark.skipif(
    not (DOCS / "conf.py").exists(), reason="no Sphinx configuration in docs/"
)


def _pages():
    """Every page of the site, as Sphinx document names (``guide``, ``api``)."""
    return sorted(
        path.relative_to(DOCS).with_suffix("").as_posix()
        for path in DOCS.rglob("*")
        if path.suffix in {".md", ".rst"}
        and not NOT_PAGES.intersection(path.relative_to(DOCS).parts)
    )


def _toctree_entries(path):
    """Document names listed in the toctrees of one page (MyST or reST)."""
    text = path.read_text(encoding="utf-8")
    bodies = re.findall(r"^```\{toctree\}[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    bodies += re.findall(r"^\.\. toctree::[^\n]*\n((?:[ \t]+[^\n]*\n|\n)*)", text, flags=re.M)
    entries = []
    for body in bodies:
        for line in body.splitlines():
            line = line.strip()
            if line and not line.startswith(":"):
                # "Title <name>" entries name the document between the brackets.
                match = re.fullmatch(r".*<(.+)>", line)
                entries.append((match.group(1) if match else line).removesuffix(".md"))
    parent = path.relative_to(DOCS).parent
    return [(parent / entry).as_posix().removeprefix("./") for entry in entries]


def _public_names(package):
    """``__all__`` of a package (built from the model registry: imported, not parsed)."""
    return list(importlib.import_module(package).__all__)


@needs_docs
def test_every_page_is_reachable_from_the_landing_page():
    pages = set(_pages())
    reached, todo = set(), ["index"]
    while todo:
        page = todo.pop()
        if page in reached:
            continue
        reached.add(page)
        source = next(DOCS.glob(f"{page}.*"))
        todo.extend(entry for entry in _toctree_entries(source) if entry in pages)
    missing = sorted(pages - reached)
    assert not missing, (
        f"docs pages in no toctree: {missing}; list them in a toctree of docs/index.md"
    )


@needs_docs
@pytest.mark.parametrize(
    "package",
    [p for p in PUBLIC_PACKAGES if ROOT.joinpath(*p.split("."), "__init__.py").exists()],
)
def test_api_reference_lists_every_public_name(package):
    # Names listed in docs/api.rst, by the `.. currentmodule::` they are listed under.
    listed, module = {}, None
    for line in (DOCS / "api.rst").read_text(encoding="utf-8").splitlines():
        if line.startswith(".. currentmodule::"):
            module = line.split("::", 1)[1].strip()
        elif module and re.fullmatch(r"   [A-Za-z_]\w*", line):
            listed.setdefault(module, set()).add(line.strip())
    documented = set().union(*listed.values()) if listed else set()
    missing = [
        name for name in _public_names(package)
        if name != "__version__"
        and name not in listed.get(package, set())
        # the top level re-exports the subpackages' names, documented there
        and not (package == "skrec" and name in documented)
    ]
    assert not missing, (
        f"{package}.__all__ names missing from docs/api.rst: {missing}; list them in the "
        f"autosummary under '.. currentmodule:: {package}'"
    )


@needs_docs
def test_every_example_has_a_module_docstring_for_the_gallery():
    scripts = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
    undocumented = [
        p.name for p in scripts if not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))
    ]
    assert not undocumented, (
        f"examples without a module docstring (the gallery shows it): {undocumented}"
    )


@pytest.mark.slow
@needs_docs
def test_docs_build_without_warnings(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
           "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (
        f"docs build failed (exit {result.returncode}): {' '.join(cmd)}\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
    )
    assert (tmp_path / "html" / "index.html").exists()
    assert (tmp_path / "html" / "generated" / "skrec.recommend.html").exists()
