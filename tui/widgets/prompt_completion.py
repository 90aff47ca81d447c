"""Completion in the prompt box: ``/`` commands and ``@`` file paths, fuzzy.

Built on ``textual-autocomplete``'s :class:`~textual_autocomplete.AutoComplete`, which
targets an ``Input``; the prompt is a multi-line ``TextArea``, so the few places that
read or change the target (its text and cursor, the change message, inserting the
completion, where the dropdown goes) are adapted here. The token completed is the word
before the cursor on the current line: ``/co`` offers ``/compact`` (only as the first
word of the prompt), ``@src/ap`` offers workspace files by fuzzy match.

Keys while the dropdown shows: ``tab`` or ``enter`` take the highlighted entry, ``up`` /
``down`` move, ``esc`` hides it (:class:`~tui.widgets.prompt_input.PromptInput` leaves
those keys to the dropdown then).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from textual import events
from textual.content import Content
from textual.geometry import Offset, Region, Spacing
from textual.widgets import TextArea
from textual_autocomplete import AutoComplete, DropdownItem, TargetState

from agentic_flow.tui.slash import COMMANDS

__all__ = ["PromptCompletion", "MAX_SHOWN", "subsequence"]

MAX_SHOWN = 12
"""Entries shown at most (the best matches first)."""
_SCORED = 300  # file candidates scored at most (after a cheap subsequence filter)


def subsequence(query: str, candidate: str) -> bool:
    """Every character of ``query`` appears in ``candidate`` in order (case-insensitive)."""
    it = iter(candidate.lower())
    return all(ch in it for ch in query.lower())


class PromptCompletion(AutoComplete):
    """The dropdown under (or above) the prompt's cursor.

    Args:
        target: the prompt box.
        files: returns the workspace files offered after ``@`` (relative paths).
    """

    DEFAULT_CSS = """
    PromptCompletion {
        max-height: 12;
    }
    PromptCompletion AutoCompleteList {
        max-width: 72;
    }
    """

    def __init__(self, target: TextArea, files: Callable[[], Sequence[str]] = tuple, **kwargs: Any) -> None:
        super().__init__(cast(Any, target), candidates=None, **kwargs)
        self._prompt = target
        self.files = files

    # -- the target is a TextArea ----------------------------------------------------------
    @property
    def target(self) -> Any:  # the library's code reads and writes it like an Input
        return self._prompt

    def _get_target_state(self) -> TargetState:
        row, column = self._prompt.cursor_location
        line = self._prompt.document.get_line(row)
        return TargetState(text=line, cursor_position=column)

    def _listen_to_messages(self, event: events.Event) -> None:
        super()._listen_to_messages(event)
        if isinstance(event, TextArea.Changed):
            self._handle_target_update()

    def _complete(self, option_index: int) -> None:
        if not self.display or self.option_list.option_count == 0:
            return
        option = cast(DropdownItem, self.option_list.get_option_at_index(option_index))
        with self.prevent(TextArea.Changed):
            self.apply_completion(option.value, self._get_target_state())
        self.post_completion()

    def apply_completion(self, value: str, state: TargetState) -> None:
        """Replace the token before the cursor with ``value``'s first word and a space."""
        word = value.split("  ", 1)[0].strip()
        row, column = self._prompt.cursor_location
        token = self.get_search_string(state)
        start = (row, column - len(token))
        self._prompt.replace(word + " ", start, (row, column), maintain_selection_offset=False)
        self.action_hide()

    def _align_to_target(self) -> None:
        """Above the cursor (the prompt sits at the bottom, over the status bar and footer),
        or below it when there is no room above."""
        x, y = self._prompt.cursor_screen_offset
        width, height = self.option_list.outer_size
        area = self.screen.scrollable_content_region
        top = y - height if y - height >= area.y else y + 1
        x, top, _w, _h = Region(x - 1, top, width, height).constrain("inside", "none", Spacing.all(0), area)
        self.absolute_offset = Offset(x, top)

    # -- what is offered -----------------------------------------------------------------------
    def get_search_string(self, target_state: TargetState) -> str:
        before = target_state.text[: target_state.cursor_position]
        token = before.rsplit(None, 1)[-1] if before and not before[-1].isspace() else ""
        if token.startswith("/"):
            row, _ = self._prompt.cursor_location
            first_word = row == 0 and before.lstrip() == token
            return token if first_word else ""
        return token if token.startswith("@") else ""

    def get_candidates(self, target_state: TargetState) -> list[DropdownItem]:
        token = self.get_search_string(target_state)
        if token.startswith("/"):
            return [
                DropdownItem(Content.assemble((f"/{c.name}", "bold"), ("  " + c.help, "$text-muted")))
                for c in COMMANDS
            ]
        if token.startswith("@"):
            query = token[1:]
            files = [f for f in self.files() if subsequence(query, f)] if query else list(self.files())
            return [DropdownItem(f"@{path}") for path in files[:_SCORED]]
        return []

    def get_matches(
        self, target_state: TargetState, candidates: list[DropdownItem], search_string: str
    ) -> list[DropdownItem]:
        if search_string in ("/", "@"):
            return candidates[:MAX_SHOWN]
        if search_string.startswith("/"):  # commands by the start of their name, in order
            word = search_string.lower()
            return [c for c in candidates if c.value.split("  ", 1)[0].startswith(word)][:MAX_SHOWN]
        return super().get_matches(target_state, candidates, search_string)[:MAX_SHOWN]

    def is_exact(self) -> bool:
        """The word being completed is already a whole entry (``/mode`` while ``/model``
        is offered too): Enter then sends the prompt instead of completing."""
        token = self.get_search_string(self._get_target_state())
        if not token:
            return False
        count = self.option_list.option_count
        values = [cast(DropdownItem, self.option_list.get_option_at_index(i)).value for i in range(count)]
        return any(v.split("  ", 1)[0] == token for v in values)

    def should_show_dropdown(self, search_string: str) -> bool:
        if not search_string or self.option_list.option_count == 0:
            return False
        first = cast(DropdownItem, self.option_list.get_option_at_index(0)).value.split("  ", 1)[0]
        return not (self.option_list.option_count == 1 and first == search_string)

    @property
    def showing(self) -> bool:
        """The dropdown is on screen with entries to pick."""
        return bool(self.display) and self.option_list.option_count > 0
