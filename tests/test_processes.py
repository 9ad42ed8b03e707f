"""Ending processes for good (devsupport.processes): what counts as running, TERM then KILL."""

import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from devsupport.processes import is_running, kill_tree, stop

# The main thread ends with the exit system call (60 on x86-64; not exit_group, which would end
# the process), as a JVM's can, while another thread of the process sleeps on.
MAIN_THREAD_ENDS = """
import ctypes, threading, time
threading.Thread(target=time.sleep, args=(60,)).start()
ctypes.CDLL(None).syscall(60, 0)
"""
IGNORES_SIGTERM = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""
HAS_A_WORKER = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
time.sleep(60)
"""


@pytest.fixture
def spawn() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            kill_tree(psutil.Process(process.pid))
        process.wait(timeout=10)


def python(started: list[subprocess.Popen[bytes]], code: str) -> psutil.Process:
    started.append(subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE))
    return psutil.Process(started[-1].pid)


def test_a_zombie_is_not_running(spawn: list[subprocess.Popen[bytes]]) -> None:
    process = python(spawn, "pass")
    while process.status() != psutil.STATUS_ZOMBIE:  # ended, and not reaped until wait()
        time.sleep(0.05)
    assert not is_running(process)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the exit system call's number")
def test_a_process_whose_main_thread_ended_runs_while_another_thread_does(
    spawn: list[subprocess.Popen[bytes]],
) -> None:
    process = python(spawn, MAIN_THREAD_ENDS)
    while process.status() != psutil.STATUS_ZOMBIE:
        time.sleep(0.05)
    assert is_running(process)


def test_stop_kills_what_ignores_sigterm(spawn: list[subprocess.Popen[bytes]]) -> None:
    process = python(spawn, IGNORES_SIGTERM)
    assert spawn[-1].stdout is not None
    assert spawn[-1].stdout.readline() == b"ready\n"  # its handler is in place
    assert stop(process, timeout=1) is False
    assert not is_running(process)


def test_stop_is_graceful_when_the_process_ends_on_sigterm(
    spawn: list[subprocess.Popen[bytes]],
) -> None:
    process = python(spawn, "import time; time.sleep(60)")
    assert stop(process, timeout=10, signal_number=signal.SIGTERM) is True


def test_kill_tree_ends_the_workers_too(spawn: list[subprocess.Popen[bytes]]) -> None:
    process = python(spawn, HAS_A_WORKER)
    while not process.children():
        time.sleep(0.05)
    [worker] = process.children()
    kill_tree(process)
    assert not is_running(worker)
