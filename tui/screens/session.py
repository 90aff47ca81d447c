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
"""

from __future__ import annotations

import asyncio
import functools
import gc
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker

from agentic_flow.core.events import (
    AGENT_PATH_SEPARATOR,
    MAIN_AGENT_ID,
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
from agentic_flow.tui.approver import TuiApprover
from agentic_flow.tui.commands import PaletteCommand, PaletteProvider
from agentic_flow.tui.screens.audit import AuditScreen
from agentic_flow.tui.screens.session_dialogs import ConfirmAutoMode, ModelPicker
from agentic_flow.tui.widgets.message import warm_up_renderers
from agentic_flow.tui.widgets.permission_panel import PendingApproval, PermissionPanel
from agentic_flow.tui.widgets.prompt_input import PromptInput
from agentic_flow.tui.widgets.status_bar import SessionStatus, StatusBar
from agentic_flow.tui.widgets.subagent_block import SubagentBlock
from agentic_flow.tui.widgets.transcript import Transcript

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.runtime import RunOptions, Runtime

__all__ = ["SessionScreen", "SessionCommands", "GcPolicy", "MODE_CYCLE", "OpenRuntime", "default_open_runtime"]

MODE_CYCLE = ("ask", "accept-edits", "auto", "read-only")
IDLE_COLLECT_SECONDS = 2.0

#: ``(opts, approver, on_notice) -> Runtime``; tests and benchmarks pass their own.
OpenRuntime = Callable[["RunOptions", TuiApprover, Callable[[str], None]], Awaitable[Any]]


async def default_open_runtime(opts: "RunOptions", approver: TuiApprover, on_notice: Callable[[str], None]) -> "Runtime":
    # lazy: the core's heavy imports load after the first frame
    from agentic_flow.core.runtime import Runtime

    return await Runtime.open(opts, approver=approver, interactive=True, on_notice=on_notice, trust_prompt=approver)


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
    collection per turn cost a fifth of the session's time; one per three turns takes
    20-45 ms each on this machine.

    Holds nest (several panes may stream at once); thresholds are restored by the last.
    """

    _holds = 0
    _saved: tuple[int, int, int] | None = None
    _frozen = False
    _turns = 0
    _last_collection = 0.0

    TURNS_PER_COLLECTION = 3
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
    def turn_ended(cls) -> None:
        """A model turn ended (its hold was released): collect if enough turns or time passed."""
        cls._turns += 1
        if cls._turns >= cls.TURNS_PER_COLLECTION or time.monotonic() - cls._last_collection > cls.SLICE_SECONDS:
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
        self.subagents: dict[str, SubagentBlock] = {}
        """Every subagent block of this session, by the subagent's ``agent_id``."""
        self._turn: Worker[None] | None = None
        self._transcript: Transcript | None = None
        self._gc_holds = 0
        self._status = SessionStatus(model=opts.model or "", agent=opts.agent or "")
        self.closed = False

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Transcript(id="transcript")
        yield PermissionPanel(id="permissions")
        yield PromptInput(
            id="prompt",
            placeholder="Message the agent · enter send · ctrl+j newline · ↑↓ history",
        )
        yield StatusBar(id="status")
        yield Footer()

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
        await transcript.add_notice(f"Agent {runtime.agent_name or '?'} · model {runtime.model_id}{why} · mode {runtime.mode}")
        for warning in runtime.warnings:
            await transcript.add_notice(warning, "warning")
        self._set_status("ready")

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
        self.query_one(StatusBar).status = self._status
        self.panel.mode = self._status.mode

    # -- sending ------------------------------------------------------------------------------
    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        event.stop()
        if self.runtime is None:
            self.prompt.load_text(event.text)
            self.notify("The session is not open yet.", severity="warning")
            return
        if self.busy:
            self.prompt.load_text(event.text)
            self.notify("An answer is still running: wait, or press esc to stop it.", severity="warning")
            return
        await self.send(event.text)

    async def send(self, text: str) -> Worker[None]:
        """Show the prompt and run one exchange with the agent."""
        await self.transcript.add_user(text)
        turn: Worker[None] = self.run_turn(text)
        self._turn = turn
        return turn

    @work(exclusive=True, group="turn", exit_on_error=False)
    async def run_turn(self, text: str) -> None:
        runtime = self.runtime
        assert runtime is not None
        transcript = self.transcript
        self._set_status("streaming")
        stopped = False
        events = 0
        try:
            async for event in runtime.send(text):
                if not self._gc_holds:  # a model turn starts streaming
                    GcPolicy.hold()
                    self._gc_holds += 1
                await self.handle_event(event)
                events += 1
                if not events & 1023:  # a long answer: a small full collection per slice
                    GcPolicy.collect_if_due()
                if type(event) is TurnEnded:  # the hold lasts one model turn, no longer
                    self._release_gc()
        except asyncio.CancelledError:
            stopped = True
            raise
        except Exception as exc:  # a bug or an unmapped error: show it, keep the session
            await transcript.add_error(f"The answer failed: {type(exc).__name__}: {exc}")
        finally:
            if self.is_attached:  # not when the screen is being closed
                await transcript.finish_streams(stopped=stopped)
                for block in self.subagents.values():
                    if block.state == "running":
                        block.stopped()
                        if block.is_attached:
                            await block.transcript.finish_streams(stopped=True)
                self.panel.withdraw_all()
                if stopped:
                    await transcript.add_notice("Stopped. The partial answer is kept in the conversation.", "warning")
                self._set_status("stopped" if stopped else "ready")
                self.set_timer(IDLE_COLLECT_SECONDS, self._idle_collect)
            self._release_gc()

    async def handle_event(self, event: Event) -> None:
        """Show one event of the session's stream (the one place events become widgets)."""
        t = self.transcript
        if event.agent_id != MAIN_AGENT_ID:
            target = await self._subagent_event(event)
            if target is None:
                return
            t = target
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
                    f"(attempt {event.attempt} of {event.max_attempts}): {event.reason}",
                    "warning",
                )
            case Notice():
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

    async def _turn_ended(self, event: TurnEnded, t: Transcript) -> None:
        await t.finish_streams()
        reason = event.stop_reason
        if reason == "cut_off":
            await t.add_notice("The stream was cut off before the model finished; the partial text is kept.", "warning")
        elif reason == "max_tokens":
            await t.add_notice("The answer reached the token limit (max_tokens).", "warning")
        elif reason == "content_filter":
            await t.add_notice("The provider's content filter stopped the answer.", "warning")
        self._set_status("streaming")

    # -- permissions ----------------------------------------------------------------------------
    @on(TuiApprover.ApprovalRequested)
    def _approval_requested(self, message: TuiApprover.ApprovalRequested) -> None:
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
        return commands

    def action_stop(self) -> None:
        """Esc: stop the running answer; the partial text stays."""
        if not self.busy:
            return
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
        self.call_later(self.transcript.add_notice, f"Permission mode is now {mode}.")

    def action_switch_model(self) -> None:
        if self.runtime is None:
            return
        ids = [m.id for m in self.runtime.catalog]
        self.app.push_screen(ModelPicker(ids, self.runtime.model_id), self._model_chosen)

    def _model_chosen(self, model_id: str | None) -> None:
        if model_id and self.runtime is not None and model_id != self.runtime.model_id:
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
            self.runtime.switch_model(model_id, base_url=base_url)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # NeedsKey, UnknownModel...: say what to do
            await transcript.add_error(f"Could not switch to {model_id}: {exc}")
            return
        self._set_status(self._status.state)
        await transcript.add_notice(f"Model switched: {old} → {model_id}. The conversation is kept.")

    def _notice_callback(self) -> Callable[[str], None]:
        """``on_notice`` for the core: shows a notice; callable from any thread."""
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()
        transcript = self.transcript

        def on_notice(message: str) -> None:
            if threading.get_ident() == loop_thread:
                self.call_later(transcript.add_notice, message)
            else:  # e.g. the local model's download progress
                loop.call_soon_threadsafe(self.call_later, transcript.add_notice, message)

        return on_notice

    def action_audit(self) -> None:

        store = self.runtime.store if self.runtime is not None else None
        workspace = Path(self.opts.workspace or ".").resolve()
        session_id = self.runtime.session_id if self.runtime is not None else None
        self.app.push_screen(AuditScreen(store=store, workspace=workspace, session_id=session_id))


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
