# Sends back what pywebsocket's request object says about the handshake.
import json

from mod_pywebsocket import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    msgutil.send_message(request, json.dumps({
        "uri": request.uri,
        "unparsed_uri": request.unparsed_uri,
        "ws_resource": request.ws_resource,
        "ws_origin": request.ws_origin,
        "ws_version": request.ws_version,
        "ws_protocol": request.ws_protocol,
        "ws_requested_protocols": request.ws_requested_protocols,
        "method": request.method,
        "protocol": request.protocol,
        "is_https": request.is_https(),
        "host": request.headers_in["Host"],
        "custom": request.headers_in.get_all("X-Custom"),
    }, sort_keys=True))
