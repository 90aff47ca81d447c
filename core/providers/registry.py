"""Named providers: ``provider:model`` ids resolved into a ready :class:`Provider`.

A provider is a named endpoint: a preset (:mod:`.presets`) and/or the user's
``providers:`` settings. Its *kind* (wire format) comes from :mod:`.kinds`, where
plugins can add more.
"""

from __future__ import annotations

import os

from agentic_flow.core.config import Settings
from agentic_flow.core.errors import UnknownModel
from agentic_flow.core.http import HttpClient, Timeouts
from agentic_flow.core.keys import session_key
from agentic_flow.core.local.server import local_status
from agentic_flow.core.providers.base import Provider, ProviderConfig, RetryPolicy
from agentic_flow.core.providers.kinds import provider_class
from agentic_flow.core.providers.presets import PRESETS, Preset

__all__ = [
    "split_model_id",
    "known_providers",
    "resolve_provider_config",
    "create_provider",
    "key_status",
    "needs_key",
]


def split_model_id(model_id: str) -> tuple[str, str]:
    """``"openrouter:meta-llama/llama-3.1-8b-instruct"`` → ``("openrouter", "meta-llama/...")``."""
    provider, sep, model = model_id.partition(":")
    if not sep or not provider or not model:
        raise UnknownModel(
            f"model id {model_id!r} must look like PROVIDER:MODEL, for example "
            "openrouter:meta-llama/llama-3.1-8b-instruct or anthropic:claude-sonnet-4-5 "
            "(`agentic-flow models` lists them)"
        )
    return provider.lower(), model


def known_providers(settings: Settings | None = None) -> list[str]:
    names = set(PRESETS)
    if settings:
        names.update(settings.providers)
    return sorted(names)


def resolve_provider_config(
    provider: str, settings: Settings | None = None, *, base_url: str | None = None
) -> ProviderConfig:
    """Preset + settings + flags → the config used to talk to ``provider``."""
    settings = settings or Settings()
    preset = PRESETS.get(provider)
    custom = settings.providers.get(provider)
    if preset is None and custom is None:
        if base_url:
            preset = Preset("openai", base_url, None, "custom OpenAI-compatible server")
        else:
            raise UnknownModel(
                f"unknown provider {provider!r}. Known providers: {', '.join(known_providers(settings))}. "
                f"Add it under providers.{provider} (kind, base_url, api_key_env) in your config file, "
                "or pass --base-url for an OpenAI-compatible server."
            )
    kind = (custom.kind if custom and custom.kind else None) or (preset.kind if preset else "openai")
    url = base_url or (custom.base_url if custom and custom.base_url else None) or (preset.base_url if preset else "")
    if not url:
        raise UnknownModel(f"provider {provider!r} has no base_url; set providers.{provider}.base_url")
    key_env = (custom.api_key_env if custom and custom.api_key_env else None) or (preset.key_env if preset else None)
    key = session_key(provider)  # entered in the workbench for this session
    if key is None and custom and custom.api_key is not None:
        key = custom.api_key.get_secret_value()
    elif key is None and key_env:
        key = os.environ.get(key_env) or None
    if custom and custom.needs_key is not None:
        needs_key = custom.needs_key
    else:
        needs_key = key_env is not None
    headers = dict(preset.headers) if preset else {}
    if custom:
        headers.update(custom.headers)
    return ProviderConfig(
        name=provider, kind=kind, base_url=url, api_key=key, key_env=key_env, needs_key=needs_key, headers=headers
    )


def create_provider(
    config: ProviderConfig,
    *,
    http: HttpClient | None = None,
    timeouts: Timeouts = Timeouts(),
    retry: RetryPolicy = RetryPolicy(),
) -> Provider:
    return provider_class(config.kind)(config, http=http, timeouts=timeouts, retry=retry)


def needs_key(provider: str, settings: Settings | None = None) -> bool:
    """Whether ``provider`` is called with an API key (hosted APIs) or without (local servers)."""
    if provider == "local":
        return False
    try:
        return resolve_provider_config(provider, settings).needs_key
    except UnknownModel:
        return False


def key_status(provider: str, settings: Settings | None = None) -> str | None:
    """None when the provider is usable, else what to set (``"set OPENROUTER_API_KEY"``)."""
    if provider == "local":
        return local_status()
    try:
        config = resolve_provider_config(provider, settings)
    except UnknownModel as exc:
        return str(exc)
    if config.needs_key and not config.api_key:
        return f"set {config.key_env}" if config.key_env else f"set providers.{provider}.api_key"
    return None
