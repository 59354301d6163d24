def main(request, response):
    return [("Content-Type", "text/plain")], "q={{GET[q]}} host={{host}}"
