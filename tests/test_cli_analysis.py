"""``compare``, ``route`` and ``cost`` on the command line: formats, exit codes, progress."""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys

import pytest

from agentic_flow.core.cli.analysis import add_analysis_commands, dispatch_analysis
from agentic_flow.core.models.catalog import ModelCatalog, format_cost
from agentic_flow.core.paths import data_dir
from agentic_flow.core.store.database import Store
from tests.llm_server import Reply, llm_server_factory  # noqa: F401


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agentic-flow")
    sub = p.add_subparsers(dest="command")
    add_analysis_commands(sub)
    return p


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    def invoke(*argv):
        code = dispatch_analysis(parser().parse_args(list(argv)))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def providers(_isolated_home):
    """Write providers pointing at test servers into the user config file."""

    def write(extra: str = "", **servers):
        lines = ["providers:"]
        for name, server in servers.items():
            lines += [f"  {name}:", "    kind: openai", f"    base_url: {server.openai_url}", "    needs_key: false"]
        (_isolated_home / "config.yaml").write_text("\n".join(lines) + "\n" + extra)

    return write


CODE = "```python\nprint(6 * 7)\n```"


def test_compare_md_is_a_pr_table_with_progress_on_stderr(cli, providers, llm_server_factory):
    a = llm_server_factory(default=Reply.text(CODE, input_tokens=12, output_tokens=9))
    b = llm_server_factory(default=Reply.text("no code here", delay_first=0.2))
    providers(a=a, b=b)
    code, out, err = cli("compare", "--no-tools", "--models", "a:m1,b:m2", "--task", "write a python function", "--md")
    assert code == 0
    lines = out.splitlines()
    header = lines.index("| Model | Status | TTFT | Tokens/s | Total | Tokens in / out | Cost | Stop | Code checks |")
    assert lines[header + 2].startswith("| `a:m1` | ok |") and "| 12 / 9 |" in lines[header + 2]
    assert "python ok" in lines[header + 2]
    assert lines[header + 3].startswith("| `b:m2` | ok |")
    assert "**Task:** write a python function" in out and "<details><summary>Answers</summary>" in out
    assert "**Fastest first token:** `a:m1`" in out and "**Best code checks:** `a:m1` (1/1)" in out
    assert "comparing 2 models: a:m1, b:m2" in err
    progress = [line for line in err.splitlines() if line.startswith("[")]
    assert len(progress) == 2 and progress[0].startswith("[1/2] a:m1: done") and progress[1].startswith("[2/2] b:m2")


def test_compare_csv_to_file_and_json(cli, providers, llm_server_factory, tmp_path):
    a = llm_server_factory(default=Reply.text("x", input_tokens=3, output_tokens=1))
    b = llm_server_factory(default=Reply.error(503, "overloaded", retry_after=0))
    providers(a=a, b=b)
    target = tmp_path / "out.csv"
    code, out, err = cli("compare", "--no-tools", "--models", "a:m,b:m", "--task", "t", "--csv", "-o", str(target), "--retry", "0")
    assert code == 0
    rows = list(csv.DictReader(target.open()))
    assert [(r["model"], r["status"]) for r in rows] == [("a:m", "ok"), ("b:m", "failed")]
    assert "overloaded" in rows[1]["error"]
    assert f"to {target}" in err and "a:m" in out  # the table still shows on the terminal
    assert len(b.requests) == 1  # --retry 0
    code, out, _ = cli("compare", "--no-tools", "--models", "a:m", "--task", "t", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["summaries"][0]["model_id"] == "a:m" and doc["summaries"][0]["runs"][0]["answer"] == "x"


def test_compare_output_format_follows_the_extension(cli, providers, llm_server_factory, tmp_path):
    providers(a=llm_server_factory(default=Reply.text("x")))
    target = tmp_path / "r.json"
    assert cli("compare", "--no-tools", "--models", "a:m", "--task", "t", "-o", str(target))[0] == 0
    assert json.loads(target.read_text())["models"] == ["a:m"]


def test_compare_all_failed_exits_4(cli, providers, llm_server_factory):
    providers(a=llm_server_factory(default=Reply.error(401, "bad key")))
    code, out, err = cli("compare", "--no-tools", "--models", "a:m", "--task", "t")
    assert code == 4
    assert "failed" in out and "bad key" in err


def test_compare_runs_and_check_command(cli, providers, llm_server_factory):
    providers(a=llm_server_factory(default=Reply.text(CODE)))
    code, out, _ = cli("compare", "--no-tools", "--models", "a:m", "--task", "t", "--runs", "2", "--md", "--no-answers",
                       "--check", f"{sys.executable} {{file}}", "--approve", "auto")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("| `a:m`"))
    assert "ok 2/2" in row and "2/2 runs passed" in row
    assert "<details>" not in out
    code, out, _ = cli("compare", "--no-tools", "--models", "a:m", "--task", "t", "--check", "touch nope")
    assert code == 0 and "check not run" in out


