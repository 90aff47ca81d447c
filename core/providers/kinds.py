"""The provider-kind registry: wire format name → :class:`Provider` class.

A *kind* is a wire format (``openai`` Chat Completions, ``anthropic`` Messages). The
built-in kinds register through :func:`register_kind`, the same call a plugin makes: a
package that declares::

    [project.entry-points."agentic_flow.providers"]
    mykind = "mypackage.provider:MyProvider"

adds the kind ``mykind``, usable as ``providers: {lab: {kind: mykind, base_url: ...}}``.
Classes are named by import path and imported only when a provider of that kind is
built, so validating settings never loads httpx or a plugin's code.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from agentic_flow.core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.providers.base import Provider

__all__ = ["ENTRY_POINT_GROUP", "register_kind", "known_kinds", "is_known_kind", "unknown_kind_message", "provider_class"]

ENTRY_POINT_GROUP = "agentic_flow.providers"
"""Entry-point group through which a plugin package adds a provider kind."""

_KINDS: dict[str, "type[Provider] | str"] = {}
_plugins_loaded = False


def register_kind(name: str, cls: "type[Provider] | str") -> None:
    """Make ``cls`` (a class, or ``"module:Class"``) the provider of kind ``name``."""
    _KINDS[name] = cls


register_kind("openai", "agentic_flow.core.providers.openai:OpenAIProvider")
register_kind("anthropic", "agentic_flow.core.providers.anthropic:AnthropicProvider")


def _load_plugins() -> None:
    """Add the kinds that installed plugins declare (read once, only when needed)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for point in entry_points(group=ENTRY_POINT_GROUP):
        _KINDS.setdefault(point.name, point.value)


def known_kinds() -> list[str]:
    """Every provider kind, built-in and from plugins."""
    _load_plugins()
    return sorted(_KINDS)


def is_known_kind(name: str) -> bool:
    if name not in _KINDS:
        _load_plugins()
    return name in _KINDS


def unknown_kind_message(name: str) -> str:
    return (
        f"unknown provider kind {name!r}; known kinds: {', '.join(known_kinds())} "
        f"(a plugin can add one through the {ENTRY_POINT_GROUP!r} entry point group)"
    )


def provider_class(name: str) -> "type[Provider]":
    """The provider class of kind ``name``, imported on first use.

    Raises:
        ConfigError: no kind has that name, or its plugin cannot be loaded.
    """
    if not is_known_kind(name):
        raise ConfigError(unknown_kind_message(name))
    target = _KINDS[name]
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except Exception as exc:  # a broken plugin: say which package to fix
            raise ConfigError(
                f"the provider kind {name!r} ({_KINDS[name]}) cannot be loaded: {exc}. "
                "Fix or uninstall the package that provides it."
            ) from exc
        _KINDS[name] = target
    # lazy: httpx loads only when a provider is built
    from agentic_flow.core.providers.base import Provider

    if not (isinstance(target, type) and issubclass(target, Provider)):
        raise ConfigError(f"the provider kind {name!r} ({target!r}) is not a Provider subclass")
    return target
