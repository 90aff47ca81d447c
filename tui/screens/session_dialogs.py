"""Small modal dialogs of the session screen: confirm auto mode, pick a model."""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

__all__ = ["ConfirmAutoMode", "ModelPicker"]


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