def test_compare_base_url_applies_to_all(cli, llm_server_factory):
    server = llm_server_factory(default=Reply.text("ok"))
    code, _, _ = cli("compare", "--no-tools", "--models", "llamacpp:one,vllm:two", "--task", "t", "--base-url", server.openai_url)
    assert code == 0 and sorted(r.model for r in server.requests) == ["one", "two"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--models", "a:m", "--task", "t", "--runs", "0"], "--runs must be 1 or more"),
        (["--models", "a:m", "--task", "t", "--timeout", "0"], "--timeout must be more than 0"),
        (["--models", "nocolon", "--task", "t"], "must look like PROVIDER:MODEL"),
        (["--models", "a:m"], "no task"),
    ],
)
def test_compare_usage_errors(cli, argv, message):
    code, _, err = cli("compare", "--no-tools", *argv)
    assert code == 2 and message in err


def test_route_prints_the_model_and_explains(cli, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "test")
    code, out, err = cli("route", "--task", "What is the capital of France?", "--no-tools")
    chosen = out.strip()
    assert code == 0 and len(out.splitlines()) == 1
    info = ModelCatalog.load().get(chosen)
    assert info is not None and info.tier == "small"
    assert "--model auto" in err
    code, out, _ = cli("route", "--task", "Design a distributed cache architecture with trade-offs", "--explain")
    assert code == 0
    assert out.startswith("choice: ") and "deciding:" in out and "needs tier" in out and "weights: defaults" in out
    code, out, _ = cli("route", "--task", "hello", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["model"] and doc["calibrated"] is False and doc["features"]["tools"] is True
    assert doc["features"]["need_tier"] == "small" and "tools requested (+1)" in doc["features"]["drivers"]


def test_route_with_nothing_usable_exits_4(cli, _isolated_home):
    # no key is set (conftest); min_tier keeps local models (tiny, small) out even if a server runs here
    (_isolated_home / "config.yaml").write_text("router:\n  min_tier: frontier\n")
    code, out, err = cli("route", "--task", "hello")
    assert code == 4 and out == ""
    assert "no model can be chosen" in err and "OPENROUTER_API_KEY" in err


def test_route_calibrate_from_stored_compares(cli, providers, llm_server_factory, monkeypatch):
    code, _, err = cli("route", "calibrate")
    assert code == 1 and "no stored comparison or eval results" in err
    broken_code = "```python\nx=(\n```"
    providers(a=llm_server_factory(default=Reply.text(CODE)), b=llm_server_factory(default=Reply.text(broken_code)))
    for _ in range(2):
        assert cli("compare", "--no-tools", "--models", "a:m,b:m", "--task", "t")[0] == 0
    code, out, _ = cli("route", "calibrate")
    assert code == 0 and "calibrated from 4 model runs in 2 comparison(s)" in out
    assert (data_dir() / "router-weights.json").exists()
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith(("a:m", "b:m"))}
    assert rows == {"a:m": "2/2", "b:m": "0/2"}
    monkeypatch.setenv("OPENROUTER_API_KEY", "test")
    _, out, _ = cli("route", "--task", "hello", "--explain")
    assert "weights: calibrated" in out


