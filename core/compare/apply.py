"""``compare apply MODEL``: bring one agent run's diff into the real workspace.

Nothing a compared agent did touches the workspace until the user picks a run and
applies it. Applying goes through the permission engine like the agent's own edits: each
file the diff changes is presented as a ``write`` call on that path (rules such as
``edit(src/**)`` or ``deny: write(.env)``, the mode and the approver decide), every
decision goes to the audit log, and the patch is applied only when **every** file was
allowed — a half-applied diff is worse than none. ``git apply --check`` runs first, so a
workspace that changed since the comparison is refused with git's reason, untouched.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agentic_flow.core.compare.isolation import git_toplevel
from agentic_flow.core.compare.result import CompareResult, ModelRun
from agentic_flow.core.errors import IsolationError
from agentic_flow.core.permissions import PermissionRequest
from agentic_flow.core.permissions.audit import AuditEntry

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.permissions import Approver, Decision, PermissionEngine
    from agentic_flow.core.permissions.audit import AuditLog

__all__ = ["ApplyOutcome", "FileDecision", "apply_requests", "apply_run", "pick_run"]

AGENT_LABEL = "compare apply"


@dataclass(frozen=True)
class FileDecision:
    path: str
    change: str
    allowed: bool
    decided_by: str
    reason: str | None


@dataclass
class ApplyOutcome:
    """What ``compare apply`` did: ``applied`` only when every file was allowed and git applied it."""

    applied: bool
    model_id: str
    files: list[FileDecision] = field(default_factory=list)
    message: str = ""


def pick_run(result: CompareResult, model: str, run: int | None = None) -> ModelRun:
    """The run of ``model`` (an id or a unique part of one) to apply; ``run`` is 1-based.

    Raises:
        IsolationError: no such model, an ambiguous name, or a text-only comparison.
    """
    if result.mode != "agent":
        raise IsolationError(
            f"comparison {result.id} was text-only (--no-tools): it has no diffs to apply; "
            "run `agentic-flow compare --agent NAME ...` without --no-tools"
        )
    exact = [s for s in result.summaries if s.model_id == model]
    matches = exact or [s for s in result.summaries if model in s.model_id]
    if not matches:
        raise IsolationError(
            f"no model {model!r} in comparison {result.id}; it compared {', '.join(result.models)}"
        )
    if len(matches) > 1:
        raise IsolationError(
            f"{model!r} matches {', '.join(s.model_id for s in matches)} in comparison {result.id}; give the full id"
        )
    runs = matches[0].runs
    if run is None:
        if len(runs) > 1:
            raise IsolationError(
                f"{matches[0].model_id} ran {len(runs)} times in comparison {result.id}; choose one with --run 1..{len(runs)}"
            )
        run = 1
    if not 1 <= run <= len(runs):
        raise IsolationError(f"--run must be between 1 and {len(runs)}")
    return runs[run - 1]


def apply_requests(run: ModelRun, workspace: Path, compare_id: str | None = None) -> list[PermissionRequest]:
    """One ``write`` permission request per file the run changed."""
    stamp = time.monotonic_ns()
    origin = f"compare {compare_id}, {run.model_id}" if compare_id else run.model_id
    return [
        PermissionRequest(
            call_id=f"apply-{stamp}-{i}",
            tool="write",
            arguments={"path": f.path, "change": f"{f.status} +{f.added or 0} -{f.removed or 0} (from {origin})"},
            workspace=workspace,
            agent=AGENT_LABEL,
            model=run.model_id,
        )
        for i, f in enumerate(run.changed)
    ]


def _git_apply(workspace: Path, patch: str, check: bool) -> subprocess.CompletedProcess[bytes]:
    top = git_toplevel(workspace)
    argv = ["git", "apply", "--whitespace=nowarn"]
    cwd = workspace
    if top is not None:
        cwd = top
        relative = workspace.resolve().relative_to(top).as_posix()
        if relative and relative != ".":
            argv.append(f"--directory={relative}")
    if check:
        argv.append("--check")
    argv.append("-")
    try:
        return subprocess.run(argv, cwd=cwd, input=patch.encode("utf-8"), capture_output=True, timeout=120)
    except FileNotFoundError as exc:
        raise IsolationError("git is not installed: `compare apply` uses `git apply`; install git and retry") from exc


async def apply_run(
    run: ModelRun,
    workspace: Path,
    *,
    engine: "PermissionEngine",
    approver: "Approver",
    audit: "AuditLog | None" = None,
    compare_id: str | None = None,
) -> ApplyOutcome:
    """Apply ``run``'s diff to ``workspace`` if the engine allows every file it changes."""
    workspace = workspace.resolve()
    outcome = ApplyOutcome(applied=False, model_id=run.model_id)
    if not run.diff.strip():
        outcome.message = f"{run.model_id} changed nothing: there is nothing to apply"
        return outcome
    checked = await asyncio.to_thread(_git_apply, workspace, run.diff, True)
    if checked.returncode != 0:
        detail = checked.stderr.decode("utf-8", "replace").strip()
        outcome.message = (
            f"the diff of {run.model_id} does not apply to {workspace} any more ({detail}); "
            "the workspace changed since the comparison. Nothing was changed."
        )
        return outcome
    decided = []
    for request in apply_requests(run, workspace, compare_id):
        decision = await engine.decide(request, approver)
        decided.append((request, decision))
        path = str(request.arguments["path"])
        outcome.files.append(
            FileDecision(path, str(request.arguments["change"]), decision.allowed, decision.decided_by, decision.reason)
        )
    denied = [f for f in outcome.files if not f.allowed]
    for request, decision in decided:
        if not decision.allowed:
            summary = "not applied (denied)"
        elif denied:
            summary = "not applied: another file of the diff was denied"
        else:
            summary = "applied"
        _audit(audit, request, decision, summary)
    if denied:
        first = denied[0]
        outcome.message = (
            f"not applied: {len(denied)} of {len(outcome.files)} file(s) were not allowed "
            f"({first.path}: {first.reason or first.decided_by}). Nothing was changed."
        )
        return outcome
    done = await asyncio.to_thread(_git_apply, workspace, run.diff, False)
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip()
        raise IsolationError(f"`git apply` failed in {workspace}: {detail}")
    outcome.applied = True
    plus = sum(f.added or 0 for f in run.changed)
    minus = sum(f.removed or 0 for f in run.changed)
    outcome.message = f"applied the diff of {run.model_id} to {workspace}: {len(run.changed)} file(s) +{plus} -{minus}"
    return outcome


def _audit(audit: "AuditLog | None", request: PermissionRequest, decision: "Decision", summary: str) -> None:
    if audit is None:
        return
    audit.append(
        AuditEntry(
            tool=request.tool,
            arguments=dict(request.arguments),
            decision="allow" if decision.allowed else "deny",
            scope=decision.scope,
            decided_by=decision.decided_by,
            agent=AGENT_LABEL,
            model=request.model,
            reason=decision.reason,
            result_summary=summary,
        )
    )
