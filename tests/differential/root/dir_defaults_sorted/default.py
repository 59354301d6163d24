"""Not chosen: "default-first.py" sorts before "default.py"."""


def main(request, response):
    return "default.py"