def test_route_calibrate_knows_the_models_set_in_the_config(cli, _isolated_home, llm_server_factory):
    """Models (with their tier and price) under ``providers.<name>.models`` are in the catalog calibrate reads."""
    a, b = llm_server_factory(default=Reply.text(CODE)), llm_server_factory(default=Reply.text("```python\nx=(\n```"))
    lines = ["providers:"]
    for name, server, tier in (("a", a, "small"), ("b", b, "large")):
        lines += [f"  {name}:", "    kind: openai", f"    base_url: {server.openai_url}", "    needs_key: false",
                  "    models:", f"      - {{id: m, tier: {tier}, price_in: 1.0, price_out: 2.0}}"]
    (_isolated_home / "config.yaml").write_text("\n".join(lines) + "\n")
    for _ in range(2):
        assert cli("compare", "--no-tools", "--models", "a:m,b:m", "--task", "t")[0] == 0
    code, out, _ = cli("route", "calibrate")
    assert code == 0 and "none is in the catalog" not in out
    assert "success rose -0.50 per tier step" in out  # small 2/2, large 0/2: two tier steps apart


def test_cost_projection_table_and_mix(cli):
    catalog = ModelCatalog.load()
    sonnet, deepseek = "anthropic:claude-sonnet-4-5", "openrouter:deepseek/deepseek-chat"
    code, out, _ = cli("cost", "--tokens", "10M", "--mix", f"{sonnet}=0.3,{deepseek}=0.7")
    assert code == 0
    s, d = catalog.get(sonnet), catalog.get(deepseek)
    full = {m.id: 7 * m.price_in + 3 * m.price_out for m in (s, d)}  # 7M in, 3M out, prices per million
    mixed = 0.3 * full[sonnet] + 0.7 * full[deepseek]
    assert out.startswith("10,000,000 tokens a month · 70% input")
    row = next(line for line in out.splitlines() if line.startswith(sonnet))
    assert format_cost(full[sonnet]) in row and s.price_date.isoformat() in row
    assert f"mix total: {format_cost(mixed)} a month" in out
    code, out, _ = cli("cost", "--tokens", "500k", "--input-share", "90%", "--models", sonnet, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["input_share"] == pytest.approx(0.9)
    assert doc["models"][0]["monthly_usd"] == pytest.approx(0.45 * s.price_in + 0.05 * s.price_out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tokens", "10Q"], "cannot read '10Q'"),
        ([], "--tokens"),
        (["--tokens", "1M", "--input-share", "2"], "--input-share must be between 0 and 1"),
        (["--tokens", "1M", "--mix", "anthropic:claude-sonnet-4-5=0.5"], "add up to 0.5"),
        (["--from-history"], "no stored usage"),
    ],
)
def test_cost_bad_input_is_a_usage_error(cli, argv, message):
    code, out, err = cli("cost", *argv)
    assert code == 2 and message in err and out == ""


def test_cost_from_history(cli):
    with Store() as store:
        store.record_turn(None, model="openrouter:deepseek/deepseek-chat", input_tokens=80_000, output_tokens=20_000)
    code, out, _ = cli("cost", "--from-history", "--days", "10")
    assert code == 0
    assert out.startswith(
        "300,000 tokens a month · 80% input · input share and mix from your stored usage (last 10 days)"
    )
    assert "mix total:" in out


def test_building_the_parser_imports_nothing_heavy():
    code = (
        "import argparse, sys\n"
        "from agentic_flow.core.cli.analysis import add_analysis_commands\n"
        "p = argparse.ArgumentParser(); add_analysis_commands(p.add_subparsers(dest='command'))\n"
        "p.format_help()\n"
        "print(sorted(m for m in ('pydantic', 'httpx', 'textual', 'mcp', 'tiktoken') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
