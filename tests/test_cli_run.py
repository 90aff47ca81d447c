"""``agentic-flow run``: every flag has an effect a test can see."""

from __future__ import annotations

import io
import json

import pytest

from agentic_flow.core.cli import main
from tests.llm_server import Reply, llm_server  # noqa: F401

MODEL = "llamacpp:test-model"


@pytest.fixture
def cli(llm_server, tmp_path, monkeypatch, capsys):
    """Run the CLI in-process against the scripted server, in a temp workspace."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    def invoke(*argv, base_url=True, model=True):
        args = ["run", *argv]
        if model:
            args += ["--model", MODEL]
        if base_url:
            args += ["--base-url", llm_server.openai_url]
        code = main(args)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def body(server, n=0):
    return server.requests[n].json


def test_streams_answer_and_prints_summary(cli, llm_server):
    llm_server.enqueue(Reply.text("The answer.", model="served-model-7", input_tokens=12, output_tokens=3))
    code, out, err = cli("--task", "question")
    assert code == 0
    assert out == "The answer.\n"
    summary = err.strip().splitlines()[-1]
    assert "model llamacpp:served-model-7" in summary
    assert "tokens in 12 / out 3" in summary and "ttft" in summary and "total" in summary and "cost" in summary


def test_model_flag_is_the_model_called(cli, llm_server):
    llm_server.enqueue(Reply.text("ok"))
    code, _, _ = cli("--task", "x")
    assert code == 0 and body(llm_server)["model"] == "test-model"


def test_agent_flag_sets_system_prompt(cli, llm_server):
    llm_server.enqueue(Reply.text("ok"), Reply.text("ok"))
    cli("--task", "x", "--agent", "reviewer")
    cli("--task", "x", "--agent", "planner")
    systems = [r.messages[0]["content"] for r in llm_server.requests]
    assert systems[0] != systems[1] and "review" in systems[0].lower() and "plan" in systems[1].lower()


def test_agents_dir_flag_finds_custom_agent(cli, llm_server, tmp_path):
    d = tmp_path / "my-agents"
    d.mkdir()
    (d / "pirate.md").write_text("---\nname: pirate\ndescription: talks like a pirate\ntools: read\n---\nArr, ye be a pirate.\n")
    llm_server.enqueue(Reply.text("Arr"))
    code, _, _ = cli("--task", "x", "--agent", "pirate", "--agents-dir", str(d))
    assert code == 0
    assert body(llm_server)["messages"][0] == {"role": "system", "content": "Arr, ye be a pirate."}
    assert [t["function"]["name"] for t in body(llm_server)["tools"]] == ["read"]


def test_system_flag_replaces_prompt(cli, llm_server):
    llm_server.enqueue(Reply.text("ok"))
    cli("--task", "x", "--system", "You are terse.")
    assert body(llm_server)["messages"][0] == {"role": "system", "content": "You are terse."}


def test_max_tokens_and_temperature(cli, llm_server):
    llm_server.enqueue(Reply.text("ok"))
    cli("--task", "x", "--max-tokens", "321", "--temperature", "0.7")
    assert body(llm_server)["max_tokens"] == 321 and body(llm_server)["temperature"] == 0.7


def test_an_answer_stopped_at_the_token_limit_exits_5_and_says_so(cli, llm_server):
    llm_server.enqueue(Reply.text("Partial answer cut", finish_reason="length"))
    code, out, err = cli("--task", "x", "--max-tokens", "5")
    assert code == 5  # the answer was cut off
    assert out.startswith("Partial answer cut")
    assert "token limit" in err and "--max-tokens" in err


def test_an_output_file_that_cannot_be_written_fails_the_run(cli, llm_server, tmp_path):
    llm_server.enqueue(Reply.text("the answer"))
    code, out, err = cli("--task", "x", "--output", str(tmp_path / "no" / "such" / "dir" / "a.txt"))
    assert code == 1
    assert out.startswith("the answer") and "cannot write --output file" in err


def test_no_tools_flag(cli, llm_server):
    llm_server.enqueue(Reply.text("ok"), Reply.text("ok"))
    cli("--task", "x")
    cli("--task", "x", "--no-tools")
    assert "tools" in body(llm_server, 0) and "tools" not in body(llm_server, 1)


def test_base_url_flag_routes_requests(cli, llm_server):
    llm_server.enqueue(Reply.text("ok"))
    code, _, err = cli("--task", "x", base_url=False)  # the llamacpp preset's default port has no server
    assert code == 4 and "cannot connect" in err and not llm_server.requests


def test_timeout_flag(cli, llm_server):
    llm_server.enqueue(Reply.text(["part one ", "part two"], split="events", stall_after=2, stall_seconds=3))
    code, out, err = cli("--task", "x", "--timeout", "0.5")
    assert code == 5  # cut off
    assert out.startswith("part one") and "read timeout" in err


@pytest.mark.parametrize("retries", [0, 2])
def test_retry_flag(cli, llm_server, retries):
    llm_server.enqueue(*[Reply.error(500, "boom", retry_after=0)] * 3, Reply.text("ok"))
    code, _, _ = cli("--task", "x", "--retry", str(retries))
    assert len(llm_server.requests) == retries + 1
    assert code == 4  # still failing after the retries


def test_retry_succeeds_when_enough(cli, llm_server):
    llm_server.enqueue(Reply.error(429, "slow", retry_after=0), Reply.text("fine"))
    code, out, err = cli("--task", "x", "--retry", "1")
    assert code == 0 and out == "fine\n" and "retrying" in err


def test_output_flag_writes_answer(cli, llm_server, tmp_path):
    llm_server.enqueue(Reply.text("# Title\n\nBody."))
    code, _, _ = cli("--task", "x", "--output", "answer.md")
    assert code == 0 and (tmp_path / "answer.md").read_text() == "# Title\n\nBody.\n"


def test_json_flag_prints_event_lines(cli, llm_server):
    llm_server.enqueue(Reply.text("hi there", chunks=2))
    code, out, _ = cli("--task", "x", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    types = [line["type"] for line in lines]
    assert types[0] == "message_started" and types[-1] == "turn_ended" and "usage" in types
    assert "".join(line["text"] for line in lines if line["type"] == "text") == "hi there"


def test_approve_flag(cli, llm_server, tmp_path):
    def handler(req):
        return Reply.text("done") if req.tool_results() else Reply.tool_calls([("c1", "bash", {"command": "touch made-it"})])

    llm_server.set_handler(handler)
    code, _, err = cli("--task", "x")
    assert not (tmp_path / "made-it").exists() and "denied" in err
    code, _, err = cli("--task", "x", "--approve", "auto")
    assert code == 0 and (tmp_path / "made-it").exists()


def test_read_only_approve_denies_edits_without_asking(cli, llm_server, tmp_path):
    (tmp_path / "f.txt").write_text("a")

    def handler(req):
        if req.tool_results():
            return Reply.text("done")
        return Reply.tool_calls([("c1", "write", {"path": "f.txt", "content": "b"})])

    llm_server.set_handler(handler)
    code, _, err = cli("--task", "x", "--approve", "read-only")
    assert (tmp_path / "f.txt").read_text() == "a" and "read-only" in err


def test_max_turns_flag(cli, llm_server):
    llm_server.set_handler(lambda req: Reply.tool_calls([(f"c{len(llm_server.requests)}", "ls", {})]))
    code, _, err = cli("--task", "x", "--max-turns", "2")
    assert len(llm_server.requests) == 2 and "--max-turns" in err


def test_workspace_flag(cli, llm_server, tmp_path):
    ws = tmp_path / "proj"
    ws.mkdir()
    (ws / "only-here.txt").write_text("found me")

    def handler(req):
        if req.tool_results():
            return Reply.text("done")
        return Reply.tool_calls([("c1", "read", {"path": "only-here.txt"})])

    llm_server.set_handler(handler)
    cli("--task", "x", "--workspace", str(ws))
    assert "found me" in llm_server.requests[1].tool_results()[0][1]


def test_resume_flag(cli, llm_server):
    llm_server.enqueue(Reply.text("first"), Reply.text("second"))
    _, _, err = cli("--task", "remember 42")
    session = err.strip().split("session ")[-1].split()[0]
    cli("--task", "what number?", "--resume", session)
    contents = [m["content"] for m in body(llm_server, 1)["messages"] if m["role"] != "system"]
    assert contents == ["remember 42", "first", "what number?"]


def test_task_from_stdin(cli, llm_server, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("task from a pipe\n"))
    llm_server.enqueue(Reply.text("ok"))
    code, _, _ = cli()
    assert code == 0 and llm_server.requests[0].last_user_text() == "task from a pipe"


def test_short_form_without_run(llm_server, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    llm_server.enqueue(Reply.text("short form works"))
    code = main(["--agent", "coder", "--task", "x", "--model", MODEL, "--base-url", llm_server.openai_url])
    assert code == 0 and capsys.readouterr().out == "short form works\n"


def test_no_task_is_usage_error(cli):
    code, _, err = cli()
    assert code == 2 and "no task" in err


def test_missing_key_exit_code_and_message(cli):
    code, _, err = cli("--task", "x", "--model", "openrouter:meta-llama/llama-3.1-8b-instruct", model=False, base_url=False)
    assert code == 4 and "OPENROUTER_API_KEY is not set" in err


def test_unknown_provider(cli):
    code, _, err = cli("--task", "x", "--model", "nosuch:model", model=False, base_url=False)
    assert code == 4 and "unknown provider 'nosuch'" in err


def test_bad_config_names_file_line_and_key(cli, tmp_path):
    cfg = tmp_path / ".agentic-flow" / "settings.yaml"
    cfg.parent.mkdir()
    cfg.write_text("default_model: x:y\ntemprature: 0.3\n")
    code, _, err = cli("--task", "x")
    assert code == 3
    assert f"{cfg}:2" in err and "temprature" in err and "unknown key" in err


def test_bad_yaml_names_line(cli, tmp_path):
    cfg = tmp_path / ".agentic-flow" / "settings.yaml"
    cfg.parent.mkdir()
    cfg.write_text("permissions:\n  allow: [bash(ls)\n")
    code, _, err = cli("--task", "x")
    assert code == 3 and str(cfg) in err and "not valid YAML" in err


def test_invalid_flag_values(cli):
    assert cli("--task", "x", "--max-tokens", "0")[0] == 2
    assert cli("--task", "x", "--temperature", "5")[0] == 2
    assert cli("--task", "x", "--timeout", "-1")[0] == 2
    assert cli("--task", "x", "--retry", "-1")[0] == 2


def test_model_auto_routes_and_explains(cli, llm_server, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-test")
    llm_server.enqueue(Reply.text("routed"))
    code, out, err = cli("--task", "rename a variable", "--model", "auto", "--no-tools", model=False)
    assert code == 0 and out == "routed\n"
    chosen = llm_server.requests[0].model
    assert f"using openrouter:{chosen}" in err  # the routed model is the model called, and said so


def test_settings_keys_take_effect(cli, llm_server, tmp_path):
    """default_model/default_agent/max_tokens/temperature/retries/max_turns from the project file."""
    cfg = tmp_path / ".agentic-flow" / "settings.yaml"
    cfg.parent.mkdir()
    cfg.write_text(
        f"default_model: {MODEL}\ndefault_agent: planner\nmax_tokens: 99\ntemperature: 0.4\nretries: 0\nmax_turns: 1\n"
    )
    llm_server.enqueue(Reply.error(500, "boom", retry_after=0), Reply.text("never"))
    code, _, _ = cli("--task", "x", model=False)
    assert code == 4 and len(llm_server.requests) == 1  # retries: 0
    req = body(llm_server)
    assert req["model"] == "test-model" and req["max_tokens"] == 99 and req["temperature"] == 0.4
    assert "plan" in req["messages"][0]["content"].lower()  # default_agent: planner
    llm_server.set_handler(lambda r: Reply.tool_calls([(f"c{len(llm_server.requests)}", "ls", {})]))
    cli("--task", "loop", model=False)
    assert len(llm_server.requests) == 2  # max_turns: 1


def test_timeouts_from_settings_reach_the_provider(tmp_path):
    from agentic_flow.core.config import load_settings
    from agentic_flow.core.runtime import make_provider

    cfg = tmp_path / ".agentic-flow" / "settings.yaml"
    cfg.parent.mkdir()
    cfg.write_text("timeout: 7\nconnect_timeout: 3\n")
    provider = make_provider("ollama:llama3", load_settings(tmp_path))
    assert (provider.timeouts.connect, provider.timeouts.read) == (3, 7)
    provider = make_provider("ollama:llama3", load_settings(tmp_path), timeout=2)
    assert provider.timeouts.read == 2  # --timeout beats the settings file
