"""Where should this export go? A dialog showing the path, editable, before anything is written.

Exports (compare results, audit rows) never land silently in the workspace: the dialog
suggests ``<agentic-flow data dir>/exports/<name>`` and the user can type any path
(``~`` works; a folder means "this name in that folder"). Dismisses with the chosen
:class:`~pathlib.Path`, or ``None`` on Esc.
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from agentic_flow.core.paths import data_dir

__all__ = ["SaveDialog", "default_export_path", "EXPORTS_DIRNAME"]

EXPORTS_DIRNAME = "exports"


def default_export_path(name: str) -> Path:
    """``<data dir>/exports/<name>`` — suggested, never written without the user seeing it."""
    return data_dir() / EXPORTS_DIRNAME / name


class SaveDialog(ModalScreen["Path | None"]):
    """Ask where to save; Enter accepts the path shown (or as edited), Esc cancels."""

    DEFAULT_CSS = """
    SaveDialog {
        align: center middle;
    }
    SaveDialog > Vertical {
        width: 90;
        max-width: 95%;
        height: auto;
        border: heavy $primary;
        background: $surface;
        padding: 1 2;
    }
    SaveDialog #save-hint {
        margin-top: 1;
        color: $text-muted;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, suggested: Path, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.title_text = title
        self.suggested = suggested

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content.assemble((self.title_text, "bold $text-primary")), id="save-title")
            yield Input(str(self.suggested), id="save-path")
            yield Static(
                Content.assemble(
                    ("enter", "bold $text-accent"), " save here  ", ("esc", "bold $text-accent"),
                    " cancel — edit the path to save elsewhere (a folder keeps the file name)",
                ),
                id="save-hint",
            )

    def on_mount(self) -> None:
        field = self.query_one("#save-path", Input)
        field.focus()
        field.cursor_position = len(field.value)

    @on(Input.Submitted, "#save-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.notify("Type a path, or press Esc to cancel.", severity="warning")
            return
        path = Path(text).expanduser()
        if path.is_dir():
            path = path / self.suggested.name
        self.dismiss(path.resolve())

    def action_cancel(self) -> None:
        self.dismiss(None)
