"""Sphinx configuration for the skrec documentation.

Build (warnings are errors, as in CI)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The pages are Markdown (MyST); the API reference is generated from the
numpydoc docstrings by autosummary into ``docs/generated/`` (git-ignored), and
the examples gallery is built from ``examples/*.py`` by ``_ext/skrec_gallery.py``.
Nothing is fetched from the network (no intersphinx).
"""

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document the checkout, not an installed copy
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # autodoc imports TensorFlow

import skrec  # noqa: E402
from docutils import nodes  # noqa: E402
from sphinx.transforms import SphinxTransform  # noqa: E402

project = "skrec"
author = "the skrec developers"
copyright = "the skrec developers"
release = skrec.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "skrec_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# MyST: `#`-anchors for headings down to level 3, so that the pages' links such as
# `guide.md#2-build-features-featurebuilder` resolve (and are checked) like GitHub's.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# API reference: one generated page per public object, from the docstrings.
autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False  # the class template lists the public methods
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()

# scikit-learn's metadata-routing and set_output methods come with every estimator; their
# docstrings point into scikit-learn's own site, so they are left to scikit-learn's docs.
_SKLEARN_PLUMBING = re.compile(r"^(set_\w+_request|get_metadata_routing|set_output)$")


def _skip_sklearn_plumbing(app, what, name, obj, skip, options):
    if _SKLEARN_PLUMBING.match(name):
        return True
    return None


# reStructuredText links any "a@b" as an e-mail address, so "NDCG@10" in a docstring
# would become a mailto: link; metrics at a cut-off stay text.
_METRIC_AT_K = re.compile(r"[A-Za-z_]+@\d+")


class MetricAtKIsNotAnEmail(SphinxTransform):
    default_priority = 500

    def apply(self):
        for ref in list(self.document.findall(nodes.reference)):
            if ref.get("refuri", "").startswith("mailto:") and _METRIC_AT_K.fullmatch(
                ref.astext()
            ):
                ref.replace_self(nodes.Text(ref.astext()))


# Docstrings cite scikit-learn, Keras and pandas objects by name; without
# intersphinx (offline build) those stay plain text instead of links.
nitpicky = False

html_theme = "pydata_sphinx_theme"
html_title = f"skrec {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": True,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False
# The narrative pages have no sub-pages: no left sidebar, so that code lines get the width.
# (The API pages keep the section navigation that lists every object.)
html_sidebars = {
    page: []
    for page in ("index", "guide", "data_contract", "models", "evaluation", "explain",
                 "deploy", "examples", "benchmarks", "scikeras")
}


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_plumbing)
    app.add_transform(MetricAtKIsNotAnEmail)
