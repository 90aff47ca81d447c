"""Small modal dialogs of the session screen: confirm auto mode, pick a model or an
agent, confirm quitting while an answer runs, rewind to a turn."""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

__all__ = ["ConfirmAutoMode", "ModelPicker", "ConfirmQuit", "AgentPicker", "RewindDialog"]


class ConfirmAutoMode(ModalScreen[bool]):
    """``auto`` approves every tool call except the dangerous list: ask first."""

    DEFAULT_CSS = """
    ConfirmAutoMode {
        align: center middle;
    }
    ConfirmAutoMode > Vertical {
        width: 64;
        max-width: 95%;
        height: auto;
        border: heavy $warning;
        background: $surface;
        padding: 1 2;
    }
    ConfirmAutoMode #confirm-text {
        margin-bottom: 1;
    }
    ConfirmAutoMode Horizontal {
        height: auto;
        align-horizontal: right;
    }
    ConfirmAutoMode Button {
        margin-left: 1;
    }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Switch to auto"),
        Binding("n,escape", "answer(False)", "Cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                Content.assemble(
                    ("Switch to auto mode?\n\n", "bold $text-warning"),
                    "Every tool call will run without asking — edits, commands and MCP tools. "
                    "Dangerous operations and calls that an ask rule covers still ask.\n\n",
                    ("y", "bold $text-accent"),
                    " switch  ",
                    ("n", "bold $text-accent"),
                    " / ",
                    ("esc", "bold $text-accent"),
                    " keep the current mode",
                ),
                id="confirm-text",
            )
            with Horizontal():
                yield Button("Keep mode", id="no")
                yield Button("Switch to auto", variant="warning", id="yes")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ModelPicker(ModalScreen["str | None"]):
    """Choose the model for the next turns: catalog ids, filtered as you type.

    Enter takes the highlighted model, or the typed text when it is a ``provider:model``
    id not in the list.
    """

    DEFAULT_CSS = """
    ModelPicker {
        align: center middle;
    }
    ModelPicker > Vertical {
        width: 70;
        max-width: 95%;
        height: 80%;
        border: heavy $primary;
        background: $surface;
        padding: 0 1;
    }
    ModelPicker #picker-title {
        text-style: bold;
        margin: 0 0 1 0;
    }
    ModelPicker OptionList {
        height: 1fr;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, model_ids: list[str], current: str | None = None) -> None:
        super().__init__()
        ids = list(dict.fromkeys(([current] if current else []) + sorted(model_ids)))
        self.model_ids = ids
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Switch model (now {self.current or '?'}) — the conversation is kept", id="picker-title")
            yield Input(placeholder="filter, or type provider:model", id="picker-filter")
            yield OptionList(*self._options(""), id="picker-list")

    def _options(self, text: str) -> list[Option]:
        needle = text.strip().lower()
        return [
            Option(f"{mid}{'  (current)' if mid == self.current else ''}", id=mid)
            for mid in self.model_ids
            if needle in mid.lower()
        ]

    def on_mount(self) -> None:
        self.query_one("#picker-filter", Input).focus()
        self._highlight_first()

    def _highlight_first(self) -> None:
        options = self.query_one("#picker-list", OptionList)
        if options.option_count:
            options.highlighted = 0

    @on(Input.Changed, "#picker-filter")
    def _filter(self, event: Input.Changed) -> None:
        options = self.query_one("#picker-list", OptionList)
        options.clear_options()
        options.add_options(self._options(event.value))
        self._highlight_first()

    def on_key(self, event: events.Key) -> None:
        if event.key in ("down", "up") and self.focused is self.query_one("#picker-filter", Input):
            options = self.query_one("#picker-list", OptionList)
            if event.key == "down":
                options.action_cursor_down()
            else:
                options.action_cursor_up()
            event.stop()
            event.prevent_default()

    @on(Input.Submitted, "#picker-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        options = self.query_one("#picker-list", OptionList)
        typed = event.value.strip()
        if options.highlighted is not None and options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted).id)
        elif ":" in typed:
            self.dismiss(typed)
        else:
            self.app.bell()

    @on(OptionList.OptionSelected, "#picker-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmQuit(ModalScreen[bool]):
    """Ctrl+Q while an answer runs: quitting stops it (what was said is kept)."""

    DEFAULT_CSS = """
    ConfirmQuit {
        align: center middle;
    }
    ConfirmQuit > Vertical {
        width: 60;
        max-width: 95%;
        height: auto;
        border: heavy $warning;
        background: $surface;
        padding: 1 2;
    }
    """

    BINDINGS = [
        Binding("y,ctrl+q", "answer(True)", "Quit"),
        Binding("n,escape", "answer(False)", "Keep working"),
    ]

    def __init__(self, what: str = "An answer is still running") -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                Content.assemble(
                    ("Quit the workbench?\n\n", "bold $text-warning"),
                    f"{self.what}. Quitting stops it; what was said so far is kept in the session.\n\n",
                    ("y", "bold $text-accent"),
                    " / ",
                    ("ctrl+q", "bold $text-accent"),
                    " quit  ",
                    ("n", "bold $text-accent"),
                    " / ",
                    ("esc", "bold $text-accent"),
                    " keep working",
                )
            )

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class AgentPicker(ModalScreen["str | None"]):
    """Choose the agent for the next turns (``/agent``): name and description."""

    DEFAULT_CSS = """
    AgentPicker {
        align: center middle;
    }
    AgentPicker > Vertical {
        width: 76;
        max-width: 95%;
        height: 80%;
        border: heavy $primary;
        background: $surface;
        padding: 0 1;
    }
    AgentPicker OptionList {
        height: 1fr;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, agents: list[tuple[str, str]], current: str | None = None) -> None:
        super().__init__()
        self.agents = agents
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Switch agent (now {self.current or '?'}) — the conversation is kept", classes="title")
            yield OptionList(
                *(
                    Option(
                        Content.assemble(
                            (name, "bold"), ("  (current)" if name == self.current else "", "$text-muted"),
                            ("  " + description[:80], "$text-muted"),
                        ),
                        id=name,
                    )
                    for name, description in self.agents
                ),
                id="agent-list",
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RewindDialog(ModalScreen["tuple[int, bool, bool] | None"]):
    """``/rewind``: pick a turn, then what to restore (Claude Code's choices).

    Dismisses with ``(turn, code, conversation)``: go back to before ``turn``, restoring
    the files the file tools changed since (``code``) and/or forgetting the turn and all
    after it (``conversation``).
    """

    DEFAULT_CSS = """
    RewindDialog {
        align: center middle;
    }
    RewindDialog > Vertical {
        width: 78;
        max-width: 98%;
        height: 85%;
        border: heavy $warning;
        background: $surface;
        padding: 0 1;
    }
    RewindDialog #rewind-list {
        height: 1fr;
    }
    RewindDialog #rewind-note {
        color: $text-muted;
    }
    RewindDialog #rewind-choices {
        height: auto;
        display: none;
    }
    RewindDialog.-choosing #rewind-choices {
        display: block;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("b", "choose(True,True)", "Both", show=False),
        Binding("c", "choose(True,False)", "Code", show=False),
        Binding("v", "choose(False,True)", "Conversation", show=False),
    ]

    def __init__(self, turns: list[tuple[int, str, list[str]]], untracked_note: str) -> None:
        """``turns``: ``(number, prompt, files changed by the file tools)``, oldest first."""
        super().__init__()
        self.turns = turns
        self.untracked_note = untracked_note
        self.chosen: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content.from_markup("[b]Rewind[/b] — go back to before a turn"), classes="title")
            yield OptionList(
                *(
                    Option(
                        Content.assemble(
                            (f"{number:>3}  ", "bold"),
                            prompt,
                            (f"\n     files: {', '.join(files)}" if files else "\n     no file changes", "$text-muted"),
                        ),
                        id=str(number),
                    )
                    for number, prompt, files in reversed(self.turns)
                ),
                id="rewind-list",
            )
            yield Static(self.untracked_note, id="rewind-note")
            yield Static(
                Content.assemble(
                    ("b", "bold $text-accent"), " code and conversation  ",
                    ("c", "bold $text-accent"), " code only  ",
                    ("v", "bold $text-accent"), " conversation only  ",
                    ("esc", "bold $text-accent"), " back",
                ),
                id="rewind-choices",
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose_turn(int(event.option.id or 0))

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        # Moving the highlight after Enter moves the choice with it: b/c/v act on the
        # turn that is highlighted, never on one chosen before.
        if self.chosen is not None:
            self._choose_turn(int(event.option.id or 0))

    def _choose_turn(self, number: int) -> None:
        self.chosen = number
        self.add_class("-choosing")
        self.query_one("#rewind-note", Static).update(
            f"Back to before turn {number}: restore the files changed since (code), forget turn {number} and "
            f"after (conversation), or both. {self.untracked_note}"
        )

    def action_choose(self, code: bool, conversation: bool) -> None:
        if self.chosen is not None:
            self.dismiss((self.chosen, code, conversation))

    def action_back(self) -> None:
        if self.chosen is not None:
            self.chosen = None
            self.remove_class("-choosing")
            self.query_one("#rewind-note", Static).update(self.untracked_note)
            return
        self.dismiss(None)
