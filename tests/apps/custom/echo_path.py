"""A tiny app that answers every path under its prefix with the path exactly as it arrived."""

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--prefix", required=True)
args = parser.parse_args()


class Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        found = self.path.startswith(args.prefix)
        body = json.dumps({"app": "echo", "path": self.path, "prefix": args.prefix}).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *values: object) -> None:
        print(format % values, flush=True)


ThreadingHTTPServer(("127.0.0.1", args.port), Echo).serve_forever()
