"""Zero-downtime restarts with berth's [serve] socket mode, in the standard library only.

berth holds the listening socket and hands it to every instance as fd 3 (LISTEN_FDS=1);
on SIGTERM (sent once the replacement is ready) the server stops accepting and exits
after the request in hand.
"""
import os
import signal
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from pid {os.getpid()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class InheritedServer(HTTPServer):
    def __init__(self):
        if os.environ.get("LISTEN_FDS") == "1":
            super().__init__(("", 0), Hello, bind_and_activate=False)
            self.socket = socket.socket(fileno=3)  # berth's socket, already listening
        else:  # run by hand: bind PORT
            super().__init__(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Hello)


server = InheritedServer()
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
print(f"serving as pid {os.getpid()}", flush=True)
server.serve_forever()
