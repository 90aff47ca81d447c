"""A scripted stand-in for ``core.runtime.Runtime`` for deterministic session-screen tests.

Pilot tests of the real flow run against ``tests/llm_server.py``; snapshots need figures
that do not change between runs (TTFT, tokens/s, ids), so they use this: a session whose
``send()`` yields scripted events and, at an :class:`Ask` step, really awaits the
approver, like ``core.session`` does.
"""

from __future__ import annotations

from types import SimpleNamespace

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from agentic_flow.core.events import Event, PermissionDecided, PermissionRequested
from agentic_flow.core.permissions import example_rule
from agentic_flow.core.runtime import ApprovalHints
from agentic_flow.core.session import SessionTotals, TurnStats

__all__ = ["Ask", "Pause", "Gate", "FakeEngine", "FakeSession", "FakeRuntime", "fake_opener", "wait_for", "EDIT_DIFF"]

EDIT_DIFF = (
    "--- a/src/app.py\n"
    "+++ b/src/app.py\n"
    "@@ -1,4 +1,4 @@\n"
    " def greet(name):\n"
    '-    return "Hello " + name\n'
    '+    return f"Hello, {name}!"\n'
    " \n"
    " print(greet(\"world\"))\n"
)


@dataclass
class Ask:
    """A tool call that needs a person: yields PermissionRequested, awaits the approver."""

    call_id: str
    tool: str
    arguments: dict[str, Any]
    reason: str = "ask mode: edits need approval"
    decided_by: str = "mode:ask"
    preview: str | None = None


@dataclass
class Pause:
    """Wait (so tests can press Esc in the middle of an answer)."""

    seconds: float


@dataclass
class Gate:
    """Wait until the test sets ``event`` (an answer that runs exactly as long as needed)."""

    event: asyncio.Event


class FakeEngine:
    def __init__(self, workspace: Path, mode: str = "ask") -> None:
        self.mode = mode
        self.project_settings_path = workspace / ".agentic-flow" / "settings.yaml"

    def suggest_rule(self, request: Any) -> str | None:
        path = request.arguments.get("path")
        return f"{request.tool}({path})" if path else request.tool


class FakeSession:
    def __init__(self, workspace: Path, approver: Any, scripts: list[list[Any]], *, model_id: str = "fake:model-a") -> None:
        self.workspace = workspace
        self.approver = approver
        self.scripts = list(scripts)
        self.model_id = model_id
        self.agent_name = "coder"
        self.session_id = "sess-0001"
        self.store = None
        self.engine = FakeEngine(workspace)
        self.totals = SessionTotals()
        self.cancel_event = asyncio.Event()
        self.sent: list[str] = []
        self.answers: list[Any] = []

    async def send(self, text: str):  # type: ignore[no-untyped-def]
        from agentic_flow.core.permissions import PermissionRequest, Verdict

        self.sent.append(text)
        script = self.scripts.pop(0) if self.scripts else []
        for step in script:
            if isinstance(step, Pause):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Gate):
                await step.event.wait()
            elif isinstance(step, Ask):
                yield PermissionRequested(
                    call_id=step.call_id, tool=step.tool, arguments=step.arguments, reason=step.reason, preview=step.preview
                )
                request = PermissionRequest(step.call_id, step.tool, step.arguments, self.workspace)
                answer = await self.approver.ask(request, Verdict("ask", step.reason, step.decided_by))
                self.answers.append(answer)
                yield PermissionDecided(
                    call_id=step.call_id,
                    tool=step.tool,
                    allowed=answer.kind != "deny",
                    scope="once" if answer.kind == "deny" else answer.kind,
                    decided_by="person",
                    reason=answer.reason,
                )
            elif isinstance(step, TurnStats):
                self.totals.add(step)
            else:
                assert isinstance(step, Event)
                yield step


@dataclass
class CatalogEntry:
    id: str


@dataclass
class FakeRuntime:
    session: FakeSession
    catalog: list[CatalogEntry] = field(
        default_factory=lambda: [CatalogEntry("fake:model-a"), CatalogEntry("fake:model-b")]
    )
    warnings: list[str] = field(default_factory=list)
    model_reason: str = "--model"
    closed: bool = False
    switched: list[tuple[str, str | None]] = field(default_factory=list)

    def switch_model(self, model_id: str, base_url: str | None = None) -> None:
        self.switched.append((model_id, base_url))
        self.session.model_id = model_id

    @property
    def settings(self) -> Any:
        return SimpleNamespace(merged=None)

    @staticmethod
    def key_status(provider: str, settings: Any) -> str | None:
        return None  # every fake provider can be called

    # the Runtime facade the session screen talks to
    @property
    def model_id(self) -> str:
        return self.session.model_id

    @property
    def agent_name(self) -> str:
        return self.session.agent_name

    @property
    def session_id(self) -> str:
        return self.session.session_id

    @property
    def store(self) -> Any:
        return self.session.store

    @property
    def totals(self) -> SessionTotals:
        return self.session.totals

    @property
    def session_totals(self) -> SessionTotals:
        return self.session.totals

    @property
    def mode(self) -> str:
        return self.session.engine.mode

    @mode.setter
    def mode(self, mode: str) -> None:
        self.session.engine.mode = mode

    def send(self, text: str):  # type: ignore[no-untyped-def]
        return self.session.send(text)

    def cancel(self) -> None:
        self.session.cancel_event.set()

    def approval_hints(self, request: Any) -> ApprovalHints:
        engine = self.session.engine
        return ApprovalHints(engine.suggest_rule(request), engine.project_settings_path, example_rule(request))

    async def aclose(self) -> None:
        self.closed = True


def fake_opener(workspace: Path, scripts: list[list[Any]], holder: list[FakeRuntime] | None = None):  # type: ignore[no-untyped-def]
    """An ``open_runtime`` for ``SessionScreen`` that returns a :class:`FakeRuntime`."""

    async def open_runtime(opts: Any, approver: Any, on_notice: Any) -> FakeRuntime:
        runtime = FakeRuntime(FakeSession(workspace, approver, scripts))
        if holder is not None:
            holder.append(runtime)
        return runtime

    return open_runtime


async def wait_for(pilot: Pilot, predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Pause until ``predicate()`` is truthy (a state, not a time, is what tests check)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := predicate()):
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)
    return value
