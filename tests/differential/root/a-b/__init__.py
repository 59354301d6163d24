# ruff: noqa: N999 -- the hyphen is the point: importlib.import_module("a-b.helper")
