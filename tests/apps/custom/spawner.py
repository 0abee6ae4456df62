"""A custom app that leaves a detached grandchild behind, like a kernel in its own session."""

import http.server
import subprocess
import sys
from pathlib import Path

port = int(sys.argv[1])
child = subprocess.Popen(["sleep", "600"], start_new_session=True)
Path(sys.argv[2]).write_text(str(child.pid))
http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler).serve_forever()
