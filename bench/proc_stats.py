"""What the running process holds and has used, from /proc and getrusage (Linux), for the load benchmarks."""

from __future__ import annotations

import os
import resource
from pathlib import Path


def cpu_s() -> float:
    """CPU seconds this process has used so far, user and system, all threads (not its children)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    """Resident memory of this process now, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmRSS")


def open_fds() -> int:
    """File descriptors this process holds open: files, sockets, pipes, event fds."""
    return len(os.listdir("/proc/self/fd"))
