"""Writing an "always allow" rule into the project settings YAML without wrecking it.

People keep comments, ordering and other keys in that file. A load-modify-dump cycle
would drop every comment, so the rule is inserted as text at the right place (found
with ``yaml.compose``, which knows each node's position) and the result is re-parsed
and compared with what a full rewrite would produce. Only if that check fails (flow
style, odd indentation) does it fall back to a full rewrite, which keeps every key
and value but not the comments.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from agentic_flow.core.errors import ConfigError

__all__ = ["append_allow_rule"]


def _scalar(rule: str) -> str:
    """The rule as a YAML scalar: plain when that reads back identically, else quoted."""
    try:
        if yaml.safe_load(f"- {rule}\n") == [rule] and "\n" not in rule:
            return rule
    except yaml.YAMLError:
        pass
    return json.dumps(rule, ensure_ascii=False)


def _value(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _is_null(node: yaml.Node | None) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


def _next_line(text: str, mark: Any) -> tuple[str, int]:
    """Index of the start of the line after ``mark`` (adding a final newline if needed)."""
    if mark.column == 0:
        return text, mark.index
    end = text.find("\n", mark.index)
    if end < 0:
        return text + "\n", len(text) + 1
    return text, end + 1


def _insert(text: str, root: yaml.Node | None, rule: str) -> str | None:
    """Text with the rule inserted, or None when no safe textual edit was found."""
    scalar = _scalar(rule)
    block = f"permissions:\n  allow:\n    - {scalar}\n"
    if root is None:
        return (text if text.endswith("\n") or not text else text + "\n") + block
    if not isinstance(root, yaml.MappingNode) or root.flow_style or not root.value:
        return None
    perms = _value(root, "permissions")
    if perms is None:
        if root.value[0][0].start_mark.column != 0:
            return None
        return (text if text.endswith("\n") else text + "\n") + block
    if not isinstance(perms, yaml.MappingNode) or perms.flow_style or not perms.value:
        return None
    allow = _value(perms, "allow")
    if allow is None:
        indent = " " * perms.value[0][0].start_mark.column
        text, at = _next_line(text, perms.value[-1][1].end_mark)
        return text[:at] + f"{indent}allow:\n{indent}  - {scalar}\n" + text[at:]
    if isinstance(allow, yaml.SequenceNode) and not allow.flow_style and allow.value:
        indent = " " * allow.start_mark.column
        text, at = _next_line(text, allow.value[-1].end_mark)
        return text[:at] + f"{indent}- {scalar}\n" + text[at:]
    if isinstance(allow, yaml.SequenceNode) and allow.flow_style:
        items = [n.value for n in allow.value if isinstance(n, yaml.ScalarNode)] + [rule]
        flow = "[" + ", ".join(json.dumps(i, ensure_ascii=False) for i in items) + "]"
        return text[: allow.start_mark.index] + flow + text[allow.end_mark.index :]
    return None


def append_allow_rule(path: Path, rule: str) -> bool:
    """Add ``rule`` to ``permissions.allow`` in the YAML file at ``path``.

    Creates the file and its folder when missing; keeps everything else in the file.
    Returns False when the rule was already there. Raises ConfigError when the file is
    not valid YAML or its ``permissions`` block has the wrong shape (it is never
    overwritten then).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise ConfigError(f"cannot read settings to add rule '{rule}': {exc}", path=str(path)) from exc
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"cannot add rule '{rule}': the file is not valid YAML ({getattr(exc, 'problem', None) or exc})",
            path=str(path),
            line=mark.line + 1 if mark else None,
        ) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"cannot add rule '{rule}': the settings file must be a mapping", path=str(path))
    perms = data.setdefault("permissions", {})
    if perms is None:
        perms = data["permissions"] = {}
    if not isinstance(perms, dict):
        raise ConfigError(f"cannot add rule '{rule}': must be a mapping", path=str(path), key="permissions")
    allow = perms.get("allow")
    if allow is None:
        allow = perms["allow"] = []
    if not isinstance(allow, list):
        raise ConfigError(f"cannot add rule '{rule}': must be a list", path=str(path), key="permissions.allow")
    if rule in allow:
        return False
    allow.append(rule)

    new = None if _is_null(_value(root, "permissions") if root is not None else None) else _insert(text, root, rule)
    if new is not None:
        try:
            if yaml.safe_load(new) != data:
                new = None
        except yaml.YAMLError:
            new = None
    if new is None:
        new = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    _write_atomically(path, new)
    return True


def _write_atomically(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".yaml", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            if path.exists():
                os.chmod(tmp, path.stat().st_mode & 0o777)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot write settings: {exc}", path=str(path)) from exc
