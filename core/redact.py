"""Mask secrets before text is stored or shown: the audit log, exports, error reports.

Two nets, because neither is enough alone. Exact values: the API keys in the
environment and any secret registered at run time (keys read from config files) are
replaced wherever they appear, whatever their shape. Shapes: well-known token formats
(``sk-…``, ``ghp_…``, ``AKIA…``, private-key blocks, ``Bearer …``) and ``key: value``
assignments whose key names a secret (``api_key``, ``password``, ``*_TOKEN``…) catch
secrets this process never saw, e.g. a ``.env`` file a tool printed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from agentic_flow.core.providers.presets import key_patterns, key_variables

__all__ = ["REDACTED", "KNOWN_KEY_VARS", "redact", "redact_obj", "register_secret", "env_secrets"]

REDACTED = "[REDACTED]"

KNOWN_KEY_VARS = key_variables()
"""The presets' key variables; their values are masked whatever their length."""
_SECRET_VAR_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET")
# Shorter values are too likely to be ordinary words ("true", "1234") to mask everywhere.
_MIN_KNOWN_LEN = 4
_MIN_GENERIC_LEN = 8

_registered: set[str] = set()

_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL
)
_OTHER_TOKENS = (
    r"gh[pousr]_[A-Za-z0-9]{20,}",  # GitHub classic tokens
    r"github_pat_[A-Za-z0-9_]{20,}",  # GitHub fine-grained tokens
    r"AKIA[0-9A-Z]{16}(?![0-9A-Z])",  # AWS access key id
    r"xox[baprs]-[A-Za-z0-9-]{10,}",  # Slack
)
# Every provider preset's key format (OpenAI, Anthropic, OpenRouter, Gemini, ...), then others.
_TOKENS = re.compile(r"(?<![A-Za-z0-9_-])(?:" + "|".join((*key_patterns(), *_OTHER_TOKENS)) + ")")
_BEARER = re.compile(r"\b(Bearer\s+)(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)(?!\[REDACTED\])[^/\s@]+(@)")
# A key that *ends* with a secret word: `api_key`, `OPENAI_API_KEY`, `db_password`,
# `client_secret`, `GITHUB_TOKEN` — but not `max_tokens` or `secret_name`.
_SECRET_KEY_NAME = (
    r"[A-Za-z0-9_.-]*(?:api[_-]?key|apikey|access[_-]?key|private[_-]?key|password|passwd"
    r"|secret|token|credentials?)"
)
_SECRET_KEY = re.compile(rf"^{_SECRET_KEY_NAME}$", re.IGNORECASE)
_ASSIGNMENT = re.compile(
    rf"""
    (?P<key>(?<![A-Za-z0-9_.-]){_SECRET_KEY_NAME})
    (?P<sep>(?:\\?["'])?\s*[:=]\s*)
    (?:
        \\"(?P<eq>(?:[^"\\\n]|\\[^"])+)\\"     # JSON inside a JSON string: \"value\"
      | "(?P<dq>(?:[^"\\\n]|\\.)+)"
      | '(?P<sq>[^'\n]+)'
      | (?P<bare>[^\s"',;&}}\]\[\\]+)
    )
    """,
    re.IGNORECASE | re.VERBOSE,
)


# Every word _SECRET_KEY_NAME can end with, case-folded: when none occurs in a text, the
# (slow, ~0.3 s/MB) assignment regex cannot match and is skipped (plain `in` is ~100x faster).
_SECRET_WORDS = (
    "apikey", "api_key", "api-key", "accesskey", "access_key", "access-key", "privatekey", "private_key",
    "private-key", "password", "passwd", "secret", "token", "credential",
)


def register_secret(value: str) -> None:
    """Mask this exact value from now on (e.g. a key read from a config file)."""
    value = value.strip()
    if len(value) >= _MIN_KNOWN_LEN:
        _registered.add(value)


def env_secrets() -> set[str]:
    """Secret values in the environment right now (read per call: keys can be set late)."""
    found: set[str] = set()
    for name, value in os.environ.items():
        value = value.strip()
        if name in KNOWN_KEY_VARS:
            if len(value) >= _MIN_KNOWN_LEN:
                found.add(value)
        elif name.upper().endswith(_SECRET_VAR_SUFFIXES) and len(value) >= _MIN_GENERIC_LEN:
            found.add(value)
    return found


def _replace_assignment(match: re.Match[str]) -> str:
    value = match.group("eq") or match.group("dq") or match.group("sq") or match.group("bare") or ""
    if value.startswith(("$", "<", REDACTED)) or set(value) <= {"*", "x", "X", "."}:
        return match.group(0)  # already masked, or a placeholder (${VAR}, <your key>, ****)
    if match.group("eq") is not None:
        masked = f'\\"{REDACTED}\\"'
    elif match.group("dq") is not None:
        masked = f'"{REDACTED}"'
    elif match.group("sq") is not None:
        masked = f"'{REDACTED}'"
    else:
        masked = REDACTED
    return match.group("key") + match.group("sep") + masked


def _literals(extra_secrets: Iterable[str]) -> list[str]:
    # Longest first, so a secret containing another is masked whole.
    found = env_secrets() | _registered | {s for s in extra_secrets if s}
    return sorted(found, key=len, reverse=True)


def redact(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret we know or recognise replaced by ``[REDACTED]``."""
    return _redact(text, _literals(extra_secrets))


def _redact(text: str, literals: list[str]) -> str:
    if not text:
        return text
    text = _PRIVATE_KEY.sub(REDACTED, text)
    for secret in literals:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _TOKENS.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + m.group(2), text)
    low = text.casefold()  # as re.IGNORECASE does: "ſecret" and the Kelvin sign K match too
    if not any(word in low for word in _SECRET_WORDS):
        return text
    return _ASSIGNMENT.sub(_replace_assignment, text)


def redact_obj(obj: Any, extra_secrets: Iterable[str] = ()) -> Any:
    """A copy of a JSON-like value with secrets masked in every string.

    A scalar under a key that names a secret (``{"password": "hunter22"}``) is masked
    whatever it looks like; dict keys themselves are kept.
    """
    return _redact_obj(obj, _literals(extra_secrets))


def _redact_obj(obj: Any, literals: list[str]) -> Any:
    if isinstance(obj, str):
        return _redact(obj, literals)
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            if (
                isinstance(key, str)
                and _SECRET_KEY.match(key)
                and isinstance(value, (str, int, float))
                and not isinstance(value, bool)
                and value != ""
            ):
                out[key] = REDACTED
            else:
                out[key] = _redact_obj(value, literals)
        return out
    if isinstance(obj, list):
        return [_redact_obj(item, literals) for item in obj]
    if isinstance(obj, tuple):
        return tuple(_redact_obj(item, literals) for item in obj)
    return obj
