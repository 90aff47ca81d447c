"""Everything agentic-flow knows about a named provider, in one table.

A preset says which wire format the provider speaks (its *kind*), where it lives, which
environment variable holds its key, what that key looks like (so it is masked wherever
it appears, see :mod:`agentic_flow.core.redact`), and which model to use when the user
chose none. A user's ``providers:`` settings extend and override these entries.

Order matters: with no model chosen anywhere, the first preset that has a
``default_model`` and whose key is set supplies the model.

Pure data, no imports from the rest of the core, so the redaction layer can read it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Preset", "PRESETS", "key_variables", "key_patterns"]


@dataclass(frozen=True)
class Preset:
    kind: str
    """Wire format, a key of the provider-kind registry (``openai``, ``anthropic``, ...)."""
    base_url: str
    key_env: str | None
    """Environment variable holding the API key; None for servers that need none."""
    description: str
    headers: tuple[tuple[str, str], ...] = ()
    default_model: str | None = None
    """``provider:model`` used when no model was chosen and this provider's key is set."""
    key_pattern: str | None = None
    """Regular expression for this provider's key format (masked even when not ours)."""


PRESETS: dict[str, Preset] = {
    "openrouter": Preset(
        "openai",
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
        "OpenRouter: hundreds of models behind one key",
        (("HTTP-Referer", "https://github.com/agentic-flow/workbench"), ("X-Title", "agentic-flow workbench")),
        default_model="openrouter:deepseek/deepseek-chat",
        key_pattern=r"sk-or-v1-[A-Za-z0-9_-]{16,}",
    ),
    "anthropic": Preset(
        "anthropic",
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
        "Anthropic Messages API",
        default_model="anthropic:claude-sonnet-4-5",
        key_pattern=r"sk-ant-[A-Za-z0-9_-]{16,}",
    ),
    "openai": Preset(
        "openai",
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        "OpenAI API",
        default_model="openai:gpt-4o-mini",
        key_pattern=r"sk-(?:proj-)?[A-Za-z0-9_-]{16,}",
    ),
    "google": Preset(
        "openai",
        "https://generativelanguage.googleapis.com/v1beta/openai",
        "GEMINI_API_KEY",
        "Google Gemini (OpenAI-compatible endpoint)",
        default_model="google:gemini-2.5-flash",
        key_pattern=r"AIza[0-9A-Za-z_-]{35}",
    ),
    "deepseek": Preset(
        "openai",
        "https://api.deepseek.com/v1",
        "DEEPSEEK_API_KEY",
        "DeepSeek API",
        default_model="deepseek:deepseek-chat",
        key_pattern=r"sk-[A-Za-z0-9]{16,}",
    ),
    "mistral": Preset(
        "openai",
        "https://api.mistral.ai/v1",
        "MISTRAL_API_KEY",
        "Mistral API",
        default_model="mistral:mistral-small-latest",
    ),
    "groq": Preset(
        "openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY", "Groq API", key_pattern=r"gsk_[A-Za-z0-9]{20,}"
    ),
    "together": Preset("openai", "https://api.together.xyz/v1", "TOGETHER_API_KEY", "Together AI"),
    "ollama": Preset("openai", "http://localhost:11434/v1", None, "Ollama on this machine"),
    "llamacpp": Preset("openai", "http://127.0.0.1:8080/v1", None, "llama.cpp server on this machine"),
    "vllm": Preset("openai", "http://localhost:8000/v1", None, "vLLM server on this machine"),
    "lmstudio": Preset("openai", "http://localhost:1234/v1", None, "LM Studio on this machine"),
}


def key_variables() -> tuple[str, ...]:
    """The environment variables that hold the presets' keys, in table order."""
    return tuple(p.key_env for p in PRESETS.values() if p.key_env)


def key_patterns() -> tuple[str, ...]:
    """The presets' key formats (regular expressions), for the redaction layer."""
    return tuple(p.key_pattern for p in PRESETS.values() if p.key_pattern)
