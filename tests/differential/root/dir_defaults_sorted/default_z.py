"""Not chosen: sorts last."""


def main(request, response):
    return "default_z.py"
