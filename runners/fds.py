"""What a child inherits: nothing but what it is given.

Some event loops (uvloop) start children without closing the parent's inheritable
descriptors, whatever ``close_fds`` says (found by the third attacker review: a
framework held the warm pool's log open for writing). In the child before exec they are
marked close-on-exec (not closed: the event loop may still use one until exec).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Collection


def close_inherited(keep: Collection[int] = ()) -> None:
    """Let no descriptor above 2 survive exec, but ``keep``."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd <= 2 or fd in keep:
            continue
        try:
            flags = fcntl.fcntl(fd, fcntl.F_GETFD)
            if not flags & fcntl.FD_CLOEXEC:
                fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)
        except OSError:
            continue  # the listing's own descriptor, closed meanwhile
