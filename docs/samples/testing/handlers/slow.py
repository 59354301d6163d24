import time


def main(request, response):
    time.sleep(0.2)
    return "slept"
