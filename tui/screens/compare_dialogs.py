"""Dialogs of the compare screen: pick a model's run, view its diff, confirm applying it.

Applying goes through the permission engine (:func:`core.compare.apply.apply_run`): the
engine decides each file the diff changes; what it would *ask* about is asked here, once,
with the whole list of files in :class:`ApplyDialog` (:class:`DialogApprover` answers
every such file with that one answer). Deny rules still refuse a file, and then nothing
is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.syntax import Syntax
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from agentic_flow.core.compare.result import ModelRun
from agentic_flow.core.permissions import Answer, PermissionRequest, Verdict

__all__ = ["RunPicker", "DiffScreen", "ApplyDialog", "DialogApprover", "run_label"]


def run_label(run: ModelRun, runs: int = 1) -> str:
    """``model — check passed · 1 file +1 -1`` (``#2`` with several runs)."""
    check = run.check_passed
    verdict = "no check" if check is None else ("check passed" if check else "check failed")
    if run.status != "ok":
        verdict = f"failed ({run.error_kind or 'error'})"
    index = f" #{run.run_index + 1}" if runs > 1 else ""
    return f"{run.model_id}{index} — {verdict} · {run.diff_summary}"


class RunPicker(ModalScreen["ModelRun | None"]):
    """Choose one model's run (for its diff, or to apply it)."""

    DEFAULT_CSS = """
    RunPicker {
        align: center middle;
    }
    RunPicker > Vertical {
        width: 90;
        max-width: 95%;
        height: auto;
        max-height: 80%;
        border: heavy $primary;
        background: $surface;
        padding: 1 2;
    }
    RunPicker OptionList {
        height: auto;
        max-height: 16;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, runs: Sequence[ModelRun], *, rounds: int = 1) -> None:
        super().__init__()
        self.title_text = title
        self.runs = list(runs)
        self.rounds = rounds

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content.assemble((self.title_text, "bold $text-primary")))
            yield OptionList(
                *(Option(run_label(run, self.rounds), id=str(i)) for i, run in enumerate(self.runs)), id="run-options"
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.runs[int(event.option.id or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)


class DiffScreen(Screen["bool"]):
    """One run's diff, syntax-highlighted; ``a`` applies it (dismisses True), Esc goes back."""

    DEFAULT_CSS = """
    DiffScreen #diff-summary {
        height: auto;
        padding: 0 1;
        background: $surface;
    }
    DiffScreen #diff-body {
        height: 1fr;
    }
    """

    BINDINGS = [Binding("escape", "back", "Back"), Binding("a", "apply", "Apply to the workspace")]

    def __init__(self, run: ModelRun, *, runs: int = 1) -> None:
        super().__init__()
        self.run = run
        self.rounds = runs

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Content(run_label(self.run, self.rounds)), id="diff-summary")
        with VerticalScroll(id="diff-body"):
            if self.run.diff.strip():
                yield Static(Syntax(self.run.diff, "diff", word_wrap=False, theme="ansi_dark"), id="diff-text")
            else:
                yield Static(Content("This run changed nothing."), id="diff-text")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"Diff of {self.run.model_id}"

    def action_back(self) -> None:
        self.dismiss(False)

    def action_apply(self) -> None:
        self.dismiss(True)


class ApplyDialog(ModalScreen[bool]):
    """Apply this run's diff to the workspace? Lists every file and its change."""

    DEFAULT_CSS = """
    ApplyDialog {
        align: center middle;
    }
    ApplyDialog > Vertical {
        width: 90;
        max-width: 95%;
        height: auto;
        max-height: 80%;
        border: heavy $warning;
        background: $surface;
        padding: 1 2;
    }
    ApplyDialog #apply-files {
        height: auto;
        max-height: 12;
        margin: 1 0;
    }
    ApplyDialog Horizontal {
        height: auto;
        align-horizontal: right;
    }
    ApplyDialog Button {
        margin-left: 1;
    }
    """

    BINDINGS = [Binding("y", "answer(True)", "Apply"), Binding("n,escape", "answer(False)", "Cancel")]

    def __init__(self, run: ModelRun, workspace: str, asked: Sequence[str]) -> None:
        super().__init__()
        self.run = run
        self.workspace = workspace
        self.asked = list(asked)

    def compose(self) -> ComposeResult:
        lines = [
            f"{'?' if f.path in self.asked else '·'} {f.path}  {f.status} +{f.added or 0} -{f.removed or 0}"
            for f in self.run.changed
        ]
        with Vertical():
            yield Static(
                Content.assemble(
                    (f"Apply the diff of {self.run.model_id} to {self.workspace}?\n", "bold $text-warning"),
                    ("Files marked ? need your approval; the others are allowed by your rules or mode.", "$text-muted"),
                )
            )
            with VerticalScroll(id="apply-files"):
                yield Static(Content("\n".join(lines)), id="apply-list")
            yield Static(Content.assemble(("y", "bold $text-accent"), " apply  ", ("n", "bold $text-accent"),
                                          " / ", ("esc", "bold $text-accent"), " cancel"))
            with Horizontal():
                yield Button("Cancel", id="no")
                yield Button("Apply", variant="warning", id="yes")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class DialogApprover:
    """Answers the engine's "ask" for every file of one diff with one :class:`ApplyDialog`.

    Must be used from a worker (it waits for the dialog with ``push_screen_wait``).
    """

    def __init__(self, screen: Screen[Any], run: ModelRun, workspace: str, asked: Sequence[str]) -> None:
        self.screen = screen
        self.run = run
        self.workspace = workspace
        self.asked = list(asked)
        self._answer: bool | None = None

    async def ask(self, request: PermissionRequest, verdict: Verdict) -> Answer:
        if self._answer is None:
            answer: bool = await self.screen.app.push_screen_wait(ApplyDialog(self.run, self.workspace, self.asked))
            self._answer = bool(answer)
        if self._answer:
            return Answer("once", reason="applied from the compare screen")
        return Answer("deny", reason="cancelled by the user")
