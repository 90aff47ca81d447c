"""API keys entered in the app: kept for this session only, or saved to the user config file.

A key for this session lives in this process's memory (:func:`set_session_key`); the
provider registry reads it before the environment, and the redaction layer masks it
from then on. It is never put in the environment, so commands the agent runs and MCP
servers do not inherit it.

A saved key goes under ``providers.NAME.api_key`` in the *user* config file (never the
project's settings, which may be committed). The file is written with mode 0600 and
atomically (temporary file + rename); the key is inserted as text where the file's
shape allows it, so comments and the order of other keys survive, and the result is
re-read and compared with what was meant before it replaces the file. Otherwise the file
is rewritten from its parsed content (every key and value kept, comments lost).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from agentic_flow.core.errors import ConfigError
from agentic_flow.core.paths import user_config_file
from agentic_flow.core.redact import register_secret

__all__ = ["set_session_key", "session_key", "forget_session_keys", "save_api_key"]

_SESSION: dict[str, str] = {}


def set_session_key(provider: str, key: str) -> None:
    """Use ``key`` for ``provider`` until this process ends."""
    key = _clean(key)
    register_secret(key)
    _SESSION[provider.lower()] = key


def session_key(provider: str) -> str | None:
    """The key entered for ``provider`` this session, if any."""
    return _SESSION.get(provider.lower())


def forget_session_keys() -> None:
    _SESSION.clear()


def _clean(key: str) -> str:
    key = key.strip()
    if not key:
        raise ConfigError("the key is empty")
    if any(ch.isspace() for ch in key) or not key.isprintable():
        raise ConfigError("a key is one word with no spaces or control characters; check what was pasted")
    return key


def save_api_key(provider: str, key: str, path: Path | None = None) -> Path:
    """Write ``providers.<provider>.api_key`` into the user config file (mode 0600).

    Returns:
        The file written.

    Raises:
        ConfigError: the file is not valid YAML or not a mapping, or cannot be written.
    """
    key = _clean(key)
    target = path or user_config_file()
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file: {exc}", path=str(target)) from exc
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML ({exc}); fix it before saving a key into it", path=str(target)) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of keys (key: value)", path=str(target), line=1)
    wanted = _with_key(data, provider, key)
    new = _insert(text, root, provider, key)
    if new is None or _parsed(new) != wanted:
        new = yaml.safe_dump(wanted, sort_keys=False, allow_unicode=True)
    register_secret(key)
    _write_private(target, new)
    return target


def _with_key(data: dict[str, Any], provider: str, key: str) -> dict[str, Any]:
    out = dict(data)
    providers = out.get("providers")
    providers = dict(providers) if isinstance(providers, dict) else {}
    entry = providers.get(provider)
    entry = dict(entry) if isinstance(entry, dict) else {}
    entry["api_key"] = key
    providers[provider] = entry
    out["providers"] = providers
    return out


def _parsed(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _line_after(text: str, node: yaml.Node) -> tuple[str, int]:
    """Index of the start of the line after ``node`` ends (adding a final newline if needed)."""
    mark = node.end_mark
    if mark.column == 0:
        return text, mark.index
    end = text.find("\n", mark.index)
    if end < 0:
        return text + "\n", len(text) + 1
    return text, end + 1


def _block(node: yaml.Node | None) -> bool:
    return isinstance(node, yaml.MappingNode) and not node.flow_style and bool(node.value)


def _insert(text: str, root: yaml.Node | None, provider: str, key: str) -> str | None:
    """``text`` with the key inserted, or None when no safe textual edit was found."""
    scalar = json.dumps(key)
    name = json.dumps(provider) if yaml.safe_load(f"{provider}: 1") != {provider: 1} else provider
    if root is None:
        prefix = text if text.endswith("\n") or not text else text + "\n"
        return prefix + f"providers:\n  {name}:\n    api_key: {scalar}\n"
    if not _block(root) or root.value[0][0].start_mark.column != 0:
        return None
    providers = _value(root, "providers")
    if providers is None:
        prefix = text if text.endswith("\n") else text + "\n"
        return prefix + f"providers:\n  {name}:\n    api_key: {scalar}\n"
    if not _block(providers):
        return None
    assert isinstance(providers, yaml.MappingNode)
    entry = _value(providers, provider)
    if entry is None:
        indent = " " * providers.value[0][0].start_mark.column
        text, at = _line_after(text, providers.value[-1][1])
        return text[:at] + f"{indent}{name}:\n{indent}  api_key: {scalar}\n" + text[at:]
    if not _block(entry):
        return None
    assert isinstance(entry, yaml.MappingNode)
    current = _value(entry, "api_key")
    if isinstance(current, yaml.ScalarNode) and current.start_mark.line == current.end_mark.line:
        return text[: current.start_mark.index] + scalar + text[current.end_mark.index :]
    if current is not None:
        return None
    indent = " " * entry.value[0][0].start_mark.column
    text, at = _line_after(text, entry.value[-1][1])
    return text[:at] + f"{indent}api_key: {scalar}\n" + text[at:]


def _write_private(target: Path, text: str) -> None:
    """Replace ``target`` with ``text`` atomically; the file ends up readable by its owner only."""
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")  # mode 0600
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise ConfigError(f"cannot write the config file: {exc.strerror or exc}", path=str(target)) from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
