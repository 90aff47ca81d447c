"""Which model an agent runs on: aliases, and the precedence for subagents.

An agent file's ``model:`` (and an ``agent`` call's ``model`` argument) may be:

- ``inherit`` (or nothing): the delegating agent's model;
- ``provider:model``: exactly that model;
- ``auto``: ``--model auto``'s router chooses for the delegated task;
- an alias: ``haiku``, ``sonnet``, ``opus`` or any name under ``model_aliases:`` in the
  settings.

An alias resolves, first match wins: (1) the ``model_aliases`` setting; (2) the built-in
table for the provider of the model it is resolved *near* (the parent's model for a
subagent; for the main agent, the model it would use otherwise), when that provider has
one (``anthropic`` and ``openrouter``, see :data:`DEFAULT_MODEL_ALIASES`); (3) the built-in
table of the first of those two providers whose API key is set. With none of these the
alias is unresolved.

A subagent's model, first that names one wins (:func:`subagent_model`)::

    1. the call's ``model`` argument           (unresolvable: the call is refused)
    2. the ``subagent_model`` setting          (unresolvable: the call is refused)
    3. the agent's ``model:`` frontmatter      (unresolvable: a notice, then 4)
    4. the parent's model

So a person's setting beats what an agent file says, and the delegating model's explicit
choice beats both; ``inherit`` at any level means the parent's model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentic_flow.core.errors import DelegationRefused
from agentic_flow.core.providers.registry import key_status

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.agents.catalog import Agent
    from agentic_flow.core.config import Settings

__all__ = [
    "DEFAULT_MODEL_ALIASES",
    "ALIAS_PROVIDERS",
    "AUTO",
    "INHERIT",
    "ModelChoice",
    "resolve_alias",
    "agent_model",
    "subagent_model",
]

AUTO = "auto"
INHERIT = "inherit"

#: Built-in aliases per provider: Claude Code's names for Anthropic's current models.
DEFAULT_MODEL_ALIASES: dict[str, dict[str, str]] = {
    "anthropic": {
        "haiku": "anthropic:claude-haiku-4-5",
        "sonnet": "anthropic:claude-sonnet-4-5",
        "opus": "anthropic:claude-opus-4-1",
    },
    "openrouter": {
        "haiku": "openrouter:anthropic/claude-haiku-4.5",
        "sonnet": "openrouter:anthropic/claude-sonnet-4.5",
        "opus": "openrouter:anthropic/claude-opus-4.1",
    },
}
#: Providers with built-in aliases, in the order tried when the nearby model's has none.
ALIAS_PROVIDERS = ("anthropic", "openrouter")


@dataclass(frozen=True)
class ModelChoice:
    """A model and why it was chosen.

    Attributes:
        model: a ``provider:model`` id, or ``auto`` (the router has yet to choose).
        reason: shown to the user (``the call's model argument (haiku)``).
        notes: what the user should know (an alias that could not be resolved).
    """

    model: str
    reason: str
    notes: tuple[str, ...] = ()


def _provider(model_id: str | None) -> str | None:
    return model_id.split(":", 1)[0] if model_id and ":" in model_id else None


def resolve_alias(name: str, settings: "Settings | None", near: str | None) -> tuple[str, str] | None:
    """``(model_id, where it came from)`` for alias ``name``, or None (see the module doc)."""
    aliases = settings.model_aliases if settings is not None else {}
    if name in aliases:
        return aliases[name], "model_aliases setting"
    provider = _provider(near)
    if provider in DEFAULT_MODEL_ALIASES and name in DEFAULT_MODEL_ALIASES[provider]:
        return DEFAULT_MODEL_ALIASES[provider][name], f"built-in {provider} alias"
    for candidate in ALIAS_PROVIDERS:
        table = DEFAULT_MODEL_ALIASES[candidate]
        if name in table and key_status(candidate, settings) is None:
            return table[name], f"built-in {candidate} alias ({candidate}'s key is set)"
    return None


def _known_aliases(settings: "Settings | None") -> list[str]:
    names = {name for table in DEFAULT_MODEL_ALIASES.values() for name in table}
    names |= set(settings.model_aliases if settings is not None else {})
    return sorted(names)


def _interpret(value: str, settings: "Settings | None", parent: str) -> tuple[str | None, str]:
    """``(model, how)`` for one level's value; model None when it cannot be used (``how`` says why)."""
    value = value.strip()
    if value == INHERIT:
        return parent, "inherit: the parent's model"
    if value == AUTO:
        return AUTO, "auto"
    if ":" in value:
        return value, value
    found = resolve_alias(value, settings, parent)
    if found is not None:
        return found[0], f"{value} = {found[0]}, {found[1]}"
    known = ", ".join(_known_aliases(settings))
    if any(value in table for table in DEFAULT_MODEL_ALIASES.values()):
        why = (
            f"alias {value!r} has no model for provider {_provider(parent) or '?'} and no anthropic or "
            f"openrouter key is set; map it under model_aliases: in the settings"
        )
    else:
        why = f"{value!r} is not a provider:model id, inherit, auto or a known alias ({known})"
    return None, why


def subagent_model(
    *, argument: str | None, agent: "Agent", settings: "Settings | None", parent_model: str
) -> ModelChoice:
    """The model of a subagent, by the precedence in the module doc.

    Raises:
        DelegationRefused: the call's argument or the ``subagent_model`` setting names a
            model that cannot be used (the model is told why and may call again).
    """
    if argument and argument.strip():
        model, how = _interpret(argument, settings, parent_model)
        if model is None:
            raise DelegationRefused(f"model {argument!r} cannot be used: {how}")
        return ModelChoice(model, f"the call's model argument: {how}")
    setting = settings.subagent_model if settings is not None else None
    if setting:
        model, how = _interpret(setting, settings, parent_model)
        if model is None:
            raise DelegationRefused(f"the subagent_model setting cannot be used: {how}")
        return ModelChoice(model, f"the subagent_model setting: {how}")
    notes: tuple[str, ...] = ()
    if agent.model:
        model, how = _interpret(agent.model, settings, parent_model)
        if model is not None:
            return ModelChoice(model, f"agent {agent.name}'s model: {how}")
        notes = (f"agent {agent.name}'s model: {how}; using the parent's model",)
    return ModelChoice(parent_model, "inherited: the parent's model", notes)


def agent_model(agent: "Agent | None", settings: "Settings | None", near: str | None) -> tuple[str | None, str | None]:
    """The main agent's own ``model:`` as ``(model_id, None)``; ``(None, note)`` when unusable.

    ``(None, None)`` when the agent names no model (or ``inherit``). ``near`` is the model
    the session would use otherwise (aliases pick that provider's table). ``auto`` is not
    resolved here: the caller routes.
    """
    if agent is None or not agent.model or agent.model == INHERIT:
        return None, None
    if agent.model == AUTO:
        return AUTO, None
    model, how = _interpret(agent.model, settings, near or "")
    if model is None:
        return None, f"agent {agent.name}'s model: {how}"
    return model, None
