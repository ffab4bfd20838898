"""Sweep workers die with the sweep process, also when it is killed with SIGKILL.

A pool worker calls :func:`die_with` (the pool's initializer) with the sweep's pid. On Linux it asks the kernel
for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``); since a forkserver worker's parent is the
forkserver, not the sweep, every worker also runs a daemon thread that checks the sweep's pid once a second and
exits when it is gone. Nothing is left running after ``kill -9`` of ``cimsim sweep``: the workers exit, and with
them the last holders of the forkserver's and the resource tracker's pipes, which then exit on end of file.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

from cimsim.atomic_io import pid_alive

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_S = 1.0  # how often a worker checks that the sweep still runs, s


def _watch(pid: int) -> None:
    while pid_alive(pid):
        time.sleep(POLL_S)
    os._exit(1)  # the sweep is gone: nobody reads this worker's results


def die_with(pid: int) -> None:
    """Make this process exit when process ``pid`` (the sweep) or its own parent dies."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if not pid_alive(pid):
        os._exit(1)
    threading.Thread(target=_watch, args=(pid,), name="cimsim-lifeline", daemon=True).start()
