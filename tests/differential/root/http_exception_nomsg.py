"""HTTPException with a code only."""

from wptserve.utils import HTTPException


def main(request, response):
    raise HTTPException(410)
