"""Options of the command line: a command's options before or after its ACTION,
``--timeout`` and ``--workspace`` checks shared by every command, ``audit list --output``."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest

from agentic_flow.core.cli import build_parser, main
from agentic_flow.core.cli.checks import seconds_problem, url_problem

# (command, option and its value, ACTION and its arguments, expected attributes)
BOTH_POSITIONS = [
    ("agents", ["--json"], ["list"], {"json": True}),
    ("agents", ["--agents-dir", "DIR"], ["list"], {"agents_dir": "DIR"}),
    ("agents", ["--json"], ["show", "coder"], {"json": True, "name": "coder"}),
    ("agents", ["--agents-dir", "DIR"], ["show", "coder"], {"agents_dir": "DIR"}),
    ("sessions", ["--json"], ["list"], {"json": True}),
    ("sessions", ["--limit", "1"], ["list"], {"limit": 1}),
    ("sessions", ["--json"], ["show", "abc"], {"json": True, "id": "abc"}),
    ("models", ["--json"], ["list"], {"json": True}),
    ("models", ["--offline"], ["list"], {"offline": True}),
    ("models", ["--search", "m1"], ["list"], {"search": "m1"}),
    ("models", ["--sort", "price"], ["list"], {"sort": "price"}),
    ("audit", ["--json"], ["list"], {"json": True, "csv": False}),
    ("audit", ["--csv"], ["list"], {"csv": True, "json": False}),
    ("audit", ["--output", "x.json"], ["list"], {"output": "x.json"}),
    ("audit", ["--limit", "3"], ["list"], {"limit": 3}),
    ("audit", ["--session", "abc"], ["list"], {"session": "abc"}),
    ("audit", ["--tool", "bash"], ["list"], {"tool": "bash"}),
    ("audit", ["--agent", "reviewer"], ["list"], {"agent": "reviewer"}),
    ("audit", ["--decision", "deny"], ["list"], {"decision": "deny"}),
    ("audit", ["--since", "2026-01-01"], ["list"], {"since": "2026-01-01"}),
    ("audit", ["--until", "2026-01-01"], ["list"], {"until": "2026-01-01"}),
    ("mcp", ["--workspace", "DIR"], ["list"], {"workspace": "DIR"}),
    ("mcp", ["--timeout", "0"], ["list"], {"timeout": 0.0}),
    ("mcp", ["--workspace", "DIR"], ["trust", "srv"], {"workspace": "DIR", "name": "srv"}),
    ("mcp", ["--workspace", "DIR"], ["untrust", "srv"], {"workspace": "DIR"}),
]


def _parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


@pytest.mark.parametrize("position", ["before", "after"])
@pytest.mark.parametrize(
    ("command", "option", "action", "expected"), BOTH_POSITIONS,
    ids=[f"{c}-{o[0]}-{a[0]}" for c, o, a, _ in BOTH_POSITIONS],
)
def test_an_option_counts_before_and_after_the_action(command, option, action, expected, position):
    argv = [command, *option, *action] if position == "before" else [command, *action, *option]
    args = _parse(argv)
    assert {name: getattr(args, name) for name in expected} == expected


def _shared_options() -> list[tuple[str, str, argparse.Action]]:
    """Every (command, ACTION, option) where the option is on both the command and the ACTION."""
    def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return dict(found[0].choices) if found else {}

    out = []
    for command, parser in subparsers(build_parser()).items():
        dests = {a.dest for a in parser._actions if a.option_strings}
        for action, action_parser in subparsers(parser).items():
            for option in action_parser._actions:
                if option.option_strings and option.dest in dests and option.dest != "help":
                    out.append((command, action, option))
    return out


def _value(option: argparse.Action) -> list[str]:
    if option.nargs == 0:  # store_true
        return [option.option_strings[-1]]
    if option.choices:
        return [option.option_strings[-1], str(list(option.choices)[-1])]
    return [option.option_strings[-1], "7"]


def test_every_shared_option_of_every_command_is_kept_before_its_action():
    """Not only the table above: whatever option a command shares with one of its ACTIONs."""
    shared = _shared_options()
    assert len(shared) >= 20  # agents, sessions, models, audit, mcp
    for command, action, option in shared:
        positional = ["NAME"] if command in ("agents", "sessions", "mcp") and action not in ("list",) else []
        if command == "sessions" and action == "rm":
            continue  # rm shares no option
        before = _parse([command, *_value(option), action, *positional])
        after = _parse([command, action, *positional, *_value(option)])
        default = _parse([command, action, *positional])
        assert getattr(before, option.dest) == getattr(after, option.dest), (command, action, option.dest)
        assert getattr(before, option.dest) != getattr(default, option.dest), (command, action, option.dest)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sessions"], {"limit": 30, "json": False}),
        (["sessions", "list"], {"limit": 30, "json": False}),
        (["sessions", "show", "abc"], {"json": False}),
        (["mcp", "list"], {"timeout": 30.0, "workspace": None}),
        (["mcp"], {"timeout": 30.0}),
        (["agents", "show", "coder"], {"json": False, "agents_dir": None}),
        (["audit", "list"], {"json": False, "csv": False, "output": None, "limit": None}),
        (["models", "refresh"], {"timeout": 30.0, "json": False, "offline": False}),
        (["route", "calibrate"], {"top": 3, "json": False, "task": None}),
    ],
)
def test_defaults_hold_when_an_option_is_not_given(argv, expected):
    args = _parse(argv)
    assert {name: getattr(args, name) for name in expected} == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["models", "--json", "refresh"], "--json does not apply to `agentic-flow models refresh`"),
        (["sessions", "--limit", "3", "rm", "abc"], "--limit does not apply to `agentic-flow sessions rm`"),
        (["mcp", "--timeout", "5", "trust", "srv"], "--timeout does not apply to `agentic-flow mcp trust`"),
        (["audit", "-o", "x.json", "verify"], "--output does not apply to `agentic-flow audit verify`"),
        (["route", "--json", "calibrate"], "--json does not apply to `agentic-flow route calibrate`"),
        (["audit", "--json", "list", "--csv"], "argument --csv: not allowed with argument --json"),
    ],
)
def test_an_option_the_action_does_not_take_is_refused_not_dropped(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        _parse(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_help_shows_the_options_where_they_now_work(capsys):
    with pytest.raises(SystemExit):
        _parse(["agents", "--help"])
    assert "agents [-h] [--json] [--agents-dir DIR] ACTION" in capsys.readouterr().out


def test_json_before_the_action_end_to_end(tmp_path):
    """The console entry point, options before ACTION: JSON, and the extra agents folder."""
    folder = tmp_path / "agents"
    folder.mkdir()
    (folder / "tidy.md").write_text("---\nname: tidy\ndescription: tidies up\ntools: Read\n---\nBe tidy.\n")
    done = subprocess.run(
        [sys.executable, "-m", "agentic_flow", "agents", "--json", "--agents-dir", str(folder), "list"],
        cwd=tmp_path, env=dict(os.environ), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    names = {a["name"]: a for a in json.loads(done.stdout)["agents"]}
    assert names["tidy"]["path"] == str(folder / "tidy.md")


def test_agents_show_json(capsys):
    assert main(["agents", "--json", "show", "coder"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "coder" and data["prompt"] and isinstance(data["problems"], list)


# --------------------------------------------------------------------------- --workspace


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--task", "x", "--model", "openai:gpt-4o"],
        ["trust"],
        ["trust", "--show"],
        ["doctor"],
        ["mcp", "list"],
        ["mcp", "trust", "srv"],
        ["permissions", "explain", "ls"],
        ["compare", "--no-tools", "--models", "a:m", "--task", "t"],
    ],
    ids=lambda argv: "-".join(argv[:2]),
)
def test_a_missing_workspace_is_a_usage_error(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "missing"
    assert main([*argv, "--workspace", str(missing)]) == 2
    assert f"--workspace {missing} is not a folder" in capsys.readouterr().err
    assert not missing.exists()


# --------------------------------------------------------------------------- --timeout


@pytest.mark.parametrize(
    "argv",
    [
        ["models", "refresh", "--base-url", "http://127.0.0.1:9", "--timeout", "-1"],
        ["models", "refresh", "--base-url", "http://127.0.0.1:9", "--timeout", "0"],
        ["mcp", "list", "--timeout", "-1"],
        ["mcp", "--timeout", "0", "list"],
        ["mcp", "--timeout", "nan"],
        ["run", "--task", "x", "--model", "openai:gpt-4o", "--timeout", "-1"],
        ["compare", "--no-tools", "--models", "a:m", "--task", "t", "--timeout", "0"],
    ],
    ids=lambda argv: "-".join(argv[:2]) + "-" + argv[-1],
)
def test_a_timeout_must_be_more_than_0(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert "--timeout must be more than 0 seconds" in capsys.readouterr().err


def test_compare_check_timeout_uses_the_same_check(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--no-tools", "--models", "a:m", "--task", "t", "--check-timeout", "-1"]) == 2
    assert "--check-timeout must be more than 0 seconds" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "ok"), [(None, True), (0.5, True), (30, True), (0, False), (-1, False), (float("nan"), False),
                      (float("inf"), False)],
)
def test_seconds_problem(value, ok):
    assert (seconds_problem(value) is None) is ok


# --------------------------------------------------------------------------- --base-url


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--task", "x", "--model", "openai:gpt-4o"],
        ["compare", "--no-tools", "--models", "a:m", "--task", "t"],
        ["eval", "suite.yaml", "--models", "a:m"],
        ["models", "refresh"],
        ["--model", "openai:gpt-4o"],  # the workbench
    ],
    ids=lambda argv: argv[0],
)
@pytest.mark.parametrize("url", ["notaurl", "ftp://host/v1", "http://", "127.0.0.1:8080/v1"])
def test_a_base_url_that_is_not_an_http_url_is_a_usage_error(argv, url, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--base-url", url], open_workbench=lambda args: 0) == 2
    assert "is not an http(s) URL" in capsys.readouterr().err


@pytest.mark.parametrize(("value", "ok"), [(None, True), ("http://127.0.0.1:8080/v1", True), ("HTTPS://api.x.ai", True),
                                           ("notaurl", False), ("http:///v1", False), ("file:///tmp", False)])
def test_url_problem(value, ok):
    assert (url_problem(value) is None) is ok


# --------------------------------------------------------------------------- audit list --output


@pytest.mark.parametrize("position", ["before", "after"])
def test_audit_output_takes_the_format_from_the_extension(tmp_path, capsys, position):
    def audit(*argv: str) -> int:
        return main(["audit", *argv, "list"] if position == "before" else ["audit", "list", *argv])

    assert audit("--output", str(tmp_path / "rows.json")) == 0
    assert json.loads((tmp_path / "rows.json").read_text()) == []
    assert audit("-o", str(tmp_path / "rows.CSV")) == 0
    assert (tmp_path / "rows.CSV").read_text().startswith("id,ts,session_id,")
    assert capsys.readouterr().out == ""  # the export went to the files, not stdout
    assert audit("--csv", "-o", str(tmp_path / "rows.json")) == 0  # the flag beats the extension
    assert (tmp_path / "rows.json").read_text().startswith("id,ts,")


def test_audit_output_with_an_unknown_extension_is_a_usage_error(tmp_path, capsys):
    assert main(["audit", "list", "--output", str(tmp_path / "rows.txt")]) == 2
    err = capsys.readouterr().err
    assert "--json or --csv" in err and ".json or .csv" in err
    assert not (tmp_path / "rows.txt").exists()


def test_audit_output_that_cannot_be_written_is_one_error_line(tmp_path, capsys):
    target = tmp_path / "no" / "such" / "x.json"
    assert main(["audit", "list", "--json", "--output", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"agentic-flow: error: cannot write --output file {target}: No such file or directory"


# --------------------------------------------------------------------------- compare, before paying


def test_compare_stops_before_running_on_broken_settings_or_an_output_folder_that_is_not_there(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    argv = ["compare", "--models", "llamacpp:a,llamacpp:b", "--task", "t",  # agents in worktrees
            "--base-url", "http://127.0.0.1:9/v1"]
    assert main([*argv, "-o", str(tmp_path / "missing" / "c.md")]) == 2
    assert "its folder does not exist" in capsys.readouterr().err
    (tmp_path / ".agentic-flow").mkdir()
    (tmp_path / ".agentic-flow" / "settings.yaml").write_text("permissions: [unclosed\n")
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "settings.yaml" in err and "comparing" not in err  # nothing ran


@pytest.mark.parametrize(("argv", "usage"), [(["run", "--bogus"], "agentic-flow run"),
                                              (["sessions", "list", "--bogus"], "agentic-flow sessions list")])
def test_an_unknown_option_is_reported_by_the_command_it_was_given_to(argv, usage, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: {usage} ") and f"{usage}: error: unrecognized arguments: --bogus" in err


@pytest.mark.parametrize("argv", [["sessions", "list", "--limit", "0"], ["sessions", "--limit", "-1", "list"],
                                  ["audit", "list", "--limit", "0"], ["sessions", "list", "--limit", "x"]])
def test_a_limit_must_be_1_or_more(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    assert "--limit" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["", "   "])
def test_permissions_explain_needs_a_command(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["permissions", "explain", command]) == 2
    assert "no command to explain" in capsys.readouterr().err
