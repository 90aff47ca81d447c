"""The embedded server's process handling, exercised with a tiny stand-in HTTP server.

These run without the ``local`` extra: ``LocalServer(target=...)`` launches a small
script through the same launcher (``core/local/boot.py``), process group and clean-up
paths the real ``llama_cpp.server`` uses.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from agentic_flow.core.errors import UnknownModel
from agentic_flow.core.local import server as local
from agentic_flow.core.local.models import GEMMA3
from agentic_flow.core.local.server import LocalServer, LocalServerError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process checks read /proc (Linux)")

FAKE_SERVER = textwrap.dedent(
    """
    import argparse, json, os, signal, subprocess, sys, time
    from http.server import BaseHTTPRequestHandler, HTTPServer

    p = argparse.ArgumentParser()
    p.add_argument("--host"); p.add_argument("--port", type=int); p.add_argument("--api_key")
    p.add_argument("--mode", default="ok"); p.add_argument("--marker"); p.add_argument("--delay", type=float, default=0)
    p.add_argument("--child_pidfile")
    args, _ = p.parse_known_args()
    print("fake server starting", flush=True)
    if args.mode == "crash":
        print("error: cannot load the model file", file=sys.stderr, flush=True)
        sys.exit(3)
    if args.mode == "portbusy":
        print("[Errno 98] error while attempting to bind: address already in use", file=sys.stderr, flush=True)
        sys.exit(1)

    def on_term(signum, frame):
        if args.marker:
            with open(args.marker, "w") as fh:
                fh.write("SIGTERM")
        os._exit(0)

    signal.signal(signal.SIGTERM, signal.SIG_IGN if args.mode == "stubborn" else on_term)
    if args.child_pidfile:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(args.child_pidfile, "w") as fh:
            fh.write(str(child.pid))
    time.sleep(args.delay)
    if args.mode == "hang":
        time.sleep(600)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            ok = self.headers.get("authorization") == "Bearer " + args.api_key
            body = json.dumps({"data": [{"id": "gemma-3-270m"}]} if ok else {"error": "bad key"}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    HTTPServer((args.host, args.port), Handler).serve_forever()
    """
)


def proc_state(pid: int) -> str | None:
    """The process state letter from /proc, None when it no longer exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def is_gone(pid: int) -> bool:
    return proc_state(pid) in (None, "Z", "X")


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def wait_until(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    path = tmp_path / "fake_server.py"
    path.write_text(FAKE_SERVER)
    return path


def make_server(fake: Path, tmp_path: Path, *extra: str, messages: list[str] | None = None) -> LocalServer:
    return LocalServer(
        tmp_path / "model.gguf",
        target=str(fake),
        extra_args=tuple(extra),
        log_path=tmp_path / "server.log",
        on_progress=messages.append if messages is not None else None,
    )


async def test_start_ready_stop_leaves_no_process(fake: Path, tmp_path: Path) -> None:
    messages: list[str] = []
    pidfile = tmp_path / "child.pid"
    server = make_server(fake, tmp_path, "--delay", "0.5", "--child_pidfile", str(pidfile), messages=messages)
    server.start()
    try:
        await server.wait_ready(timeout=20)
        assert server.alive()
        assert os.getpgid(server.pid) == server.pid  # its own process group
        async with httpx.AsyncClient(trust_env=False) as client:
            refused = await client.get(server.base_url + "/models")
            assert refused.status_code == 401  # the per-start key is required
        assert server.api_key.encode() not in Path(f"/proc/{server.pid}/cmdline").read_bytes()
        grandchild = int(pidfile.read_text())
        assert not is_gone(grandchild)
    finally:
        server.stop()
    assert is_gone(server.pid) and is_gone(grandchild)
    assert group_members(server.pid) == []
    assert messages[0].startswith("starting the local model server on 127.0.0.1:")
    assert messages[-1].startswith(f"local model server ready at {server.base_url}")
    server.stop()  # twice is harmless


async def test_crash_at_start_reports_exit_code_and_output(fake: Path, tmp_path: Path) -> None:
    server = make_server(fake, tmp_path, "--mode", "crash")
    server.start()
    with pytest.raises(LocalServerError) as info:
        await server.wait_ready(timeout=20)
    text = str(info.value)
    assert "exit code 3" in text
    assert "error: cannot load the model file" in text
    assert str(tmp_path / "server.log") in text
    assert not info.value.port_in_use
    assert is_gone(server.pid)


async def test_port_taken_is_recognised(fake: Path, tmp_path: Path) -> None:
    server = make_server(fake, tmp_path, "--mode", "portbusy")
    server.start()
    with pytest.raises(LocalServerError) as info:
        await server.wait_ready(timeout=20)
    assert info.value.port_in_use


async def test_never_ready_times_out_and_stops_the_server(fake: Path, tmp_path: Path) -> None:
    messages: list[str] = []
    server = make_server(fake, tmp_path, "--mode", "hang", messages=messages)
    server.start()
    with pytest.raises(LocalServerError, match="did not become ready within 3.5 s") as info:
        await server.wait_ready(timeout=3.5)
    assert "fake server starting" in str(info.value)
    assert any(m.startswith("waiting for the local model server to load (3 s)") for m in messages)
    assert is_gone(server.pid)


async def test_sigterm_ignored_then_killed(fake: Path, tmp_path: Path) -> None:
    server = make_server(fake, tmp_path, "--mode", "stubborn")
    server.start()
    await server.wait_ready(timeout=20)
    started = time.monotonic()
    server.stop(timeout=1.0)
    assert 0.9 < time.monotonic() - started < 5
    assert is_gone(server.pid)


CHILD = textwrap.dedent(
    """
    import asyncio, sys, threading, time
    from pathlib import Path
    from agentic_flow.core.local.server import LocalServer

    fake, how, after, marker = sys.argv[1:5]
    server = LocalServer(Path("model.gguf"), target=fake, extra_args=("--marker", marker))
    if how == "thread":
        starter = threading.Thread(target=server.start)
        starter.start()
        starter.join()  # the starting thread is gone: the server must survive it
    else:
        server.start()
    asyncio.run(server.wait_ready(20))
    print(server.pid, flush=True)
    if after == "exit":
        sys.exit(0)
    time.sleep(600)
    """
)


def run_child(fake: Path, tmp_path: Path, how: str, after: str) -> tuple[subprocess.Popen[str], int, Path]:
    marker = tmp_path / "sigterm.marker"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(fake), how, after, str(marker)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(tmp_path),
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.strip().isdigit(), f"child did not start the server (exit {child.poll()})"
    return child, int(line), marker


@pytest.mark.parametrize("how", ["main", "thread"])
def test_server_dies_when_parent_is_sigkilled(fake: Path, tmp_path: Path, how: str) -> None:
    """main: PR_SET_PDEATHSIG kills it; thread: only the launcher's watchdog can."""
    child, pid, _ = run_child(fake, tmp_path, how, "sleep")
    try:
        time.sleep(0.5)
        assert not is_gone(pid)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert wait_until(lambda: is_gone(pid), 5), f"server {pid} outlived its parent"
        assert group_members(pid) == []
    finally:
        if not is_gone(pid):
            os.killpg(pid, signal.SIGKILL)


def test_parent_sigterm_stops_server_gracefully(fake: Path, tmp_path: Path) -> None:
    child, pid, marker = run_child(fake, tmp_path, "main", "sleep")
    child.send_signal(signal.SIGTERM)
    assert child.wait(10) == -signal.SIGTERM  # the app still dies of SIGTERM
    assert wait_until(lambda: is_gone(pid), 5)
    assert marker.read_text() == "SIGTERM"  # stopped by our handler, not by the kernel's SIGKILL


def test_parent_exit_stops_server_via_atexit(fake: Path, tmp_path: Path) -> None:
    child, pid, marker = run_child(fake, tmp_path, "main", "exit")
    assert child.wait(10) == 0
    assert wait_until(lambda: is_gone(pid), 5)
    assert marker.read_text() == "SIGTERM"


def test_command_line(tmp_path: Path) -> None:
    server = LocalServer(tmp_path / "m.gguf", port=4321)
    cmd = server.command(pdeathsig=True)
    assert cmd[:4] == [sys.executable, "-P", str(Path(local.__file__).with_name("boot.py")), "--pdeathsig"]
    assert cmd[4:6] == [str(os.getpid()), "llama_cpp.server"]
    args = dict(zip(cmd[6::2], cmd[7::2]))
    assert args == {
        "--model": str(tmp_path / "m.gguf"),
        "--model_alias": "smollm2-135m-instruct",
        "--host": "127.0.0.1",
        "--port": "4321",
        "--chat_format": "chatml",
        "--n_ctx": "8192",
    }
    assert server.api_key not in " ".join(cmd)
    assert "--pdeathsig" not in server.command(pdeathsig=False)
    assert server.base_url == "http://127.0.0.1:4321/v1"


def test_launcher_scrubs_settings_from_the_environment(tmp_path: Path) -> None:
    """HOST/PORT/API_KEY in the user's shell must not reach llama_cpp.server's settings."""
    probe = tmp_path / "probe.py"
    probe.write_text("import os, json; print(json.dumps({k: os.environ.get(k) for k in ('HOST', 'PORT', 'KEEP')}))")
    code = (
        "import sys, runpy; sys.path.insert(0, sys.argv[1]); import boot as b; b.scrub_llama_env(); "
        "runpy.run_path(sys.argv[2])"
    )
    boot_dir = str(Path(local.__file__).parent)
    env = {**os.environ, "HOST": "0.0.0.0", "PORT": "80", "KEEP": "yes"}
    out = subprocess.run(
        [sys.executable, "-c", code, boot_dir, str(probe)], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '{"HOST": null, "PORT": null, "KEEP": "yes"}'


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.threads: set[int] = set()

    def __call__(self, message: str) -> None:
        self.messages.append(message)
        self.threads.add(threading.get_ident())


async def test_manager_starts_once_reuses_restarts_and_stops(
    fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ensure_local_server: assemble + start on first use, same server after, restart if it died."""
    started: list[LocalServer] = []

    def fake_server(model: Path, **kw: object) -> LocalServer:
        server = LocalServer(model, target=str(fake), log_path=tmp_path / "server.log", **kw)  # type: ignore[arg-type]
        started.append(server)
        return server

    def assemble(path: Path) -> None:
        path.write_bytes(b"GGUF" + b"\0" * 1000)

    monkeypatch.setattr(local, "missing_modules", lambda model=None: [])
    monkeypatch.setattr(local, "package_source", lambda model=None: local.ModelSource(assemble, 1004))
    monkeypatch.setattr(local, "LocalServer", fake_server)
    progress = _Recorder()
    try:
        url = await local.ensure_local_server(progress, model=GEMMA3.name, timeout=20)
        assert url == started[0].base_url
        assert progress.threads == {threading.get_ident()}  # delivered on the loop's thread
        assert any(m.startswith("assembling the local model once into") for m in progress.messages)
        assert local.model_file(GEMMA3).read_bytes().startswith(b"GGUF")
        assert (started[0].alias, started[0].chat_format) == ("gemma-3-270m", "gemma")
        with pytest.raises(LocalServerError, match="not running"):
            local.local_provider_config()  # the default model's server was never started
        config = local.local_provider_config(model=GEMMA3.name)
        assert (config.name, config.kind, config.base_url, config.needs_key) == ("local", "openai", url, False)
        assert config.api_key == started[0].api_key

        assert await asyncio.gather(
            local.ensure_local_server(model=GEMMA3), local.ensure_local_server(model=GEMMA3)
        ) == [url, url]
        assert len(started) == 1

        os.killpg(started[0].pid, signal.SIGKILL)
        assert wait_until(lambda: not started[0].alive(), 5)
        again = await local.ensure_local_server(progress, model=GEMMA3, timeout=20)
        assert len(started) == 2 and again == started[1].base_url
        assert "the local model server had stopped; starting it again" in progress.messages
    finally:
        await local.stop_local_server()
    assert local.running_server(GEMMA3) is None
    assert all(is_gone(s.pid) for s in started)
    with pytest.raises(LocalServerError, match="not running"):
        local.local_provider_config(model=GEMMA3)


async def test_each_local_model_gets_its_own_server(
    fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """llama.cpp answers with the model it loaded whatever a request names: two local
    models (compare) run two servers, each started with its own file, alias and template."""
    started: list[LocalServer] = []

    def fake_server(model: Path, **kw: object) -> LocalServer:
        server = LocalServer(model, target=str(fake), log_path=tmp_path / "server.log", **kw)  # type: ignore[arg-type]
        started.append(server)
        return server

    files = {"smollm2-135m-instruct": tmp_path / "smol.gguf", "gemma-3-270m": tmp_path / "gemma.gguf"}
    monkeypatch.setattr(local, "missing_modules", lambda model=None: [])
    monkeypatch.setattr(local, "model_path", lambda progress=None, *, model: files[model.name])
    monkeypatch.setattr(local, "LocalServer", fake_server)
    try:
        smol = await local.ensure_local_server(timeout=20)
        gemma = await local.ensure_local_server(model="gemma-3-270m", timeout=20)
        assert smol != gemma and len(started) == 2
        assert [(s.model, s.alias, s.chat_format) for s in started] == [
            (files["smollm2-135m-instruct"], "smollm2-135m-instruct", "chatml"),
            (files["gemma-3-270m"], "gemma-3-270m", "gemma"),
        ]
        assert local.local_provider_config().base_url == smol
        assert local.local_provider_config(model="gemma-3-270m").base_url == gemma
        with pytest.raises(UnknownModel, match="no local model 'tinyllama'"):
            await local.ensure_local_server(model="tinyllama")
    finally:
        await local.stop_local_server()
    assert all(is_gone(s.pid) for s in started)
    

async def test_manager_retries_when_the_port_is_taken(
    fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[LocalServer] = []

    def fake_server(model: Path, **kw: object) -> LocalServer:
        extra = ("--mode", "portbusy") if not started else ()
        server = LocalServer(model, target=str(fake), extra_args=extra, log_path=tmp_path / "s.log", **kw)  # type: ignore[arg-type]
        started.append(server)
        return server

    monkeypatch.setattr(local, "missing_modules", lambda model=None: [])
    monkeypatch.setattr(local, "model_path", lambda progress=None, *, model: tmp_path / "model.gguf")
    monkeypatch.setattr(local, "LocalServer", fake_server)
    try:
        url = await local.ensure_local_server(timeout=20)
    finally:
        await local.stop_local_server()
    assert len(started) == 2 and url == started[1].base_url
