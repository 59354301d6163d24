"""importlib.import_module for a helper under a hyphenated directory."""

import importlib


def main(request, response):
    helper = importlib.import_module("a-b.helper")
    return helper.VALUE
