"""An MCP server's question (``elicitation/create``) as a form: accept, decline or cancel.

Built from the request's schema (:func:`core.mcp.elicitation.parse_form`): text and
number fields are inputs, booleans switches, single choices a select, several choices a
selection list; defaults are filled in and required fields are marked ``*``. Accept checks
the answer with :func:`core.mcp.elicitation.complete_answer` — fields left empty take the
schema's defaults, a bad value is shown under the form instead of being sent — and the
screen answers ``("accept", content)``; Decline ``("decline", None)``; Esc or Cancel
``("cancel", None)``.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Select, SelectionList, Static, Switch

from agentic_flow.core.mcp.elicitation import (
    ElicitationFormError,
    FormField,
    coerce_text,
    complete_answer,
    parse_form,
)

__all__ = ["ElicitationScreen", "ElicitationAnswer"]

ElicitationAnswer = tuple[str, dict[str, Any] | None]
"""``("accept", content)``, ``("decline", None)`` or ``("cancel", None)``."""


class ElicitationScreen(ModalScreen[ElicitationAnswer]):
    """The form for one question of MCP server ``server``."""

    DEFAULT_CSS = """
    ElicitationScreen {
        align: center middle;
    }
    ElicitationScreen > Vertical {
        width: 80;
        max-width: 100%;
        height: auto;
        max-height: 90%;
        padding: 1 2;
        border: round $accent;
        background: $surface;
    }
    ElicitationScreen #elicit-fields {
        height: auto;
        max-height: 24;
    }
    ElicitationScreen .elicit-title {
        text-style: bold;
    }
    ElicitationScreen .elicit-message {
        margin-bottom: 1;
    }
    ElicitationScreen .elicit-label {
        margin-top: 1;
    }
    ElicitationScreen .elicit-help {
        color: $text-muted;
    }
    ElicitationScreen #elicit-error {
        color: $text-error;
        margin-top: 1;
    }
    ElicitationScreen Horizontal {
        height: auto;
        margin-top: 1;
    }
    ElicitationScreen Button {
        margin-right: 1;
    }
    ElicitationScreen SelectionList {
        height: auto;
        max-height: 8;
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "accept", "Accept"),
    ]

    def __init__(self, server: str, message: str, schema: dict[str, Any]) -> None:
        super().__init__()
        self.server = server
        self.message = message
        self.schema = schema
        self.form = parse_form(schema)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"MCP server {self.server} asks", classes="elicit-title")
            yield Static(self.message, classes="elicit-message", markup=False)
            with VerticalScroll(id="elicit-fields"):
                for item in self.form.fields:
                    label = item.label + (" *" if item.required else "")
                    yield Static(label, classes="elicit-label", markup=False)
                    if item.description and item.description != item.label:
                        yield Static(item.description, classes="elicit-help", markup=False)
                    yield self._widget(item)
            yield Static("", id="elicit-error")
            with Horizontal():
                yield Button("Accept", variant="primary", id="elicit-accept")
                yield Button("Decline", id="elicit-decline")
                yield Button("Cancel", id="elicit-cancel")

    @staticmethod
    def _field_id(item: FormField) -> str:
        return f"field-{item.name}"

    def _widget(self, item: FormField) -> Widget:
        fid = self._field_id(item)
        if item.kind == "boolean":
            return Switch(value=bool(item.default) if item.has_default else False, id=fid)
        if item.kind == "enum":
            options = [(label, value) for value, label in item.options]
            default = str(item.default) if item.has_default and item.default is not None else Select.NULL
            return Select(options, value=default, allow_blank=not item.has_default, id=fid, prompt="choose…")
        if item.kind == "multi":
            chosen = {str(v) for v in item.default} if item.has_default and isinstance(item.default, list) else set()
            return SelectionList[str](*((label, value, value in chosen) for value, label in item.options), id=fid)
        kind = {"integer": "integer", "number": "number"}.get(item.kind, "text")
        value = "" if not item.has_default or item.default is None else str(item.default)
        hint = f" (default {value})" if value else ""
        return Input(value=value, placeholder=f"{item.kind}{hint}", type=kind, id=fid)  # type: ignore[arg-type]

    def answer_data(self) -> dict[str, Any]:
        """What the form holds now, typed; an empty field is left out (its default applies).

        Raises:
            ElicitationFormError: a number field holds something that is not one.
        """
        data: dict[str, Any] = {}
        for item in self.form.fields:
            widget = self.query_one(f"#{self._field_id(item)}")
            value: Any
            if isinstance(widget, Switch):
                value = widget.value
            elif isinstance(widget, Select):
                value = None if widget.is_blank() else widget.value
            elif isinstance(widget, SelectionList):
                value = list(widget.selected)
            else:
                assert isinstance(widget, Input)
                value = coerce_text(item, widget.value)
            if value is not None:
                data[item.name] = value
        return data

    def action_accept(self) -> None:
        try:
            content = complete_answer(self.schema, self.answer_data())
        except ElicitationFormError as exc:
            self.query_one("#elicit-error", Static).update(str(exc))
            return
        self.dismiss(("accept", content))

    @on(Button.Pressed, "#elicit-accept")
    def _accept(self) -> None:
        self.action_accept()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_accept()

    @on(Button.Pressed, "#elicit-decline")
    def _decline(self) -> None:
        self.dismiss(("decline", None))

    @on(Button.Pressed, "#elicit-cancel")
    def action_cancel(self) -> None:
        self.dismiss(("cancel", None))
