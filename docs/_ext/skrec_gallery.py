"""Sphinx extension: the examples gallery, built from ``examples/*.py``.

``examples.md`` holds the marker line ``<!-- skrec-examples-gallery -->``; when
Sphinx reads that page, the marker is replaced by one section per script of
``examples/`` (files starting with ``_`` are helpers and are skipped): its
module docstring, then the whole file as a ``literalinclude``. A new example
therefore needs no docs edit. A script without a module docstring, or one that
does not parse, is a warning (an error under ``-W``).
"""

import ast
from pathlib import Path

from sphinx.util import logging

MARKER = "<!-- skrec-examples-gallery -->"
GALLERY_DOC = "examples"

logger = logging.getLogger(__name__)


def example_scripts(examples_dir):
    """The gallery's scripts: ``quickstart.py`` first, then the others by name.

    Files starting with ``_`` are helpers and are left out.
    """
    scripts = [p for p in Path(examples_dir).glob("*.py") if not p.name.startswith("_")]
    return sorted(scripts, key=lambda p: (p.name != "quickstart.py", p.name))


def _docstring(path):
    """The module docstring and the line where the code after it starts (1-based)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        logger.warning("examples gallery: %s does not parse: %s", path.name, exc,
                       location=GALLERY_DOC)
        return None, 1
    doc = ast.get_docstring(tree)
    if not doc:
        logger.warning("examples gallery: %s has no module docstring; start it with one "
                       "that says what the example shows", path.name, location=GALLERY_DOC)
        return None, 1
    lines = path.read_text(encoding="utf-8").splitlines()
    start = tree.body[0].end_lineno  # 0-based index of the line after the docstring
    while start < len(lines) - 1 and not lines[start].strip():
        start += 1
    return doc, start + 1


def gallery_markdown(examples_dir, docs_dir):
    """MyST source of the gallery sections, one per example script."""
    sections = []
    for path in example_scripts(examples_dir):
        doc, code_start = _docstring(path)
        rel = path.relative_to(Path(docs_dir).parent)  # e.g. examples/quickstart.py
        parts = [f"(example-{path.stem})=", f"## `{path.name}`", ""]
        if doc:
            # Module docstrings are reStructuredText, like the package's docstrings.
            parts += ["```{eval-rst}", doc, "```", ""]
        # A leading "/" is the docs folder, the scripts live beside it; the docstring is
        # shown above as text, so the listing starts after it.
        parts += [
            f"```{{literalinclude}} /../{rel.as_posix()}",
            ":language: python",
            f":lines: {code_start}-",
            f":caption: {rel.as_posix()}",
            "```",
            "",
        ]
        sections.append("\n".join(parts))
    if not sections:
        return "No example scripts found in `examples/`.\n"
    return "\n".join(sections)


def _examples_dir(app):
    return Path(app.srcdir).parent / "examples"


def _on_source_read(app, docname, source):
    if docname != GALLERY_DOC:
        return
    if MARKER not in source[0]:
        logger.warning("examples gallery: marker %r missing from %s.md", MARKER, docname,
                       location=docname)
        return
    for path in example_scripts(_examples_dir(app)):
        app.env.note_dependency(str(path))
    source[0] = source[0].replace(MARKER, gallery_markdown(_examples_dir(app), app.srcdir))


def _always_reread_gallery(app, env, added, changed, removed):
    # A new script in examples/ is not a dependency Sphinx knows of yet.
    return [GALLERY_DOC] if GALLERY_DOC in env.found_docs else []


def setup(app):
    app.connect("source-read", _on_source_read)
    app.connect("env-get-outdated", _always_reread_gallery)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
