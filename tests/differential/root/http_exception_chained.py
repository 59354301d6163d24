"""HTTPException(502) raised while handling another error names that cause."""

from wptserve.utils import HTTPException


def main(request, response):
    try:
        {}["no-such-key"]
    except KeyError as e:
        raise HTTPException(502, "bad gateway") from e
