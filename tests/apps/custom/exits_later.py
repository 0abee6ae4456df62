"""A custom app that serves for a moment and then dies with exit code 3."""

import http.server
import os
import sys
import threading

threading.Timer(float(sys.argv[2]), os._exit, (3,)).start()
http.server.HTTPServer(
    ("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler
).serve_forever()
