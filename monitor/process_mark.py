"""Which process records a session, so that another can tell whether it still runs.

A session recorded next to the database is marked with :func:`this_process` when it
starts. If that process dies without ending it (SIGKILL, the OOM killer, a power cut), the
session stays ``live``; :func:`recording_alive` lets Dosis, when it next starts, tell such
a session from one whose recording still runs (``monitor.sinks.close_abandoned_sessions``).

A mark, rather than a lease the recording renews: a lease needs a timeout, and a recording
that stalls longer than it (PostgreSQL restarting, a laptop asleep) would be ended while it
still runs, or one that was killed would stay live that long. The mark tells at once and
never ends a running recording. Its limit: a process can only be checked from the host
(and PID namespace) it ran in, so a session that another machine recorded into a shared
PostgreSQL is left for Dosis on that machine.

The mark holds no name: a hash of the host name, the start of the kernel's boot id, the PID
namespace, the process id and its start time (which tells a reused process id apart).
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc/self/stat").is_file()
"""Linux: processes are read from /proc; elsewhere a POSIX signal 0 says whether one exists."""


@dataclass(frozen=True, slots=True)
class ProcessMark:
    host: str
    """The host name's hash."""
    boot: str
    """The kernel's boot id (its start); "" where the OS does not say."""
    pid_namespace: str
    """"" where the OS does not say."""
    pid: int
    started: str
    """The process's start, in clock ticks after boot; "" where the OS does not say."""

    def __str__(self) -> str:
        return ":".join((self.host, self.boot, self.pid_namespace, str(self.pid), self.started))

    @classmethod
    def parse(cls, text: str) -> ProcessMark | None:
        parts = text.split(":")
        if len(parts) != 5 or not parts[3].isdigit():
            return None
        host, boot, pid_namespace, pid, started = parts
        return cls(host, boot, pid_namespace, int(pid), started)


def this_process() -> ProcessMark:
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:12]
    return ProcessMark(host, _boot_id(), _pid_namespace(), os.getpid(), _started(os.getpid()) or "")


def recording_alive(mark: str) -> bool | None:
    """Whether the process of ``mark`` still runs; None when this process cannot tell (another host)."""
    theirs, ours = ProcessMark.parse(mark), this_process()
    if theirs is None or theirs.host != ours.host:
        return None
    if theirs.boot and ours.boot and theirs.boot != ours.boot:
        return False  # the machine has started again since
    if theirs.pid_namespace != ours.pid_namespace:
        return None  # another container: its process ids are not ours to look up
    started = _started(theirs.pid)
    return started is not None and started == theirs.started


def _started(pid: int) -> str | None:
    """When process ``pid`` started ("" where the OS does not say); None if no such process runs."""
    if _PROC:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return None
        # Fields after the command name, which is in parentheses and may hold anything.
        fields = stat.rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else fields[19]  # a zombie has died; 22nd field: starttime
    if os.name != "posix":
        return ""  # Windows: os.kill would end the process, not ask about it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # it runs, as another user
    return ""


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return ""


def _pid_namespace() -> str:
    try:
        return "".join(c for c in os.readlink("/proc/self/ns/pid") if c.isdigit())
    except OSError:
        return ""
