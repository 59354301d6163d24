"""Returns a value no return form accepts: wptserve sends an empty 200, ours a 500 naming it."""


def main(request, response):
    return 12345
