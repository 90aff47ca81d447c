"""Mask secrets before text is stored or shown: the audit log, exports, error reports.

Two nets, because neither is enough alone. Known values: the API keys in the
environment (the presets' variables, every configured ``api_key_env`` whatever its name,
and ``*_API_KEY`` / ``*_TOKEN`` / ``*_SECRET``) and any secret registered at run time
(keys written in config files) are masked wherever they appear, whatever their shape —
and so are the forms a command can cheaply turn them into: a piece of 12 or more
characters (``${KEY:0:14}``, a key printed in chunks), the key reversed (``| rev``) and
base64 (``| base64``: standard or URL-safe, padded or not, at any of the 3 byte
alignments, also of a piece). Shapes: well-known token formats (``sk-…``, ``ghp_…``,
``AKIA…``, private-key blocks, ``Bearer …``) and ``key: value`` assignments whose key
names a secret (``api_key``, ``password``, ``*_TOKEN``…) catch secrets this process
never saw, e.g. a ``.env`` file a tool printed.

How pieces are found cheaply: every form of a key is cut into 8-character blocks; a
block found in the text (``str.find``, C speed) is extended left and right as far as
text and key agree, and the run is masked when it is 12 characters or longer. Every
run of 15 or more characters contains a whole block, so it is always found; so is every
piece that starts at the key's first or ends at its last character. The forms and
blocks of each key are computed once.
"""

from __future__ import annotations

import base64
import functools
import os
import re
from collections.abc import Iterable
from typing import Any

from agentic_flow.core.providers.presets import key_patterns, key_variables

__all__ = [
    "REDACTED",
    "KNOWN_KEY_VARS",
    "redact",
    "redact_obj",
    "register_secret",
    "register_key_variable",
    "env_secrets",
]

REDACTED = "[REDACTED]"

KNOWN_KEY_VARS = key_variables()
"""The presets' key variables; their values are masked whatever their length."""
_SECRET_VAR_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET")
# Shorter values are too likely to be ordinary words ("true", "1234") to mask everywhere.
_MIN_KNOWN_LEN = 4
_MIN_GENERIC_LEN = 8

_registered: set[str] = set()
_key_variables: set[str] = set()
"""Variables named by ``api_key_env`` in settings: masked like the presets' variables."""

# A shared run this long between a text and a key (or one of its forms) is masked.
_RUN_MIN = 12
# Block size for finding runs: every run of 2 * _BLOCK - 1 characters holds a whole block.
_BLOCK = 8
# Standard and URL-safe base64 are compared as one alphabet ("+/" read as "-_").
def _fold(text: str) -> str:
    return text.replace("+", "-").replace("/", "_")  # str.replace: C speed, unlike translate

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


def register_key_variable(name: str) -> None:
    """Mask the value of environment variable ``name`` from now on, whatever its name
    (a provider's custom ``api_key_env``); read at each call, like the presets' keys."""
    if name.strip():
        _key_variables.add(name.strip())


def env_secrets() -> set[str]:
    """Secret values in the environment right now (read per call: keys can be set late)."""
    found: set[str] = set()
    for name, value in os.environ.items():
        value = value.strip()
        if name in KNOWN_KEY_VARS or name in _key_variables:
            if len(value) >= _MIN_KNOWN_LEN:
                found.add(value)
        elif name.upper().endswith(_SECRET_VAR_SUFFIXES) and len(value) >= _MIN_GENERIC_LEN:
            found.add(value)
    return found


def _is_placeholder(value: str) -> bool:
    """``${VAR}``, ``<your key>``, ``****``, ``...`` — also with the closing bracket or full
    stop of the sentence around it (``(export KEY=...)``), which a bare value runs into."""
    if value.startswith(("$", "<", REDACTED)):
        return True
    core = value.rstrip(")]}>,;")
    return bool(core) and set(core) <= {"*", "x", "X", "."}


def _replace_assignment(match: re.Match[str]) -> str:
    value = match.group("eq") or match.group("dq") or match.group("sq") or match.group("bare") or ""
    if _is_placeholder(value):
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
    found = env_secrets() | _registered | {s.strip() for s in extra_secrets if s and s.strip()}
    return sorted(found, key=len, reverse=True)


def redact(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret we know or recognise replaced by ``[REDACTED]``."""
    return _redact(text, _literals(extra_secrets))


@functools.lru_cache(maxsize=512)
def _forms(secret: str) -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
    """The searchable forms of a secret (folded) with their blocks ``(block, offset)``.

    Forms: the secret, reversed, and base64 at each of the 3 byte alignments (the
    groups of 3 bytes that lie wholly inside the secret when it starts at a stream
    offset of 0, 1 or 2 mod 3; the first one padded, as ``base64`` prints it whole).
    """
    raw = secret.encode("utf-8")
    forms = [secret, secret[::-1], base64.b64encode(raw).decode("ascii")]
    for skip in (1, 2):
        whole = raw[skip : skip + 3 * ((len(raw) - skip) // 3)]
        forms.append(base64.b64encode(whole).decode("ascii"))
    out = []
    for form in dict.fromkeys(_fold(f) for f in forms):
        if len(form) < _RUN_MIN:
            continue
        offsets = sorted({*range(0, len(form) - _BLOCK + 1, _BLOCK), len(form) - _BLOCK})
        out.append((form, tuple((form[o : o + _BLOCK], o) for o in offsets)))
    return tuple(out)


@functools.lru_cache(maxsize=64)
def _block_index(secrets: tuple[str, ...]) -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
    """Every distinct block of every form of ``secrets``, with the ``(form, offset)`` it starts."""
    index: dict[str, list[tuple[str, int]]] = {}
    for secret in secrets:
        for form, blocks in _forms(secret):
            for block, offset in blocks:
                index.setdefault(block, []).append((form, offset))
    return tuple((block, tuple(where)) for block, where in index.items())


def _runs(text: str, secrets: list[str]) -> list[tuple[int, int]]:
    """Spans of ``text`` that share a run of ``_RUN_MIN``+ characters with a secret's form."""
    folded = _fold(text)
    n = len(folded)
    spans: list[tuple[int, int]] = []
    for block, where in _block_index(tuple(secrets)):
        at = folded.find(block)
        while at >= 0:
            for form, offset in where:
                start, f_start = at, offset
                while start > 0 and f_start > 0 and folded[start - 1] == form[f_start - 1]:
                    start -= 1
                    f_start -= 1
                end, f_end = at + _BLOCK, offset + _BLOCK
                size = len(form)
                while end < n and f_end < size and folded[end] == form[f_end]:
                    end += 1
                    f_end += 1
                if end - start >= _RUN_MIN:
                    spans.append((start, end))
            at = folded.find(block, at + 1)
    return spans


def _mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
    spans.sort()
    out: list[str] = []
    pos = 0
    for start, end in spans:
        if end <= pos:
            continue
        if start > pos:
            out.append(text[pos:start])
            out.append(REDACTED)
        elif not out:
            out.append(REDACTED)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _mask_known(text: str, literals: list[str]) -> str:
    """Known secrets and their pieces and forms (long ones), exact values (short ones)."""
    long = [s for s in literals if len(s) >= _RUN_MIN]
    if long:
        spans = _runs(text, long)
        if spans:
            text = _mask_spans(text, spans)
    for secret in literals:
        if len(secret) < _RUN_MIN and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact(text: str, literals: list[str]) -> str:
    if not text:
        return text
    text = _PRIVATE_KEY.sub(REDACTED, text)
    text = _mask_known(text, literals)
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
