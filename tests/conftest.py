"""Suite-wide fixtures: every test runs with its own AGENTIC_FLOW_HOME and no API keys."""

from __future__ import annotations

import pytest

KEY_VARS = (
    "OPENROUTER_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "DEEPSEEK_API_KEY",
    "MISTRAL_API_KEY",
    "GROQ_API_KEY",
    "TOGETHER_API_KEY",
)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Never touch the real home: config, data and cache live in a temp dir."""
    home = tmp_path_factory.mktemp("af-home")
    monkeypatch.setenv("AGENTIC_FLOW_HOME", str(home))
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    yield home
