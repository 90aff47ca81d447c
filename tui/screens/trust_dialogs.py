"""Modal dialogs that settle what a workspace may do before its session opens.

- :class:`McpTrustDialog`: the workspace's ``.mcp.json`` (or project settings) wants to
  start MCP servers; each is listed with the command line or URL it would use and the
  variables it would read. Checked servers are approved, the others declined — both
  remembered for this workspace; Esc decides nothing (they stay off, and are asked about
  again next time).
- :class:`WorkspaceModeDialog`: the workspace's settings ask for a more permissive mode
  than a repository may give itself; trusting the workspace applies it (remembered).

Both answer through ``dismiss``; :class:`~tui.approver.TuiApprover` awaits them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Static

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.runtime import McpTrustRequest, WorkspaceModeRequest

__all__ = ["McpTrustDialog", "WorkspaceModeDialog"]

_DIALOG_CSS = """
{name} {{
    align: center middle;
}}
{name} > Vertical {{
    width: 96;
    max-width: 95%;
    height: auto;
    max-height: 90%;
    border: heavy $warning;
    background: $surface;
    padding: 1 2;
}}
{name} .dialog-text {{
    margin-bottom: 1;
}}
{name} Horizontal {{
    height: auto;
    align-horizontal: right;
}}
{name} Button {{
    margin-left: 1;
}}
"""


class McpTrustDialog(ModalScreen["dict[str, bool] | None"]):
    """Approve or decline the workspace's MCP servers: ``{name: approved}``, or None (Esc)."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="McpTrustDialog") + """
    McpTrustDialog VerticalScroll {
        height: auto;
        max-height: 24;
    }
    McpTrustDialog .server-detail {
        margin: 0 0 1 4;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("escape", "not_now", "Not now"),
        Binding("a", "approve_all", "Approve all"),
        Binding("s", "skip_all", "Skip all"),
    ]

    def __init__(self, requests: list["McpTrustRequest"]) -> None:
        super().__init__()
        self.requests = list(requests)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                Content.assemble(
                    ("This workspace wants to start MCP servers\n\n", "bold $text-warning"),
                    "A server from the repository runs a command on this machine, or sends your "
                    "requests to a URL. Check the ones you trust; the others are declined. Your answer "
                    "is remembered for this workspace (change it with `agentic-flow mcp trust/untrust NAME`).",
                ),
                classes="dialog-text",
            )
            with VerticalScroll():
                for request in self.requests:
                    changed = " — changed since you approved it" if request.changed else ""
                    yield Checkbox(Content(f"{request.name}{changed}"), False, id=f"mcp-{_safe_id(request.name)}")
                    verb = "runs" if request.transport == "stdio" else "connects to"
                    detail = f"{verb}: {request.shown}\nfrom {request.source}"
                    if request.variables:
                        detail += "\nreads: " + ", ".join("${" + v + "}" for v in request.variables)
                    yield Static(Content(detail), classes="server-detail")
            yield Static(
                Content.assemble(
                    ("space", "bold $text-accent"), " check  ",
                    ("a", "bold $text-accent"), " approve all  ",
                    ("s", "bold $text-accent"), " skip all  ",
                    ("esc", "bold $text-accent"), " not now",
                ),
                classes="dialog-text",
            )
            with Horizontal():
                yield Button("Skip all", id="skip")
                yield Button("Start checked", variant="warning", id="start")

    def on_mount(self) -> None:
        self.query_one("#skip", Button).focus()

    def _checked(self) -> dict[str, bool]:
        return {r.name: self.query_one(f"#mcp-{_safe_id(r.name)}", Checkbox).value for r in self.requests}

    def action_not_now(self) -> None:
        self.dismiss(None)

    def action_approve_all(self) -> None:
        self.dismiss({r.name: True for r in self.requests})

    def action_skip_all(self) -> None:
        self.dismiss({r.name: False for r in self.requests})

    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        self.dismiss(self._checked())

    @on(Button.Pressed, "#skip")
    def _skip(self) -> None:
        self.action_skip_all()


class WorkspaceModeDialog(ModalScreen[bool]):
    """The workspace's settings ask for a permissive mode: trust the workspace (True)?"""

    DEFAULT_CSS = _DIALOG_CSS.format(name="WorkspaceModeDialog")

    BINDINGS = [
        Binding("t", "answer(True)", "Trust workspace"),
        Binding("n,escape", "answer(False)", "Keep mode"),
    ]

    def __init__(self, request: "WorkspaceModeRequest") -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical():
            yield Static(
                Content.assemble(
                    (f"This workspace asks for permission mode {r.mode}\n\n", "bold $text-warning"),
                    f"{r.source} sets it. A repository cannot raise its own permissions, so the session "
                    f"uses {r.applied} unless you trust this workspace. Trusting it also lets allow rules "
                    "in its settings files approve the dangerous operations they name. Remembered for "
                    f"{r.workspace} (undo with `agentic-flow trust --revoke`).\n\n",
                    ("t", "bold $text-accent"),
                    " trust this workspace  ",
                    ("n", "bold $text-accent"),
                    " / ",
                    ("esc", "bold $text-accent"),
                    f" keep {r.applied}",
                ),
                classes="dialog-text",
            )
            with Horizontal():
                yield Button(f"Keep {r.applied}", id="no")
                yield Button("Trust this workspace", variant="warning", id="yes")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


def _safe_id(name: str) -> str:
    """A widget id for any server name (ids allow letters, digits, ``-`` and ``_``)."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else f"_{ord(ch):x}_" for ch in name)
