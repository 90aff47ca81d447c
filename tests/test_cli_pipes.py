"""``agentic-flow run`` in pipes and scripts: stdout is the answer, errors are one line each.

The pipe tests run the real command in a shell pipeline (``| head -1``) against the
scripted server, streaming slowly enough that the reader is gone before the answer ends.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentic_flow.core.cli import main
from tests.llm_server import Reply, llm_server  # noqa: F401

MODEL = "llamacpp:test-model"
LINES = [f"line {i} of the answer\n" for i in range(40)]


@pytest.fixture
def cli(llm_server, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(["run", *argv, "--model", MODEL, "--base-url", llm_server.openai_url, "--no-tools"])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def _pipeline(llm_server, tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    """``agentic-flow run … | head -1`` in bash: (run's exit code, head's output, run's stderr)."""
    stderr = tmp_path / "stderr.txt"
    command = (
        f"{sys.executable} -m agentic_flow run --task x --model {MODEL} --base-url {llm_server.openai_url} "
        f"--no-tools {' '.join(extra)} 2>{stderr} | head -1; exit ${{PIPESTATUS[0]}}"
    )
    env = {**os.environ, "AGENTIC_FLOW_HOME": str(tmp_path / "home")}
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    return done.returncode, done.stdout, stderr.read_text()


@pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["text", "json"])
def test_a_closed_pipe_ends_the_run_quietly(llm_server, tmp_path, json_flag):
    """Defect 4: `run … | head -1` printed a BrokenPipeError traceback and exited 1."""
    llm_server.enqueue(Reply.text(LINES, delay_per_chunk=0.05))
    code, out, err = _pipeline(llm_server, tmp_path, *json_flag)
    assert len(out.splitlines()) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
    assert code == 141  # as a program killed by SIGPIPE (`git log | head`)
    summary = err.strip().splitlines()[-1]
    assert "stop cancelled" in summary  # the run stopped instead of streaming into the void
    assert len(llm_server.requests) == 1
    # Stopped as Ctrl-C stops it: the partial answer and its figures are kept.
    assert "not kept" not in summary and "out 0 " not in summary, summary
    session_id = summary.rsplit("session ", 1)[1].split()[0]
    env = {**os.environ, "AGENTIC_FLOW_HOME": str(tmp_path / "home")}
    shown = subprocess.run(
        [sys.executable, "-m", "agentic_flow", "sessions", "show", session_id],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "line 0 of the answer" in shown.stdout


def test_models_listing_into_a_closed_pipe_is_quiet(tmp_path):
    env = {**os.environ, "AGENTIC_FLOW_HOME": str(tmp_path / "home")}
    command = f"{sys.executable} -m agentic_flow models --json | head -1; exit ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.stdout == "[\n"
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert done.returncode in (0, 141)  # 0 when the whole listing fit in the pipe before head left


@pytest.mark.parametrize("command", ["sessions list", "audit list --json", "doctor", "run --task x"])
def test_a_closed_stdout_is_a_usage_error_not_a_traceback(tmp_path, command):
    env = {**os.environ, "AGENTIC_FLOW_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m agentic_flow {command} >&-"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "standard output is closed" in done.stderr


def test_stdout_is_exactly_the_answer_when_a_stream_line_is_skipped(cli, llm_server):
    """Defect 5: a skipped malformed line put a line break into stdout mid-answer."""
    llm_server.enqueue(Reply.text(["The ", "answer ", "is ", "forty", "-two."], invalid_json_at=3))
    code, out, err = cli("--task", "x")
    assert code == 0
    assert out.endswith("\n") and "\n" not in out[:-1], repr(out)
    assert out.startswith("The answer ") and out.rstrip().endswith("-two.")
    assert "could not parse" in err


def test_turns_are_still_separated_on_stdout(llm_server, tmp_path, monkeypatch, capsys):
    """A tool call between two turns: each turn's text on its own line, nothing else."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("hello")

    def handler(req):
        if req.tool_results():
            return Reply.text("It says hello.")
        return Reply.tool_calls([("c1", "read", {"path": "a.txt"})], text_before="Reading it.")

    llm_server.set_handler(handler)
    code = main(["run", "--task", "x", "--model", MODEL, "--base-url", llm_server.openai_url])
    out, err = capsys.readouterr()
    assert code == 0 and out == "Reading it.\nIt says hello.\n"
    assert "→ read(" in err


def test_json_events_carry_the_session_id(cli, llm_server):
    """Defect 7: only stderr named the session; a script reading --json could not resume it."""
    llm_server.enqueue(Reply.text("hi there", chunks=2))
    code, out, err = cli("--task", "x", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    session = err.strip().split("session ")[-1].split()[0]
    assert code == 0 and len(session) >= 8
    assert {line["session_id"] for line in lines} == {session}
    assert "".join(line["text"] for line in lines if line["type"] == "text") == "hi there"


def test_an_http_error_is_one_line_naming_provider_model_and_status_once(cli, llm_server):
    """Defect 11: the provider, model and status were repeated in an error."""
    llm_server.enqueue(Reply.error(500, "upstream exploded"))
    code, out, err = cli("--task", "x", "--retry", "0")
    assert code == 4 and out == ""
    errors = [line for line in err.splitlines() if line.startswith("agentic-flow: error:")]
    assert errors == ["agentic-flow: error: llamacpp (test-model) HTTP 500: server error (upstream exploded)."]


def test_json_error_event_names_the_provider_in_fields(cli, llm_server):
    llm_server.enqueue(Reply.error(404, "no such model"))
    code, out, err = cli("--task", "x", "--retry", "0", "--json")
    (failed,) = [json.loads(line) for line in out.splitlines() if '"provider_error"' in line]
    assert (failed["provider"], failed["model"], failed["status"]) == ("llamacpp", "test-model", 404)
    assert "llamacpp" not in failed["message"] and "404" not in failed["message"]
    assert code == 4
    assert "llamacpp (test-model) HTTP 404" in err  # stderr says why it exits 4, stdout stays JSON
    assert all(line.startswith("{") for line in out.splitlines())


def test_an_error_mid_stream_names_the_provider_and_model_once(cli, llm_server):
    llm_server.enqueue(Reply.text(["Partial ", "answer ", "here."], error_after=2))
    code, out, err = cli("--task", "x", "--retry", "0")
    line = next(line for line in err.splitlines() if "mid-stream" in line)
    assert line.count("test-model") == 1 and line.count("llamacpp") == 1, line
    assert out.startswith("Partial ")


def test_missing_key_hint_keeps_its_placeholder(monkeypatch, tmp_path, capsys):
    """Defect 6: "(export OPENAI_API_KEY=[REDACTED] or put api_key …" — redaction ate "...)"."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code = main(["run", "--task", "x", "--model", "openai:gpt-4o-mini", "--no-tools"])
    err = capsys.readouterr().err
    assert code == 4
    assert "(export OPENAI_API_KEY=...) or put api_key under providers.openai" in err
    assert "[REDACTED]" not in err
