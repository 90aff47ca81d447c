"""Agent runs in isolated copies: one agent, its tools, one model, one copy of the workspace.

:class:`IsolatedRun` is the unit both ``compare`` (N models side by side) and ``eval``
(a matrix of tasks × models × runs) are made of:

1. make a :class:`~core.compare.isolation.WorkspaceCopy` of the workspace (a git
   worktree at HEAD plus the uncommitted changes, a temp copy, or an empty folder);
2. open the normal agent loop there — :meth:`core.runtime.Runtime.open` with
   ``RunOptions(workspace=copy)`` — so the agent gets its tools, the permission engine,
   the sandbox and the store exactly as ``agentic-flow run`` would, under a headless
   policy chosen up front (``--approve accept-edits|auto|deny|read-only``);
3. send the task and pass every event on, collecting the figures (turns, tool calls by
   tool, tokens and cost over all turns, TTFT of the first turn, wall time, stop reason);
4. diff the copy against its baseline and, when asked, run the check command there
   through :func:`core.compare.codecheck.run_check_command` (engine + sandbox);
5. remove the copy unless kept.

The check command is one the user typed (``--check``, or a suite file they chose to
run), not one the model proposed: the engine still decides it — a deny rule stops it —
but what would only *ask* is approved by :class:`TypedCommandApprover` for that one call.

:class:`AgenticComparison` runs N models concurrently per round and has the same live
surface as the text :class:`~core.compare.runner.Comparison` (``stream()``, ``live``,
``result``), so the compare screen and the CLI drive either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator

from agentic_flow.core.compare.codecheck import DEFAULT_CHECK_TIMEOUT, CheckReport, CommandCheck, run_check_command
from agentic_flow.core.compare.isolation import WorkspaceCopy, sweep_stale_copies
from agentic_flow.core.compare.options import CallOptions, CheckOptions
from agentic_flow.core.compare.result import OK_STOPS, ChangedFile, CompareResult, ModelRun, ModelSummary
from agentic_flow.core.compare.results import CompareStore
from agentic_flow.core.compare.runner import LiveMeter, RunFinished, RunStarted, parse_models
from agentic_flow.core.errors import AgenticFlowError, ConfigError, StoreError
from agentic_flow.core.events import (
    Event,
    Notice,
    ProviderFailed,
    Retrying,
    TextDelta,
    ToolResult,
    TurnEnded,
    Usage,
)
from agentic_flow.core.permissions import Answer, PermissionRequest, Verdict
from agentic_flow.core.permissions.audit import AuditLog
from agentic_flow.core.runtime import RunOptions, Runtime

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.models.catalog import ModelCatalog
    from agentic_flow.core.store.database import Store

__all__ = [
    "HEADLESS_POLICIES",
    "DEFAULT_POLICY",
    "AgentRunSpec",
    "AgentMeter",
    "IsolatedRun",
    "TypedCommandApprover",
    "AgenticComparison",
    "agentic_compare",
]

logger = logging.getLogger(__name__)

HEADLESS_POLICIES = ("accept-edits", "auto", "deny", "read-only")
"""``--approve`` values an unattended agent run may use (nobody is asked)."""
DEFAULT_POLICY = "accept-edits"
"""Edits inside the copy are allowed; anything that would ask (commands) is denied."""
RUN_STOPS = OK_STOPS | {"max_turns"}
"""Stop reasons of an agent run that ended on its own (``max_turns`` is shown, not failed)."""


@dataclass(frozen=True)
class AgentRunSpec:
    """How to run an agent once: the task, the model, the agent, the policy and limits."""

    task: str
    model_id: str
    agent: str | None = None
    agents_dir: str | None = None
    approve: str = DEFAULT_POLICY
    base_url: str | None = None
    max_turns: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    timeout: float | None = None
    """Seconds the whole agent run may take (None: no limit besides the read timeout)."""
    retry: int | None = None
    no_tools: bool = False
    system: str | None = None

    def __post_init__(self) -> None:
        if self.approve not in HEADLESS_POLICIES:
            raise ConfigError(
                f"--approve {self.approve} cannot be used for an unattended agent run; "
                f"use one of {', '.join(HEADLESS_POLICIES)}"
            )
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError("--timeout must be more than 0 seconds")


class TypedCommandApprover:
    """Approves, once, a command the user typed themselves (``--check``, a suite's check).

    Only reached when the engine would *ask*: deny rules still stop the command, and
    it runs in the sandbox like any other.
    """

    def __init__(self, source: str = "--check") -> None:
        self.source = source

    async def ask(self, request: PermissionRequest, verdict: Verdict) -> Answer:
        return Answer("once", reason=f"typed by the user ({self.source})", by=f"policy:{self.source}")


class AgentMeter(LiveMeter):
    """Live figures of an agent run: tokens summed over turns, turns and tool calls so far."""

    def __init__(self) -> None:
        super().__init__()
        self.turns = 0
        self.tool_calls = 0
        self._done_in = 0
        self._done_out = 0
        self._estimated = False

    def observe(self, event: Event) -> None:
        if isinstance(event, TurnEnded):
            self.turns += 1
            if self.usage is not None:
                self._done_in, self._done_out = self.usage.input_tokens, self.usage.output_tokens
                self._estimated = self.usage.estimated
            return  # the run goes on after a turn; stop() ends it
        if isinstance(event, Usage):
            self.usage = Usage(
                input_tokens=self._done_in + event.input_tokens,
                output_tokens=self._done_out + event.output_tokens,
                estimated=self._estimated or event.estimated,
            )
            return
        if isinstance(event, ToolResult):
            self.tool_calls += 1
        super().observe(event)


@dataclass
class _Collected:
    text: list[str] = field(default_factory=list)
    last_text: str = ""
    stop: str | None = None
    turns: int = 0
    tools: dict[str, int] = field(default_factory=dict)
    errors: list[ProviderFailed] = field(default_factory=list)
    retries: int = 0
    reported: str | None = None

    def observe(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.text.append(event.text)
        elif isinstance(event, TurnEnded):
            self.turns += 1
            self.stop = event.stop_reason
            self.last_text = "".join(self.text)
            self.text.clear()
            if event.model:
                self.reported = event.model
        elif isinstance(event, ToolResult):
            self.tools[event.name] = self.tools.get(event.name, 0) + 1
        elif isinstance(event, ProviderFailed):
            self.errors.append(event)
        elif isinstance(event, Retrying):
            self.retries += 1

    @property
    def answer(self) -> str:
        rest = "".join(self.text)
        return rest if rest else self.last_text


Emit = Callable[[Event], None]


class IsolatedRun:
    """One agent run in its own copy of ``source``; use as ``async with``.

    Args:
        spec: the task, model, agent and policy.
        source: the real workspace (None: an empty folder).
        ref: a git ref to check out instead of HEAD + uncommitted changes.
        run_index: which round this is (figures only).
        catalog: prices for the cost (default: the runtime's catalog).
        keep: leave the copy on disk afterwards.
        label: part of the copy's folder name.
        plain: copy the folder itself even inside a git repository (eval fixtures).
        start_gate: held from making the copy until the agent loop is open. Setting up is
            CPU work on the event loop (settings, catalogs, the store); with many runs
            starting at once, one at a time lets each get its request out before the next
            begins, instead of all of them waiting for all the set-ups.
    """

    def __init__(
        self,
        spec: AgentRunSpec,
        *,
        source: Path | None,
        ref: str | None = None,
        run_index: int = 0,
        catalog: "ModelCatalog | None" = None,
        keep: bool = False,
        label: str | None = None,
        plain: bool = False,
        start_gate: asyncio.Semaphore | None = None,
    ) -> None:
        self.spec = spec
        self.plain = plain
        self._gate = start_gate
        self._holding = False
        self.source = source
        self.ref = ref
        self.run_index = run_index
        self.catalog = catalog
        self.keep = keep
        self.label = label or spec.model_id
        self.copy: WorkspaceCopy | None = None
        self.runtime: Runtime | None = None
        self.run: ModelRun | None = None

    async def __aenter__(self) -> IsolatedRun:
        if self._gate is not None:
            await self._gate.acquire()
            self._holding = True
        try:
            self.copy = await WorkspaceCopy.create(self.source, label=self.label, ref=self.ref, plain=self.plain)
        except BaseException:
            self._release()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _release(self) -> None:
        if self._holding and self._gate is not None:
            self._holding = False
            self._gate.release()

    async def close(self) -> None:
        self._release()
        if self.runtime is not None:
            runtime, self.runtime = self.runtime, None
            await runtime.aclose()
        if self.copy is not None:
            if self.keep:
                self.copy.keep()
            else:
                await asyncio.shield(self.copy.remove())

    @property
    def workspace(self) -> Path:
        assert self.copy is not None, "use IsolatedRun with `async with`"
        return self.copy.workspace

    # ------------------------------------------------------------------ the agent

    async def execute(self, emit: Emit | None = None) -> ModelRun:
        """Run the agent on the task in the copy; every event goes to ``emit``."""
        spec = self.spec
        got = _Collected()
        began = time.perf_counter()
        error: str | None = None
        error_kind: str | None = None

        def send(event: Event) -> None:
            got.observe(event)
            if emit is not None:
                emit(event)

        try:
            self.runtime = await Runtime.open(
                RunOptions(
                    model=spec.model_id, agent=spec.agent, agents_dir=spec.agents_dir, base_url=spec.base_url,
                    system=spec.system, max_tokens=spec.max_tokens, temperature=spec.temperature,
                    retry=spec.retry, max_turns=spec.max_turns, approve=spec.approve,
                    workspace=str(self.workspace), no_tools=spec.no_tools, task=spec.task,
                ),
                interactive=False,
            )
            self._release()
            session = self.runtime.session
            session.latency_source = "compare"
            if self.catalog is not None:
                session.pricing = self.catalog.cost
            for warning in self.runtime.warnings:
                send(Notice(message=warning, level="warning"))
            deadline = asyncio.timeout(spec.timeout) if spec.timeout is not None else contextlib.nullcontext()
            async with deadline:
                async for event in self.runtime.send(spec.task):
                    send(event)
        except TimeoutError:
            got.stop = "timeout"
            error_kind = "timeout"
            error = f"{spec.model_id}: the agent did not finish within {spec.timeout:g} s (--timeout); what it did is kept"
            send(ProviderFailed(provider=spec.model_id.split(":", 1)[0], model=spec.model_id, kind="timeout",
                                message=error))
        except AgenticFlowError as exc:
            self._release()
            got.stop = got.stop or "error"
            error_kind = str(getattr(exc, "kind", type(exc).__name__))
            error = str(exc)
            send(ProviderFailed(provider=spec.model_id.split(":", 1)[0], model=spec.model_id, kind=error_kind,
                                message=error))
        wall = time.perf_counter() - began
        self.run = self._figures(got, wall, error, error_kind)
        return self.run

    def _figures(self, got: _Collected, wall: float, error: str | None, error_kind: str | None) -> ModelRun:
        totals = self.runtime.totals if self.runtime is not None else None
        turns = totals.turns if totals is not None else []
        ok = error is None and got.stop in RUN_STOPS and not (got.errors and got.stop not in RUN_STOPS)
        if not ok and error is None:
            fatal = got.errors[-1] if got.errors else None
            error = fatal.message if fatal is not None else f"the run ended with {got.stop or 'no answer'}"
            error_kind = fatal.kind if fatal is not None else (got.stop or "cut_off")
        ttft = turns[0].ttft_s if turns else None
        gen = sum(t.total_s - t.ttft_s for t in turns if t.ttft_s is not None)
        out_tokens = totals.output_tokens if totals is not None and turns else None
        return ModelRun(
            model_id=self.spec.model_id,
            run_index=self.run_index,
            status="ok" if ok else "failed",
            error=None if ok else error,
            error_kind=None if ok else error_kind,
            reported_model=got.reported,
            ttft_s=ttft,
            total_s=wall,
            tokens_per_s=(out_tokens / gen) if out_tokens and gen > 0 else None,
            input_tokens=totals.input_tokens if totals is not None and turns else None,
            output_tokens=out_tokens,
            estimated=bool(totals and totals.estimated),
            cost=totals.cost if totals is not None and turns else None,
            stop_reason=got.stop or "cut_off",
            retries=got.retries,
            answer=got.answer,
            turns=len(turns) if turns else got.turns,
            tool_calls=dict(got.tools),
            session_id=self.runtime.session_id if self.runtime is not None else None,
        )

    # ------------------------------------------------------------------ after the run

    async def collect_diff(self) -> ModelRun:
        """Put the copy's diff on the run (and the kept copy's path)."""
        assert self.run is not None and self.copy is not None
        diff = await self.copy.diff()
        self.run.diff = diff.patch
        self.run.changed = [ChangedFile(path=f.path, added=f.added, removed=f.removed, status=f.status) for f in diff.files]
        if self.keep:
            self.run.copy_path = str(self.workspace)
        return self.run

    async def check(
        self, command: str, *, timeout: float = DEFAULT_CHECK_TIMEOUT, source: str = "--check", store: "Store | None" = None
    ) -> CommandCheck:
        """Run ``command`` in the copy through the permission engine and the sandbox."""
        assert self.runtime is not None or self.copy is not None
        engine = await self._engine()
        audit = AuditLog(store) if store is not None else None
        settings = self.runtime.settings.merged.sandbox if self.runtime is not None else None
        return await run_check_command(
            command, "", engine=engine, approver=TypedCommandApprover(source), timeout=timeout,
            model=self.spec.model_id, audit=audit, sandbox_settings=settings, cwd=self.workspace,
            agent="compare --check" if source == "--check" else source,
        )

    async def _engine(self) -> Any:
        if self.runtime is not None:
            return self.runtime.session.engine
        # lazy: only when the runtime never opened (the model's provider was unusable)
        from agentic_flow.core.config import load_settings
        from agentic_flow.core.permissions import PermissionEngine, mode_and_approver_for

        settings = load_settings(self.workspace)
        mode, _ = mode_and_approver_for(self.spec.approve, False)
        engine, _ = PermissionEngine.from_settings(
            self.workspace, mode, user_settings=settings.user_file, project_settings=settings.project_file
        )
        return engine


# ---------------------------------------------------------------------------- compare


class AgenticComparison:
    """N models each running the agent in its own copy of ``workspace``, concurrently.

    The same live surface as :class:`core.compare.runner.Comparison`: iterate
    :meth:`stream` for ``(model_id, event)``, read :attr:`live` for running figures and
    :attr:`result` at the end. With ``check.command`` the command runs in each copy after its
    run; the run's diff is kept in the result (``compare apply`` applies it later).

    Args:
        task: the task every agent gets.
        model_ids: ``provider:model`` ids.
        workspace: the real workspace (copied, never written).
        agent: the agent's name in the catalog (None: settings default_agent, else coder).
        approve: the headless policy (:data:`HEADLESS_POLICIES`).
        runs: rounds per model (models run concurrently within a round).
        call: how each model is called (tokens, temperature, timeout, retries, turns).
        check: the command run in each copy after its run, and its time limit.
        keep: leave the copies on disk (their paths are in the result).
        store: where the result is kept (sessions and latency are recorded by the runtime).
    """

    def __init__(
        self,
        task: str,
        model_ids: Sequence[str],
        *,
        workspace: Path,
        agent: str | None = None,
        agents_dir: str | None = None,
        approve: str = DEFAULT_POLICY,
        runs: int = 1,
        call: CallOptions = CallOptions(),
        check: CheckOptions = CheckOptions(),
        keep: bool = False,
        store: "Store | None" = None,
        catalog: "ModelCatalog | None" = None,
    ) -> None:
        if not task.strip():
            raise ConfigError("the task is empty: pass --task \"...\" or pipe it on stdin")
        if runs < 1:
            raise ConfigError("--runs must be 1 or more")
        self.task = task
        self.model_ids = parse_models(model_ids)
        self.workspace = Path(workspace).resolve()
        self.specs = {
            m: AgentRunSpec(
                task=task, model_id=m, agent=agent, agents_dir=agents_dir, approve=approve, base_url=call.base_url,
                max_turns=call.max_turns, max_tokens=call.max_tokens, temperature=call.temperature,
                timeout=call.timeout, retry=call.retries,
            )
            for m in self.model_ids
        }
        self.agent = agent
        self.approve = approve
        self.runs = runs
        self.check = check
        self.keep = keep
        self.store = store
        self.catalog = catalog
        self.id = uuid.uuid4().hex[:12]
        self.created_at = datetime.now(timezone.utc)
        self.live: dict[str, LiveMeter] = {}
        self.finished: dict[str, list[ModelRun]] = {m: [] for m in self.model_ids}
        self.result: CompareResult | None = None
        self._started = False
        self._start_gate: asyncio.Semaphore | None = None

    async def stream(self) -> AsyncIterator[tuple[str, Event]]:
        """``(model_id, event)`` for every event of every agent run, as they arrive."""
        if self._started:
            raise RuntimeError("a comparison can be streamed once")
        self._started = True
        began = time.perf_counter()
        tasks: list[asyncio.Task[None]] = []
        complete = False
        await asyncio.to_thread(sweep_stale_copies)
        self._start_gate = asyncio.Semaphore(1)
        try:
            for round_index in range(self.runs):
                queue: asyncio.Queue[Any] = asyncio.Queue()
                tasks = [asyncio.create_task(self._guarded(m, round_index, queue)) for m in self.model_ids]
                pending = len(tasks)
                while pending:
                    item = await queue.get()
                    if item is None:
                        pending -= 1
                        continue
                    yield item
            complete = True
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            self.result = self._build(time.perf_counter() - began, complete)
        if self.store is not None:
            await asyncio.to_thread(self._save, self.result)

    async def _guarded(self, model_id: str, run_index: int, queue: asyncio.Queue[Any]) -> None:
        try:
            run = await self._run_model(model_id, run_index, queue)
        except asyncio.CancelledError:
            queue.put_nowait(None)
            raise
        except Exception as exc:  # one run's bug or git failure must not end the others
            if not isinstance(exc, AgenticFlowError):
                logger.exception("compare: agent run of %s failed unexpectedly", model_id)
            run = ModelRun(
                model_id=model_id, run_index=run_index, status="failed", stop_reason="error",
                error=str(exc) if isinstance(exc, AgenticFlowError) else f"internal error: {exc!r}",
                error_kind=type(exc).__name__ if isinstance(exc, AgenticFlowError) else "internal",
            )
        self.finished[model_id].append(run)
        queue.put_nowait((model_id, RunFinished(model_id=model_id, run=run)))
        queue.put_nowait(None)

    async def _run_model(self, model_id: str, run_index: int, queue: asyncio.Queue[Any]) -> ModelRun:
        meter = AgentMeter()
        self.live[model_id] = meter
        queue.put_nowait((model_id, RunStarted(model_id=model_id, run_index=run_index)))

        def emit(event: Event) -> None:
            meter.observe(event)
            queue.put_nowait((model_id, event))

        async with IsolatedRun(
            self.specs[model_id], source=self.workspace, run_index=run_index, catalog=self.catalog, keep=self.keep,
            start_gate=self._start_gate,
        ) as isolated:
            meter.start()
            try:
                run = await isolated.execute(emit)
            finally:
                meter.stop()
            await isolated.collect_diff()
            if self.check.command:
                command = await isolated.check(self.check.command, timeout=self.check.timeout, store=self.store)
                run.checks = CheckReport(command=command)
            return run

    def _save(self, result: CompareResult) -> None:
        assert self.store is not None
        try:
            CompareStore(self.store).save(result)
        except StoreError as exc:
            logger.warning("compare: could not store the result: %s", exc)

    def _build(self, wall: float, complete: bool) -> CompareResult:
        return CompareResult(
            id=self.id,
            created_at=self.created_at,
            task=self.task,
            agent=self.agent,
            models=self.model_ids,
            runs=self.runs,
            wall_s=wall,
            check_cmd=self.check.command,
            complete=complete,
            summaries=[
                ModelSummary.of(m, sorted(self.finished[m], key=lambda r: r.run_index)) for m in self.model_ids
            ],
            mode="agent",
            workspace=str(self.workspace),
            approve=self.approve,
        )


async def agentic_compare(task: str, model_ids: Sequence[str], **options: Any) -> CompareResult:
    """Run :class:`AgenticComparison` to the end (same arguments) and return its result."""
    comparison = AgenticComparison(task, model_ids, **options)
    async for _ in comparison.stream():
        pass
    assert comparison.result is not None
    return comparison.result
