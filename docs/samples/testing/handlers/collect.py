def main(request, response):
    # What a client under test sends here is checked by the test itself,
    # through server.requests.
    return 204, [], b""
