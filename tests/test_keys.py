"""Keys entered in the app: saved into the user config file (0600, comments kept) or kept
for the session; the registry uses them, the redaction layer masks them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

from agentic_flow.core import keys
from agentic_flow.core.config import load_settings, load_settings_file
from agentic_flow.core.errors import ConfigError
from agentic_flow.core.paths import user_config_file
from agentic_flow.core.providers.registry import key_status, resolve_provider_config
from agentic_flow.core.redact import redact
from agentic_flow.core.runtime import Runtime

KEY = "sk-proj-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2" * 2


@pytest.fixture(autouse=True)
def _no_session_keys():
    keys.forget_session_keys()
    yield
    keys.forget_session_keys()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_key_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "cfg" / "config.yaml"
    assert keys.save_api_key("openai", KEY, path) == path
    assert mode(path) == 0o600
    assert yaml.safe_load(path.read_text()) == {"providers": {"openai": {"api_key": KEY}}}
    assert load_settings_file(path).providers["openai"].api_key.get_secret_value() == KEY


COMMENTED = """\
# my settings
default_agent: coder   # the one I use most
providers:
  lab:
    kind: openai
    base_url: http://gpu:8000/v1   # the lab box
  openai:
    headers: {X-Team: infra}
theme: workbench-dark
"""


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("anthropic", {"api_key": KEY}),  # a new entry under providers
        ("lab", {"kind": "openai", "base_url": "http://gpu:8000/v1", "api_key": KEY}),  # added to an entry
    ],
)
def test_the_key_is_inserted_as_text_so_comments_survive(tmp_path, provider, expected):
    path = tmp_path / "config.yaml"
    path.write_text(COMMENTED)
    os.chmod(path, 0o644)
    keys.save_api_key(provider, KEY, path)
    text = path.read_text()
    assert "# my settings" in text and "# the one I use most" in text and "# the lab box" in text
    data = yaml.safe_load(text)
    assert data["providers"][provider] == expected
    assert data["theme"] == "workbench-dark" and data["default_agent"] == "coder"
    assert mode(path) == 0o600  # it holds a key now


def test_a_key_already_there_is_replaced_in_place(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("providers:\n  lab:\n    api_key: old-key-123   # rotated monthly\n    kind: openai\n")
    keys.save_api_key("lab", KEY, path)
    assert path.read_text() == f'providers:\n  lab:\n    api_key: "{KEY}"   # rotated monthly\n    kind: openai\n'


def test_a_file_of_another_shape_is_rewritten_with_every_value_kept(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("{providers: {openai: {headers: {X-Team: infra}}}, theme: workbench-light}\n")
    keys.save_api_key("openai", KEY, path)
    assert yaml.safe_load(path.read_text()) == {
        "providers": {"openai": {"headers": {"X-Team": "infra"}, "api_key": KEY}},
        "theme": "workbench-light",
    }


@pytest.mark.parametrize("text", ["- a list\n", "providers: [oops\n"])
def test_a_broken_file_is_not_overwritten(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=str(path)):
        keys.save_api_key("openai", KEY, path)
    assert path.read_text() == text


@pytest.mark.parametrize("bad", ["", "   ", "two words", "tab\there"])
def test_what_cannot_be_a_key_is_refused(tmp_path, bad):
    with pytest.raises(ConfigError):
        keys.save_api_key("openai", bad, tmp_path / "config.yaml")
    with pytest.raises(ConfigError):
        keys.set_session_key("openai", bad)


def test_a_session_key_is_used_masked_and_never_put_in_the_environment(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert key_status("openai") == "set OPENAI_API_KEY"
    path = Runtime.enter_key("openai", KEY, save=False)
    assert path is None
    assert key_status("openai") is None
    assert resolve_provider_config("openai").api_key == KEY
    assert "OPENAI_API_KEY" not in os.environ and KEY not in os.environ.values()
    assert KEY not in redact(f"the server said: bad key {KEY[:-1]}X and {KEY}")
    assert not user_config_file().exists()  # nothing written


def test_a_saved_key_reaches_new_settings_and_this_session(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path = Runtime.enter_key("openai", KEY, save=True)
    assert path == user_config_file() and mode(path) == 0o600
    keys.forget_session_keys()
    settings = load_settings().merged  # a later start reads it from the file
    assert key_status("openai", settings) is None
    assert resolve_provider_config("openai", settings).api_key == KEY
