"""A handler file without main: a 500."""

x = 1
