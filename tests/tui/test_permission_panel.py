"""The permission panel and the TUI approver, in a small app of their own."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import Input, Static

from agentic_flow.core.permissions import Answer, PermissionRequest, Verdict
from agentic_flow.tui.approver import TuiApprover, to_answer
from agentic_flow.tui.widgets.permission_panel import PanelAnswer, PendingApproval, PermissionPanel
from tests.tui.session_fakes import EDIT_DIFF

SIZE = (90, 30)


class PanelApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.answered: list[PanelAnswer] = []
        self.emptied = 0
        self.requests: list[TuiApprover.ApprovalRequested] = []

    def compose(self) -> ComposeResult:
        yield Static("transcript")
        yield PermissionPanel(id="panel")

    def on_permission_panel_answered(self, message: PermissionPanel.Answered) -> None:
        self.answered.append(message.answer)

    def on_permission_panel_emptied(self) -> None:
        self.emptied += 1

    def on_tui_approver_approval_requested(self, message: TuiApprover.ApprovalRequested) -> None:
        self.requests.append(message)
        self.query_one(PermissionPanel).add(
            pending(message.request.call_id, tool=message.request.tool, future=message.future, why=message.verdict.reason)
        )


def pending(call_id: str = "c1", *, tool: str = "bash", future: Any = None, **kw: Any) -> PendingApproval:
    args = kw.pop("arguments", {"command": "git push --force origin main"} if tool == "bash" else {"path": "a.py"})
    return PendingApproval(
        call_id=call_id,
        tool=tool,
        arguments=args,
        why=kw.pop("why", "ask mode: commands need approval"),
        future=future if future is not None else asyncio.get_running_loop().create_future(),
        decided_by=kw.pop("decided_by", "mode:ask"),
        always_rule=kw.pop("always_rule", "bash(git push --force origin main)"),
        settings_file=".agentic-flow/settings.yaml",
        example_rule=kw.pop("example_rule", "bash(git push *)"),
        **kw,
    )


def panel_text(app: App[Any]) -> str:
    panel = app.query_one(PermissionPanel)
    parts = [str(panel.border_title), str(panel.border_subtitle)]
    parts += [str(w.render()) for w in panel.query(Static)]
    return "\n".join(parts)


async def test_shows_command_reason_mode_and_where_always_saves() -> None:
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(PermissionPanel)
        assert not panel.has_class("-active")
        panel.mode = "accept-edits"
        panel.add(pending(dangers=("force push rewrites shared history",)))
        await pilot.pause()
        assert panel.has_class("-active")
        text = panel_text(app)
        assert "$ git push --force origin main" in text
        assert "ask mode: commands need approval" in text and "asked by the ask mode" in text
        assert "mode accept-edits" in text
        assert "always: bash(git push --force origin main) → .agentic-flow/settings.yaml" in text
        assert "force push rewrites shared history" in text


async def test_edit_preview_is_a_coloured_diff() -> None:
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(PermissionPanel)
        panel.add(pending(tool="edit", preview=EDIT_DIFF, decided_by="rule:edit(src/**) [settings.yaml]"))
        await pilot.pause()
        body = panel.query_one("#perm-args", Static).render()
        assert "+    return f\"Hello, {name}!\"" in str(body)
        styles = {str(span.style) for span in body.spans}  # type: ignore[attr-defined]
        assert "$text-success" in styles and "$text-error" in styles
        assert "asked by edit(src/**) [settings.yaml]" in panel_text(app)


async def test_a_write_that_changes_nothing_says_so_instead_of_listing_the_content() -> None:
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(PermissionPanel)
        content = "\n".join(f"line {i}" for i in range(500))
        note = "(no change: big.txt already has this content)"
        panel.add(pending(tool="write", arguments={"path": "big.txt", "content": content}, preview=note))
        await pilot.pause()
        body = str(panel.query_one("#perm-args", Static).render())
        assert "big.txt" in body and note in body
        assert "line 1" not in body  # the 500 lines it would write again are not the question


async def test_queue_answers_in_order_with_each_key() -> None:
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(PermissionPanel)
        items = [pending(f"c{i}") for i in range(4)]
        for item in items:
            panel.add(item)
        panel.focus()
        await pilot.pause()
        assert "1 of 4 pending" in str(panel.border_title)
        await pilot.press("y")
        await pilot.press("s")
        await pilot.press("a")
        assert "1 of 4" not in str(panel.border_title) and panel.current is items[3]
        await pilot.press("n")
        assert app.focused is panel.query_one(Input)
        await pilot.press(*"not on main", "enter")
        await pilot.pause()
        assert [i.future.result() for i in items] == [
            PanelAnswer("once"),
            PanelAnswer("session"),
            PanelAnswer("always"),
            PanelAnswer("deny", reason="not on main"),
        ]
        assert app.answered == [i.future.result() for i in items]
        assert panel.current is None and not panel.has_class("-active") and app.emptied >= 1


async def test_deny_without_reason_and_custom_rule() -> None:
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(PermissionPanel)
        first, second = pending("c1"), pending("c2")
        panel.add(first)
        panel.add(second)
        panel.focus()
        await pilot.press("n", "enter")
        assert first.future.result() == PanelAnswer("deny", reason=None)
        await pilot.press("r")
        field = panel.query_one(Input)
        assert field.value == "bash(git push *)" and field.has_focus
        keys = str(panel.query_one("#perm-keys", Static).render())
        assert "enter: allow always" in keys and "esc: back" in keys  # the prefilled field hides its placeholder
        await pilot.press("escape")
        assert panel.has_focus and not second.future.done()
        assert "y once" in str(panel.query_one("#perm-keys", Static).render())  # the answer keys are back
        await pilot.press("r", "end", "backspace", "backspace", *"--force *)", "enter")
        assert second.future.result() == PanelAnswer("always", rule="bash(git push --force *)")


async def test_cancelled_requests_are_withdrawn() -> None:
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(PermissionPanel)
        first, second = pending("c1"), pending("c2")
        panel.add(first)
        panel.add(second)
        first.future.cancel()
        await pilot.pause()
        assert panel.current is second
        panel.withdraw_all()
        assert second.future.cancelled() and panel.current is None


async def test_tui_approver_round_trip(tmp_path: Path) -> None:
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        approver = TuiApprover(app)
        request = PermissionRequest("c9", "bash", {"command": "make deploy"}, tmp_path)
        task = asyncio.create_task(approver.ask(request, Verdict("ask", "rule bash(make *) asks", "rule:bash(make *)")))
        while not app.requests:
            await pilot.pause()
        assert app.requests[0].request is request and approver.asked == 1
        app.query_one(PermissionPanel).focus()
        await pilot.press("s")
        answer = await task
        assert answer == Answer("session")
        # Cancelling the asking task (Esc in the session) withdraws the request.
        task = asyncio.create_task(approver.ask(request, Verdict("ask", "again", "mode:ask")))
        while app.query_one(PermissionPanel).current is None:
            await pilot.pause()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pilot.pause()
        assert app.query_one(PermissionPanel).current is None


async def test_approver_without_a_screen_denies(tmp_path: Path) -> None:
    approver = TuiApprover()
    answer = await approver.ask(PermissionRequest("c1", "bash", {"command": "ls"}, tmp_path), Verdict("ask", "x", "mode:ask"))
    assert answer.kind == "deny" and "closed" in (answer.reason or "")
    assert to_answer(PanelAnswer("always", rule="bash(ls)")) == Answer("always", rule="bash(ls)")
