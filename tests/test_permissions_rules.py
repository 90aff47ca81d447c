"""Rule parsing, pattern matching, and loading rules from our and Claude's settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from agentic_flow.core.errors import ConfigError
from agentic_flow.core.permissions import (
    RuleSet,
    claude_rule_to_ours,
    load_claude_rules,
    load_rule_sets,
    load_settings_rules,
    parse_rule,
)
from agentic_flow.core.permissions.globs import command_match, escape_command, escape_path, path_match
from agentic_flow.core.permissions.targets import resolve_path

# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("text", "tool", "pattern", "canonical"),
    [
        ("bash(git status*)", "bash", "git status*", "bash(git status*)"),
        ("bash(pytest *)", "bash", "pytest *", "bash(pytest *)"),
        ("  bash(  git   status* )  ", "bash", "git status*", "bash(git status*)"),
        ("Bash(ls)", "bash", "ls", "bash(ls)"),
        ("bash(*)", "bash", None, "bash"),
        ("bash", "bash", None, "bash"),
        ("write", "write", None, "write"),
        ("edit(src/**)", "edit", "src/**", "edit(src/**)"),
        ("edit(./src/**)", "edit", "src/**", "edit(src/**)"),
        ("read(**/.env)", "read", "**/.env", "read(**/.env)"),
        ("read(/etc/**)", "read", "/etc/**", "read(/etc/**)"),
        ("read(~/.ssh/**)", "read", "~/.ssh/**", "read(~/.ssh/**)"),
        ("glob", "glob", None, "glob"),
        ("*", "*", None, "*"),
        ("bash(echo \")\")", "bash", 'echo ")"', 'bash(echo ")")'),
    ],
)
def test_parse_rule(text: str, tool: str, pattern: str | None, canonical: str) -> None:
    rule = parse_rule(text, "allow")
    assert (rule.tool, rule.pattern, rule.text) == (tool, pattern, canonical)


@pytest.mark.parametrize(
    ("text", "server", "tool", "canonical"),
    [
        ("mcp:github/*", "github", "*", "mcp:github/*"),
        ("mcp:github/create_issue", "github", "create_issue", "mcp:github/create_issue"),
        ("mcp:github", "github", "*", "mcp:github/*"),
        ("mcp:*", "*", "*", "mcp:*/*"),
        ("mcp__github__create_issue", "github", "create_issue", "mcp:github/create_issue"),
    ],
)
def test_parse_mcp_rule(text: str, server: str, tool: str, canonical: str) -> None:
    rule = parse_rule(text, "deny")
    assert (rule.tool, rule.mcp_server, rule.mcp_tool, rule.text, rule.action) == ("mcp", server, tool, canonical, "deny")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty rule"),
        ("bash(git status", "missing closing parenthesis"),
        ("bsh(ls)", "unknown tool 'bsh'"),
        ("bash()", "empty pattern"),
        ("edit(   )", "empty pattern"),
        ("*(x)", "takes no argument"),
        ("mcp:github/x(y)", "tool name only"),
        ("mcp:/tool", "mcp:server/tool"),
        ("read(../secrets/**)", "outside the workspace must be absolute"),
        ("WebFetch", "unknown tool"),
    ],
)
def test_parse_errors_name_the_rule(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rule(text, "allow", source=Path("/x/settings.yaml"), line=3)
    message = str(info.value)
    assert fragment in message
    assert f"'{text}'" in message
    assert "/x/settings.yaml:3" in message


def test_decided_by_names_rule_and_source() -> None:
    rule = parse_rule("bash(git status*)", "allow", source=Path("/p/settings.yaml"))
    assert rule.decided_by == "rule:bash(git status*) [/p/settings.yaml]"
    assert parse_rule("bash").decided_by == "rule:bash"


@pytest.mark.parametrize(
    ("rule", "tools_covered", "tools_not_covered"),
    [
        ("read(x)", ["read", "glob", "grep", "ls", "Read"], ["write", "edit", "bash", "mcp:a/b"]),
        ("edit(x)", ["edit", "write"], ["read", "bash"]),
        ("write", ["write", "edit"], ["read", "bash"]),
        ("grep", ["grep"], ["read", "glob"]),
        ("bash", ["bash"], ["read", "mcp:a/b"]),
        ("*", ["read", "bash", "mcp:a/b", "future_tool"], []),
        ("mcp:github/*", ["mcp:github/create_issue", "mcp:github/x"], ["mcp:gitlab/x", "bash"]),
        ("mcp:github/create_*", ["mcp:github/create_issue"], ["mcp:github/list_issues"]),
    ],
)
def test_rule_covers_tools(rule: str, tools_covered: list[str], tools_not_covered: list[str]) -> None:
    parsed = parse_rule(rule)
    assert all(parsed.covers_tool(t) for t in tools_covered)
    assert not any(parsed.covers_tool(t) for t in tools_not_covered)


@pytest.mark.parametrize(
    ("rule", "catch_all"),
    [("*", True), ("bash", True), ("bash(*)", True), ("edit(**)", True), ("edit(**/*)", True), ("mcp:*", True),
     ("bash(sudo *)", False), ("edit(src/**)", False), ("mcp:github/*", False), ("read(**/.env)", False)],
)
def test_catch_all(rule: str, catch_all: bool) -> None:
    assert parse_rule(rule).is_catch_all is catch_all


# ------------------------------------------------------------------ path globs


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("src/**", "src/a.py", True),
        ("src/**", "src/a/b/c.py", True),
        ("src/**", "src", True),
        ("src/**", "srcx/a.py", False),
        ("src/*", "src/a.py", True),
        ("src/*", "src/a/b.py", False),  # * must not cross /
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/sub/a.py", False),
        ("src/**/*.py", "src/a.py", True),
        ("src/**/*.py", "src/x/y/a.py", True),
        ("**/.env", ".env", True),
        ("**/.env", "a/b/.env", True),
        ("**/.env", "a/b/.env.example", False),
        (".env", "a/.env", False),
        ("*.md", "README.md", True),
        ("*.md", "docs/x.md", False),
        ("a/?.py", "a/b.py", True),
        ("a/?.py", "a/bc.py", False),
        ("a/[bc].py", "a/c.py", True),
        ("/etc/**", "/etc/passwd", True),
        ("/etc/**", "etc/passwd", False),
        ("etc/**", "/etc/passwd", False),
        ("**", "anything/at/all", True),
    ],
)
def test_path_match(pattern: str, path: str, expected: bool) -> None:
    assert path_match(pattern, path) is expected


def test_path_match_ignore_case_only_when_asked() -> None:
    assert not path_match("**/.env", "x/.ENV")
    assert path_match("**/.env", "x/.ENV", ignore_case=True)


@given(st.text(alphabet="ab*?[]/._-", min_size=1, max_size=20))
def test_escaped_path_matches_itself(path: str) -> None:
    normalized = "/".join(s for s in path.split("/") if s not in ("", "."))
    assert path_match(escape_path(normalized), normalized)


@pytest.mark.parametrize(
    ("raw", "rel", "inside"),
    [
        ("src/a.py", "src/a.py", True),
        ("./src/../a.py", "a.py", True),
        ("/ws/proj/src/a.py", "src/a.py", True),
        ("/ws/proj", ".", True),
        ("../other/x", "/ws/other/x", False),
        ("src/../../x", "/ws/x", False),
        ("/etc/passwd", "/etc/passwd", False),
        ("/ws/project2/x", "/ws/project2/x", False),  # a sibling with a common prefix
    ],
)
def test_resolve_path_is_lexical(raw: str, rel: str, inside: bool) -> None:
    target = resolve_path(raw, "/ws/proj")
    assert (target.rel, target.inside) == (rel, inside)


# ------------------------------------------------------------------ command wildcards


@pytest.mark.parametrize(
    ("pattern", "command", "expected"),
    [
        ("git status*", "git status", True),
        ("git status*", "git status --short", True),
        ("git status*", "git  status   -s", True),
        ("git status*", "git commit", False),
        ("pytest *", "pytest -x tests/a b", True),
        ("pytest *", "pytest", True),  # a trailing " *" also allows the bare command
        ("pytest *", "pytestfoo", False),
        ("npm run test*", "npm run test:unit", True),
        ("ls", "ls", True),
        ("ls", "ls -la", False),
        ("echo \\*", "echo *", True),
        ("echo \\*", "echo x", False),
        ("*", "anything at all", True),
        ("git * main", "git push origin main", True),
    ],
)
def test_command_match(pattern: str, command: str, expected: bool) -> None:
    assert command_match(pattern, command) is expected


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40))
def test_exact_rule_names_exactly_its_command(command: str) -> None:
    assume(command.strip())
    rule = parse_rule(f"bash({escape_command(command)})")
    assert rule.names_command_line(command)
    assert not rule.names_command_line(command + " x")
    assert not rule.names_command_line(command + "\nx")


# ------------------------------------------------------------------ Claude Code rules


@pytest.mark.parametrize(
    ("claude", "ours"),
    [
        ("Bash(npm run test:*)", "bash(npm run test *)"),
        ("Bash(git diff:*)", "bash(git diff *)"),
        ("Bash(ls -la)", "bash(ls -la)"),
        ("Bash", "bash"),
        ("Bash(*)", "bash"),
        ("Read(./.env)", "read(.env)"),
        ("Read(.env)", "read(**/.env)"),  # gitignore style: a bare name matches at any depth
        ("Read(//etc/passwd)", "read(/etc/passwd)"),
        ("Read(~/.ssh/**)", "read(~/.ssh/**)"),
        ("Edit(/src/**/*.ts)", "edit(src/**/*.ts)"),
        ("Edit(src/**)", "edit(src/**)"),
        ("Write(docs/**)", "write(docs/**)"),
        ("MultiEdit", "edit"),
        ("Glob", "glob"),
        ("Grep(src/**)", "grep(src/**)"),
        ("LS", "ls"),
        ("mcp__github__create_issue", "mcp:github/create_issue"),
        ("mcp__github", "mcp:github/*"),
        ("mcp__github__*", "mcp:github/*"),
        ("Task", "agent"),
    ],
)
def test_claude_rule_mapping(claude: str, ours: str) -> None:
    assert claude_rule_to_ours(claude) == (ours, None)
    parse_rule(ours)  # every mapped rule is valid in our syntax


@pytest.mark.parametrize(
    "claude", ["WebFetch(domain:example.com)", "WebSearch", "Task(reviewer)", "NotebookEdit(x)", "Bash(ls"]
)
def test_claude_rules_we_cannot_map_are_warnings(claude: str) -> None:
    ours, warning = claude_rule_to_ours(claude)
    assert ours is None
    assert warning and claude in warning


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_load_claude_rules(tmp_path: Path) -> None:
    shared = _write(
        tmp_path / ".claude" / "settings.json",
        json.dumps(
            {
                "permissions": {
                    "allow": ["Bash(npm run test:*)", "WebFetch(domain:x.com)", "mcp__github"],
                    "deny": ["Read(./.env)"],
                    "defaultMode": "acceptEdits",
                },
                "model": "x",
            }
        ),
    )
    local = _write(
        tmp_path / ".claude" / "settings.local.json",
        json.dumps({"permissions": {"ask": ["Bash(git push:*)"], "defaultMode": "plan"}}),
    )
    rules, warnings = load_claude_rules(tmp_path)
    got = {(r.action, r.text, r.source) for r in rules}
    assert got == {
        ("allow", "bash(npm run test *)", shared),
        ("allow", "mcp:github/*", shared),
        ("deny", "read(.env)", shared),
        ("ask", "bash(git push *)", local),
    }
    assert [r.display for r in rules.of("allow")][0] == "Bash(npm run test:*)"
    assert rules.default_mode == "read-only"  # local beats shared
    assert len(warnings) == 1 and "WebFetch" in warnings[0] and str(shared) in warnings[0]


def test_load_claude_rules_without_files(tmp_path: Path) -> None:
    assert load_claude_rules(tmp_path) == (RuleSet(), [])


def test_load_claude_rules_invalid_json_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path / ".claude" / "settings.json", '{\n  "permissions": {,\n}')
    with pytest.raises(ConfigError, match=r"settings\.json:2"):
        load_claude_rules(tmp_path)


def test_load_claude_bypass_mode_maps_to_auto_with_warning(tmp_path: Path) -> None:
    _write(tmp_path / ".claude" / "settings.json", json.dumps({"permissions": {"defaultMode": "bypassPermissions"}}))
    rules, warnings = load_claude_rules(tmp_path)
    assert rules.default_mode == "auto"
    assert any("dangerous operations still ask" in w for w in warnings)


# ------------------------------------------------------------------ our settings files


def test_load_settings_rules(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "settings.yaml",
        "model: x\npermissions:\n  mode: accept-edits\n  allow:\n    - bash(pytest *)\n  deny:\n    - read(**/.env)\n",
    )
    rules = load_settings_rules(path)
    assert [(r.action, r.text, r.source) for r in rules] == [
        ("allow", "bash(pytest *)", path),
        ("deny", "read(**/.env)", path),
    ]
    assert rules.default_mode == "accept-edits"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("permissions:\n  allow:\n    - bash(ls)\n    - bsh(x)\n", ":4: invalid permission rule 'bsh(x)'"),
        ("permissions:\n  allow: bash\n", ":2 (key 'permissions.allow'): must be a list"),
        ("permissions:\n  deny:\n    - {a: 1}\n", ":3 (key 'permissions.deny'): a rule must be a string"),
        ("permissions: [a]\n", "'permissions' must be a mapping"),
        ("permissions:\n  mode: yolo\n", "unknown permission mode 'yolo'"),
        ("permissions: {allow: [\n", "invalid YAML"),
    ],
)
def test_load_settings_errors_name_file_and_line(tmp_path: Path, text: str, fragment: str) -> None:
    path = _write(tmp_path / "settings.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_settings_rules(path)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)


def test_missing_or_empty_settings_have_no_rules(tmp_path: Path) -> None:
    assert len(load_settings_rules(tmp_path / "nope.yaml")) == 0
    assert len(load_settings_rules(_write(tmp_path / "empty.yaml", ""))) == 0
    assert len(load_settings_rules(_write(tmp_path / "other.yaml", "model: x\npermissions:\n"))) == 0


def test_load_rule_sets_merges_all_sources(tmp_path: Path) -> None:
    user = _write(tmp_path / "home" / "config.yaml", "permissions:\n  mode: auto\n  allow: [bash(ls *)]\n")
    project = _write(tmp_path / "ws" / ".agentic-flow" / "settings.yaml", "permissions:\n  deny: [bash(rm *)]\n")
    _write(tmp_path / "ws" / ".claude" / "settings.json", json.dumps({"permissions": {"ask": ["Bash(git push:*)"]}}))
    rules, warnings = load_rule_sets(tmp_path / "ws", user_settings=user, project_settings=project)
    assert {(r.action, r.text) for r in rules} == {("allow", "bash(ls *)"), ("deny", "bash(rm *)"), ("ask", "bash(git push *)")}
    assert rules.default_mode == "auto"
    assert warnings == []


def test_load_rule_sets_uses_agentic_flow_home_for_user_settings(tmp_path: Path, _isolated_home: Path) -> None:
    _write(_isolated_home / "config.yaml", "permissions:\n  allow: [grep]\n")
    rules, _ = load_rule_sets(tmp_path)
    assert [r.text for r in rules] == ["grep"]
