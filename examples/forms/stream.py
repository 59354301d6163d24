# A generator body is streamed as it is produced: each line arrives a
# quarter of a second after the previous one.
import time


def main(request, response):
    def lines():
        for i in range(5):
            yield "line %d\n" % i
            time.sleep(0.25)

    response.headers.set("Content-Type", "text/plain")
    return lines()
