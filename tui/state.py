"""What the workbench remembers between runs: the theme and each agent's model.

Kept in ``tui-state.json`` in :func:`core.paths.data_dir`. The file is small, written
atomically (temporary file in the same folder, then ``os.replace``), and read leniently:
a missing, unreadable or malformed file gives the defaults and a warning, never a crash —
losing a remembered theme must not stop the workbench from opening.

Two workbenches may run at once, so every change re-reads the file and writes back only
the key it changes (:meth:`WorkbenchState.remember_model`, :meth:`remember_theme`).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic_flow.core.paths import data_dir

__all__ = ["STATE_FILENAME", "STATE_FORMAT", "WorkbenchState", "state_path"]

logger = logging.getLogger(__name__)

STATE_FILENAME = "tui-state.json"
STATE_FORMAT = 1
"""Bumped if the layout changes; a file of another format is ignored with a warning."""


def state_path() -> Path:
    """Where the state file lives (follows ``AGENTIC_FLOW_HOME``)."""
    return data_dir() / STATE_FILENAME


@dataclass
class WorkbenchState:
    """The remembered choices.

    Attributes:
        theme: name of the last theme chosen at run time, or ``None``.
        models: agent name -> the ``provider:model`` id last picked for it.
        warnings: problems met while reading the file, for the UI to show.
        path: the file this state is read from and written to.
    """

    theme: str | None = None
    models: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    path: Path = field(default_factory=state_path)

    @classmethod
    def load(cls, path: Path | None = None) -> WorkbenchState:
        """Read the state file; defaults (plus a warning) when it cannot be used."""
        target = Path(path) if path is not None else state_path()
        state = cls(path=target)
        try:
            raw = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            return state
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            state._warn(f"cannot read {target} ({reason}); starting with defaults")
            return state
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as exc:
            state._warn(f"{target} is not valid JSON (line {exc.lineno}); starting with defaults")
            return state
        if not isinstance(doc, dict):
            state._warn(f"{target} does not hold an object; starting with defaults")
            return state
        if doc.get("format", STATE_FORMAT) != STATE_FORMAT:
            state._warn(f"{target} has format {doc.get('format')!r}, expected {STATE_FORMAT}; ignored")
            return state
        theme = doc.get("theme")
        state.theme = theme if isinstance(theme, str) and theme else None
        models = doc.get("models")
        if isinstance(models, dict):
            state.models = {str(k): v for k, v in models.items() if isinstance(v, str) and v}
        return state

    def _warn(self, message: str) -> None:
        logger.warning("%s", message)
        self.warnings.append(message)

    def to_json(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "theme": self.theme, "models": dict(sorted(self.models.items()))}

    def save(self) -> None:
        """Write the file atomically. Raises ``OSError`` when the folder is not writable."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=".tui-state-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def _update(self, change: Callable[[WorkbenchState], None]) -> None:
        """Re-read the file, apply ``change`` to it and to ``self``, write it back."""
        fresh = WorkbenchState.load(self.path)
        change(fresh)
        change(self)
        fresh.save()

    def remember_model(self, agent: str, model_id: str) -> None:
        """Record ``model_id`` as the model picked for ``agent`` (written at once)."""

        def change(state: WorkbenchState) -> None:
            state.models[agent] = model_id

        self._update(change)

    def remember_theme(self, theme: str) -> None:
        """Record ``theme`` as the theme to open with next time (written at once)."""

        def change(state: WorkbenchState) -> None:
            state.theme = theme

        self._update(change)
