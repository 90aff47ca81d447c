"""What an :class:`~core.session.AgentSession` does for a long session, kept apart from
the agent loop: how full the context is, compaction, the turns and their checkpoints,
rewinding the conversation, and not keeping a session nobody answered.

:class:`LongSession` is a mixin of ``AgentSession``; the loop calls its hooks
(``_turn_started``, ``_make_room``, ``_overflowed``, ``compact``) and the runtime sets it
up (``context_window``, ``compactor``, ``checkpoints``, ``history_start``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, AsyncIterator

from agentic_flow.core.context.compaction import (
    Compactor,
    ContextUsage,
    context_usage,
    is_context_overflow,
    is_summary,
)
from agentic_flow.core.errors import StoreError
from agentic_flow.core.events import Event, ProviderFailed
from agentic_flow.core.messages import AssistantMessage, Message, UserMessage

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.context.checkpoints import Checkpoints, TurnMark
    from agentic_flow.core.store.database import Store

__all__ = ["LongSession"]

logger = logging.getLogger(__name__)


class LongSession:
    """Context, compaction and checkpoints of a session (mixed into ``AgentSession``)."""

    messages: list[Message]
    store: "Store | None"
    session_id: str | None
    max_tokens: int | None

    def _init_long_session(self, resumed: bool) -> None:
        self.resumed = resumed
        self.history_start = 0
        """``seq`` in the store of ``messages[0]`` (moves on compaction)."""
        self.context_tokens = 0
        """Tokens of the last turn's request and answer, as the provider reported them."""
        self.context_mark = 0
        """``len(messages)`` when ``context_tokens`` was taken."""
        self.context_window: int | None = None
        self.compactor: Compactor | None = None
        self.checkpoints: "Checkpoints | None" = None
        self.pending_note: str | None = None
        """Said to the model before the next prompt (e.g. that the user undid its changes)."""

    def _persist(self, message: Message) -> int:  # pragma: no cover - AgentSession's
        raise NotImplementedError

    # -- context --------------------------------------------------------------------------
    def context_usage(self) -> ContextUsage:
        """How full the model's context is (estimated; the window from the catalog)."""
        return context_usage(self, self.context_window)  # type: ignore[arg-type]

    def _context_taken(self, input_tokens: int, output_tokens: int) -> None:
        """A turn reported its usage: the next request holds that much, plus what follows."""
        if input_tokens:
            self.context_tokens = input_tokens + output_tokens
            self.context_mark = len(self.messages)

    def _overflowed(self, event: ProviderFailed) -> bool:
        return self.compactor is not None and is_context_overflow(event)

    async def _make_room(self) -> AsyncIterator[Event]:
        """Compact before a turn when the request would fill the window (auto compaction)."""
        if self.compactor is None or not self.context_window or not self.compactor.policy.auto:
            return
        reserve = min(self.max_tokens or 4096, self.context_window // 4)
        if self.compactor.should_compact(self.context_usage(), reserve):
            async for event in self.compact("auto"):
                yield event

    async def compact(self, trigger: str = "manual", instructions: str | None = None) -> AsyncIterator[Event]:
        """Replace the older turns by a summary now (``/compact``); see ``core.context.compaction``."""
        compactor = self.compactor or Compactor()
        async for event in compactor.compact(
            self, trigger, window=self.context_window, instructions=instructions  # type: ignore[arg-type]
        ):
            yield event

    def replace_history(self, messages: list[Message], record: dict[str, Any]) -> None:
        """Continue from ``messages`` (a compaction): stored after everything said so far,
        with the compaction recorded; the turns kept move with them."""
        old_start, cut = self.history_start, int(record.get("cut", 0))
        start = old_start
        if self.store is not None and self.session_id:
            try:
                seqs = [self._persist(m) for m in messages]
                start = seqs[0]
                fields = {k: v for k, v in record.items() if k != "cut"}
                self.store.record_compaction(self.session_id, history_start=start, **fields)
            except StoreError as exc:  # the live conversation goes on; a resume would see the old one
                logger.warning("could not store the compaction of session %s: %s", self.session_id, exc)
        self.messages = list(messages)
        self.history_start = start
        self.context_tokens = int(record.get("tokens_after") or 0)
        self.context_mark = len(self.messages)
        if self.checkpoints is not None:
            moved = {
                old_start + index: (index - cut + 1, start + index - cut + 1)
                for index in range(cut, cut + len(messages) - 1)
            }
            self.checkpoints.moved(moved)

    # -- turns ----------------------------------------------------------------------------
    def _prompt_text(self, text: str) -> str:
        """The prompt as sent: a note from the workbench first, if one is waiting."""
        if self.pending_note:
            text, self.pending_note = f"{self.pending_note}\n\n{text}", None
        return text

    def _turn_started(self, text: str) -> None:
        if self.checkpoints is not None:
            index = len(self.messages) - 1
            self.checkpoints.turn_started(text, index, self.history_start + index)

    def rewind_conversation(self, mark: "TurnMark") -> None:
        """Forget ``mark``'s prompt and everything after it (the files stay as they are)."""
        index = mark.index
        self.messages = self.messages[:index]
        if self.store is not None and self.session_id:
            self.store.truncate_messages(self.session_id, self.history_start + index)
        if self.checkpoints is not None:
            self.checkpoints.forget_from(mark)
        self.context_tokens = 0
        self.context_mark = 0

    def is_prompt(self, message: Message) -> bool:
        """A message the user wrote (not a compaction summary)."""
        return isinstance(message, UserMessage) and not is_summary(message)

    def discard_if_empty(self) -> bool:
        """Delete the stored session if nothing was ever answered in it (a session opened
        and closed, or that failed on a missing key); True when it was deleted."""
        if self.store is None or not self.session_id or self.resumed:
            return False
        if any(isinstance(m, AssistantMessage) for m in self.messages):
            return False
        try:
            self.store.delete_session(self.session_id)
        except StoreError as exc:
            logger.warning("could not remove the empty session %s: %s", self.session_id, exc)
            return False
        return True
