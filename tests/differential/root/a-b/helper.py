"""A helper module under a hyphenated directory (importlib.import_module)."""

VALUE = "from a-b.helper"
