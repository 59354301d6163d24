"""Echo method, path, URL parts, url_base, protocol, body and raw_input."""

import json
import os

from wptserve.utils import isomorphic_decode as d


def main(request, response):
    parts = request.url_parts
    raw = request.raw_input
    first = raw.read(3)
    raw.seek(0)
    out = {
        "method": request.method,
        "request_path": request.request_path,
        "url": request.url,
        "url_parts": [
            parts.scheme,
            parts.netloc,
            parts.path,
            parts.query,
            parts.fragment,
        ],
        "hostname": parts.hostname,
        "port": parts.port,
        "url_base": request.url_base,
        "protocol_version": request.protocol_version,
        "body": d(request.body),
        "raw_first": d(first),
        "raw_all": d(raw.read()),
        "request_line": d(request.request_line).rstrip("\r\n"),
        "doc_root_is_root": os.path.abspath(request.doc_root)
        == os.path.dirname(os.path.abspath(__file__)),
        "file_is_abs": os.path.isabs(__file__),
        "file_name": os.path.basename(__file__),
    }
    return [("Content-Type", "application/json")], json.dumps(out)
