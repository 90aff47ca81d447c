"""The prompt box: multi-line editing, Enter sends, history on up/down.

Keys: ``enter`` sends; ``shift+enter`` (terminals with the kitty keyboard protocol, which
Textual enables), ``ctrl+j`` (every terminal) and ``alt+enter`` insert a newline. ``up``
on the first line and ``down`` on the last line walk the history of sent prompts; the
text being written is kept and comes back after the newest entry. ``pageup`` and
``pagedown`` ask the screen to scroll the conversation (:class:`PromptInput.PageRequested`).

Enter and the newline keys are handled with the typed text, in the widget's own queue,
not as priority bindings: a priority binding runs in the app's queue as soon as the key
arrives, ahead of characters typed just before it that the widget has not inserted yet
(a burst like ``tmux send-keys "text" Enter`` then sent half the text). While the
completion dropdown (:class:`~tui.widgets.prompt_completion.PromptCompletion`) shows,
``enter``, ``tab``, ``up``, ``down`` and ``esc`` are left to it.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

__all__ = ["PromptInput"]

_NEWLINE_KEYS = ("shift+enter", "ctrl+j", "alt+enter")
_COMPLETION_KEYS = ("enter", "tab", "up", "down", "escape")


class PromptInput(TextArea):
    """A ``TextArea`` that sends on Enter."""

    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 3;
        max-height: 10;
        border: tall $border-blurred;
        padding: 0 1;
        background: $surface;
    }
    PromptInput:focus {
        border: tall $border;
    }
    """

    # Shown in the footer; the keys themselves are handled in ``_on_key`` (see above).
    BINDINGS = [
        Binding("enter", "submit", "Send", show=True),
        Binding("ctrl+j", "newline", "Newline", show=False),
    ]

    class Submitted(Message):
        """The user sent a prompt (already added to the history)."""

        def __init__(self, prompt_input: "PromptInput", text: str) -> None:
            super().__init__()
            self.prompt_input = prompt_input
            self.text = text

        @property
        def control(self) -> "PromptInput":
            return self.prompt_input

    class PageRequested(Message):
        """PageUp / PageDown in the prompt: the screen scrolls the conversation."""

        def __init__(self, prompt_input: "PromptInput", up: bool) -> None:
            super().__init__()
            self.prompt_input = prompt_input
            self.up = up

    def __init__(self, *, placeholder: str = "", id: str | None = None, prompt_history: list[str] | None = None) -> None:
        super().__init__(
            "",
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            placeholder=placeholder,
        )
        self.prompt_history: list[str] = list(prompt_history or [])
        self._history_index: int | None = None  # None: editing a new prompt
        self._draft = ""
        self.completion: Any = None
        """The completion dropdown, when there is one (it sets itself here)."""

    # -- sending -------------------------------------------------------------------------
    def action_submit(self) -> None:
        text = self.text
        if not text.strip():
            return
        if not self.prompt_history or self.prompt_history[-1] != text:
            self.prompt_history.append(text)
        self._history_index = None
        self._draft = ""
        self.load_text("")
        self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        start, end = self.selection
        self.replace("\n", start, end, maintain_selection_offset=False)

    # -- history -------------------------------------------------------------------------
    def _show(self, text: str, at_end: bool) -> None:
        self.load_text(text)
        if at_end:
            self.move_cursor(self.document.end)
        else:
            first_line_end = (0, len(self.document.get_line(0)))
            self.move_cursor(first_line_end)

    def history_previous(self) -> bool:
        if not self.prompt_history:
            return False
        if self._history_index is None:
            self._draft = self.text
            self._history_index = len(self.prompt_history) - 1
        elif self._history_index == 0:
            return False
        else:
            self._history_index -= 1
        self._show(self.prompt_history[self._history_index], at_end=False)
        return True

    def history_next(self) -> bool:
        if self._history_index is None:
            return False
        if self._history_index >= len(self.prompt_history) - 1:
            self._history_index = None
            self._show(self._draft, at_end=True)
            return True
        self._history_index += 1
        self._show(self.prompt_history[self._history_index], at_end=True)
        return True

    @property
    def completing(self) -> bool:
        """The completion dropdown shows entries (it takes enter, tab, arrows, esc)."""
        return self.completion is not None and self.completion.showing

    async def _on_key(self, event: events.Key) -> None:
        # Runs before TextArea's own handler (Textual dispatches along the MRO) and
        # before the up/down bindings (checked when the key bubbles to the app).
        if event.key in _COMPLETION_KEYS and self.completing:
            if event.key == "enter" and self.completion.is_exact():
                self.completion.action_hide()  # "/mode" typed whole: send it
            else:
                event.stop()  # the dropdown hears the key after this handler (message_signal)
                event.prevent_default()
                return
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.action_submit()
            return
        if event.key in _NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.action_newline()
            return
        if event.key in ("pageup", "pagedown"):  # the conversation scrolls, not the prompt's few lines
            event.stop()
            event.prevent_default()
            self.post_message(self.PageRequested(self, up=event.key == "pageup"))
            return
        if event.key == "up" and self.cursor_at_first_line and self.selection.is_empty:
            handled = self.history_previous()
        elif event.key == "down" and self.cursor_at_last_line and self.selection.is_empty:
            handled = self.history_next()
        else:
            return
        if handled:
            event.stop()
            event.prevent_default()
