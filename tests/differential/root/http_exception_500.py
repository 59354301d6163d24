"""HTTPException(500, message): a server error, reported with a traceback."""

from wptserve.utils import HTTPException


def main(request, response):
    raise HTTPException(500, "server side trouble")
