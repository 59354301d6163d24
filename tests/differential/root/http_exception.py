"""HTTPException with a code and a message."""

from wptserve.utils import HTTPException


def main(request, response):
    raise HTTPException(403, "forbidden here")
