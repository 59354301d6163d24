"""Sphinx configuration for the twisted_pyhandlers documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "twisted_pyhandlers"
author = "the twisted_pyhandlers developers"
copyright = "2026, the twisted_pyhandlers developers"
release = "0.1.0"

extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
intersphinx_mapping = {}
exclude_patterns = ["_build", "differences/*.rst"]
html_theme = "alabaster"
nitpicky = False
