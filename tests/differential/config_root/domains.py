# The config's host names as handlers see them (ports left out: each
# server really listens on its own).
import json


def main(request, response):
    config = request.server.config
    seen = {
        "browser_host": config["browser_host"],
        "domains": config["domains"],
        "not_domains": config["not_domains"],
        "all_domains": config["all_domains"],
        "alternate_hosts": config["alternate_hosts"],
    }
    return [("Content-Type", "application/json")], json.dumps(seen, sort_keys=True)
