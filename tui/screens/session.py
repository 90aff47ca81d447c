"""The session screen: chat with an agent, approve its tool calls, watch the figures.

Contract with the app: ``SessionScreen(opts: core.runtime.RunOptions)``. The screen opens
the ``Runtime`` itself in a worker (with a :class:`~tui.approver.TuiApprover`), shows the
start-up progress in the transcript, and closes the runtime when it is unmounted.

Each prompt runs ``AgentSession.send()`` in one exclusive worker that turns the typed
events into widgets (see :class:`~tui.widgets.transcript.Transcript`). Esc cancels that
worker: the session keeps the partial answer (``core.session`` records it on
cancellation) and the transcript marks it stopped.

Subagents: a ``SubagentStarted`` event mounts a
:class:`~tui.widgets.subagent_block.SubagentBlock` in its parent's transcript; every later
event carrying that ``agent_id`` goes to the block (its header figures, its own inner
transcript), so parallel subagents update independently. Esc stops them all.

Type-ahead: prompts sent while the session opens or while an answer runs are queued
(shown above the prompt box and in the status bar) and sent in order as soon as the
session is free; Esc puts queued prompts back into the box instead. Notices that arrive
while an answer streams (a mode change, a core notice) wait until the streamed text
ends, so they never split it; a model picked while an answer runs is switched to when
it ends.

Slash commands (:mod:`tui.slash`) run here and never reach the model; ``@path``
mentions are attached through the permission engine before the prompt is sent
(``Runtime.attach_mentions``). Completion for both: :mod:`tui.widgets.prompt_completion`.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from rich import cells as rich_cells
from textual import events, on, work
from textual import geometry as textual_geometry
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TextArea
from textual.worker import Worker, WorkerState

from agentic_flow.core.events import (
    AGENT_PATH_SEPARATOR,
    MAIN_AGENT_ID,
    ContextCompacted,
    Event,
    Notice,
    PermissionDecided,
    PermissionRequested,
    ProviderFailed,
    Retrying,
    SubagentFinished,
    SubagentStarted,
    SubagentUpdated,
    TextDelta,
    ThinkingDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    TurnEnded,
    Usage,
)
from agentic_flow.core.read_ahead import ReadAhead
from agentic_flow.tui import textual_fixes
from agentic_flow.tui.approver import TuiApprover
from agentic_flow.tui.commands import PaletteCommand, PaletteProvider
from agentic_flow.tui.keys import typed_character
from agentic_flow.tui.screens.audit import AuditScreen
from agentic_flow.tui.screens.session_dialogs import (
    AgentPicker,
    ConfirmAutoMode,
    ConfirmQuit,
    ModelPicker,
    RewindDialog,
)
from agentic_flow.tui.screens.sessions import SessionPicker
from agentic_flow.tui.slash import COMMANDS as SLASH_COMMANDS
from agentic_flow.tui.slash import help_text as slash_help
from agentic_flow.tui.slash import parse_slash
from agentic_flow.tui.widgets.message import warm_up_renderers
from agentic_flow.tui.widgets.permission_panel import PendingApproval, PermissionPanel
from agentic_flow.tui.widgets.prompt_completion import PromptCompletion
from agentic_flow.tui.widgets.prompt_input import PromptInput
from agentic_flow.tui.widgets.status_bar import SessionStatus, StatusBar
from agentic_flow.tui.widgets.subagent_block import SubagentBlock
from agentic_flow.tui.widgets.transcript import Transcript

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.runtime import RunOptions, Runtime

__all__ = [
    "SessionScreen",
    "SessionCommands",
    "GcPolicy",
    "MODE_CYCLE",
    "OpenRuntime",
    "default_open_runtime",
    "guarded_quit",
]

textual_fixes.apply()  # painted lines freed as they go, not left to full collections

MODE_CYCLE = ("ask", "accept-edits", "auto", "read-only")
IDLE_COLLECT_SECONDS = 2.0
COLLECTION_DELAY = 0.001
#: How many events the agent may be ahead of the transcript (text deltas waiting
#: together count once): a few model turns.
READ_AHEAD_EVENTS = 64
"""At a model turn's end, the wait before a full collection: a timer, so that timers
already due (the next frame, the stall monitor of the benchmarks) run before it."""
HISTORY_SHOWN = 60
"""Messages of a resumed conversation shown when it opens (``/export`` writes them all)."""
FILES_REFRESH_SECONDS = 15.0


async def guarded_quit(app: Any) -> None:
    """Ctrl+Q: quit, after asking when an answer is still running in a session."""
    busy = any(getattr(screen, "busy", False) for screen in app.screen_stack)
    if busy and not isinstance(app.screen, ConfirmQuit):
        app.push_screen(ConfirmQuit(), lambda yes: app.exit() if yes else None)
        return
    app.exit()

#: ``(opts, approver, on_notice) -> Runtime``; tests and benchmarks pass their own.
OpenRuntime = Callable[["RunOptions", TuiApprover, Callable[[str], None]], Awaitable[Any]]


async def default_open_runtime(opts: "RunOptions", approver: TuiApprover, on_notice: Callable[[str], None]) -> "Runtime":
    # lazy: the core's heavy imports load after the first frame
    from agentic_flow.core.runtime import Runtime

    return await Runtime.open(opts, approver=approver, interactive=True, on_notice=on_notice, trust_prompt=approver)


def _memo_caches() -> list[Callable[[], None]]:
    """``cache_clear`` of the ``lru_cache`` memos of Textual's geometry and Rich's cell widths."""
    owners: list[Any] = [textual_geometry.Region, textual_geometry.Offset, textual_geometry.Size, textual_geometry.Spacing]
    found = [getattr(value, "cache_clear", None) for owner in owners for value in vars(owner).values()]
    found.append(getattr(rich_cells.cached_cell_len, "cache_clear", None))
    return [clear for clear in found if clear is not None]


_MEMO_CACHES = _memo_caches()


def release_memo_caches() -> None:
    """Empty the memos of pure geometry and text-width functions before a full collection.

    Textual memoises ``Region.intersection``, ``shrink``, ``overlaps``... (up to 4,096
    entries each) and Rich the cell width of strings: in a long session ~12,000 entries,
    ~20,000 tracked objects (keys, results, links), over a third of what each full
    collection walked. They are made again on demand (cheap pure functions).
    """
    for clear in _MEMO_CACHES:
        clear()


class GcPolicy:
    """Keep full garbage collections out of streamed answers, and small.

    A full (generation 2) collection walks every tracked object and stops the event loop
    for as long as that takes — the worst stalls of a streamed answer were these. So:

    - once the session is open, the start-up heap (modules, Textual, catalogs), which
      lives as long as the process, is collected and frozen (``gc.freeze``): later full
      collections skip it;
    - while one model turn streams, the collector's own full collections are held off
      (only the young generations run: cheap, and enough for the short-lived garbage of
      rendering); an answer that streams for longer than :attr:`SLICE_SECONDS` gets one
      explicit full collection per slice, so garbage never piles up within a turn;
    - when the turn ends (a tool runs, or the answer is done) the usual thresholds come
      back, and every :attr:`TURNS_PER_COLLECTION` turns (or after a long one) a full
      collection runs at once, while a tool runs or the person reads.

    Measured with ``benchmarks/tui_session.py`` (100k tokens, 200 tool calls): a hold
    for a whole ``send()`` piled garbage up into half-second collections; one full
    collection per turn cost a fifth of the session's time. Since painted lines are no
    longer garbage cycles (:mod:`tui.textual_fixes`, :mod:`tui.widgets.render_caches`)
    a collection costs what the live heap costs, ~7 ms here, whether 3 or 12 turns of
    garbage wait: one per 12 turns took 0.12 s of the session instead of 0.45-0.65 s.

    Holds nest (several panes may stream at once); thresholds are restored by the last.
    """

    _holds = 0
    _saved: tuple[int, int, int] | None = None
    _frozen = False
    _turns = 0
    _last_collection = 0.0

    TURNS_PER_COLLECTION = 12
    """A full collection after every this many model turns."""
    SLICE_SECONDS = 4.0
    """Most seconds of streaming (or of turns) between two full collections."""

    @classmethod
    def freeze_startup_heap(cls) -> None:
        if not cls._frozen:
            cls._frozen = True
            gc.collect()
            gc.freeze()
            cls._last_collection = time.monotonic()

    @classmethod
    def hold(cls) -> None:
        if cls._holds == 0:
            cls._saved = gc.get_threshold()
            gen0, gen1, _ = cls._saved
            gc.set_threshold(gen0, gen1, 1_000_000)
        cls._holds += 1

    @classmethod
    def release(cls) -> None:
        if cls._holds == 0:
            return
        cls._holds -= 1
        if cls._holds == 0 and cls._saved is not None:
            gc.set_threshold(*cls._saved)
            cls._saved = None

    @classmethod
    def collect(cls) -> None:
        release_memo_caches()
        gc.collect()
        cls._turns = 0
        cls._last_collection = time.monotonic()

    @classmethod
    def collect_if_idle(cls) -> None:
        if cls._holds == 0:
            cls.collect()

    @classmethod
    def collect_if_due(cls) -> None:
        """While streaming: a full collection once a slice of time has passed since the last."""
        if time.monotonic() - cls._last_collection > cls.SLICE_SECONDS:
            cls.collect()

    @classmethod
    def collection_due(cls) -> bool:
        """Whether the end of the model turn streaming now will run a full collection."""
        return (
            cls._turns + 1 >= cls.TURNS_PER_COLLECTION
            or time.monotonic() - cls._last_collection > cls.SLICE_SECONDS
        )

    @classmethod
    def turn_ended(cls) -> None:
        """A model turn ended (its hold was released): collect if enough turns or time passed."""
        due = cls.collection_due()
        cls._turns += 1
        if due:
            cls.collect_if_idle()


class SessionCommands(PaletteProvider):
    """Command palette entries of the session screen, for apps without ``palette_commands``.

    ``WorkbenchApp`` gathers :meth:`SessionScreen.palette_commands` itself (see
    :mod:`tui.commands`); this provider then stays silent so nothing is listed twice.
    """

    def _commands(self) -> list[Any]:
        screen = self.screen
        if not isinstance(screen, SessionScreen) or hasattr(self.app, "palette_commands"):
            return []
        return list(screen.palette_commands())


class SessionScreen(Screen[None]):
    """Chat with one agent.

    Args:
        opts: what to open (model, agent, workspace, ...), as the CLI flags say.
        open_runtime: how to open it (default: ``core.runtime.Runtime.open``).
    """

    CSS_PATH = "session.tcss"
    COMMANDS = {SessionCommands}
    BINDINGS = [
        Binding("escape", "stop", "Stop"),
        Binding("ctrl+t", "cycle_mode", "Mode"),
        Binding("ctrl+o", "switch_model", "Model"),
        Binding("ctrl+r", "audit", "Audit"),
    ]

    def __init__(
        self,
        opts: "RunOptions",
        *,
        open_runtime: OpenRuntime | None = None,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id)
        self.opts = opts
        self.approver = TuiApprover()
        self.runtime: Any = None
        self._open = open_runtime or default_open_runtime
        self._previews: dict[tuple[str, str], str | None] = {}
        self._reader: ReadAhead | None = None  # the running turn's events, read ahead
        self._handling = False  # an event is being shown
        self._parked: list[tuple[int, TuiApprover.ApprovalRequested]] = []  # questions asked ahead of the screen
        self.subagents: dict[str, SubagentBlock] = {}
        """Every subagent block of this session, by the subagent's ``agent_id``."""
        self._turn: Worker[None] | None = None
        self._transcript: Transcript | None = None
        self._gc_holds = 0
        self._hinted_call: str | None = None  # the question whose keys were hinted
        self._status = SessionStatus(model=opts.model or "", agent=opts.agent or "")
        self.closed = False
        self.queue: list[str] = []
        """Prompts typed ahead: sent in order when the session is free."""
        self._deferred: list[tuple[str, str]] = []  # notices held while an answer streams
        self._pending_model: str | None = None  # switched to when the running answer ends
        self._stopping = False
        self._files: list[str] = []
        self._files_at = 0.0

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Transcript(id="transcript")
        yield PermissionPanel(id="permissions")
        yield Static("", id="queued")
        prompt = PromptInput(
            id="prompt",
            placeholder="Message the agent · enter send · / commands · @ files · ctrl+j newline",
        )
        yield prompt
        yield StatusBar(id="status")
        yield Footer()
        completion = PromptCompletion(prompt, files=self._completion_files, id="completion")
        prompt.completion = completion
        yield completion

    @property
    def transcript(self) -> Transcript:
        # Looked up once: handle_event runs for every token, and a DOM query costs
        # more than the rest of the token's path.
        transcript = self._transcript
        if transcript is None or not transcript.is_attached:
            transcript = self._transcript = self.query_one(Transcript)
        return transcript

    @property
    def panel(self) -> PermissionPanel:
        return self.query_one(PermissionPanel)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def busy(self) -> bool:
        return self._turn is not None and not self._turn.is_finished

    def on_mount(self) -> None:
        self.approver.attach(self)
        self._set_status("starting")
        self.prompt.focus()
        self.start_runtime()

    async def on_unmount(self) -> None:
        self.approver.attach(None)
        self._release_gc()
        await self.close_runtime()

    async def close_runtime(self) -> None:
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            self.closed = True
            await runtime.aclose()

    # -- start-up ---------------------------------------------------------------------------
    @work(exclusive=True, group="runtime", exit_on_error=False)
    async def start_runtime(self) -> None:
        transcript = self.transcript
        where = self.opts.workspace or "."
        await transcript.add_notice(f"Opening session in {where}…")

        try:
            runtime = await self._open(self.opts, self.approver, self._notice_callback())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the UI boundary: show what to do, never a traceback
            await transcript.add_error(f"Could not open the session: {exc}")
            self._set_status("error")
            return
        if not self.is_mounted:
            await runtime.aclose()
            return
        self.runtime = runtime
        warm_up_renderers(self.app.console)
        GcPolicy.freeze_startup_heap()
        reason = runtime.model_reason
        why = f" ({reason})" if reason and reason != "--model" else ""
        resumed = getattr(runtime, "resumed", False)
        if resumed:
            await self._show_history(runtime.history())
        what = f"Resumed session {runtime.session_id} · agent" if resumed else "Agent"
        await transcript.add_notice(f"{what} {runtime.agent_name or '?'} · model {runtime.model_id}{why} · mode {runtime.mode}")
        for warning in runtime.warnings:
            await transcript.add_notice(warning, "warning")
        self._set_status("ready")
        self.refresh_context()
        self._dispatch_queue()

    def _release_gc(self) -> None:
        if not self._gc_holds:
            return
        while self._gc_holds:
            self._gc_holds -= 1
            GcPolicy.release()
        # What the model turns left (removed Markdown blocks, finished widgets) goes now,
        # while a tool runs or the person reads. Left for the collector's own schedule it
        # piled up into half-second collections.
        GcPolicy.turn_ended()

    def _idle_collect(self) -> None:
        if not self.busy:
            GcPolicy.collect_if_idle()

    # -- status -------------------------------------------------------------------------------
    def _set_status(self, state: str) -> None:
        if self.runtime is not None:
            self._status = SessionStatus.from_runtime(self.runtime, state, base=self._status)
        else:
            self._status = self._status.with_(state=state)
        self._status = self._status.with_(queued=len(self.queue))
        self.query_one(StatusBar).status = self._status
        self.panel.mode = self._status.mode

    def refresh_context(self) -> None:
        """Read how full the model's context is (the status bar's ``ctx`` meter)."""
        runtime = self.runtime
        usage_of = getattr(runtime, "context_usage", None)
        if runtime is None or usage_of is None:
            return
        try:
            usage = usage_of()
        except Exception:  # a meter only: never break the session for it
            return
        self._status = self._status.with_(context_used=usage.used, context_window=usage.window)
        self.query_one(StatusBar).status = self._status

    async def say(self, text: str, level: str = "info") -> None:
        """A notice in the transcript; held while an answer streams, so it never splits it."""
        if self.transcript.streaming:
            self._deferred.append((text, level))
            return
        await self.transcript.add_notice(text, level)

    async def _flush_deferred(self) -> None:
        held, self._deferred = self._deferred, []
        for text, level in held:
            await self.transcript.add_notice(text, level)

    @on(PromptInput.PageRequested)
    def _page(self, event: PromptInput.PageRequested) -> None:
        event.stop()
        if event.up:
            self.transcript.scroll_page_up()
        else:
            self.transcript.scroll_page_down()

    # -- sending ------------------------------------------------------------------------------
    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        event.stop()
        text = event.text
        command, argument, error = parse_slash(text)
        if error is not None:
            await self.say(error, "warning")
            return
        if command is not None:
            await self.run_command(command.name, argument)
            return
        if self.runtime is None or self.busy or self.queue:
            self._enqueue(text)
            return
        await self.send(text)

    def _enqueue(self, text: str) -> None:
        self.queue.append(text)
        self._show_queue()
        if self.runtime is not None and not self.busy:
            self._dispatch_queue()

    def _show_queue(self) -> None:
        bar = self.query_one("#queued", Static)
        if not self.queue:
            bar.display = False
            self._set_status(self._status.state)
            return
        when = "when the session is open" if self.runtime is None else "after this answer"
        first = " ".join(self.queue[0].split())
        first = first if len(first) <= 50 else first[:49] + "…"
        more = f" (+{len(self.queue) - 1} more)" if len(self.queue) > 1 else ""
        bar.update(f"⏳ queued, sent {when}: {first}{more} · esc takes it back")
        bar.display = True
        self._set_status(self._status.state)

    def _dispatch_queue(self) -> None:
        """Send the next queued prompt if the session is free."""
        if not self.queue or self.runtime is None or self.busy or not self.is_attached:
            return
        text = self.queue.pop(0)
        self._show_queue()
        self.call_later(self.send, text)

    def _queue_back_to_prompt(self) -> bool:
        """Esc: queued prompts come back into the box (nothing is sent behind your back)."""
        if not self.queue:
            return False
        queued, self.queue = self.queue, []
        current = self.prompt.text
        self.prompt.load_text("\n\n".join([*queued, current] if current.strip() else queued))
        self.prompt.move_cursor(self.prompt.document.end)
        self._show_queue()
        self.notify("Queued prompt(s) are back in the input box.", timeout=4)
        return True

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._turn:
            return
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self._dispatch_queue()
        elif event.state == WorkerState.CANCELLED:
            self._queue_back_to_prompt()

    async def send(self, text: str) -> Worker[None]:
        """Show the prompt and run one exchange with the agent."""
        await self.transcript.add_user(text)
        turn: Worker[None] = self.run_turn(text)
        self._turn = turn
        return turn

    async def _prepare(self, text: str) -> str:
        """Before a prompt goes out: settings edited since are read again, and ``@path``
        mentions are attached (through the permission engine; it may ask)."""
        runtime = self.runtime
        refresh = getattr(runtime, "refresh_settings", None)
        if refresh is not None:
            for notice in refresh():
                await self.transcript.add_notice(notice)
        attach = getattr(runtime, "attach_mentions", None)
        if attach is None or "@" not in text:
            return text
        result = await attach(text)
        for item in result.attachments:
            lines = f"lines {item.first}-{item.last} of {item.total}" if item.total else "empty"
            await self.transcript.add_notice(f"Attached @{item.label} ({lines}).")
        for problem in result.problems:
            await self.transcript.add_notice(problem, "warning")
        return str(result.text)

    @work(exclusive=True, group="turn", exit_on_error=False)
    async def run_turn(self, text: str) -> None:
        runtime = self.runtime
        assert runtime is not None
        transcript = self.transcript
        self._set_status("streaming")
        stopped = False
        events = 0
        try:
            text = await self._prepare(text)
            # The agent runs ahead of the screen (a few turns at most): its tools and
            # requests go on while the transcript catches up, instead of taking turns.
            self._reader = reader = ReadAhead(runtime.send(text), max_items=READ_AHEAD_EVENTS)
            async for event in reader:
                if not self._gc_holds:  # a model turn starts streaming
                    GcPolicy.hold()
                    self._gc_holds += 1
                self._handling = True
                try:
                    await self.handle_event(event)
                finally:
                    self._handling = False
                if self._parked:
                    self._show_parked_approvals()
                events += 1
                if not events & 63:  # a long answer: a small full collection per slice
                    GcPolicy.collect_if_due()
                if type(event) is TurnEnded:  # the hold lasts one model turn, no longer
                    if self._gc_holds and GcPolicy.collection_due():
                        # The collection in a step of the event loop of its own, after
                        # what is due (a key, a frame): with the turn's last widgets in
                        # the same step it made a session's longest stalls.
                        await asyncio.sleep(COLLECTION_DELAY)
                    self._release_gc()
        except asyncio.CancelledError:
            stopped = True
            raise
        except Exception as exc:  # a bug or an unmapped error: show it, keep the session
            await transcript.add_error(f"The answer failed: {type(exc).__name__}: {exc}")
        finally:
            ahead, self._reader = self._reader, None
            if ahead is not None:
                await ahead.stop()
                if self.is_attached:  # what the agent said before it stopped is shown all the same
                    await self._show_rest(ahead.drain())
            self._show_parked_approvals(every=True)
            if self.is_attached:  # not when the screen is being closed
                marked = transcript.streaming
                await transcript.finish_streams(stopped=stopped)
                await transcript.flush()  # what came in since the last frame: on screen now
                for block in self.subagents.values():
                    if block.state == "running":
                        block.stopped()
                        if block.is_attached:
                            await block.transcript.finish_streams(stopped=True)
                self.panel.withdraw_all()
                if stopped and not marked:  # a streamed answer says "stopped" itself
                    await transcript.add_notice("Stopped. What was said so far is kept in the conversation.", "warning")
                await self._flush_deferred()
                self._set_status("stopped" if stopped else "ready")
                self.refresh_context()
                if self._pending_model is not None:
                    model, self._pending_model = self._pending_model, None
                    self.switch_model(model)
                self.set_timer(IDLE_COLLECT_SECONDS, self._idle_collect)
            self._release_gc()
            self._stopping = False

    async def _show_rest(self, events: list[Event]) -> None:
        """Events read ahead and not shown when the turn ended early (stopped, or a bug)."""
        for event in events:
            try:
                await self.handle_event(event)
            except Exception as exc:  # the turn's error is shown already; say this one once
                await self.transcript.add_error(f"Could not show the rest of the answer: {type(exc).__name__}: {exc}")
                return

    async def handle_event(self, event: Event) -> None:
        """Show one event of the session's stream (the one place events become widgets)."""
        t = self.transcript
        if event.agent_id != MAIN_AGENT_ID:
            target = await self._subagent_event(event)
            if target is None:
                return
            t = target
        elif type(event) is not TextDelta and self._deferred and type(event) is not ThinkingDelta:
            await t.finish_streams()  # the streamed text ended: the held notices come now
            await self._flush_deferred()
        match event:
            case TextDelta(text=text):
                await t.text_delta(text)
            case ThinkingDelta(text=text):
                await t.thinking_delta(text)
            case ToolCallStarted(call_id=call_id, name=name):
                await t.tool_started(call_id, name)
            case ToolCallArgsDelta(call_id=call_id, delta=delta):
                await t.tool_args(call_id, delta)
            case ToolCallReady(call_id=call_id, name=name, arguments=arguments, error=error):
                await t.tool_ready(call_id, name, arguments, error)
            case PermissionRequested(call_id=call_id, preview=preview):
                self._previews[(event.agent_id, call_id)] = preview  # the approver's request comes next
                await t.tool_pending(call_id)
                self._set_status("waiting")
            case PermissionDecided():
                await t.tool_decided(event.call_id, event.tool, event.allowed, event.scope, event.decided_by, event.reason)
                self._set_status("streaming")
            case ToolResult():
                await t.tool_result(event.call_id, event.name, event.content, event.is_error)
            case Usage():
                self._set_status("streaming")
            case TurnEnded():
                await self._turn_ended(event, t)
            case ProviderFailed():
                status = f" (HTTP {event.status})" if event.status else ""
                await t.add_error(f"{event.provider} · {event.model}{status}: {event.message}")
            case Retrying():
                await t.add_notice(
                    f"Retrying {event.provider} in {event.delay:.1f} s "
                    f"(retry {event.attempt} of {event.max_attempts}): {event.reason}",
                    "warning",
                )
            case ContextCompacted():
                await self._compacted(event)
            case Notice():
                if t is self.transcript:
                    await self.say(event.message, event.level)
                else:  # a subagent's notice, in its block
                    await t.add_notice(event.message, event.level)
                if event.message.startswith("saved rule"):
                    self.notify(event.message, title="Rule saved")
            case _:
                pass  # MessageStarted and future events: nothing to show

    async def _subagent_event(self, event: Event) -> Transcript | None:
        """Update a subagent's block; the transcript its content goes to (None: nothing to show)."""
        if isinstance(event, SubagentStarted):
            parent = self.subagents.get(event.parent_id or "")
            host = parent.transcript if parent is not None else self.transcript
            new = SubagentBlock(event)
            self.subagents[event.agent_id] = new
            if host.is_attached:
                await host.finish_streams()
                await host.add(new)
            return None
        block = self.subagents.get(event.agent_id)
        if block is None:
            return None
        match event:
            case SubagentUpdated():
                block.updated(event)
                self._set_status(self._status.state)
                return None
            case SubagentFinished():
                block.finished(event)
                if block.is_attached:
                    await block.transcript.finish_streams()
                return None
            case ToolCallStarted(name=name) | ToolCallReady(name=name):
                block.tool_started(name)
            case ToolResult():
                block.tool_done()
        return block.transcript if block.is_attached else None

    async def _compacted(self, event: ContextCompacted) -> None:
        how = {"auto": "automatically", "manual": "on request", "overflow": "after the model refused the length"}
        lines = event.summary.strip().splitlines()
        shown = "\n".join(lines[:8]) + (f"\n… ({len(lines) - 8} more lines; /export writes it all)" if len(lines) > 8 else "")
        await self.transcript.add_notice(
            f"Context compacted {how.get(event.trigger, event.trigger)}: {event.summarised} older messages "
            f"summarised by {event.model}, {event.kept} kept · ~{event.tokens_before:,} → ~{event.tokens_after:,} "
            f"tokens.\n{shown}"
        )
        self.refresh_context()

    async def _turn_ended(self, event: TurnEnded, t: Transcript) -> None:
        await t.finish_streams()
        main = t is self.transcript
        if main:
            await self._flush_deferred()
        reason = event.stop_reason
        if reason == "cut_off":
            await t.add_notice("The stream was cut off before the model finished; the partial text is kept.", "warning")
        elif reason == "max_tokens":
            await t.add_notice("The answer reached the token limit (max_tokens).", "warning")
        elif reason == "content_filter":
            await t.add_notice("The provider's content filter stopped the answer.", "warning")
        self._set_status("streaming")
        if main:
            self.refresh_context()

    async def _show_history(self, messages: list[Any]) -> None:
        """A resumed conversation: its last messages, as they were."""
        # lazy: message classes only for resumed sessions
        from agentic_flow.core.messages import AssistantMessage, ToolResultMessage, UserMessage
        from agentic_flow.core.runtime import WORKBENCH_NOTE_START, split_workbench_note

        t = self.transcript
        shown = messages[-HISTORY_SHOWN:]
        if len(messages) > len(shown):
            await t.add_notice(f"… {len(messages) - len(shown)} earlier messages are not shown (/export writes them all).")
        for message in shown:
            if isinstance(message, UserMessage):
                # A note the workbench put before the prompt (after /undo) is not the user's:
                # a notice, as the live session showed the undo.
                note, typed = split_workbench_note(message.content)
                if note is not None:
                    await t.add_notice(f"Told the model: {note[len(WORKBENCH_NOTE_START):-1]}")
                await t.add_user(_ATTACHED.sub(_attached_note, typed).rstrip())
            elif isinstance(message, AssistantMessage):
                if message.content:
                    await t.add_message("assistant", message.content)
                for call in message.tool_calls:
                    await t.tool_ready(call.id, call.name, call.arguments, None)
            elif isinstance(message, ToolResultMessage):
                await t.tool_result(message.call_id, message.name, message.content, message.is_error)

    # -- permissions ----------------------------------------------------------------------------
    @on(TuiApprover.ApprovalRequested)
    def _approval_requested(self, message: TuiApprover.ApprovalRequested) -> None:
        reader = self._reader
        if reader is not None and (reader.taken < reader.read or self._handling):
            # The events before the question (the call, its preview) are not all on
            # screen yet: it is shown once they are.
            self._parked.append((reader.read, message))
            return
        self._show_approval(message)

    def _show_parked_approvals(self, *, every: bool = False) -> None:
        reader, parked = self._reader, self._parked
        if not parked:
            return
        if every or reader is None:
            ready, self._parked = parked, []
        else:
            shown = reader.taken if not self._handling else reader.taken - 1
            ready = [p for p in parked if p[0] <= shown]
            self._parked = [p for p in parked if p[0] > shown]
        for _, message in ready:
            self._show_approval(message)

    def _show_approval(self, message: TuiApprover.ApprovalRequested) -> None:
        request, verdict = message.request, message.verdict
        always_rule = settings_file = example = None
        if self.runtime is not None:
            try:
                hints = self.runtime.approval_hints(request)
            except Exception:  # hints only: the panel works without them
                pass
            else:
                always_rule, example = hints.always_rule, hints.example_rule
                settings_file = _relative(hints.settings_file, Path(request.workspace))
        pending = PendingApproval(
            call_id=request.call_id,
            tool=request.tool,
            arguments=dict(request.arguments or {}),
            why=verdict.reason,
            decided_by=verdict.decided_by,
            preview=self._previews.pop((request.agent_id or MAIN_AGENT_ID, request.call_id), None),
            agent=request.agent if request.agent and AGENT_PATH_SEPARATOR in request.agent else None,
            always_rule=always_rule,
            settings_file=settings_file,
            example_rule=example,
            dangers=tuple(getattr(verdict, "dangers", ()) or ()),
            future=message.future,
        )
        self.panel.add(pending)
        self.panel.focus()
        self._set_status("waiting")
        if self.app.screen is not self:  # e.g. the audit screen is open on top
            who = f" ({request.agent})" if pending.agent else ""
            self.app.notify(f"{request.tool}{who} is waiting for your approval in the session.", severity="warning")

    @on(PermissionPanel.Emptied)
    def _panel_emptied(self) -> None:
        if self.focused is None or self.panel in self.focused.ancestors_with_self:
            self.prompt.focus()

    # -- actions ----------------------------------------------------------------------------------
    def palette_commands(self) -> list[Any]:
        """Every action of this screen, for the command palette (see ``tui.commands``)."""

        commands = [
            PaletteCommand("Session: stop the answer", "Cancel the running answer, keep its text (esc)", self.action_stop),
            PaletteCommand("Session: switch model", "Pick another model; the conversation is kept (ctrl+o)", self.action_switch_model),
            PaletteCommand("Session: cycle permission mode", "ask → accept-edits → auto → read-only (ctrl+t)", self.action_cycle_mode),
            PaletteCommand("Session: audit review", "Tool calls and permission decisions (ctrl+r)", self.action_audit),
        ]
        for mode in MODE_CYCLE:
            commands.append(
                PaletteCommand(
                    f"Session: permission mode {mode}",
                    f"Set the permission mode to {mode}" + (" (asks to confirm)" if mode == "auto" else ""),
                    functools.partial(self.set_mode, mode),
                )
            )
        for command in SLASH_COMMANDS:  # each slash command, as typed with no argument
            if command.name not in ("model", "mode"):  # listed above by what they do
                commands.append(
                    PaletteCommand(
                        f"Session: /{command.name}",
                        command.help[:1].upper() + command.help[1:],
                        functools.partial(self.run_command, command.name),
                    )
                )
        return commands

    def action_stop(self) -> None:
        """Esc: stop the running answer (once; the partial text stays), or take queued
        prompts back into the box."""
        if not self.busy:
            self._queue_back_to_prompt()
            return
        if self._stopping:
            return
        self._stopping = True
        if self.runtime is not None:
            self.runtime.cancel()
        assert self._turn is not None
        self._turn.cancel()

    def action_cycle_mode(self) -> None:
        if self.runtime is None:
            return
        current = self.runtime.mode
        nxt = MODE_CYCLE[(MODE_CYCLE.index(current) + 1) % len(MODE_CYCLE)] if current in MODE_CYCLE else "ask"
        self.set_mode(nxt)

    def set_mode(self, mode: str) -> None:
        """Set the permission mode; ``auto`` asks for confirmation first."""
        if self.runtime is None:
            return
        if mode == "auto":
            self.app.push_screen(ConfirmAutoMode(), lambda yes: self._apply_mode("auto") if yes else None)
        else:
            self._apply_mode(mode)

    def _apply_mode(self, mode: str) -> None:
        if self.runtime is None:
            return
        self.runtime.mode = mode
        self._set_status(self._status.state)
        self.notify(f"Permission mode: {mode}")
        self.call_later(self.say, f"Permission mode is now {mode}.")

    def action_switch_model(self) -> None:
        if self.runtime is None:
            return
        ids = [m.id for m in self.runtime.catalog]
        self.app.push_screen(ModelPicker(ids, self.runtime.model_id), self._model_chosen)

    def _model_chosen(self, model_id: str | None) -> None:
        if not model_id or self.runtime is None or model_id == self.runtime.model_id:
            return
        if self.busy:  # the running answer finishes on the model it started with
            self._pending_model = model_id
            self.call_later(self.say, f"The model switches to {model_id} when this answer ends.")
            return
        self.switch_model(model_id)

    @work(exclusive=True, group="switch-model", exit_on_error=False)
    async def switch_model(self, model_id: str) -> None:
        """Use ``model_id`` from the next turn on; the conversation is kept."""
        # lazy: the core's heavy imports load after the first frame
        from agentic_flow.core.runtime import prepare_model

        transcript = self.transcript
        if self.runtime is None:
            return
        old = self.runtime.model_id
        base_url = None
        if self.opts.base_url and old.split(":", 1)[0] == model_id.split(":", 1)[0]:
            base_url = self.opts.base_url  # same provider: same server
        try:
            await prepare_model(model_id, self._notice_callback())  # the local model starts its server
            warnings = self.runtime.switch_model(model_id, base_url=base_url)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # NeedsKey, UnknownModel...: say what to do
            await transcript.add_error(f"Could not switch to {model_id}: {exc}")
            return
        self._set_status(self._status.state)
        self.refresh_context()
        await self.say(f"Model switched: {old} → {model_id}. The conversation is kept.")
        for warning in warnings or ():
            await self.say(warning, "warning")
        provider = model_id.split(":", 1)[0]
        missing = self.runtime.key_status(provider, self.runtime.settings.merged)
        if missing is not None and base_url is None:  # said now, not at the next prompt's failure
            await self.say(
                f"{model_id} cannot answer yet: {missing} (or enter it with ctrl+k in the model table, ctrl+o).",
                "warning",
            )

    def _notice_callback(self) -> Callable[[str], None]:
        """``on_notice`` for the core: shows a notice; callable from any thread."""
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()

        def on_notice(message: str) -> None:
            if threading.get_ident() == loop_thread:
                self.call_later(self.say, message)
            else:  # e.g. the local model's download progress
                loop.call_soon_threadsafe(self.call_later, self.say, message)

        return on_notice

    def action_audit(self) -> None:

        store = self.runtime.store if self.runtime is not None else None
        workspace = Path(self.opts.workspace or ".").resolve()
        session_id = self.runtime.session_id if self.runtime is not None else None
        self.app.push_screen(AuditScreen(store=store, workspace=workspace, session_id=session_id))


    # -- focus: typing always reaches the prompt -----------------------------------------------
    def on_key(self, event: events.Key) -> None:
        """A printable key typed where nothing takes text (the transcript, the status bar,
        no focus) goes to the prompt box, and the box takes the focus. Not a key held with
        alt or ctrl (a shortcut), nor a key the focused widget binds (space on a tool call's
        title opens it)."""
        character = typed_character(event)
        if character is None:
            return
        focused = self.focused
        if isinstance(focused, TextArea | Input):
            return
        in_panel = focused is not None and self.panel in focused.ancestors_with_self
        if focused is not None and self._bound_below(event):
            return
        if in_panel or self.panel.current is not None:
            # The permission panel's keys are letters: never type them into the box. A
            # letter that answers nothing is not dropped in silence.
            self._hint_panel_keys()
            return
        event.stop()
        event.prevent_default()
        prompt = self.prompt
        prompt.focus()
        prompt.insert(character)

    def _hint_panel_keys(self) -> None:
        current = self.panel.current
        if current is None or self._hinted_call == current.call_id:
            return  # once per question
        self._hinted_call = current.call_id
        self.notify(
            "The agent waits for your answer: y once · s session · a always · n deny · r own rule. "
            "Tab reaches the prompt; a message sent there waits for this turn to end.",
            title="Permission needed",
            timeout=6,
        )

    def _bound_below(self, event: events.Key) -> bool:
        """The focused widget, or one between it and this screen, binds the key ``event``."""
        bindings = self.active_bindings  # the focus chain's, the focused widget's first
        for key in event.aliases:
            active = bindings.get(key)
            if active is not None and active.enabled and active.node is not self and active.node is not self.app:
                return True
        return False

    def _completion_files(self) -> list[str]:
        """Files ``@`` completion offers; read again in a thread when older than a while."""
        if self.runtime is not None and time.monotonic() - self._files_at > FILES_REFRESH_SECONDS:
            self._files_at = time.monotonic()
            self._read_files()
        return self._files

    @work(exclusive=True, group="files", exit_on_error=False)
    async def _read_files(self) -> None:
        runtime = self.runtime
        listing = getattr(runtime, "workspace_files", None)
        if listing is None:
            return
        self._files = await asyncio.to_thread(listing)
        completion = self.query_one(PromptCompletion)
        if self.prompt.has_focus:
            completion._handle_target_update()

    # -- slash commands ----------------------------------------------------------------------
    async def run_command(self, name: str, argument: str = "") -> None:
        """Run ``/name argument`` here (see :mod:`tui.slash`); nothing reaches the model."""
        if name == "help":
            await self.transcript.add_notice(slash_help(max(40, self.transcript.size.width - 4)))
            return
        if name == "mcp":
            opener = getattr(self.app, "open_mcp", None)
            if opener is None:
                await self.say("The MCP screen opens from the workbench (agentic-flow).", "warning")
            else:
                opener()
            return
        if name == "resume":
            self.open_resume(argument or None)
            return
        runtime = self.runtime
        if runtime is None:
            await self.say(f"/{name}: the session is not open yet.", "warning")
            return
        if name == "cost":
            await self.transcript.add_notice(self._cost_report())
        elif name == "export":
            await self._export(argument)
        elif name == "mode":
            if argument:
                if argument not in MODE_CYCLE:
                    await self.say(f"/mode {argument}: use one of {', '.join(MODE_CYCLE)}.", "warning")
                else:
                    self.set_mode(argument)
            else:
                self.action_cycle_mode()
        elif name == "model":
            if argument:
                if ":" not in argument:
                    await self.say(f"/model {argument}: give PROVIDER:MODEL (e.g. openrouter:openai/gpt-4o-mini).", "warning")
                else:
                    self._model_chosen(argument)
            else:
                self.action_switch_model()
        elif self.busy:
            await self.say(f"/{name} waits for the running answer: press esc to stop it, then try again.", "warning")
        elif name == "agent":
            self._choose_agent(argument)
        elif name == "compact":
            self._turn = self.run_compact(argument or None)
        elif name == "undo":
            await self._undo()
        elif name == "rewind":
            self._rewind(argument)
        elif name == "clear":
            await self._clear()

    def _cost_report(self) -> str:
        # lazy: formatting helpers only for /cost
        from agentic_flow.tui.widgets.status_bar import format_cost, format_tokens

        runtime = self.runtime
        totals = runtime.session_totals
        by_model: dict[str, list[Any]] = {}
        for turn in totals.turns:
            by_model.setdefault(turn.model, []).append(turn)
        tilde = "~" if totals.estimated else ""
        lines = [
            f"Session {runtime.session_id or '(not stored)'}: {len(totals.turns)} model turn(s), "
            f"in {tilde}{format_tokens(totals.input_tokens)} out {tilde}{format_tokens(totals.output_tokens)} tokens, "
            f"cost {format_cost(totals.cost)}" + (" (some prices unknown)" if totals.cost is None else "")
        ]
        for model, turns in by_model.items():
            cost: float | None = 0.0
            for turn in turns:
                cost = None if cost is None or turn.cost is None else cost + turn.cost
            tokens_in = sum(t.input_tokens for t in turns)
            tokens_out = sum(t.output_tokens for t in turns)
            lines.append(
                f"  {model}: {len(turns)} turn(s), in {format_tokens(tokens_in)} out {format_tokens(tokens_out)}, "
                f"{format_cost(cost)}"
            )
        status = self._status
        if status.context_used is not None:
            window = format_tokens(status.context_window) if status.context_window else "?"
            lines.append(f"Context: ~{format_tokens(status.context_used)} of {window} tokens in the next request.")
        compactions = getattr(runtime, "compactions", 0)
        if compactions:
            lines.append(f"Compactions this session: {compactions}.")
        return "\n".join(lines)

    async def _export(self, argument: str) -> None:
        runtime = self.runtime
        name = argument.strip() or f"agentic-flow-session-{runtime.session_id or 'export'}.md"
        try:
            path = await asyncio.to_thread(runtime.export, Path(name).expanduser())
        except Exception as exc:  # a path that cannot be written: say so
            await self.say(f"/export: {exc}", "warning")
            return
        await self.transcript.add_notice(f"Conversation written to {path}.")

    @work(exclusive=True, group="turn", exit_on_error=False)
    async def run_compact(self, instructions: str | None) -> None:
        """``/compact``: summarise the older turns now."""
        runtime = self.runtime
        assert runtime is not None
        self._set_status("compacting")
        await self.transcript.add_notice("Compacting the conversation…")
        try:
            async for event in runtime.compact(instructions):
                await self.handle_event(event)
        except asyncio.CancelledError:
            await self.transcript.add_notice("Compaction stopped; the conversation is unchanged.", "warning")
            raise
        except Exception as exc:  # show it, keep the session
            await self.transcript.add_error(f"Compaction failed: {type(exc).__name__}: {exc}")
        finally:
            if self.is_attached:
                self._set_status("ready")
                self.refresh_context()
            self._stopping = False

    async def _undo(self) -> None:
        try:
            done = self.runtime.undo()
        except Exception as exc:  # a store error: say so
            await self.say(f"/undo: {exc}", "warning")
            return
        # lazy: the note lives with the checkpoints
        from agentic_flow.core.runtime import UNTRACKED_NOTE

        if done is None:
            await self.say(f"Nothing to undo: no turn changed files with the file tools. {UNTRACKED_NOTE}", "warning")
            return
        mark, result = done
        await self.transcript.add_notice(
            f"Undid the file changes of turn {mark.number} ({mark.title}). {result.describe()} "
            f"The model is told before your next message. {UNTRACKED_NOTE}"
        )

    def _rewind(self, argument: str) -> None:
        # lazy: the note lives with the checkpoints
        from agentic_flow.core.runtime import UNTRACKED_NOTE

        turns = self.runtime.turns()
        if not turns:
            self.call_later(self.say, "Nothing to rewind: no prompt in this conversation yet.", "warning")
            return
        items = [(m.number, m.title, list(m.files)) for m in turns]
        dialog = RewindDialog(items, UNTRACKED_NOTE)
        if argument.strip().isdigit():
            number = int(argument)
            if number not in [n for n, _, _ in items]:
                self.call_later(self.say, f"/rewind {number}: there is no turn {number} (/rewind lists them).", "warning")
                return
        self.app.push_screen(dialog, self._rewind_chosen)
        if argument.strip().isdigit():
            dialog.chosen = None
            self.call_after_refresh(self._preselect_turn, dialog, int(argument))

    def _preselect_turn(self, dialog: RewindDialog, number: int) -> None:
        options = dialog.query_one("#rewind-list")
        for index in range(options.option_count):  # type: ignore[attr-defined]
            if options.get_option_at_index(index).id == str(number):  # type: ignore[attr-defined]
                options.highlighted = index  # type: ignore[attr-defined]
                options.action_select()  # type: ignore[attr-defined]

    def _rewind_chosen(self, choice: tuple[int, bool, bool] | None) -> None:
        if choice is None or self.runtime is None:
            return
        number, code, conversation = choice
        self.call_later(self._apply_rewind, number, code, conversation)

    async def _apply_rewind(self, number: int, code: bool, conversation: bool) -> None:
        try:
            result = self.runtime.rewind(number, code=code, conversation=conversation)
        except Exception as exc:  # no such turn, a store error
            await self.say(f"/rewind: {exc}", "warning")
            return
        what = []
        if code:
            what.append(result.describe())
        if conversation:
            what.append(f"The conversation is back to before turn {number}; the model no longer sees it or anything after.")
        await self.transcript.add_notice(f"Rewound to before turn {number}. " + " ".join(what))
        self.refresh_context()

    def _choose_agent(self, name: str) -> None:
        if name:
            self.call_later(self._switch_agent, name)
            return
        agents = [(a.name, a.description or "") for a in self.runtime.agents]

        def chosen(name: str | None) -> None:
            if name:
                self.call_later(self._switch_agent, name)

        self.app.push_screen(AgentPicker(agents, self.runtime.agent_name), chosen)

    async def _switch_agent(self, name: str) -> None:
        old = self.runtime.agent_name
        try:
            warnings = self.runtime.switch_agent(name)
        except Exception as exc:  # an unknown agent: say which exist
            await self.say(f"/agent {name}: {exc}", "warning")
            return
        self._set_status(self._status.state)
        self.refresh_context()
        await self.transcript.add_notice(f"Agent switched: {old} → {name} (its prompt and tools). The conversation is kept.")
        for warning in warnings:
            await self.transcript.add_notice(warning, "warning")

    async def _clear(self) -> None:
        old = self.runtime.session_id
        new = self.runtime.new_conversation()
        await self.transcript.clear()
        self._status = self._status.with_(ttft_s=None, tokens_per_s=None)  # the old session's figures
        self._set_status("ready")
        self.refresh_context()
        kept = f" Session {old} stays in /resume." if old else ""
        await self.transcript.add_notice(f"New conversation (session {new}).{kept}")

    def open_resume(self, session_id: str | None = None) -> None:
        """``/resume``: open another stored session in place of this one (picker without an id)."""
        if session_id:
            self._resume(session_id)
            return
        workspace = Path(self.opts.workspace or ".").resolve()
        current = self.runtime.session_id if self.runtime is not None else None
        self.app.push_screen(SessionPicker(workspace, exclude=current), self._resume)

    def _resume(self, session_id: str | None) -> None:
        if not session_id:
            return
        if self.busy:
            self.notify("An answer is running: stop it (esc) before resuming another session.", severity="warning")
            return
        opts = replace(self.opts, resume=session_id, model=None, agent=None, task=None)
        self.app.switch_screen(SessionScreen(opts, open_runtime=self._open))


_ATTACHED = re.compile(r'\n*<attached-file path="([^"]*)" lines="([^"]*)"[^>]*>.*?</attached-file>', re.S)


def _attached_note(match: re.Match[str]) -> str:
    """A file attached with ``@`` shown as a line, not its contents (the model had them)."""
    return f"\n[attached {match.group(1)}, lines {match.group(2)}]"


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
