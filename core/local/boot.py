"""Launcher of the embedded model server: ties the server's life to its parent's.

Run by path, never imported by the ``core`` package (it imports nothing from it)::

    python -P boot.py [--pdeathsig] PARENT_PID TARGET [ARGS...]

TARGET is a module name (``llama_cpp.server``) or a ``.py`` file, run as ``__main__``
with ``ARGS``. Before that, the launcher makes sure the server cannot outlive the
process that started it:

* on Linux, with ``--pdeathsig``, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills
  the server the moment the starting thread's process dies (even by SIGKILL);
* everywhere, a watchdog thread: when the parent pid changes (the parent died and the
  server was re-parented), it kills the server's whole process group.

For ``llama_cpp.server`` it also removes environment variables the server would read as
settings (``HOST``, ``PORT``, ``API_KEY``, ``N_CTX``, ...), so a user's shell cannot
silently change the port, require another key, or swap the model. The server's API key
comes in ``AGENTIC_FLOW_LOCAL_API_KEY`` and is passed on as ``--api_key`` in-process, so
it never appears in the process list.
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys
import threading
import time

WATCH_INTERVAL = 0.25
API_KEY_ENV = "AGENTIC_FLOW_LOCAL_API_KEY"
PR_SET_PDEATHSIG = 1


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _kill_own_group() -> None:
    try:
        if os.name == "posix" and os.getpgrp() == os.getpid():
            os.killpg(os.getpgrp(), signal.SIGKILL)
    finally:
        os._exit(1)


def watch_parent(parent_pid: int, interval: float = WATCH_INTERVAL) -> threading.Thread:
    """Start a daemon thread that kills this process group once ``parent_pid`` is gone."""

    def run() -> None:
        while True:
            if os.getppid() != parent_pid:
                _kill_own_group()
            time.sleep(interval)

    thread = threading.Thread(target=run, name="parent-watchdog", daemon=True)
    thread.start()
    return thread


def scrub_llama_env() -> None:
    """Drop environment variables ``llama_cpp.server`` would take as settings."""
    names = {"host", "port", "config_file"}
    try:
        # lazy: the server's package loads in the server process only
        from llama_cpp.server.settings import ModelSettings, ServerSettings

        names.update(ModelSettings.model_fields)
        names.update(ServerSettings.model_fields)
    except Exception:  # noqa: BLE001, S110 - the server reports its own import errors next
        pass
    for key in list(os.environ):
        if key.lower() in names:
            del os.environ[key]


def main(argv: list[str]) -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    pdeathsig = False
    if argv and argv[0] == "--pdeathsig":
        pdeathsig = True
        argv = argv[1:]
    if len(argv) < 2:
        sys.stderr.write("usage: boot.py [--pdeathsig] PARENT_PID TARGET [ARGS...]\n")
        raise SystemExit(2)
    parent_pid, target, args = int(argv[0]), argv[1], argv[2:]
    if pdeathsig:
        set_parent_death_signal()
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        _kill_own_group()
    watch_parent(parent_pid)
    key = os.environ.pop(API_KEY_ENV, None)
    if target == "llama_cpp.server":
        scrub_llama_env()
    if key:  # given by environment so it does not show in `ps` (unlike the argv we exec'd)
        args += [f"--api_key={key}"]  # one word: a key starting with "-" is not an option
    sys.argv = [target, *args]
    if target.endswith(".py"):
        runpy.run_path(target, run_name="__main__")
    else:
        runpy.run_module(target, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
