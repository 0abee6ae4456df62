"""A hostile dashboard: it tries to read what it must not and reports what it got.

The places to try come in its environment (an attacker could guess them): PROBE_FILES
(paths separated by ':'), PROBE_GUARD (host:port of another dashboard's runner). Its page
is a JSON object: for each attempt, "denied", "missing" or what it managed to read.
"""

import argparse
import json
import os
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--prefix", required=True)
args = parser.parse_args()


def attempt_file(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f"read {len(f.read())} bytes"
    except PermissionError:
        return "denied"
    except FileNotFoundError:
        return "missing"


def attempt_guard(address: str, path: str) -> str:
    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as r:
            return f"answered {r.status}"
    except urllib.error.HTTPError as e:
        return f"refused {e.code}"
    except OSError as e:
        return f"unreachable ({e})"


def findings() -> dict[str, str]:
    found = {p: attempt_file(p) for p in os.environ.get("PROBE_FILES", "").split(":") if p}
    guard = os.environ.get("PROBE_GUARD", "")
    if guard:
        found["guard"] = attempt_guard(guard, os.environ.get("PROBE_GUARD_PATH", "/"))
    secrets = [k for k in os.environ if "TOKEN" in k or "CREDENTIAL" in k or "SECRET" in k]
    found["environment"] = ",".join(sorted(secrets)) or "clean"
    found["uid"] = str(os.getuid())
    return found


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(findings()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
