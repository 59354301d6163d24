"""A list of bytes, str and zero-argument callables; falsy items are skipped."""


def main(request, response):
    return [
        b"bytes,",
        "str,",
        lambda: b"callable-bytes,",
        lambda: "callable-str",
        lambda: b"",
        "",
    ]
