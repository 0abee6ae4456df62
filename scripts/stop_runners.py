"""Stop every runner whose folder is under the given directory (used when the demo ends)."""

import signal
import sys

import psutil

root = sys.argv[1]
procs = []
for proc in psutil.process_iter(["cmdline", "cwd"]):
    try:
        if "runners" in (proc.info["cmdline"] or []) and (proc.info["cwd"] or "").startswith(root):
            proc.send_signal(signal.SIGTERM)
            procs.append(proc)
    except psutil.Error:
        pass
psutil.wait_procs(procs, timeout=20)
