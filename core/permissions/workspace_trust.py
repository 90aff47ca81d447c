"""A repository cannot raise its own permissions.

The workspace's own settings files — ``.agentic-flow/settings.yaml``,
``.claude/settings.json``, ``.claude/settings.local.json`` — come with the repository:
whoever wrote the repository wrote them. So what they say counts only as far as it
cannot hurt the user who cloned it:

- a **mode** they set (``permissions.mode``, Claude's ``permissions.defaultMode``)
  applies only when it is no more permissive than ``ask`` (or than the user's own
  mode); a more permissive one (``accept-edits``, ``auto``) is withheld, and the user is
  told how to confirm it, until the user confirms this workspace up to that mode
  (``agentic-flow trust``, or the TUI's prompt; remembered in the user's config dir by
  :class:`core.trust.TrustStore`) — or passes ``--approve``, which sets the mode itself;
- an **allow rule** they ship never approves a *dangerous* operation (``rm -rf ~``,
  ``git push --force``...) until the user has confirmed the workspace; the same rule in
  the user's own settings file does. Their ordinary allow, ask and deny rules apply.

The user's own settings file (``$AGENTIC_FLOW_HOME/config.yaml``) is trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agentic_flow.core.permissions.modes import Mode, parse_mode
from agentic_flow.core.permissions.rules import RuleSet, load_settings_rules
from agentic_flow.core.trust import TrustStore

__all__ = [
    "WorkspaceModeRequest",
    "WorkspaceGate",
    "gate_workspace",
    "mode_rank",
    "is_user_rule_source",
    "UNTRUSTED_RULE_HINT",
]

UNTRUSTED_RULE_HINT = (
    "an allow rule in this workspace's own settings names it, but such rules approve dangerous "
    "operations only once you trust the workspace (agentic-flow trust); the same rule in your "
    "user settings approves it anywhere"
)

_RANK: dict[str, int] = {"read-only": 0, "ask": 1, "accept-edits": 2, "auto": 3}


def mode_rank(mode: str) -> int:
    """How permissive a mode is: read-only 0 < ask 1 < accept-edits 2 < auto 3."""
    return _RANK[mode]


def is_user_rule_source(source: Path | None, user_file: Path | None) -> bool:
    """Rules from the user's own file, or made in memory (a person's session answers)."""
    return source is None or (user_file is not None and Path(source) == Path(user_file))


@dataclass(frozen=True)
class WorkspaceModeRequest:
    """A mode the workspace's settings ask for and did not get."""

    workspace: Path
    mode: Mode
    """What the repository's settings ask for."""
    source: Path
    """The file that asks for it."""
    applied: Mode
    """The mode in force instead."""

    @property
    def notice(self) -> str:
        return (
            f"{self.source} sets permission mode '{self.mode}', which this workspace's own settings "
            f"cannot grant themselves: using '{self.applied}'. If you trust this workspace, run "
            f"`agentic-flow trust --workspace {self.workspace}` once (or confirm it in the workbench), "
            f"or choose the mode for one run with --approve."
        )


@dataclass(frozen=True)
class WorkspaceGate:
    """What the workspace's own settings may do, given the user's confirmations."""

    mode: Mode | None
    """The default mode to apply (None: ``ask``)."""
    trusted: bool
    """The user confirmed this workspace: its allow rules may approve dangerous operations."""
    withheld: WorkspaceModeRequest | None
    """The repository's mode that was not applied, if any."""


def gate_workspace(
    workspace: Path, rules: RuleSet, user_file: Path, *, store: TrustStore | None = None
) -> WorkspaceGate:
    """Decide which default mode applies and whether the workspace's rules are trusted.

    ``rules`` is the merged rule set of the user file and the workspace's files (see
    ``rules.load_rule_sets``); its ``default_mode_source`` says which file set the mode.
    """
    confirmed = (store or TrustStore()).workspace_trust(workspace)
    trusted = confirmed is not None
    mode, source = rules.default_mode, rules.default_mode_source
    if mode is None or source is None or is_user_rule_source(source, user_file):
        return WorkspaceGate(mode, trusted, None)
    user_mode = load_settings_rules(user_file).default_mode
    ceiling = max(mode_rank("ask"), mode_rank(user_mode) if user_mode else 0)
    if mode_rank(mode) <= ceiling:
        return WorkspaceGate(mode, trusted, None)
    if confirmed is not None and confirmed.mode in _RANK and mode_rank(parse_mode(confirmed.mode)) >= mode_rank(mode):
        return WorkspaceGate(mode, trusted, None)
    applied: Mode = user_mode or "ask"
    return WorkspaceGate(applied, trusted, WorkspaceModeRequest(Path(workspace), mode, Path(source), applied))
