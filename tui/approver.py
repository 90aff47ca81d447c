"""``TuiApprover``: the engine's ``Approver`` answered by the permission panel.

``ask()`` runs inside the session worker (on the app's event loop). It posts
:class:`TuiApprover.ApprovalRequested` to the session screen, which queues the request
on the :class:`~tui.widgets.permission_panel.PermissionPanel`; the panel resolves the
future with a :class:`~tui.widgets.permission_panel.PanelAnswer`, which becomes the
engine's ``Answer`` here. If the answer is stopped (Esc) the future is cancelled and
the cancellation propagates into the session loop like any other cancellation.

It is also the session's ``core.runtime.TrustPrompt``: while the runtime opens, it puts
the workspace's MCP servers and a mode its settings ask for to the person in modal
dialogs (:mod:`tui.screens.trust_dialogs`).

And it answers MCP servers' questions (``elicit``, which the runtime looks for on an
approver): the question becomes :class:`~tui.screens.elicitation.ElicitationScreen`, a
form over whatever screen is showing, and the person's accept / decline / cancel goes
back to the server.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.message_pump import MessagePump

from agentic_flow.core.permissions import Answer
from agentic_flow.tui.screens.elicitation import ElicitationAnswer, ElicitationScreen
from agentic_flow.tui.screens.trust_dialogs import McpTrustDialog, WorkspaceModeDialog
from agentic_flow.tui.widgets.permission_panel import PanelAnswer

if TYPE_CHECKING:  # pragma: no cover
    from textual.screen import Screen

    from agentic_flow.core.permissions import Answer, PermissionRequest, Verdict
    from agentic_flow.core.runtime import McpTrustRequest, WorkspaceModeRequest

__all__ = ["TuiApprover"]


class TuiApprover:
    """Implements ``core.permissions.Approver`` by asking a person through the TUI.

    Args:
        target: the screen (or any message pump) that shows the request; set later
            with :meth:`attach` when the approver is made before the screen.
    """

    class ApprovalRequested(Message):
        """The engine asked; resolve ``future`` with a ``PanelAnswer``."""

        def __init__(self, request: "PermissionRequest", verdict: "Verdict", future: "asyncio.Future[PanelAnswer]") -> None:
            super().__init__()
            self.request = request
            self.verdict = verdict
            self.future = future

    def __init__(self, target: MessagePump | None = None) -> None:
        self.target = target
        self.asked = 0

    def attach(self, target: MessagePump | None) -> None:
        self.target = target

    async def ask(self, request: "PermissionRequest", verdict: "Verdict") -> "Answer":

        target = self.target
        if target is None or not target.is_running:
            return Answer("deny", reason="the session screen is closed; nobody can approve this call")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[PanelAnswer] = loop.create_future()
        self.asked += 1
        target.post_message(self.ApprovalRequested(request, verdict, future))
        answer = await future
        return to_answer(answer)

    # -- core.runtime.TrustPrompt --------------------------------------------------------
    async def approve_mcp_servers(self, requests: "list[McpTrustRequest]") -> dict[str, bool]:
        """The dialog's answer; nothing (none started, none remembered) when closed with Esc."""
        answer = await self._dialog(McpTrustDialog(requests))
        return dict(answer) if isinstance(answer, dict) else {}

    async def confirm_workspace_mode(self, request: "WorkspaceModeRequest") -> bool:
        return bool(await self._dialog(WorkspaceModeDialog(request)))

    async def _dialog(self, screen: "Screen[Any]") -> Any:
        """Push a modal dialog on the app and wait for its result (None if no app)."""
        target = self.target
        if target is None or not target.is_running:
            return None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def done(result: Any) -> None:
            if not future.done():
                future.set_result(result)

        target.app.push_screen(screen, done)
        return await future

    async def elicit(self, server: str, message: str, schema: dict[str, Any]) -> ElicitationAnswer:
        """Ask the person with a form; with no screen to show it on, decline."""
        target = self.target
        if target is None or not target.is_running:
            return ("decline", None)
        answer = await self._dialog(ElicitationScreen(server, message, schema))
        return answer if answer is not None else ("cancel", None)


def to_answer(answer: PanelAnswer) -> Any:
    """The engine's ``Answer`` for a panel answer."""

    return Answer(answer.kind, reason=answer.reason, rule=answer.rule)
