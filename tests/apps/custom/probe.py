"""A hostile dashboard: it tries to read what it must not and reports what it got.

The places to try come in its environment (an attacker could guess them): PROBE_FILES
(paths separated by ':'), PROBE_WRITES (files to create), PROBE_CHMODS (files to make mode 777), PROBE_SIGNAL (a pid to signal), PROBE_CONNECT (host:port of another dashboard's framework),
PROBE_GUARD (host:port of another dashboard's runner), PROBE_HUB (host:port of the hub's API). It also tries to listen on a
second TCP port, bound or not (over plain http a browser sends a site's cookies to every port) and to
write into its own home. Its page is a JSON object: for each attempt, "denied",
"missing" or what it managed.
"""

import argparse
import json
import os
import socket
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


def attempt_write(path: str) -> str:
    try:
        with open(path, "w") as f:
            f.write("planted")
        return "written"
    except PermissionError:
        return "denied"
    except FileNotFoundError:
        return "missing"


def attempt_chmod(path: str) -> str:
    """Landlock restricts opening files, not changing their mode: only the uid does."""
    try:
        os.chmod(path, 0o777)
    except PermissionError:
        return "denied"
    except FileNotFoundError:
        return "missing"
    try:
        return "changed" if os.stat(path).st_mode & 0o777 == 0o777 else "denied"  # no effect
    except FileNotFoundError:
        return "missing"


def attempt_connect(address: str) -> str:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            return "connected"
    except PermissionError:
        return "denied"
    except OSError as e:
        return f"unreachable ({e})"


def attempt_listen() -> str:
    try:
        with socket.socket() as s:
            s.bind(("0.0.0.0", 0))
            s.listen()
            return f"listening on {s.getsockname()[1]}"
    except PermissionError:
        return "denied"


def attempt_listen_unbound() -> str:
    """What Landlock's bind rule does not see: the kernel picks a free port."""
    try:
        with socket.socket() as s:
            s.listen()
            return f"listening on {s.getsockname()[1]}"
    except PermissionError:
        return "denied"


def attempt_signal(pid: int) -> str:
    try:
        os.kill(pid, 0)
        return "signalled"
    except PermissionError:
        return "denied"
    except ProcessLookupError:
        return "missing"


def findings() -> dict[str, str]:
    found = {p: attempt_file(p) for p in os.environ.get("PROBE_FILES", "").split(":") if p}
    for path in os.environ.get("PROBE_WRITES", "").split(":"):
        if path:
            found[f"write {path}"] = attempt_write(path)
    for path in os.environ.get("PROBE_CHMODS", "").split(":"):
        if path:
            found[f"chmod {path}"] = attempt_chmod(path)
    if os.environ.get("PROBE_CONNECT"):
        found["connect"] = attempt_connect(os.environ["PROBE_CONNECT"])
    if os.environ.get("PROBE_HUB"):  # the hub's API, on the host's loopback
        found["hub"] = attempt_connect(os.environ["PROBE_HUB"])
    found["listen"] = attempt_listen()
    found["listen unbound"] = attempt_listen_unbound()
    found["home"] = attempt_write(os.path.join(os.environ.get("HOME", "/nonexistent"), "mine"))
    if os.environ.get("PROBE_SIGNAL"):
        found["signal"] = attempt_signal(int(os.environ["PROBE_SIGNAL"]))
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
