"""Settings files: merge order, validation errors that name file, line and key."""

from __future__ import annotations

import pytest

from agentic_flow.core.config import load_settings, load_settings_file
from agentic_flow.core.errors import ConfigError
from agentic_flow.core.paths import config_dir, data_dir, user_config_file
from agentic_flow.core.providers.registry import key_status, resolve_provider_config


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_home_relocates_everything(_isolated_home):
    assert config_dir() == _isolated_home
    assert data_dir() == _isolated_home / "data"
    assert user_config_file() == _isolated_home / "config.yaml"


def test_missing_files_are_defaults(tmp_path):
    loaded = load_settings(tmp_path)
    assert loaded.merged.default_model is None and loaded.merged.permissions.allow == []


def test_project_overrides_user_and_rules_concatenate(tmp_path):
    write(user_config_file(), "default_model: openai:gpt-4o\nretries: 5\npermissions:\n  allow: ['bash(git status*)']\n")
    write(tmp_path / ".agentic-flow" / "settings.yaml", "default_model: anthropic:claude-haiku-4-5\npermissions:\n  allow: ['edit(src/**)']\n  mode: accept-edits\n")
    loaded = load_settings(tmp_path)
    assert loaded.merged.default_model == "anthropic:claude-haiku-4-5"
    assert loaded.merged.retries == 5
    assert loaded.merged.permissions.allow == ["bash(git status*)", "edit(src/**)"]
    assert loaded.merged.permissions.mode == "accept-edits"
    sources = {rule: path for _, rule, path in loaded.rules_with_sources()}
    assert sources["bash(git status*)"] == user_config_file()


@pytest.mark.parametrize(
    "text,line,key,fragment",
    [
        ("retries: 3\ntimout: 5\n", 2, "timout", "unknown key; known keys here"),
        ("providers:\n  lab:\n    kind: grpc\n", 3, "providers.lab.kind", "unknown provider kind 'grpc'; known kinds: anthropic, openai"),
        ("providers:\n  lab:\n    base_url: http://x\n    apikey: s\n", 4, "providers.lab.apikey", "api_key"),
        ("permissions:\n  mode: yolo\n", 2, "permissions.mode", "Input should be"),
        ("temperature: 9\n", 1, "temperature", "less than or equal"),
    ],
)
def test_invalid_values_name_file_line_key(tmp_path, text, line, key, fragment):
    path = write(tmp_path / "config.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_settings_file(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:{line} (key '{key}')"), msg
    assert fragment in msg


def test_yaml_syntax_error_names_line(tmp_path):
    path = write(tmp_path / "config.yaml", "a: 1\nb: [unclosed\nc: 2\n")
    with pytest.raises(ConfigError) as info:
        load_settings_file(path)
    assert str(info.value).startswith(f"{path}:") and "not valid YAML" in str(info.value)


def test_top_level_must_be_mapping(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        load_settings_file(write(tmp_path / "c.yaml", "- a\n- b\n"))


def test_keys_come_from_environment(monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-xyz")
    config = resolve_provider_config("openrouter")
    assert config.api_key == "sk-or-v1-xyz" and "xyz" not in repr(config)
    assert key_status("openrouter") is None
    assert key_status("anthropic") == "set ANTHROPIC_API_KEY"
    assert key_status("ollama") is None  # local servers need no key


def test_custom_provider_from_settings(tmp_path, monkeypatch):
    write(user_config_file(), "providers:\n  lab:\n    kind: anthropic\n    base_url: http://lab:9000\n    api_key_env: LAB_KEY\n")
    monkeypatch.setenv("LAB_KEY", "k-123")
    config = resolve_provider_config("lab", load_settings(tmp_path).merged)
    assert (config.kind, config.base_url, config.api_key) == ("anthropic", "http://lab:9000", "k-123")
