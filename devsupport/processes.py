"""Ending processes for good: SIGTERM with a bound, then SIGKILL, workers included. Used for the
services the tests and benchmarks start and for the local runner's daemons."""

import contextlib
import signal
import time

import psutil

KILL_TIMEOUT_SECONDS = 10.0


class ProcessError(RuntimeError):
    pass


def is_running(process: psutil.Process) -> bool:
    """Alive and not a zombie. A daemon is reparented to PID 1, which may be slow to reap it (or
    never does); a multi-threaded process (the JVM) whose main thread has ended is still dying,
    holding its ports, while any other thread runs."""
    try:
        if process.status() != psutil.STATUS_ZOMBIE:
            return True
        threads = process.threads()
    except psutil.Error:
        return False
    return any(_thread_running(thread.id) for thread in threads)


def _thread_running(thread_id: int) -> bool:
    try:
        return psutil.Process(thread_id).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_gone(processes: list[psutil.Process], timeout: float) -> bool:
    """Whether every one of ``processes`` ended within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while any(is_running(process) for process in processes):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def kill_tree(process: psutil.Process) -> None:
    """SIGKILL ``process`` and its children, and wait until they are gone: a supervisor's death
    does not end its workers (an orphaned service worker went on consuming the broker's topics)."""
    family = [process, *_children(process)]
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    if not wait_gone(family, KILL_TIMEOUT_SECONDS):
        raise ProcessError(f"process {process.pid} survived SIGKILL")


def stop(process: psutil.Process, *, timeout: float, signal_number: int = signal.SIGTERM) -> bool:
    """Send ``signal_number`` (a graceful stop) and wait up to ``timeout`` seconds; past that,
    SIGKILL it with its children. Whether it ended by itself."""
    with contextlib.suppress(psutil.NoSuchProcess):
        process.send_signal(signal_number)
    if wait_gone([process], timeout):
        return True
    kill_tree(process)
    return False


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
