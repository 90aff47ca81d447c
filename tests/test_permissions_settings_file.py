"""Writing "always" rules into the project settings without losing what is there."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agentic_flow.core.errors import ConfigError
from agentic_flow.core.permissions import append_allow_rule, load_settings_rules

RULE = "bash(git status*)"


@pytest.mark.parametrize(
    ("before", "after_data", "kept"),
    [
        (None, {"permissions": {"allow": [RULE]}}, []),
        ("", {"permissions": {"allow": [RULE]}}, []),
        ("# only a comment\n", {"permissions": {"allow": [RULE]}}, ["# only a comment"]),
        ("model: x  # keep me\nproviders:\n  a: 1\n",
         {"model": "x", "providers": {"a": 1}, "permissions": {"allow": [RULE]}}, ["# keep me"]),
        ("model: x", {"model": "x", "permissions": {"allow": [RULE]}}, []),
        ("permissions:\n  deny:\n    - bash(rm *)  # never\nafter: 1\n",
         {"permissions": {"deny": ["bash(rm *)"], "allow": [RULE]}, "after": 1}, ["# never"]),
        ("permissions:\n  allow:\n  - read\n  - 'bash(ls *)'  # quoted\n  deny: []\nafter: 2\n",
         {"permissions": {"allow": ["read", "bash(ls *)", RULE], "deny": []}, "after": 2}, ["# quoted", "'bash(ls *)'"]),
        ("permissions:\n  allow: [read]  # flow\nx: 1\n",
         {"permissions": {"allow": ["read", RULE]}, "x": 1}, ["# flow"]),
        ("permissions:\nx: 1\n", {"permissions": {"allow": [RULE]}, "x": 1}, []),
        ("permissions:\n  allow:\n  deny: [bash]\n", {"permissions": {"allow": [RULE], "deny": ["bash"]}}, []),
        ("{model: x}\n", {"model": "x", "permissions": {"allow": [RULE]}}, []),
    ],
)
def test_append_keeps_the_rest_of_the_file(tmp_path: Path, before: str | None, after_data: dict, kept: list[str]) -> None:
    path = tmp_path / "sub" / "settings.yaml"
    if before is not None:
        path.parent.mkdir()
        path.write_text(before, encoding="utf-8")
    assert append_allow_rule(path, RULE) is True
    text = path.read_text(encoding="utf-8")
    assert yaml.safe_load(text) == after_data
    for fragment in kept:
        assert fragment in text
    assert [r.text for r in load_settings_rules(path).of("allow")][-1] == RULE


def test_duplicate_rule_is_not_added_twice(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    assert append_allow_rule(path, RULE) is True
    before = path.read_text(encoding="utf-8")
    assert append_allow_rule(path, RULE) is False
    assert path.read_text(encoding="utf-8") == before


@pytest.mark.parametrize(
    "rule",
    ["*", "bash(echo a: b, c)", "bash(echo '#x' \"y\")", "bash(printf 'a\nb')", "bash(echo café)", "mcp:github/*",
     "bash(ls \\*.py)", "read(- x)", "edit(@x)"],
)
def test_awkward_rules_round_trip(tmp_path: Path, rule: str) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("permissions:\n  allow:\n    - read\n", encoding="utf-8")
    append_allow_rule(path, rule)
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["permissions"]["allow"] == ["read", rule]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("permissions: {allow: [\n", "not valid YAML"),
        ("- a\n- b\n", "must be a mapping"),
        ("permissions: [x]\n", "(key 'permissions'): cannot add rule"),
        ("permissions:\n  allow: read\n", "(key 'permissions.allow')"),
    ],
)
def test_bad_files_are_reported_and_left_alone(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        append_allow_rule(path, RULE)
    assert fragment in str(info.value) and str(path) in str(info.value)
    assert path.read_text(encoding="utf-8") == text
    assert [p.name for p in tmp_path.iterdir()] == ["settings.yaml"]  # no temp file left behind


def test_file_mode_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    path.chmod(0o600)
    append_allow_rule(path, RULE)
    assert path.stat().st_mode & 0o777 == 0o600
