"""What the user trusts in each workspace, remembered in the user's config dir.

A cloned repository can ship a ``.mcp.json`` whose servers run commands, and settings
files that ask for a permissive mode. Neither takes effect until the user says so, and
the user's answer must live where the repository cannot write it: here, in
``<config dir>/trust.json`` (mode 0600), keyed by the workspace's real path::

    {"version": 1,
     "workspaces": {
       "/home/me/src/project": {
         "mcp": {"github": {"approved": true, "fingerprint": "…", "shown": "npx -y …", "at": "…"},
                 "evil":   {"approved": false, "fingerprint": "…", "shown": "sh -c …", "at": "…"}},
         "settings": {"mode": "auto", "at": "…"}}}}

``mcp`` is the per-project memory of Claude Code's ``enabledMcpjsonServers`` /
``disabledMcpjsonServers``, plus the fingerprint of the entry the user saw, so a server
whose command changes after approval is asked about again. ``settings`` records that the
user confirmed the workspace's own settings files up to ``mode``.

Writers take an exclusive lock (``trust.json.lock``), re-read, change and replace the
file atomically, so two processes recording answers at once lose neither. Readers need
no lock: the file is only ever replaced whole. This module imports nothing but the
standard library and :mod:`core.paths`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agentic_flow.core.errors import ConfigError
from agentic_flow.core.paths import config_dir

__all__ = ["TrustStore", "McpApproval", "WorkspaceTrust", "TRUST_FILE", "workspace_key"]

TRUST_FILE = "trust.json"
_VERSION = 1


def workspace_key(workspace: Path | str) -> str:
    """The key a workspace is remembered under: its real, absolute path."""
    return str(Path(workspace).expanduser().resolve())


@dataclass(frozen=True)
class McpApproval:
    """The user's answer about one project MCP server."""

    approved: bool
    fingerprint: str
    shown: str
    """What the user was shown (command line or URL) when answering."""
    at: str


@dataclass(frozen=True)
class WorkspaceTrust:
    """The user confirmed this workspace's own settings files, up to ``mode``."""

    mode: str
    at: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class TrustStore:
    """The trust file; every method reads the current file (no stale cache)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else config_dir() / TRUST_FILE

    # ------------------------------------------------------------------ reading

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"version": _VERSION, "workspaces": {}}
        except OSError as exc:
            raise ConfigError(f"cannot read the trust file: {exc.strerror or exc}", path=str(self.path)) from exc
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"the trust file is not valid JSON ({exc.msg}); fix it or delete it (every workspace "
                "and project MCP server will then ask again)",
                path=str(self.path),
                line=exc.lineno,
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("workspaces", {}), dict):
            raise ConfigError(
                'the trust file must be an object like {"version": 1, "workspaces": {...}}; delete it to start again',
                path=str(self.path),
            )
        data.setdefault("workspaces", {})
        return data

    def _workspace(self, workspace: Path | str) -> dict[str, Any]:
        entry = self._read()["workspaces"].get(workspace_key(workspace))
        return entry if isinstance(entry, dict) else {}

    def mcp_approval(self, workspace: Path | str, name: str) -> McpApproval | None:
        """The remembered answer about project server ``name`` in ``workspace``."""
        entry = self._workspace(workspace).get("mcp", {})
        item = entry.get(name) if isinstance(entry, dict) else None
        if not isinstance(item, dict):
            return None
        return McpApproval(
            approved=item.get("approved") is True,
            fingerprint=str(item.get("fingerprint", "")),
            shown=str(item.get("shown", "")),
            at=str(item.get("at", "")),
        )

    def workspace_trust(self, workspace: Path | str) -> WorkspaceTrust | None:
        """The user's confirmation of this workspace's settings, if any."""
        item = self._workspace(workspace).get("settings")
        if not isinstance(item, dict) or not isinstance(item.get("mode"), str):
            return None
        return WorkspaceTrust(mode=item["mode"], at=str(item.get("at", "")))

    # ------------------------------------------------------------------ writing

    def set_mcp(self, workspace: Path | str, name: str, *, approved: bool, fingerprint: str, shown: str) -> None:
        """Remember approving (or declining) project server ``name`` as it is now."""
        with self._editing() as data:
            ws = data["workspaces"].setdefault(workspace_key(workspace), {})
            ws.setdefault("mcp", {})[name] = {
                "approved": approved,
                "fingerprint": fingerprint,
                "shown": shown,
                "at": _now(),
            }

    def trust_workspace(self, workspace: Path | str, mode: str) -> None:
        """Remember that the user confirmed this workspace's settings up to ``mode``."""
        with self._editing() as data:
            ws = data["workspaces"].setdefault(workspace_key(workspace), {})
            ws["settings"] = {"mode": mode, "at": _now()}

    def revoke_workspace(self, workspace: Path | str) -> bool:
        """Forget the confirmation; True when there was one."""
        with self._editing() as data:
            ws = data["workspaces"].get(workspace_key(workspace))
            if not isinstance(ws, dict) or "settings" not in ws:
                return False
            del ws["settings"]
            return True

    @contextlib.contextmanager
    def _editing(self) -> Iterator[dict[str, Any]]:
        """Lock, read, let the caller change the data, write it back atomically."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock_fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigError(f"cannot write the trust file: {exc.strerror or exc}", path=str(self.path)) from exc
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            data = self._read()
            data["version"] = _VERSION
            yield data
            self._write(data)
        finally:
            os.close(lock_fd)  # closing releases the lock

    def _write(self, data: dict[str, Any]) -> None:
        text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        try:
            fd, tmp = tempfile.mkstemp(prefix=".trust-", suffix=".json", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, 0o600)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise ConfigError(f"cannot write the trust file: {exc.strerror or exc}", path=str(self.path)) from exc
