"""The environment commands and MCP servers get: the user's, minus secrets.

Withheld unless allowlisted (``sandbox: {env_allow: [GITHUB_TOKEN]}``): every provider
preset's key variable, every configured ``api_key_env``, and every variable whose name
ends in ``_API_KEY``, ``_TOKEN``, ``_SECRET``, ``_SECRET_KEY``, ``_ACCESS_KEY`` or
``_PASSWORD`` (case-insensitive).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from agentic_flow.core.providers.presets import key_variables

__all__ = ["SECRET_SUFFIXES", "is_secret_variable", "scrubbed_env", "withheld_variables"]

SECRET_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_SECRET_KEY", "_ACCESS_KEY", "_PASSWORD")


def is_secret_variable(name: str, key_vars: Iterable[str] = ()) -> bool:
    """Does ``name`` hold a key (a preset's, a configured one, or by its suffix)?"""
    upper = name.upper()
    known = {v.upper() for v in (*key_variables(), *key_vars)}
    return upper in known or upper.endswith(SECRET_SUFFIXES)


def withheld_variables(
    env: Mapping[str, str] | None = None, *, key_vars: Iterable[str] = (), allow: Iterable[str] = ()
) -> list[str]:
    """Names of the variables of ``env`` (default: this process's) a command does not get."""
    source = os.environ if env is None else env
    allowed = {a.upper() for a in allow}
    keys = tuple(key_vars)
    return sorted(n for n in source if n.upper() not in allowed and is_secret_variable(n, keys))


def scrubbed_env(
    env: Mapping[str, str] | None = None,
    *,
    key_vars: Iterable[str] = (),
    allow: Iterable[str] = (),
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``env`` without the withheld variables, then ``extra`` (``TMPDIR``, pager settings) over it."""
    source = os.environ if env is None else env
    hidden = set(withheld_variables(source, key_vars=key_vars, allow=allow))
    result = {k: v for k, v in source.items() if k not in hidden}
    result.update(extra or {})
    return result
