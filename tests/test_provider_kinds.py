"""Provider kinds come from a registry a plugin can extend; provider facts from one table."""

from __future__ import annotations

import io
import textwrap

import pytest

from agentic_flow.core.cli import main
from agentic_flow.core.config import LoadedSettings, Settings, load_settings_file
from agentic_flow.core.errors import ConfigError
from agentic_flow.core.providers import kinds
from agentic_flow.core.providers.anthropic import AnthropicProvider
from agentic_flow.core.providers.base import ProviderConfig
from agentic_flow.core.providers.openai import OpenAIProvider
from agentic_flow.core.providers.presets import PRESETS, key_variables
from agentic_flow.core.providers.registry import create_provider
from agentic_flow.core.redact import KNOWN_KEY_VARS, redact
from agentic_flow.core.runtime import choose_model
from tests.llm_server import Reply, llm_server  # noqa: F401

PLUGIN_MODULE = '''
from agentic_flow.core.providers.openai import OpenAIProvider

CALLS = []


class TracingProvider(OpenAIProvider):
    """A plugin kind: the openai wire format, recording every request it sends."""

    kind = "tracing"

    def body(self, request):
        CALLS.append(request.model)
        return super().body(request)
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """An installed package that declares a provider kind through the entry point group."""
    site = tmp_path / "site"
    (site / "tracing_plugin").mkdir(parents=True)
    (site / "tracing_plugin" / "__init__.py").write_text(PLUGIN_MODULE)
    info = site / "tracing_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tracing-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{kinds.ENTRY_POINT_GROUP}]\ntracing = tracing_plugin:TracingProvider\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(kinds, "_plugins_loaded", False)
    monkeypatch.setattr(kinds, "_KINDS", dict(kinds._KINDS))
    yield
    import sys

    sys.modules.pop("tracing_plugin", None)


def config(kind: str) -> ProviderConfig:
    return ProviderConfig(name="lab", kind=kind, base_url="http://127.0.0.1:9/v1", needs_key=False)


def test_built_in_kinds_build_their_classes():
    assert type(create_provider(config("openai"))) is OpenAIProvider
    assert type(create_provider(config("anthropic"))) is AnthropicProvider


def test_an_unknown_kind_is_a_config_error_naming_the_known_ones():
    with pytest.raises(ConfigError, match="unknown provider kind 'grpc'; known kinds: anthropic, openai"):
        create_provider(config("grpc"))


def test_a_plugin_kind_is_valid_in_settings_and_answers_a_run(plugin, tmp_path, monkeypatch, llm_server, capsys):
    (tmp_path / "config.yaml").write_text(
        textwrap.dedent(
            f"""\
            providers:
              lab:
                kind: tracing
                base_url: {llm_server.openai_url}
                needs_key: false
            """
        )
    )
    assert load_settings_file(tmp_path / "config.yaml").providers["lab"].kind == "tracing"
    assert "tracing" in kinds.known_kinds()
    monkeypatch.setenv("AGENTIC_FLOW_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    llm_server.enqueue(Reply.text("from the plugin"))
    assert main(["run", "--model", "lab:lab-coder", "--task", "hi", "--no-tools"]) == 0
    assert capsys.readouterr().out == "from the plugin\n"
    import tracing_plugin

    assert tracing_plugin.CALLS == ["lab-coder"]


def test_a_registered_class_that_is_not_a_provider_is_refused(monkeypatch):
    monkeypatch.setattr(kinds, "_KINDS", dict(kinds._KINDS))
    kinds.register_kind("broken", "json:JSONDecoder")
    with pytest.raises(ConfigError, match="not a Provider subclass"):
        kinds.provider_class("broken")


# ---------------------------------------------------------------------------- one preset table


def test_key_variables_come_from_the_preset_table():
    assert KNOWN_KEY_VARS == key_variables()
    assert {p.key_env for p in PRESETS.values() if p.key_env} == set(KNOWN_KEY_VARS)


@pytest.mark.parametrize("name", [n for n, p in PRESETS.items() if p.key_pattern])
def test_every_preset_key_format_is_masked(name):
    samples = {
        "openrouter": "sk-or-v1-" + "a1" * 16,
        "anthropic": "sk-ant-api03-" + "b2" * 16,
        "openai": "sk-proj-" + "c3" * 16,
        "google": "AIza" + "d" * 35,
        "deepseek": "sk-" + "e4" * 16,
        "groq": "gsk_" + "f5" * 12,
    }
    assert redact(f"key={samples[name]} end".replace("key=", "k ")) == "k [REDACTED] end"


def test_the_default_model_follows_the_preset_order(monkeypatch):
    loaded = LoadedSettings(
        merged=Settings(), user=Settings(), project=Settings(), user_file=__file__, project_file=__file__
    )
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai-000000000000")
    monkeypatch.setenv("GEMINI_API_KEY", "gem-test-key-0000")
    assert choose_model(None, None, loaded)[0] == "openai:gpt-4o-mini"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-00000000000000")
    assert choose_model(None, None, loaded)[0] == "anthropic:claude-sonnet-4-5"
