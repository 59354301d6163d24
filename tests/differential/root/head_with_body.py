"""send_body_for_head_request = True: the body goes out even for HEAD."""


def main(request, response):
    response.send_body_for_head_request = True
    return [("Content-Type", "text/plain")], "body sent for HEAD"
