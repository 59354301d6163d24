"""A helper module imported from handlers as resources.helpers."""


def greeting(name):
    return f"hello, {name}, from resources.helpers"
