"""Header names and values as str, bytes and int, and a latin-1 value."""


def main(request, response):
    response.headers.set(b"X-Set-Bytes", 1)
    response.headers.append("x-set-bytes", b"two")
    return [
        ("X-Str", "str value"),
        (b"X-Bytes", b"bytes value"),
        ("X-Int", 42),
        (b"X-Mixed", "mixed"),
        ("X-Latin1", "caf\xe9"),
        ("x-MiXeD-CaSe", "case"),
    ], "types"
