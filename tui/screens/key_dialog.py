"""Enter a provider's API key without leaving the workbench.

The model table opens this dialog when the model picked (or highlighted, Ctrl+K) has no
key. The key is typed into a password field and either saved in the user config file
(``providers.NAME.api_key``, the file readable by its owner only) or kept for this
session only, in memory. The dialog answers with a :class:`KeyAnswer` or ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

__all__ = ["KeyAnswer", "KeyDialog"]


@dataclass(frozen=True)
class KeyAnswer:
    """The key typed for ``provider``, and whether to save it in ``config_file``."""

    provider: str
    key: str
    save: bool


class KeyDialog(ModalScreen[KeyAnswer | None]):
    """Ask for ``provider``'s key; ``status`` is what is missing (``set OPENAI_API_KEY``)."""

    DEFAULT_CSS = """
    KeyDialog {
        align: center middle;
    }
    KeyDialog > Vertical {
        width: 72;
        max-width: 100%;
        height: auto;
        padding: 1 2;
        border: round $warning;
        background: $surface;
    }
    KeyDialog #key-title {
        text-style: bold;
        margin-bottom: 1;
    }
    KeyDialog #key-note {
        color: $text-muted;
        margin-top: 1;
    }
    KeyDialog Horizontal {
        height: auto;
        margin-top: 1;
    }
    KeyDialog Button {
        margin-right: 1;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, provider: str, status: str, config_file: Path) -> None:
        super().__init__()
        self.provider = provider
        self.status = status
        self.config_file = config_file

    @property
    def variable(self) -> str:
        """What the key is usually given as: ``OPENAI_API_KEY`` (from ``set OPENAI_API_KEY``)."""
        return self.status.removeprefix("set ").strip()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"{self.provider}: {self.variable} is not set", id="key-title")
            yield Input(placeholder=f"paste the {self.provider} API key", password=True, id="key-input")
            yield Static(
                f"Save: written to {self.config_file} as providers.{self.provider}.api_key "
                "(the file is made readable by you only). This session: kept in memory until "
                f"the workbench closes. Or close it and export {self.variable}=... before starting.",
                id="key-note",
            )
            with Horizontal():
                yield Button("Save to config", variant="primary", id="key-save")
                yield Button("This session only", id="key-session")
                yield Button("Cancel", id="key-cancel")

    def _answer(self, save: bool) -> None:
        key = self.query_one("#key-input", Input).value.strip()
        if not key:
            self.notify("Type or paste the key first.", severity="warning")
            return
        if any(ch.isspace() for ch in key):
            self.notify("A key has no spaces; check what was pasted.", severity="warning")
            return
        self.dismiss(KeyAnswer(self.provider, key, save))

    @on(Input.Submitted, "#key-input")
    def _submitted(self) -> None:
        self._answer(save=False)

    @on(Button.Pressed, "#key-save")
    def _save(self) -> None:
        self._answer(save=True)

    @on(Button.Pressed, "#key-session")
    def _session(self) -> None:
        self._answer(save=False)

    @on(Button.Pressed, "#key-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
