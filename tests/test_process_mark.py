"""The mark of a recording process: whether it still runs, told from another process on the same host."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.process_mark import ProcessMark, recording_alive, this_process


def test_a_mark_reads_back_and_a_broken_one_is_none() -> None:
    mark = this_process()
    assert ProcessMark.parse(str(mark)) == mark
    assert len(str(mark)) <= 64  # the column it is stored in
    assert ProcessMark.parse("not a mark") is None
    assert ProcessMark.parse("a:b:c:pid:e") is None


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="telling a zombie needs Linux's /proc")
def test_a_process_is_alive_until_it_exits_even_before_it_is_reaped() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from monitor.process_mark import this_process; print(this_process()); "
            "sys.stdout.flush(); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    mark = child.stdout.readline().strip()
    assert recording_alive(mark) is True
    child.stdin.close()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
    assert recording_alive(mark) is False  # a zombie: dead, though its parent has not reaped it
    child.wait()
    child.stdout.close()
    assert recording_alive(mark) is False


def test_what_this_host_cannot_tell_is_none_and_an_earlier_boot_is_dead() -> None:
    ours = this_process()
    assert recording_alive(str(ours)) is True
    assert recording_alive(str(dataclasses.replace(ours, started="1"))) is False  # its id, reused by us
    assert recording_alive(str(dataclasses.replace(ours, host="0" * 12))) is None
    if ours.boot:
        assert recording_alive(str(dataclasses.replace(ours, boot="00000000"))) is False
    if ours.pid_namespace:
        assert recording_alive(str(dataclasses.replace(ours, pid_namespace="1"))) is None
